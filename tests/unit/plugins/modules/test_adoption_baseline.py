# -*- coding: utf-8 -*-
# Copyright: (c) 2026, smsbox.account contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Adoption with a baseline: losing a ledger and adopting again never pays twice."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os

import pytest

from ansible_collections.smsbox.account.plugins.modules import smsbox_credit, smsbox_subaccount
from ansible_collections.smsbox.account.tests.unit.helpers.accounts import KEY, START_BALANCE
from ansible_collections.smsbox.account.tests.unit.helpers.emulator import posts, requests_log
from ansible_collections.smsbox.account.tests.unit.helpers.ledger_stores import ledger_view

SHOPS = ('shop-a', 'shop-b', 'shop-c')


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
