# -*- coding: utf-8 -*-
# Copyright: (c) 2026, smsbox.account contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""smsbox_credit with period: an allowance paid exactly once per period, against the in-process emulator and, for
concurrent controllers, module processes racing on one ledger."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import datetime
import os
import subprocess
import sys
import textwrap

import pytest

from ansible_collections.smsbox.account.plugins.module_utils._inputs import InputError, read_period
from ansible_collections.smsbox.account.plugins.modules import smsbox_credit, smsbox_subaccount
from ansible_collections.smsbox.account.tests.unit.helpers.accounts import KEY
from ansible_collections.smsbox.account.tests.unit.helpers.emulator import requests_log, transfer_posts
from ansible_collections.smsbox.account.tests.unit.helpers.ledger_stores import ledger_view

THIS_MONTH = datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m')


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


@pytest.mark.parametrize('value, today, name', [
    ('month', datetime.date(2026, 12, 31), '2026-12'), ('week', datetime.date(2027, 1, 1), '2026-W53'),
    ('2026-W05', None, '2026-W05'), ('2026-02', None, '2026-02'),
])
def test_period_names(value, today, name):
    assert read_period(value, 'x', today=today) == name
    with pytest.raises(InputError):
        read_period('2026-W54', 'x')


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
