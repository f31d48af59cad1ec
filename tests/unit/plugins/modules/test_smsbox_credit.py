# -*- coding: utf-8 -*-
# Copyright: (c) 2026, smsbox.account contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""smsbox_credit against the in-process emulator: converge, predict exactly, and never pay twice."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json

import pytest

from ansible_collections.smsbox.account.plugins.module_utils._ledger.ledger import Ledger, key_fingerprint
from ansible_collections.smsbox.account.plugins.modules import smsbox_credit, smsbox_subaccount
from ansible_collections.smsbox.account.tests.unit.helpers.accounts import BAD_KEY, KEY, START_BALANCE
from ansible_collections.smsbox.account.tests.unit.helpers.emulator import applied_transfers, posts, requests_log, transfer_posts
from ansible_collections.smsbox.account.tests.unit.helpers.ledger_files import ledger_files_bytes
from ansible_collections.smsbox.account.tests.unit.helpers.ledger_stores import ledger_view

SHOPS = ('shop-a', 'shop-b', 'shop-c', 'shop-d')


@pytest.fixture
def shops(run_module, base):
    """The sub-accounts exist at SMSBOX and in the ledger."""
    result = run_module(smsbox_subaccount, dict(base, subaccounts=[dict(name=name, password='Pw-%s-1' % name) for name in SHOPS]))
    assert result['created'] == list(SHOPS)
    return SHOPS


def credit(run_module, base, check=False, diff=False, **options):
    return run_module(smsbox_credit, dict(base, **options), check=check, diff=diff)


def sent_amounts(emulator, to=None, since=0):
    return [(entry['params']['to'], int(entry['params']['credit'])) for entry in transfer_posts(emulator, to, since)]


def ledger_allocated(path, name):
    _subaccounts, transfers = ledger_view(path)
    return sum(tx['amount'] for tx in transfers if tx['subaccount'] == name and tx['state'] == 'applied')


def unsettled(path, name=None):
    _subaccounts, transfers = ledger_view(path)
    return [tx for tx in transfers if tx['state'] in ('unknown', 'pending') and name in (None, tx['subaccount'])]


def lose_transfer(run_module, emulator, base, name, amount, fault='lost_answer'):
    """A transfer whose answer is lost (applied at SMSBOX with lost_answer, not with drop_before)."""
    emulator.add_fault(operation='transfer', fault=fault, match={'to': name})
    return credit(run_module, base, subaccount=name, allocated=amount)


# --- check mode and convergence ------------------------------------------------------------------------

def test_check_mode_plans_exactly_what_the_real_run_sends(run_module, emulator, base, ledger_path, shops):
    assert not credit(run_module, base, subaccount='shop-a', allocated=300).failed
    allocations = [dict(subaccount='shop-a', allocated=100),       # takes 200 back
                   dict(subaccount='shop-b', allocated=250),       # gives 250
                   dict(subaccount='shop-c', amount=40),           # gives 40
                   dict(subaccount='shop-d', allocated=0)]         # nothing
    files = ledger_files_bytes(ledger_path)
    log_start = len(requests_log(emulator))

    check = credit(run_module, base, check=True, diff=True, allocations=allocations)

    assert not check.failed
    assert transfer_posts(emulator, since=log_start) == []
    assert ledger_files_bytes(ledger_path) == files
    assert all(tx['state'] == 'planned' for tx in check['transfers'])
    planned = sorted((tx['subaccount'], tx['amount']) for tx in check['transfers'])
    assert planned == [('shop-a', -200), ('shop-b', 250), ('shop-c', 40)]
    assert check['moved'] == 90
    assert check['balance_before'] == START_BALANCE - 300
    assert check['balance_after'] == START_BALANCE - 300 - 90

    real = credit(run_module, base, diff=True, allocations=allocations)

    assert not real.failed
    assert sorted((tx['subaccount'], tx['amount']) for tx in real['transfers']) == planned
    assert all(tx['state'] == 'applied' for tx in real['transfers'])
    assert sorted(sent_amounts(emulator, since=log_start)) == planned
    assert real['balance_after'] == check['balance_after']
    assert real['balance_after'] == emulator.state()['accounts'][KEY]['balance']
    assert real['moved'] == check['moved']
    assert real['diff'] == check['diff']
    assert [(a['subaccount'], a['action'], a['amount'], a['allocated_after']) for a in real['allocations']] == \
        [(a['subaccount'], a['action'], a['amount'], a['allocated_after']) for a in check['allocations']]


