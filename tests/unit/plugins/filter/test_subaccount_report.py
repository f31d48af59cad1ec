# -*- coding: utf-8 -*-
# Copyright: (c) 2026, smsbox.account contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The report filters of the role, on loop results shaped as Ansible registers them."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os

import pytest
import yaml

from ansible_collections.smsbox.account.plugins.filter import subaccount_plan as plan_module
from ansible_collections.smsbox.account.plugins.filter.subaccount_plan import subaccount_plan
from ansible_collections.smsbox.account.plugins.filter.subaccount_report import (
    FilterModule,
    subaccount_failures,
    subaccount_summary,
)

KEY_EU = 'eu-KEY-a81f33c07d'
KEY_US = 'us-KEY-09be7712aa'
PASSWORD = 'Vault-pw-Secret!1'


def account(label, hosts=('h1',), key=KEY_EU):
    return dict(label=label, api_url='https://api.smsbox.pro/1.1/api.php', api_key=key, ledger=None, hosts=list(hosts),
                subaccounts=[dict(name='shop-a', password=PASSWORD, nolimit=False)], allocations=[])


def loop_result(item, **fields):
    """One item of a registered loop, as the role's tasks leave it (failed_when: false)."""
    result = dict(changed=False, failed=False, item=item, ansible_loop_var='item', invocation=dict(module_args={}))
    result.update(fields)
    return result


def skipped(item):
    return dict(changed=False, skipped=True, skip_reason='Conditional result was False', false_condition='item.allocations | length > 0',
                item=item, ansible_loop_var='item')


def subs(**actions):
    return [dict(name=name, action=action, changed=action in ('created', 'adopted')) for name, action in actions.items()]


def test_filters_are_exported():
    assert FilterModule().filters() == {'subaccount_failures': subaccount_failures, 'subaccount_summary': subaccount_summary}


# --- subaccount_failures -------------------------------------------------------------------------------------

def test_failures_pick_only_results_with_msg_and_skip_skipped_ones():
    eu, us, asia = account('eu'), account('us', key=KEY_US), account('asia')
    results = [
        loop_result(eu, msg='2 of 3 sub-accounts failed. shop-x: SMSBOX refused', failed_when_result=False),
        loop_result(us, created=['shop-b'], subaccounts=subs(**{'shop-b': 'created'})),
        dict(skipped(asia), msg='a skipped item never counts'),
        loop_result(account('apac'), msg='Could not read the main balance'),
        'not a result',
        None,
    ]

    message = subaccount_failures(results)

    assert message == 'eu: 2 of 3 sub-accounts failed. shop-x: SMSBOX refused || apac: Could not read the main balance'
    assert KEY_EU not in message and PASSWORD not in message


@pytest.mark.parametrize('results', [[], None, [loop_result(account('eu'), changed=True)], [skipped(account('eu'))]],
                         ids=['empty', 'none', 'success', 'skipped'])
def test_no_failure_gives_an_empty_string(results):
    assert subaccount_failures(results) == ''


def test_a_failure_without_an_item_label_is_still_reported():
    assert subaccount_failures([dict(msg='boom')]) == 'main account: boom'


# --- subaccount_summary ---------------------------------------------------------------------------------------

def test_summary_counts_what_happened_to_each_account():
    eu, us = account('eu', hosts=('h1', 'h2', 'h3')), account('us', key=KEY_US)
    created = [
        loop_result(eu, changed=True, balance=1000, subaccounts=subs(**{
            'shop-a': 'created', 'shop-b': 'created', 'hq': 'adopted', 'shop-c': 'unchanged', 'shop-d': 'unchanged',
            'shop-e': 'unchanged', 'shop-f': 'failed'})),
        loop_result(us, balance=22.5, subaccounts=subs(**{'shop-us': 'unchanged'})),
    ]
    credited = [
        loop_result(eu, changed=True, balance_before=1000, balance_after=850, moved=150, transfers=[
            dict(id='tx-1', subaccount='shop-a', amount=200, state='applied'),
            dict(id='tx-2', subaccount='shop-c', amount=-50, state='applied'),
            dict(id='tx-3', subaccount='shop-d', amount=30, state='unknown'),
            dict(id='tx-4', subaccount='shop-e', amount=30, state='rejected'),
        ], allocations=[
            dict(subaccount='shop-a', action='transferred'), dict(subaccount='shop-c', action='transferred'),
            dict(subaccount='shop-d', action='failed', unsettled=['tx-3']), dict(subaccount='shop-e', action='failed', unsettled=[]),
            dict(subaccount='shop-b', action='unchanged')],
            unsettled=[dict(id='tx-3', subaccount='shop-d', amount=30, state='unknown')]),
        skipped(us),
    ]

    summary = subaccount_summary([eu, us], created, credited)

    assert [entry['account'] for entry in summary] == ['eu', 'us']
    first, second = summary
    assert first['hosts'] == 3
    assert first['created'] == ['shop-a', 'shop-b'] and first['adopted'] == ['hq'] and first['unchanged'] == 3
    assert first['credits_moved'] == 150 and first['transfers'] == 2
    assert (first['balance_before'], first['balance_after']) == (1000, 850)
    # shop-e's transfer was refused (ERREUR): settled as rejected, not unsettled.
    assert first['unsettled'] == ['shop-d']
    assert first['line'] == ('eu: 2 created, 1 adopted, 3 unchanged; +150 credits moved in 2 transfers; main balance 1000 -> 850; '
                             'unsettled: shop-d (tx-3)')
    # No allocation task ran for us: the balance read by the create task stands for both.
    assert second['line'] == 'us: 0 created, 0 adopted, 1 unchanged; +0 credits moved in 0 transfers; main balance 22.5 -> 22.5; unsettled: none'
    dumped = json.dumps(summary)
    assert KEY_EU not in dumped and KEY_US not in dumped and PASSWORD not in dumped


