# -*- coding: utf-8 -*-
# Copyright: (c) 2026, smsbox.account contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A retirement (_converge/retirement.py), through smsbox_subaccount's state: retired, against the in-process emulator: a
shop closes, its credits come back once, and it is left alone until it is described as present again."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import pytest

from ansible_collections.smsbox.account.plugins.modules import smsbox_credit, smsbox_subaccount
from ansible_collections.smsbox.account.tests.unit.helpers.accounts import KEY, START_BALANCE
from ansible_collections.smsbox.account.tests.unit.helpers.emulator import posts, requests_log, transfer_posts
from ansible_collections.smsbox.account.tests.unit.helpers.ledger_stores import ledger_view

# Every test runs a module as the module tests do (tests/unit/plugins/conftest.py).
pytestmark = pytest.mark.usefixtures('isolated')


def shop(run_module, base, name='paris', allocated=600, top_up=200):
    assert run_module(smsbox_subaccount, dict(base, name=name, password='Pw-%s-1' % name))['created'] == [name]
    assert not run_module(smsbox_credit, dict(base, subaccount=name, allocated=allocated)).failed
    if top_up:
        assert not run_module(smsbox_credit, dict(base, subaccount=name, amount=top_up, transfer_id='invoice-%s' % name)).failed


def held(emulator, name):
    return int(emulator.state()['accounts'][KEY]['subaccounts'][name]['credits'])


def test_a_retired_shop_gives_back_what_it_received_once_and_is_left_alone(run_module, emulator, base, ledger_path):
    shop(run_module, base)
    log = len(requests_log(emulator))

    check = run_module(smsbox_subaccount, dict(base, name='paris', state='retired'), check=True, diff=True)
    retired = run_module(smsbox_subaccount, dict(base, name='paris', state='retired'))
    again = run_module(smsbox_subaccount, dict(base, name='paris', state='retired'))

    assert check['changed'] and check['action'] == 'retired' and check['reclaimed'] == -800
    assert check['diff'] == {'before': {'paris': {'state': 'present', 'received': 800}}, 'after': {'paris': {'state': 'retired', 'received': 0}}}
    assert retired['retired'] == ['paris'] and retired['reclaimed'] == -800 and retired['subaccounts'][0]['transfer']['kind'] == 'retire'
    assert again['changed'] is False and again['action'] == 'unchanged'
    assert [int(entry['params']['credit']) for entry in transfer_posts(emulator, since=log)] == [-800]
    assert held(emulator, 'paris') == 0 and emulator.state()['accounts'][KEY]['balance'] == START_BALANCE
    subaccounts, _transfers = ledger_view(ledger_path)
    assert subaccounts['paris']['state'] == 'retired'
    # it is left alone: an allocation on it is refused, before any request
    refused = run_module(smsbox_credit, dict(base, subaccount='paris', allocated=10))
    assert refused.failed and 'retired' in refused.msg and transfer_posts(emulator, since=log)[1:] == []


def test_a_refused_take_back_retires_it_anyway_with_one_warning_and_is_not_resent(run_module, emulator, base, ledger_path):
    shop(run_module, base, top_up=0)
    emulator.spend('paris', 450)   # it holds 150 of its 600
    log = len(requests_log(emulator))

    retired = run_module(smsbox_subaccount, dict(base, name='paris', state='retired'))
    again = run_module(smsbox_subaccount, dict(base, name='paris', state='retired'))

    assert not retired.failed and retired['retired'] == ['paris'] and retired['reclaimed'] == 0
    (warning,) = [text for text in retired.warnings if 'retired, but SMSBOX refused' in text]
    assert 'amount: -H and transfer_id: retire-paris' in warning
    assert again['changed'] is False and not again.warnings
    assert [int(entry['params']['credit']) for entry in transfer_posts(emulator, since=log)] == [-600]
    # what it still holds comes back with the documented one-off take-back
    back = run_module(smsbox_credit, dict(base, subaccount='paris', amount=-150, transfer_id='retire-paris'))
    assert not back.failed and held(emulator, 'paris') == 0


def test_a_retirement_whose_answer_was_lost_is_settled_then_never_taken_twice(run_module, emulator, base, ledger_path):
    shop(run_module, base, top_up=0)
    emulator.add_fault(operation='transfer', fault='lost_answer', match={'to': 'paris'})

    lost = run_module(smsbox_subaccount, dict(base, name='paris', state='retired'))
    assert ledger_view(ledger_path)[0]['paris']['state'] == 'present'  # not retired while its take-back is unknown
    blocked = run_module(smsbox_subaccount, dict(base, name='paris', state='retired'))
    txid = lost['subaccounts'][0]['unsettled'][0]
    log = len(requests_log(emulator))
    settled = run_module(smsbox_credit, dict(base, subaccount='paris', resolve={txid: 'applied'}))
    retired = run_module(smsbox_subaccount, dict(base, name='paris', state='retired'))

    assert lost.failed and 'may have been applied' in lost.msg
    assert blocked.failed and 'unknown outcome' in blocked.msg
    assert not settled.failed and not retired.failed and retired['reclaimed'] == 0
    assert transfer_posts(emulator, since=log) == [] and held(emulator, 'paris') == 0
    assert ledger_view(ledger_path)[0]['paris']['state'] == 'retired'


def test_retiring_a_name_the_ledger_does_not_know_fails_before_any_request(run_module, emulator, base):
    result = run_module(smsbox_subaccount, dict(base, name='ghost', state='retired'))

    assert result.failed and "'ghost': cannot retire it: the ledger does not know it" in result.msg
    assert posts(emulator) == []


def test_a_retired_shop_described_as_present_again_is_managed_again_sending_nothing(run_module, emulator, base, ledger_path):
    shop(run_module, base, top_up=0)
    run_module(smsbox_subaccount, dict(base, name='paris', state='retired'))
    log = len(requests_log(emulator))

    back = run_module(smsbox_subaccount, dict(base, name='paris', password='Pw-paris-1'))

    assert back['changed'] and back['action'] == 'reactivated' and posts(emulator, since=log) == []
    assert ledger_view(ledger_path)[0]['paris']['state'] == 'present'