def test_allocated_converges_up_down_and_not_when_equal(run_module, emulator, base, ledger_path, shops):
    up = credit(run_module, base, subaccount='shop-a', allocated=120)
    assert (up['action'], up['changed'], up['allocations'][0]['amount']) == ('transferred', True, 120)
    down = credit(run_module, base, subaccount='shop-a', allocated=45)
    assert (down['action'], down['changed'], down['allocations'][0]['amount']) == ('transferred', True, -75)
    assert down['allocations'][0]['allocated_before'] == 120 and down['allocations'][0]['allocated_after'] == 45
    log_start = len(requests_log(emulator))

    equal = credit(run_module, base, subaccount='shop-a', allocated=45, diff=True)

    assert (equal['action'], equal['changed'], equal['moved']) == ('unchanged', False, 0)
    assert equal['transfers'] == []
    assert transfer_posts(emulator, since=log_start) == []
    assert sent_amounts(emulator) == [('shop-a', 120), ('shop-a', -75)]
    assert emulator.state()['accounts'][KEY]['subaccounts']['shop-a']['credits'] == 45
    assert ledger_allocated(ledger_path, 'shop-a') == 45
    assert equal['balance_before'] == equal['balance_after'] == START_BALANCE - 45

    to_zero = credit(run_module, base, subaccount='shop-a', allocated='0')
    assert to_zero['allocations'][0]['amount'] == -45
    assert emulator.state()['accounts'][KEY]['subaccounts']['shop-a']['credits'] == 0


def test_amount_with_transfer_id_is_sent_once_across_runs(run_module, emulator, base, ledger_path, shops):
    options = dict(subaccount='shop-b', amount=200, transfer_id='invoice-2026-0042')

    first = credit(run_module, base, **options)
    second = credit(run_module, base, **options)

    assert first['changed'] is True and first['transfers'][0]['transfer_id'] == 'invoice-2026-0042'
    assert second['changed'] is False and second['action'] == 'unchanged'
    assert 'invoice-2026-0042' in second['allocations'][0]['note']
    assert sent_amounts(emulator) == [('shop-b', 200)]
    assert ledger_allocated(ledger_path, 'shop-b') == 200

    check = credit(run_module, base, check=True, **options)
    assert check['changed'] is False and check['transfers'] == []


def test_amount_without_transfer_id_is_sent_every_run(run_module, emulator, base, ledger_path, shops):
    credit(run_module, base, subaccount='shop-b', amount=30)
    again = credit(run_module, base, subaccount='shop-b', amount=30)

    assert again['changed'] is True
    assert sent_amounts(emulator) == [('shop-b', 30), ('shop-b', 30)]
    assert ledger_allocated(ledger_path, 'shop-b') == 60
    # one-off transfers come on top of the declared allocation, which they leave as it was
    item = again['allocations'][0]
    assert (item['allocated_before'], item['allocated_after'], item['received_before'], item['received_after']) == (0, 0, 30, 60)


def test_a_top_up_is_never_taken_back_by_a_declarative_run(run_module, emulator, base, ledger_path, shops):
    # The user guide's example: an allocation, then an invoice's one-off top-up, then the play again.
    credit(run_module, base, subaccount='shop-a', allocated=600)
    topped = credit(run_module, base, subaccount='shop-a', amount=200, transfer_id='invoice-2026-11-0042')
    log_start = len(requests_log(emulator))

    check = credit(run_module, base, check=True, diff=True, subaccount='shop-a', allocated=600)
    again = credit(run_module, base, subaccount='shop-a', allocated=600)
    raised = credit(run_module, base, subaccount='shop-a', allocated=700)

    assert topped['changed'] and topped['allocations'][0]['allocated_after'] == 600
    assert topped['allocations'][0]['received_after'] == 800
    assert check['changed'] is False and check['transfers'] == [] and not check.warnings
    assert again['changed'] is False and again['allocations'][0]['received_before'] == 800
    assert raised['allocations'][0]['amount'] == 100 and raised['allocations'][0]['received_after'] == 900
    assert sent_amounts(emulator, since=log_start) == [('shop-a', 100)]
    assert emulator.state()['accounts'][KEY]['subaccounts']['shop-a']['credits'] == 900


def test_a_format_2_ledger_keeps_its_top_ups_on_top(run_module, emulator, base, ledger_path, shops):
    # A ledger of the previous release: its records tell a top-up by its transfer_id, and have no kind.
    credit(run_module, base, subaccount='shop-b', allocated=300)
    credit(run_module, base, subaccount='shop-b', amount=50, transfer_id='invoice-7')
    with open(ledger_path) as handle:
        snapshot = json.load(handle)
    snapshot['format'] = 2
    for record in snapshot['transfers']:
        del record['kind'], record['run']
    with open(ledger_path, 'w') as handle:
        json.dump(snapshot, handle)
    log_start = len(requests_log(emulator))

    again = credit(run_module, base, subaccount='shop-b', allocated=300)

    assert not again.failed and again['changed'] is False
    assert (again['allocations'][0]['allocated_before'], again['allocations'][0]['received_before']) == (300, 350)
    assert transfer_posts(emulator, since=log_start) == []
    with open(ledger_path) as handle:
        upgraded = json.load(handle)
    assert upgraded['format'] == 3 and [tx['kind'] for tx in upgraded['transfers']] == ['allocated', 'amount']


