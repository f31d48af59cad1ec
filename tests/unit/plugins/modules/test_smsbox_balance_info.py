# -*- coding: utf-8 -*-
# Copyright: (c) 2026, smsbox.account contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""smsbox_balance_info against the in-process emulator: the balance as a number, the ledger as it stands, no change."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os

import pytest

from ansible_collections.smsbox.account.plugins.module_utils._api import client as client_module
from ansible_collections.smsbox.account.plugins.modules import smsbox_balance_info, smsbox_credit, smsbox_subaccount
from ansible_collections.smsbox.account.tests.emulator.smsbox_emulator import Emulator
from ansible_collections.smsbox.account.tests.unit.helpers.accounts import BAD_KEY, KEY, START_BALANCE
from ansible_collections.smsbox.account.tests.unit.helpers.emulator import posts, requests_log
from ansible_collections.smsbox.account.tests.unit.helpers.ledger_files import ledger_files_bytes


@pytest.mark.parametrize('decimal_comma', [False, True], ids=['dot', 'comma'])
@pytest.mark.parametrize('stored, expected', [
    (1250, 1250),
    ('0', 0),
    ('22.5', 22.5),
    ('0.25', 0.25),
    ('7.50', 7.5),
    ('40.0', 40),
])
def test_balance_is_an_int_or_a_float_when_fractional(run_module, ledger_path, stored, expected, decimal_comma):
    with Emulator(accounts={KEY: stored}, decimal_comma=decimal_comma) as emu:
        result = run_module(smsbox_balance_info, dict(api_key=KEY, api_url=emu.url, ledger=ledger_path))
        log = requests_log(emu)

    assert not result.failed and result['changed'] is False
    assert result['balance'] == expected
    assert type(result['balance']) is type(expected)
    assert result['api_url'] == emu.url
    assert [(entry['method'], entry['action']) for entry in log] == [('GET', 'credit')]


def test_without_a_ledger_it_reports_an_empty_one_and_creates_nothing(run_module, emulator, base, ledger_path):
    result = run_module(smsbox_balance_info, base, check=True)

    assert result['balance'] == START_BALANCE
    assert result['ledger'] == dict(path=ledger_path, exists=False, subaccounts={}, unsettled=[], baseline_total=0, allocated_total=0,
                                    top_ups_total=0, received_total=0, transferred_total=0)
    assert not os.path.exists(ledger_path) and not os.path.exists(os.path.dirname(ledger_path))


def test_ledger_summary_after_module_runs(run_module, emulator, base, ledger_path):
    emulator.set_accounts({KEY: {'balance': START_BALANCE, 'subaccounts': {'hq-sales': {'credits': 40}}}})
    created = run_module(smsbox_subaccount, dict(base, subaccounts=[
        dict(name='shop-a', password='Pw-a-12345'), dict(name='shop-b', password='Pw-b-12345', nolimit=True),
        dict(name='shop-c', password='Pw-c-12345'), dict(name='hq-support'), dict(name='hq-sales', baseline=40)], adopt=True))
    assert created['created'] == ['shop-a', 'shop-b', 'shop-c'] and created['adopted'] == ['hq-support', 'hq-sales']
    run_module(smsbox_credit, dict(base, allocations=[dict(subaccount='shop-a', allocated=300),
                                                      dict(subaccount='shop-b', amount=50)]))
    run_module(smsbox_credit, dict(base, subaccount='shop-a', allocated=200))
    run_module(smsbox_credit, dict(base, allocations=[dict(subaccount='hq-sales', allocated=100),
                                                      dict(subaccount='shop-a', amount=30, transfer_id='invoice-1')]))
    emulator.add_fault(operation='transfer', fault='lost_answer', match={'to': 'shop-c'})
    assert run_module(smsbox_credit, dict(base, subaccount='shop-c', amount=75)).failed
    files = ledger_files_bytes(ledger_path)
    log_start = len(requests_log(emulator))

    result = run_module(smsbox_balance_info, base)

    assert not result.failed and result['changed'] is False
    assert result['balance'] == START_BALANCE - 200 - 50 - 60 - 30 - 75  # the lost transfer was applied at SMSBOX
    ledger = result['ledger']
    assert ledger['path'] == ledger_path and ledger['exists'] is True
    assert ledger['subaccounts'] == {
        'shop-a': dict(origin='created', state='present', nolimit=False, baseline=0, allocated=200, top_ups=30, allowances=0, reclaimed=0, received=230),
        'shop-b': dict(origin='created', state='present', nolimit=True, baseline=0, allocated=0, top_ups=50, allowances=0, reclaimed=0, received=50),
        'shop-c': dict(origin='created', state='present', nolimit=False, baseline=0, allocated=0, top_ups=0, allowances=0, reclaimed=0, received=0),
        'hq-support': dict(origin='adopted', state='present', nolimit=None, baseline=None, allocated=0, top_ups=0, allowances=0, reclaimed=0, received=0),
        'hq-sales': dict(origin='adopted', state='present', nolimit=None, baseline=40, allocated=100, top_ups=0, allowances=0, reclaimed=0, received=100),
    }
    # each total is what its name says: baselines are no transfers, one-off top-ups no declared allocation
    assert (ledger['baseline_total'], ledger['allocated_total'], ledger['top_ups_total'], ledger['received_total'],
            ledger['transferred_total']) == (40, 300, 80, 380, 340)
    assert [(tx['subaccount'], tx['amount'], tx['state']) for tx in ledger['unsettled']] == [('shop-c', 75, 'unknown')]
    assert posts(emulator, since=log_start) == []
    assert ledger_files_bytes(ledger_path) == files, 'an info module changed the ledger'