def test_summary_counts_planned_transfers_in_check_mode_and_negative_moves():
    eu = account('eu')
    credited = [loop_result(eu, balance_before=500, balance_after=560, moved=-60, transfers=[
        dict(id=None, subaccount='shop-a', amount=-100, state='planned'),
        dict(id=None, subaccount='shop-b', amount=40, state='planned')], allocations=[])]

    (entry,) = subaccount_summary([eu], [loop_result(eu, balance=500, subaccounts=[])], credited)

    assert entry['transfers'] == 2 and entry['credits_moved'] == -60
    assert '-60 credits moved in 2 transfers; main balance 500 -> 560; unsettled: none' in entry['line']


def test_unsettled_lists_every_unknown_transfer_of_the_ledger_described_by_a_host_or_not():
    eu = account('eu')
    ledger_unsettled = [dict(id='tx-9', subaccount='shop-z', amount=5, state='unknown'),
                        dict(id='tx-7', subaccount='shop-y', amount=1, state='unknown'),
                        dict(id='tx-8', subaccount='shop-y', amount=2, state='pending'),
                        dict(id='tx-6', subaccount='closed-shop', amount=50, state='unknown')]  # its host was removed
    credited = [loop_result(eu, balance_before=10, balance_after=5, moved=0, msg='2 of 2 allocations failed.', transfers=[
        dict(id='tx-9', subaccount='shop-z', amount=5, state='unknown')], unsettled=ledger_unsettled,
        allocations=[dict(subaccount='shop-z', action='failed', unsettled=['tx-9']),
                     dict(subaccount='shop-y', action='failed', unsettled=['tx-7', 'tx-8'])])]

    (entry,) = subaccount_summary([eu], [loop_result(eu, balance=10, subaccounts=[], unsettled=ledger_unsettled)], credited)

    assert entry['unsettled'] == ['closed-shop', 'shop-y', 'shop-z']
    assert 'unsettled: closed-shop (tx-6), shop-y (tx-7, tx-8), shop-z (tx-9); credits FAILED' in entry['line']
    assert entry['created'] == [] and entry['unchanged'] == 0


def test_a_removed_shop_s_unknown_transfer_is_reported_when_no_credit_stage_ran():
    eu = account('eu')
    lost = [dict(id='tx-6', subaccount='closed-shop', amount=50, state='unknown')]

    (entry,) = subaccount_summary([eu], [loop_result(eu, balance=10, subaccounts=subs(**{'shop-a': 'unchanged'}), unsettled=lost)],
                                  [skipped(eu)])

    assert entry['unsettled'] == ['closed-shop'] and entry['line'].endswith('unsettled: closed-shop (tx-6)')


def test_a_credit_stage_that_failed_part_way_reports_what_it_moved():
    eu = account('eu')
    credited = [loop_result(eu, balance_before=100, balance_after=40, moved=60, msg='1 of 3 allocations failed.', transfers=[
        dict(id='tx-1', subaccount='a', amount=20, state='applied'), dict(id='tx-2', subaccount='b', amount=40, state='applied'),
        dict(id='tx-3', subaccount='c', amount=10, state='pending')],
        unsettled=[dict(id='tx-3', subaccount='c', amount=10, state='pending')])]

    (entry,) = subaccount_summary([eu], None, credited)

    assert entry['line'] == ('eu: 0 created, 0 adopted, 0 unchanged; +60 credits moved in 2 transfers; main balance 100 -> 40; '
                             'unsettled: c (tx-3); sub-accounts not run; credits FAILED')