def test_a_take_back_refused_because_the_shop_spent_its_credits_is_not_resent(run_module, emulator, base, ledger_path, shops):
    credit(run_module, base, subaccount='shop-c', allocated=600)
    emulator.spend('shop-c', 500)  # the shop sent SMS: it holds 100
    log_start = len(requests_log(emulator))

    refused = credit(run_module, base, subaccount='shop-c', allocated=400)
    again = credit(run_module, base, subaccount='shop-c', allocated=400)
    check = credit(run_module, base, check=True, subaccount='shop-c', allocated=400)
    lowered = credit(run_module, base, subaccount='shop-c', allocated=500)

    assert refused.failed and 'refused to take back 200 credits' in refused.msg and 'holds fewer than that now' in refused.msg
    assert 'set allocated to at least 600 - H' in refused.msg
    assert again.failed and check.failed and 'not sent: SMSBOX refused this same take-back of -200' in again.msg
    assert check.msg == again.msg
    assert not lowered.failed and lowered['allocations'][0]['amount'] == -100
    assert sent_amounts(emulator, since=log_start) == [('shop-c', -200), ('shop-c', -100)]
    assert emulator.state()['accounts'][KEY]['subaccounts']['shop-c']['credits'] == 0


def test_insufficient_balance_fails_with_zero_post(run_module, emulator, base, ledger_path, shops):
    result = credit(run_module, base, allocations=[dict(subaccount='shop-a', allocated=START_BALANCE - 100),
                                                   dict(subaccount='shop-b', amount=101)])

    assert result.failed
    assert 'no transfer that gives was sent' in result.msg and str(START_BALANCE) in result.msg and str(START_BALANCE + 1) in result.msg
    assert transfer_posts(emulator) == []
    assert ledger_view(ledger_path)[1] == []
    assert emulator.state()['accounts'][KEY]['balance'] == START_BALANCE


def test_a_rebalance_is_funded_by_its_own_take_backs(run_module, emulator, base, ledger_path, shops):
    credit(run_module, base, allocations=[dict(subaccount='shop-a', allocated=START_BALANCE - 250),
                                          dict(subaccount='shop-b', allocated=250)])  # main balance now 0
    log_start = len(requests_log(emulator))
    rebalance = [dict(subaccount='shop-a', allocated=START_BALANCE - 650), dict(subaccount='shop-b', allocated=500)]

    check = credit(run_module, base, check=True, allocations=rebalance)
    result = credit(run_module, base, allocations=rebalance)

    assert not check.failed, check.msg
    assert [item['amount'] for item in check['allocations']] == [-400, 250]
    assert not result.failed, result.msg
    # the take-back first, then the gift it funds
    assert sent_amounts(emulator, since=log_start) == [('shop-a', -400), ('shop-b', 250)]
    assert result['balance_before'] == 0 and result['balance_after'] == 150 == emulator.state()['accounts'][KEY]['balance']


def test_take_backs_that_do_not_fund_the_gifts_are_sent_alone(run_module, emulator, base, ledger_path, shops):
    credit(run_module, base, subaccount='shop-a', allocated=START_BALANCE - 100)  # main balance now 100
    log_start = len(requests_log(emulator))

    result = credit(run_module, base, allocations=[dict(subaccount='shop-a', allocated=START_BALANCE - 200),
                                                   dict(subaccount='shop-b', allocated=350)])

    assert result.failed and "allocations[1] 'shop-b': not sent: the main balance is 200 credits after the take-backs" in result.msg
    assert '350' in result.msg and "allocations[0]" not in result.msg
    assert sent_amounts(emulator, since=log_start) == [('shop-a', -100)]
    assert ledger_allocated(ledger_path, 'shop-a') == START_BALANCE - 200 and ledger_allocated(ledger_path, 'shop-b') == 0
    assert [item['action'] for item in result['allocations']] == ['transferred', 'failed']


def test_whole_balance_may_be_allocated(run_module, emulator, base, shops):
    result = credit(run_module, base, subaccount='shop-a', allocated=START_BALANCE)

    assert not result.failed and result['balance_after'] == 0


