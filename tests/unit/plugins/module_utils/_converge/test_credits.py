# -*- coding: utf-8 -*-
# Copyright: (c) 2026, smsbox.account contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The rules of the credits converger (_converge/credits.py) that go beyond one transfer, through the modules, against the
in-process emulator: ``allocated`` needs a known baseline, so losing a ledger and adopting again never pays twice; an
allowance (``period``) is paid exactly once per sub-account and period, also by module processes racing on one ledger.
What smsbox_credit does as a whole: tests/unit/plugins/modules/test_smsbox_credit.py."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import datetime
import os
import subprocess
import sys
import textwrap

import pytest

from ansible_collections.smsbox.account.plugins.modules import smsbox_credit, smsbox_subaccount
from ansible_collections.smsbox.account.tests.unit.helpers.accounts import KEY, START_BALANCE
from ansible_collections.smsbox.account.tests.unit.helpers.emulator import posts, requests_log, transfer_posts
from ansible_collections.smsbox.account.tests.unit.helpers.ledger_stores import ledger_view

# Every test runs a module as the module tests do (tests/unit/plugins/conftest.py).
pytestmark = pytest.mark.usefixtures('isolated')

SHOPS = ('shop-a', 'shop-b', 'shop-c')
THIS_MONTH = datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m')


def subaccounts(run_module, base, items, check=False, diff=False, **options):
    return run_module(smsbox_subaccount, dict(base, subaccounts=items, **options), check=check, diff=diff)


def credits(run_module, base, allocations, check=False):
    return run_module(smsbox_credit, dict(base, allocations=allocations), check=check)


def held(emulator):
    return dict((name, int(sub['credits'])) for name, sub in emulator.state()['accounts'][KEY]['subaccounts'].items())


def forget_ledger(path):
    for name in (path, path + '.journal', path + '.lock'):
        if os.path.exists(name):
            os.unlink(name)


def test_a_lost_ledger_then_adopt_pays_nothing_and_baselines_converge_only_the_differences(run_module, emulator, base, ledger_path):
    declared = [dict(name=name, password='Pw-%s-9z' % name) for name in SHOPS]
    allocations = [dict(subaccount=name, allocated=100) for name in SHOPS]
    assert subaccounts(run_module, base, declared)['created'] == list(SHOPS)
    assert credits(run_module, base, allocations)['moved'] == 300
    forget_ledger(ledger_path)  # a fresh runner: the ledger is gone

    # Adopted as existing (no password), without their baselines: their credits so far are unknown.
    adopted = subaccounts(run_module, base, [dict(name=name) for name in SHOPS], adopt=True)
    log_start = len(requests_log(emulator))
    refused = credits(run_module, base, allocations)

    assert adopted['adopted'] == list(SHOPS) and adopted['created'] == []
    assert refused.failed and refused['moved'] == 0
    assert 'without the credits it had received before this ledger knew it (its baseline)' in refused.msg
    assert 'baseline: <credits received before>' in refused.msg and 'never what the SMSBOX dashboard shows now' in refused.msg
    assert posts(emulator, since=log_start) == [], 'a transfer was sent to a sub-account of unknown baseline'
    assert held(emulator) == dict((name, 100) for name in SHOPS)

    recorded = subaccounts(run_module, base, [dict(name=name, baseline=100) for name in SHOPS], adopt=True, diff=True)
    assert recorded['adopted'] == list(SHOPS) and recorded['changed'] is True
    assert recorded['diff']['after']['shop-a'] == {'baseline': 100} and recorded['diff']['before']['shop-a'] == {'baseline': None}
    log_start = len(requests_log(emulator))

    converged = credits(run_module, base, allocations[:2] + [dict(subaccount='shop-c', allocated=130)])

    assert not converged.failed and converged['moved'] == 30
    assert [(entry['params']['to'], entry['params']['credit']) for entry in posts(emulator, since=log_start)] == [('shop-c', '30')]
    assert held(emulator) == {'shop-a': 100, 'shop-b': 100, 'shop-c': 130}
    assert emulator.state()['accounts'][KEY]['balance'] == START_BALANCE - 330