def test_key_and_ledger_from_the_environment(run_module, emulator, ledger_path, monkeypatch):
    run_module(smsbox_subaccount, dict(api_key=KEY, api_url=emulator.url, ledger=ledger_path, name='shop-a', password='Pw-a-12345'))
    monkeypatch.setenv('SMSBOX_API_KEY', KEY)
    monkeypatch.setenv('SMSBOX_API_URL', emulator.url)
    monkeypatch.setenv('SMSBOX_LEDGER', ledger_path)

    result = run_module(smsbox_balance_info, {})

    assert result['balance'] == START_BALANCE
    assert list(result['ledger']['subaccounts']) == ['shop-a']
    assert KEY not in result.out


def test_a_bad_key_fails_and_is_not_shown(run_module, emulator, base):
    result = run_module(smsbox_balance_info, dict(base, api_key=BAD_KEY))

    assert result.failed
    assert 'key' in result.msg and 'dashboard' in result.msg
    assert BAD_KEY not in result.out
    assert len(requests_log(emulator)) == 1  # ERROR 02 is not retried


@pytest.mark.parametrize('fault', ['html_502', 'garbage', 'empty', 'error_05'])
def test_a_passing_fault_on_the_read_is_retried(run_module, emulator, base, fault, monkeypatch):
    monkeypatch.setattr(client_module.random, 'uniform', lambda _low, _high: 0.0)  # no backoff wait
    emulator.add_fault(operation='balance', fault=fault)

    result = run_module(smsbox_balance_info, base)

    retryable = fault in ('html_502', 'error_05')
    if retryable:
        assert not result.failed and result['balance'] == START_BALANCE
        assert len(requests_log(emulator)) == 2
    else:
        assert result.failed and 'balance' in result.msg
        assert len(requests_log(emulator)) == 1
    assert KEY not in result.out


@pytest.mark.parametrize('retries, faults, ok', [(0, 1, False), (4, 4, True), (4, 5, False)])
def test_retries_bounds_the_tries_of_a_read(run_module, emulator, base, monkeypatch, retries, faults, ok):
    monkeypatch.setattr(client_module.random, 'uniform', lambda _low, _high: 0.0)  # no backoff wait
    emulator.add_fault(operation='balance', fault='error_05', times=faults)

    result = run_module(smsbox_balance_info, dict(base, retries=retries))

    assert result.failed is not ok
    assert len(requests_log(emulator)) == min(faults + 1, retries + 1)


def test_retries_from_the_environment(run_module, emulator, base, monkeypatch):
    monkeypatch.setattr(client_module.random, 'uniform', lambda _low, _high: 0.0)
    monkeypatch.setenv('SMSBOX_RETRIES', '5')
    emulator.add_fault(operation='balance', fault='html_502', times=5)

    result = run_module(smsbox_balance_info, base)

    assert not result.failed and result['balance'] == START_BALANCE
    assert len(requests_log(emulator)) == 6


@pytest.mark.parametrize('retries', [-1, 11, 'often'])
def test_a_bad_retries_is_refused_before_any_request(run_module, emulator, base, retries):
    result = run_module(smsbox_balance_info, dict(base, retries=retries))

    assert result.failed and 'retries' in result.msg
    assert requests_log(emulator) == []