@pytest.mark.parametrize('options, reason', [
    (dict(subaccount='shop-a', amount=0), 'amount is 0'),
    (dict(subaccount='shop-a', amount='12.5'), 'integer'),
    (dict(subaccount='shop-a', amount=12.5), 'whole number'),
    (dict(subaccount='shop-a', allocated=-5), 'must be 0 or more'),
    (dict(subaccount='shop-a', allocated=True), 'integer'),
    (dict(subaccount='shop a', allocated=5), "' '"),
    (dict(allocations=[dict(subaccount='shop-a', allocated=5), dict(subaccount='shop-a', amount=5)]), 'allocations[0]'),
])
def test_invalid_input_fails_before_any_request(run_module, emulator, base, options, reason):
    result = credit(run_module, base, **options)

    assert result.failed and reason in result.msg
    assert requests_log(emulator) == []


def test_bulk_with_concurrency_8_transfers_each_exactly_once(run_module, emulator, base, ledger_path):
    emulator.latency = 0.005
    names = ['tenant-%02d' % index for index in range(40)]
    subaccounts = [dict(name=name, password='Pw-%s' % name) for name in names]
    assert run_module(smsbox_subaccount, dict(base, concurrency=8, subaccounts=subaccounts))['created'] == names
    allocations = [dict(subaccount=name, allocated=index + 1) for index, name in enumerate(names)]

    result = credit(run_module, base, concurrency=8, allocations=allocations)

    assert not result.failed
    assert [entry['subaccount'] for entry in result['allocations']] == names
    assert sorted(sent_amounts(emulator)) == sorted((name, index + 1) for index, name in enumerate(names))
    assert len(applied_transfers(emulator)) == 40
    assert result['moved'] == sum(range(1, 41))
    assert result['balance_after'] == START_BALANCE - sum(range(1, 41))
    assert all(ledger_allocated(ledger_path, name) == index + 1 for index, name in enumerate(names))

    again = credit(run_module, base, concurrency=8, allocations=allocations)
    assert again['changed'] is False and len(transfer_posts(emulator)) == 40


# --- lost answers and settling them ------------------------------------------------------------------------

def test_lost_answer_is_recorded_unknown_and_fails(run_module, emulator, base, ledger_path, shops):
    result = lose_transfer(run_module, emulator, base, 'shop-a', 100)

    assert result.failed
    assert result['action'] == 'failed'
    assert [tx['state'] for tx in result['transfers']] == ['unknown']
    assert result['allocations'][0]['transfer']['state'] == 'unknown'
    txid = result['transfers'][0]['id']
    assert 'resolve: {%s: applied}' % txid in result.msg and 'rejected in place of applied' in result.msg
    assert result['allocations'][0]['unsettled'] == [txid]
    assert len(transfer_posts(emulator)) == 1  # never resent
    assert applied_transfers(emulator, to='shop-a') == [{'to': 'shop-a', 'credit': 100}]
    left = unsettled(ledger_path, 'shop-a')
    assert [(tx['amount'], tx['state']) for tx in left] == [(100, 'unknown')]
    assert ledger_allocated(ledger_path, 'shop-a') == 0


def test_next_run_sends_nothing_to_an_unsettled_sub_account(run_module, emulator, base, ledger_path, shops):
    lose_transfer(run_module, emulator, base, 'shop-a', 100)
    txid = unsettled(ledger_path, 'shop-a')[0]['id']
    log_start = len(requests_log(emulator))

    again = credit(run_module, base, allocations=[dict(subaccount='shop-a', allocated=100),
                                                  dict(subaccount='shop-b', allocated=10)])

    assert again.failed
    assert transfer_posts(emulator, 'shop-a', since=log_start) == []
    assert sent_amounts(emulator, since=log_start) == [('shop-b', 10)]  # the other item is still served
    by_name = dict((entry['subaccount'], entry) for entry in again['allocations'])
    assert by_name['shop-a']['action'] == 'failed' and by_name['shop-b']['action'] == 'transferred'
    assert txid in again.msg
    assert 'resolve: {%s: applied}' % txid in again.msg and 'rejected in place of applied' in again.msg
    assert 'smsbox_credit' in again.msg and by_name['shop-a']['unsettled'] == [txid]
    assert [tx['id'] for tx in unsettled(ledger_path, 'shop-a')] == [txid]

    check = credit(run_module, base, check=True, subaccount='shop-a', amount=5)
    assert check.failed and check['transfers'] == []