def test_adopting_with_a_baseline_counts_allocations_from_it(run_module, emulator, base, ledger_path):
    emulator.set_accounts({KEY: {'balance': START_BALANCE, 'subaccounts': {'legacy': {'credits': 40}}}})

    adopted = run_module(smsbox_subaccount, dict(base, name='legacy', password='Pw-legacy-1', adopt=True, baseline=40))
    topped = credits(run_module, base, [dict(subaccount='legacy', allocated=50)])

    assert adopted['action'] == 'adopted'
    subs, _transfers = ledger_view(ledger_path)
    assert subs['legacy']['origin'] == 'adopted' and subs['legacy']['baseline'] == 40
    assert topped['moved'] == 10 and topped['allocations'][0]['allocated_before'] == 40
    assert held(emulator) == {'legacy': 50}


def test_a_recorded_baseline_is_kept_and_another_value_only_warns(run_module, emulator, base, ledger_path):
    subaccounts(run_module, base, [dict(name='legacy', baseline=40)], adopt=True)

    again = subaccounts(run_module, base, [dict(name='legacy', baseline=70)], adopt=True)

    assert again['changed'] is False and again['unchanged'] == ['legacy']
    assert any('baseline of 40 credits' in warning and 'gives 70' in warning for warning in again.warnings)
    assert ledger_view(ledger_path)[0]['legacy']['baseline'] == 40
    assert posts(emulator) == []


def test_a_baseline_for_a_sub_account_this_collection_created_is_ignored_with_a_warning(run_module, emulator, base, ledger_path):
    subaccounts(run_module, base, [dict(name='mine', password='Pw-mine-1')])

    again = subaccounts(run_module, base, [dict(name='mine', password='Pw-mine-1', baseline=25)])

    assert again['changed'] is False
    assert any('created by this collection' in warning for warning in again.warnings)
    assert ledger_view(ledger_path)[0]['mine']['baseline'] == 0


def test_check_mode_predicts_allocated_on_an_unknown_baseline_with_a_warning(run_module, emulator, base, ledger_path):
    subaccounts(run_module, base, [dict(name='blind')], adopt=True)

    check = credits(run_module, base, [dict(subaccount='blind', allocated=5)], check=True)

    assert not check.failed and check['moved'] == 5
    assert any("'blind'" in warning and 'without a baseline' in warning for warning in check.warnings)
    assert posts(emulator) == []


def test_amount_with_transfer_id_stays_possible_on_an_unknown_baseline(run_module, emulator, base, ledger_path):
    emulator.set_accounts({KEY: {'balance': START_BALANCE, 'subaccounts': {'blind': {'credits': 0}}}})
    subaccounts(run_module, base, [dict(name='blind')], adopt=True)

    paid = run_module(smsbox_credit, dict(base, subaccount='blind', amount=12, transfer_id='welcome-blind'))

    assert not paid.failed and paid['moved'] == 12 and held(emulator) == {'blind': 12}


@pytest.mark.parametrize('baseline, reason', [(-1, 'baseline is -1; it must be 0 or more'), ('many', 'baseline must be an integer'),
                                              (1.5, 'baseline must be a whole number')])
def test_a_bad_baseline_is_refused_before_any_request(run_module, emulator, base, baseline, reason):
    result = subaccounts(run_module, base, [dict(name='legacy', baseline=baseline)], adopt=True)

    assert result.failed and reason in result.msg and "subaccounts[0] 'legacy'" in result.msg
    assert requests_log(emulator) == []


# -- allowances (period) --

@pytest.fixture
def shops(run_module, base):
    assert run_module(smsbox_subaccount, dict(base, subaccounts=[dict(name=n, password='Pw-%s-1' % n) for n in ('paris', 'lyon')]))['created']