def test_an_account_whose_create_stage_failed_is_not_credited_and_says_so():
    eu = account('eu')
    created = [loop_result(eu, msg='SMSBOX refused the balance read (ERREUR)')]
    credited = [dict(skipped(eu), smsbox_skip=True, skip_reason='not attempted: its sub-accounts stage failed')]

    (entry,) = subaccount_summary([eu], created, credited)

    assert entry['line'].endswith('; sub-accounts FAILED; credits not attempted: its sub-accounts stage failed')


def test_stages_that_did_not_run_are_named():
    (entry,) = subaccount_summary([account('eu')], None, None)

    assert entry['line'] == ('eu: 0 created, 0 adopted, 0 unchanged; +0 credits moved in 0 transfers; main balance None -> None; '
                             'unsettled: none; sub-accounts not run; credits not run')


def _spec():
    path = os.path.join(os.path.dirname(plan_module.__file__), '..', '..', 'roles', 'subaccounts', 'meta', 'argument_specs.yml')
    with open(path) as handle:
        return yaml.safe_load(handle)['argument_specs']['main']['options']


def test_summary_keeps_apart_accounts_that_differ_only_by_url():
    hostvars = {
        'a': dict(smsbox_subaccount=dict(name='shop-a', password=PASSWORD), smsbox_api_key=KEY_EU, smsbox_ledger='/srv/one.json'),
        'b': dict(smsbox_subaccount=dict(name='shop-b', password=PASSWORD), smsbox_api_key=KEY_EU, smsbox_ledger='/srv/two.json',
                  smsbox_api_url='https://staging.example.net/1.1/api.php'),
    }
    accounts = subaccount_plan(['a', 'b'], hostvars, _spec())['accounts']
    assert len(accounts) == 2
    created = [loop_result(accounts[0], balance=100, subaccounts=subs(**{'shop-a': 'created'})),
               loop_result(accounts[1], balance=100, subaccounts=subs(**{'shop-b': 'unchanged'}))]

    summary = subaccount_summary(accounts, created, [])

    assert [entry['created'] for entry in summary] == [['shop-a'], []]


def test_summary_lines_say_when_they_are_a_check_mode_prediction():
    accounts = [dict(label='eu', hosts=['a'])]
    created = [dict(item=accounts[0], subaccounts=[dict(name='shop', action='created')], balance=10)]
    predicted = subaccount_summary(accounts, created, [], True)
    applied = subaccount_summary(accounts, created, [])
    assert predicted[0]['line'].startswith('(check mode, predicted) eu: 1 created')
    assert applied[0]['line'].startswith('eu: 1 created')


def test_failures_are_quoted_as_the_converge_said_them_after_their_account():
    # The converge says them in the role's words (tests/unit/plugins/plugin_utils/test_converge_accounts.py): no rewriting here.
    said = ("1 of 1 sub-accounts failed. 'shop-a': SMSBOX refused to create it (ERREUR): the name may already exist (made "
            "elsewhere: to record it, set smsbox_adopt: true and baseline: the credits it had received before)")
    created = [loop_result(account('eu'), msg=said), loop_result(account('us'), balance=10), skipped(account('asia'))]

    assert subaccount_failures(created) == 'eu: ' + said


def test_retirements_allowances_and_drift_are_in_the_line():
    eu = dict(account('eu'), allowances=[dict(subaccount='shop-a', amount=100, period='month')],
              drift=[dict(name='closed', state='present', allocated=600, received=800)])
    created = [loop_result(eu, balance=1000, subaccounts=subs(**{'shop-a': 'unchanged', 'old': 'retired'}), reclaimed=-300)]
    credited = [skipped(eu)]
    paid = [loop_result(eu, balance_before=1300, balance_after=1200, moved=100, transfers=[
        dict(id='tx-1', subaccount='shop-a', amount=100, state='applied')])]

    (entry,) = subaccount_summary([eu], created, credited, False, paid)

    assert entry['retired'] == ['old'] and entry['reclaimed'] == -300 and entry['allowances_paid'] == 100
    assert entry['line'] == ('eu: 0 created, 0 adopted, 1 unchanged, 1 retired (-300 credits reclaimed); +0 credits moved in 0 '
                             'transfers, allowances +100; main balance 1000 -> 1200; unsettled: none; drift: closed (800 received)')


def test_a_partial_view_says_nothing_is_reclaimed():
    eu = dict(account('eu'), partial=True, drift=[dict(name='closed', state='present', allocated=5, received=5)])

    (entry,) = subaccount_summary([eu], [loop_result(eu, balance=1, subaccounts=[])], [skipped(eu)])

    assert entry['line'].endswith('drift: closed (5 received) (this play sees part of the inventory: nothing is reclaimed)')