def test_resolve_applied_then_equal_allocation_sends_no_new_transfer(run_module, emulator, base, ledger_path, shops):
    txid = lose_transfer(run_module, emulator, base, 'shop-a', 100)['transfers'][0]['id']  # applied at SMSBOX, answer lost
    log_start = len(requests_log(emulator))

    check = credit(run_module, base, check=True, subaccount='shop-a', allocated=100, resolve={txid: 'applied'})
    assert not check.failed and check['transfers'][0]['state'] == 'applied' and check['moved'] == 0
    assert len(unsettled(ledger_path, 'shop-a')) == 1, 'check mode settled the transfer'

    resolved = credit(run_module, base, subaccount='shop-a', allocated=100, resolve={txid: 'applied'})

    assert not resolved.failed
    assert resolved['action'] == 'resolved' and resolved['changed'] is True
    assert resolved['allocations'][0]['resolved'] == [txid]
    assert resolved['allocations'][0]['amount'] == 0
    assert [tx['state'] for tx in resolved['transfers']] == ['applied']
    assert transfer_posts(emulator, since=log_start) == []
    assert unsettled(ledger_path, 'shop-a') == []
    assert ledger_allocated(ledger_path, 'shop-a') == 100
    assert emulator.state()['accounts'][KEY]['subaccounts']['shop-a']['credits'] == 100

    after = credit(run_module, base, subaccount='shop-a', allocated=100)
    assert after['changed'] is False and transfer_posts(emulator, since=log_start) == []


def test_resolve_ad_hoc_as_a_string_settles_the_named_transfers(run_module, emulator, base, ledger_path, shops):
    first = lose_transfer(run_module, emulator, base, 'shop-a', 100)['transfers'][0]['id']
    failed = credit(run_module, base, subaccount='shop-a', allocated=100)
    assert 'ad hoc: -a "subaccount=shop-a resolve=%s=applied"' % first in failed.msg
    log_start = len(requests_log(emulator))

    resolved = credit(run_module, base, subaccount='shop-a', resolve='%s=applied' % first)   # -a 'resolve=tx-...=applied'
    refused = credit(run_module, base, subaccount='shop-a', resolve=first)

    assert not resolved.failed, resolved.msg
    assert resolved['allocations'][0]['resolved'] == [first] and unsettled(ledger_path, 'shop-a') == []
    assert transfer_posts(emulator, since=log_start) == []
    assert refused.failed and "resolve %r names no outcome" % first in refused.msg


def test_resolve_rejected_then_the_allocation_is_transferred_once(run_module, emulator, base, ledger_path, shops):
    txid = lose_transfer(run_module, emulator, base, 'shop-a', 100, fault='drop_before')['transfers'][0]['id']  # never applied
    assert applied_transfers(emulator, to='shop-a') == []
    log_start = len(requests_log(emulator))

    resolved = credit(run_module, base, subaccount='shop-a', allocated=100, resolve={txid: 'rejected'})

    assert not resolved.failed
    assert resolved['action'] == 'transferred' and resolved['allocations'][0]['amount'] == 100
    assert sorted(tx['state'] for tx in resolved['transfers']) == ['applied', 'rejected']
    assert sent_amounts(emulator, since=log_start) == [('shop-a', 100)]
    assert applied_transfers(emulator, to='shop-a') == [{'to': 'shop-a', 'credit': 100}]
    assert ledger_allocated(ledger_path, 'shop-a') == 100

    again = credit(run_module, base, subaccount='shop-a', allocated=100, resolve={txid: 'rejected'})
    assert again['changed'] is False and sent_amounts(emulator, since=log_start) == [('shop-a', 100)]
    assert 'settled already (rejected)' in again['allocations'][0]['note']


def test_diff_of_a_resolve_applied_shows_the_allocation_it_adds(run_module, emulator, base, ledger_path, shops):
    txid = lose_transfer(run_module, emulator, base, 'shop-a', 100)['transfers'][0]['id']

    resolved = credit(run_module, base, diff=True, subaccount='shop-a', resolve={txid: 'applied'})

    assert resolved['changed'] is True
    assert resolved['allocations'][0]['allocated_before'] == 0
    assert resolved['diff'] == {'before': {'shop-a': {'allocated': 0, 'received': 0}}, 'after': {'shop-a': {'allocated': 100, 'received': 100}}}


def test_a_transfer_left_pending_by_an_interrupted_run_blocks_its_sub_account(run_module, emulator, base, ledger_path, shops):
    book = Ledger(ledger_path, key_fingerprint(KEY))
    with book.session() as opened:
        pending = opened.begin_transfer('shop-b', 80)  # recorded, then the run died before the answer
    log_start = len(requests_log(emulator))
    files = ledger_files_bytes(ledger_path)

    check = credit(run_module, base, check=True, subaccount='shop-b', allocated=80)
    assert check.failed and pending['id'] in check.msg
    assert ledger_files_bytes(ledger_path) == files, 'check mode wrote to the ledger'

    result = credit(run_module, base, subaccount='shop-b', allocated=80)

    assert result.failed and 'resolve: {%s: applied}' % pending['id'] in result.msg
    assert any('interrupted' in warning and pending['id'] in warning for warning in result.warnings)
    assert transfer_posts(emulator, since=log_start) == []
    assert [tx['state'] for tx in unsettled(ledger_path, 'shop-b')] == ['unknown']