def test_an_allowance_is_paid_once_per_period_whatever_the_runs(run_module, emulator, base, ledger_path, shops):
    args = dict(base, allocations=[dict(subaccount='paris', amount=100, period='month'), dict(subaccount='lyon', amount=50, period='month')])
    log = len(requests_log(emulator))

    check = run_module(smsbox_credit, args, check=True)
    first = run_module(smsbox_credit, args)
    again = run_module(smsbox_credit, args)
    check_again = run_module(smsbox_credit, args, check=True)
    raised = run_module(smsbox_credit, dict(base, subaccount='paris', amount=150, period='month'))
    missed = run_module(smsbox_credit, dict(base, subaccount='paris', amount=100, period='2026-01'))

    assert [item['amount'] for item in check['allocations']] == [100, 50]
    assert first['changed'] and [tx['kind'] for tx in first['transfers']] == ['period', 'period']
    # Listed as they end: both are sent at once.
    assert sorted(tx['transfer_id'] for tx in first['transfers']) == ['allowance-%s-lyon' % THIS_MONTH, 'allowance-%s-paris' % THIS_MONTH]
    assert again['changed'] is False and check_again['changed'] is False and check_again['transfers'] == []
    assert 'the allowance of %s was paid already' % THIS_MONTH in again['allocations'][0]['note']
    assert raised['changed'] is False and 'paid already' in raised['allocations'][0]['note']  # the new amount: from next period
    assert missed['changed'] and missed['transfers'][0]['transfer_id'] == 'allowance-2026-01-paris'
    assert sorted(int(entry['params']['credit']) for entry in transfer_posts(emulator, since=log)) == [50, 100, 100]
    subaccounts, _transfers = ledger_view(ledger_path)
    assert subaccounts['paris']['state'] == 'present'


@pytest.mark.parametrize('item, reason', [
    (dict(subaccount='paris', allocated=100, period='month'), 'period pays amount once per period (an allowance); it needs amount'),
    (dict(subaccount='paris', amount=-10, period='month'), 'an allowance (period) gives credits: amount must be more than 0'),
    (dict(subaccount='paris', amount=10, period='quarter'), "period must be month, week (the current one) or a period such as 2026-12"),
    (dict(subaccount='paris', amount=10, period='2026-13'), 'period must be month, week'),
])
def test_a_bad_period_is_refused_before_any_request(run_module, emulator, base, item, reason):
    result = run_module(smsbox_credit, dict(base, **item))

    assert result.failed and reason in result.msg
    assert requests_log(emulator) == []


def test_controllers_racing_on_one_ledger_pay_the_allowance_once(run_module, emulator, base, ledger_path, shops):
    # Six processes, each a controller running the same scheduled task at the same moment, on one ledger.
    code = textwrap.dedent('''
        import json, sys, time
        from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
        from ansible_collections.smsbox.account.plugins.module_utils._connection import Run, run_result
        from ansible_collections.smsbox.account.plugins.module_utils._converge.credits import converge_credits
        from ansible_collections.smsbox.account.plugins.module_utils._specs import CREDIT_RULES, CREDIT_SPEC, with_connection
        spec = with_connection(CREDIT_SPEC)
        params = ArgumentSpecValidator(spec, **CREDIT_RULES).validate(json.loads(sys.argv[1])).validated_parameters
        while time.time() < float(sys.argv[2]):
            pass
        print(json.dumps(run_result(Run(params), converge_credits).get('moved')))
    ''')
    params = dict(base, subaccount='lyon', amount=75, period='month', concurrency=1)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    import json
    import time
    start = str(time.time() + 1.5)
    children = [subprocess.Popen([sys.executable, '-c', code, json.dumps(params), start], env=env, stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, universal_newlines=True) for _controller in range(6)]
    moved = []
    for child in children:
        out, err = child.communicate(timeout=120)
        assert child.returncode == 0, err
        moved.append(json.loads(out.strip().splitlines()[-1]))

    assert sorted(moved) == [0, 0, 0, 0, 0, 75]
    assert [int(entry['params']['credit']) for entry in transfer_posts(emulator, to='lyon')] == [75]
    assert int(emulator.state()['accounts'][KEY]['subaccounts']['lyon']['credits']) == 75