def test_error_05_on_a_transfer_is_sent_once_and_recorded_unknown(run_module, emulator, base, ledger_path, shops):
    emulator.add_fault(operation='transfer', fault='error_05', match={'to': 'shop-c'})

    result = credit(run_module, base, subaccount='shop-c', amount=70)

    assert result.failed
    assert len(transfer_posts(emulator)) == 1
    assert [tx['state'] for tx in result['transfers']] == ['unknown']
    assert 'ERROR 05' in result.msg
    assert [tx['state'] for tx in unsettled(ledger_path, 'shop-c')] == ['unknown']


def test_a_transfer_answer_slower_than_the_timeout_is_unknown_and_not_resent(run_module, emulator, base, ledger_path, shops):
    emulator.add_fault(operation='transfer', fault='slow', delay=5, match={'to': 'shop-d'})

    result = credit(run_module, dict(base, timeout=0.3), subaccount='shop-d', amount=15)

    assert result.failed
    assert [tx['state'] for tx in result['transfers']] == ['unknown']
    assert len(transfer_posts(emulator)) == 1
    assert applied_transfers(emulator, to='shop-d') == [{'to': 'shop-d', 'credit': 15}]
    assert [tx['amount'] for tx in unsettled(ledger_path, 'shop-d')] == [15]


def test_erreur_on_a_transfer_is_recorded_rejected_and_fails(run_module, emulator, base, ledger_path, shops):
    result = credit(run_module, base, subaccount='not-at-smsbox', amount=10)

    assert result.failed and 'ERREUR' in result.msg and 'Nothing moved' in result.msg
    assert result['changed'] is False
    assert [tx['state'] for tx in result['transfers']] == ['rejected']
    assert result['balance_after'] == result['balance_before'] == START_BALANCE
    assert unsettled(ledger_path) == []
    assert len(transfer_posts(emulator)) == 1


def test_take_backs_are_sent_before_gives(run_module, emulator, base, ledger_path, shops):
    credit(run_module, base, allocations=[dict(subaccount='shop-a', allocated=300), dict(subaccount='shop-c', allocated=50)])
    log_start = len(requests_log(emulator))

    result = credit(run_module, base, concurrency=4, allocations=[
        dict(subaccount='shop-b', allocated=200),   # give
        dict(subaccount='shop-a', allocated=100),   # take back 200
        dict(subaccount='shop-d', amount=25),       # give
        dict(subaccount='shop-c', amount=-50),      # take back 50
    ])

    assert not result.failed
    order = sent_amounts(emulator, since=log_start)
    assert sorted(order) == [('shop-a', -200), ('shop-b', 200), ('shop-c', -50), ('shop-d', 25)]
    signs = [amount < 0 for _name, amount in order]
    assert signs == [True, True, False, False], order


def test_a_bad_key_fails_before_any_post_and_is_not_shown(run_module, emulator, base):
    result = credit(run_module, dict(base, api_key=BAD_KEY), subaccount='shop-a', allocated=10)

    assert result.failed
    assert 'key' in result.msg
    assert posts(emulator) == []
    assert [entry['method'] for entry in requests_log(emulator)] == ['GET']
    assert BAD_KEY not in result.out


def test_a_transfer_id_names_one_transfer_only(run_module, emulator, base, ledger_path, shops):
    first = run_module(smsbox_credit, dict(base, subaccount='shop-a', amount=30, transfer_id='invoice-7'))
    assert first['changed'] is True
    log_start = len(requests_log(emulator))

    reused = run_module(smsbox_credit, dict(base, subaccount='shop-b', amount=30, transfer_id='invoice-7'))
    other_amount = run_module(smsbox_credit, dict(base, subaccount='shop-a', amount=45, transfer_id='invoice-7'))
    same_call = run_module(smsbox_credit, dict(base, allocations=[
        dict(subaccount='shop-b', amount=5, transfer_id='invoice-8'), dict(subaccount='shop-c', amount=5, transfer_id='invoice-8')]))

    assert reused.failed and "transfer_id 'invoice-7' already names" in reused['msg'] and "'shop-a'" in reused['msg']
    assert other_amount.failed and 'give each transfer its own transfer_id' in other_amount['msg']
    assert same_call.failed and "allocations[1] 'shop-c'" in same_call['msg'] and "allocations[0] 'shop-b'" in same_call['msg']
    assert transfer_posts(emulator, since=log_start) == []


# --- a settlement names what the operator checked, so a kept task never settles a later transfer ----------

def test_a_resolve_kept_in_a_task_never_settles_a_transfer_that_became_unknown_later(run_module, emulator, base, ledger_path):
    assert run_module(smsbox_subaccount, dict(base, name='s1', password='Pw-s1-secret'))['created'] == ['s1']
    first = lose_transfer(run_module, emulator, base, 's1', 10, fault='drop_before')  # never reached SMSBOX
    first_id = first['transfers'][0]['id']
    kept = dict(subaccount='s1', resolve={first_id: 'rejected'})

    settled = credit(run_module, base, allocated=10, **kept)
    assert not settled.failed and settled['allocations'][0]['resolved'] == [first_id]
    emulator.add_fault(operation='transfer', fault='lost_answer', match={'to': 's1'})  # applied, answer lost
    later = credit(run_module, base, allocated=30, **kept)
    later_id = later['allocations'][0]['transfer']['id']
    assert later.failed and later['allocations'][0]['unsettled'] == [later_id]
    log_start = len(requests_log(emulator))

    again = credit(run_module, base, allocated=30, **kept)  # the same task, run again

    assert again.failed and later_id in again.msg
    assert again['allocations'][0]['resolved'] == [] and 'settled already' in again['allocations'][0]['note']
    assert transfer_posts(emulator, since=log_start) == []
    assert emulator.state()['accounts'][KEY]['subaccounts']['s1']['credits'] == 30  # not 50: nothing paid twice
    assert [tx['id'] for tx in unsettled(ledger_path, 's1')] == [later_id]
    assert ledger_allocated(ledger_path, 's1') == 10


@pytest.mark.parametrize('resolve, reason', [
    ('rejected', 'resolve must name the transfers you checked'),
    ('applied', 'would also settle a transfer that becomes unknown later'),
    (['tx-000000000000'], 'must be a mapping of transfer ids'),
    ({'shop-a': 'applied'}, "'shop-a', which is not a transfer id"),
    ({'tx-000000000000': 'yes'}, "say applied (the credits arrived) or rejected"),
])
def test_a_resolve_that_names_no_transfer_is_refused_before_any_request(run_module, emulator, base, resolve, reason):
    result = credit(run_module, base, subaccount='shop-a', allocated=5, resolve=resolve)

    assert result.failed and reason in result.msg and "'shop-a'" in result.msg
    assert requests_log(emulator) == []


def test_a_resolve_naming_an_unknown_or_foreign_transfer_settles_and_sends_nothing(run_module, emulator, base, ledger_path, shops):
    lost_a = lose_transfer(run_module, emulator, base, 'shop-a', 100)['transfers'][0]['id']
    lost_b = lose_transfer(run_module, emulator, base, 'shop-b', 50)['transfers'][0]['id']
    log_start = len(requests_log(emulator))

    foreign = credit(run_module, base, subaccount='shop-a', resolve={lost_a: 'applied', lost_b: 'applied'})
    missing = credit(run_module, base, subaccount='shop-a', resolve={'tx-0123456789ab': 'applied'})

    assert foreign.failed and "a transfer to 'shop-b', not to this sub-account" in foreign.msg
    assert missing.failed and 'tx-0123456789ab, which this ledger does not hold' in missing.msg
    assert sorted(tx['id'] for tx in unsettled(ledger_path)) == sorted([lost_a, lost_b])  # nothing settled, not even lost_a
    assert transfer_posts(emulator, since=log_start) == []


# --- allocated needs a sub-account the ledger knows ---------------------------------------------------------

def test_allocated_on_a_name_the_ledger_does_not_know_is_refused_before_any_transfer(run_module, emulator, base, ledger_path):
    emulator.set_accounts({KEY: {'balance': START_BALANCE, 'subaccounts': {'made-elsewhere': {'credits': 100}}}})

    refused = credit(run_module, base, allocations=[dict(subaccount='made-elsewhere', allocated=100)])

    assert refused.failed and 'does not know this sub-account' in refused.msg and 'adopt' in refused.msg
    assert ledger_path in refused.msg
    assert posts(emulator) == []
    assert emulator.state()['accounts'][KEY]['subaccounts']['made-elsewhere']['credits'] == 100  # not paid again


def test_check_mode_predicts_allocated_on_an_unknown_name_with_a_warning(run_module, emulator, base):
    check = credit(run_module, base, check=True, allocations=[dict(subaccount='new-%d' % index, allocated=5) for index in range(12)])

    assert not check.failed and check['moved'] == 60
    assert [tx['state'] for tx in check['transfers']] == ['planned'] * 12
    assert len(check.warnings) == 1 and "'new-0'" in check.warnings[0] and 'and 2 more' in check.warnings[0]
    assert 'refuses allocated' in check.warnings[0]
    assert posts(emulator) == []


def test_amount_with_transfer_id_needs_no_ledger_record(run_module, emulator, base):
    emulator.set_accounts({KEY: {'balance': START_BALANCE, 'subaccounts': {'made-elsewhere': {'credits': 0}}}})

    paid = credit(run_module, base, subaccount='made-elsewhere', amount=25, transfer_id='invoice-7')
    again = credit(run_module, base, subaccount='made-elsewhere', amount=25, transfer_id='invoice-7')

    assert not paid.failed and paid['changed'] is True and again['changed'] is False
    assert emulator.state()['accounts'][KEY]['subaccounts']['made-elsewhere']['credits'] == 25


# --- the balance is read under the ledger lock ---------------------------------------------------------------

def test_a_run_waiting_for_the_ledger_lock_reports_the_balance_the_other_run_left(run_module, emulator, base, ledger_path, shops):
    import threading
    import time
    from ansible_collections.smsbox.account.plugins.module_utils._api.client import SmsboxClient
    locked = threading.Event()

    def other_run():
        with Ledger(ledger_path, key_fingerprint(KEY)).session():
            locked.set()
            time.sleep(0.5)
            SmsboxClient(emulator.url, KEY).transfer('shop-d', 700)  # what the other run spends while it holds the lock

    other = threading.Thread(target=other_run)
    other.start()
    assert locked.wait(10)
    result = credit(run_module, base, subaccount='shop-a', allocated=10)
    other.join()

    assert not result.failed
    assert result['balance_before'] == START_BALANCE - 700
    assert result['balance_after'] == START_BALANCE - 710 == emulator.state()['accounts'][KEY]['balance']


# --- refused before any request ---------------------------------------------------------------------------

@pytest.mark.parametrize('options, reason', [
    (dict(subaccount='shop-a', amount=-1e20), 'at most 1000000000 credits'),
    (dict(subaccount='shop-a', allocated='99999999999'), 'at most 1000000000 credits'),
    (dict(subaccount='shop-a', amount=5, api_key='two words'), 'api_key contains a space'),
    (dict(subaccount='shop-a', amount=5, api_url='http://127.0.0.1:1/1.1/api.php?apikey=zz'), 'must not have a query string'),
    (dict(subaccount='shop-a', amount=5, ledger='ledgers/main.json'), 'relative path'),
    (dict(subaccount='shop-a', amount=5, ca_path='/nonexistent/ca.pem'), 'ca_path /nonexistent/ca.pem does not exist'),
])
def test_bad_connection_or_amount_is_refused_before_any_request(run_module, emulator, base, options, reason):
    result = credit(run_module, base, **options)

    assert result.failed and reason in result.msg
    assert requests_log(emulator) == []
    assert 'two words' not in result.msg and 'zz' not in result.msg


def test_a_missing_key_names_smsbox_api_key(run_module, emulator, base):
    options = dict(base)
    del options['api_key']

    result = run_module(smsbox_credit, dict(options, subaccount='shop-a', amount=5))

    assert result.failed and 'SMSBOX_API_KEY' in result.msg and 'missing required arguments' not in result.msg
    assert requests_log(emulator) == []


def test_an_unreadable_ledger_advises_a_backup_or_adoption_with_baselines(run_module, emulator, base, ledger_path, shops):
    with open(ledger_path, 'w') as handle:
        handle.write('{"format": 1, "kind": "smsbox.account ledger", "subaccounts": [')
    log_start = len(requests_log(emulator))

    result = credit(run_module, base, subaccount='shop-a', allocated=10)

    assert result.failed and 'is unreadable' in result.msg
    assert 'Restore it from a backup' in result.msg and 'already received' in result.msg and 'baseline' in result.msg
    assert 'with adopt: true' not in result.msg  # adopting at zero would pay every allocation again
    assert transfer_posts(emulator, since=log_start) == []


def test_retries_never_resends_a_transfer_that_may_have_arrived(run_module, emulator, base, ledger_path, shops):
    emulator.add_fault(operation='transfer', fault='lost_answer', match={'to': 'shop-a'})
    log_start = len(requests_log(emulator))

    result = credit(run_module, base, subaccount='shop-a', amount=30, retries=10)

    assert result.failed and result['transfers'][0]['state'] == 'unknown'
    assert sent_amounts(emulator, since=log_start) == [('shop-a', 30)]  # sent once, applied once, whatever retries says
    assert applied_transfers(emulator, to='shop-a') == [{'to': 'shop-a', 'credit': 30}]
