# -*- coding: utf-8 -*-
# Copyright: (c) 2026, smsbox.account contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""smsbox_ledger_info: statements from a ledger the modules wrote, file and PostgreSQL, without the key, sending nothing."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import csv
import json

import pytest

from ansible_collections.smsbox.account.plugins.module_utils._ledger.records import key_fingerprint
from ansible_collections.smsbox.account.plugins.modules import smsbox_credit, smsbox_ledger_info, smsbox_subaccount
from ansible_collections.smsbox.account.tests.unit.helpers.accounts import KEY
from ansible_collections.smsbox.account.tests.unit.helpers.emulator import requests_log
from ansible_collections.smsbox.account.tests.unit.helpers.ledger_files import ledger_files_bytes
from ansible_collections.smsbox.account.tests.unit.postgresql import fresh_schema, password_of

FP = key_fingerprint(KEY)


def history(run_module, base):
    """Two shops: allocations, a top-up with its invoice, a take-back, and a refused transfer."""
    assert run_module(smsbox_subaccount, dict(base, subaccounts=[dict(name='paris', password='Pw-paris-1'),
                                                                 dict(name='lyon', password='Pw-lyon-1')]))['created']
    assert not run_module(smsbox_credit, dict(base, allocations=[dict(subaccount='paris', allocated=600),
                                                                 dict(subaccount='lyon', allocated=300)])).failed
    assert not run_module(smsbox_credit, dict(base, subaccount='paris', amount=200, transfer_id='invoice-42')).failed
    assert not run_module(smsbox_credit, dict(base, subaccount='lyon', allocated=250)).failed
    assert run_module(smsbox_credit, dict(base, subaccount='nowhere', amount=5)).failed  # ERREUR: recorded rejected


def test_a_statement_without_the_key_has_every_figure_and_sends_nothing(run_module, emulator, base, ledger_store, monkeypatch):
    store = ledger_store.location
    base = dict(base, ledger=store)
    history(run_module, base)
    log = len(requests_log(emulator))
    monkeypatch.delenv('SMSBOX_API_KEY', raising=False)

    info = run_module(smsbox_ledger_info, dict(ledger=store, key_fingerprint=FP, period='month'))

    assert not info.failed, info.msg
    assert info['changed'] is False and info['exists'] is True and info['key_fingerprint'] == FP
    paris, lyon = info['subaccounts']['paris'], info['subaccounts']['lyon']
    assert paris['credits'] == dict(baseline=0, allocated=600, top_ups=200, allowances=0, reclaimed=0, received=800)
    assert lyon['credits'] == dict(baseline=0, allocated=250, top_ups=0, allowances=0, reclaimed=0, received=250)
    assert [(tx['amount'], tx['kind'], tx['state']) for tx in paris['transfers']] == [(600, 'allocated', 'applied'),
                                                                                      (200, 'amount', 'applied')]
    assert paris['transfers'][1]['transfer_id'] == 'invoice-42'
    assert info['totals'] == dict(given=1100, taken_back=50, net=1050, transfers=4)
    assert info['transfers'] == 5 and info['subaccounts']['nowhere']['totals']['transfers'] == 0  # the refused one counts nowhere
    (month,) = info['periods']
    assert month['given'] == 1100 and month['net'] == 1050 and len(month['period']) == 7
    assert requests_log(emulator)[log:] == []
    assert KEY not in info.out


def test_filters_by_sub_account_and_period_and_writes_a_csv_once(run_module, emulator, base, ledger_path, tmp_path):
    history(run_module, base)
    report = str(tmp_path / 'paris.csv')
    args = dict(ledger=ledger_path, subaccounts=['paris'], since='2000-01', until='2999-12-31', csv=report)

    check = run_module(smsbox_ledger_info, args, check=True)
    assert check['changed'] is True and not (tmp_path / 'paris.csv').exists()
    written = run_module(smsbox_ledger_info, args)
    again = run_module(smsbox_ledger_info, args)
    outside = run_module(smsbox_ledger_info, dict(args, since='2999-01', csv=None))

    assert written['changed'] is True and again['changed'] is False
    assert list(written['subaccounts']) == ['paris'] and written['totals']['given'] == 800
    with open(report, newline='', encoding='utf-8') as handle:
        rows = list(csv.DictReader(handle))
    assert [(row['subaccount'], row['amount'], row['kind'], row['transfer_id']) for row in rows] == [
        ('paris', '600', 'allocated', ''), ('paris', '200', 'amount', 'invoice-42')]
    assert all(row['created'].endswith('Z') and row['state'] == 'applied' for row in rows)
    assert outside['totals'] == dict(given=0, taken_back=0, net=0, transfers=0) and outside['transfers'] == 0


@pytest.mark.parametrize('args, reason', [
    (dict(), 'no ledger: set the ledger option'),
    (dict(ledger='ledgers/eu.json'), 'is a relative path'),
    (dict(ledger='postgresql://finance@db.invalid/smsbox'), 'name the one to read with key_fingerprint'),
    (dict(ledger='/tmp/x.json', key_fingerprint='XYZ'), 'key_fingerprint must be 12 hex digits'),
    (dict(ledger='/tmp/x.json', since='last month'), "since must be a UTC date or time such as 2026-11"),
    (dict(ledger='/tmp/x.json', period='year'), 'value of period must be one of: day, week, month'),
])
def test_bad_options_are_refused_before_reading(run_module, monkeypatch, args, reason):
    monkeypatch.delenv('SMSBOX_LEDGER', raising=False)
    monkeypatch.delenv('SMSBOX_API_KEY', raising=False)

    result = run_module(smsbox_ledger_info, args)

    assert result.failed and reason in result.msg


def test_a_database_password_never_shows(run_module, emulator, base):
    with fresh_schema() as uri:
        history(run_module, dict(base, ledger=uri))
        result = run_module(smsbox_ledger_info, dict(ledger=uri, api_key=KEY))
        assert not result.failed and result['totals']['net'] == 1050
        assert password_of(uri) not in result.out and KEY not in result.out
        assert '********' in result['ledger_path']


@pytest.mark.parametrize('args', [
    dict(ledger='postgresql://finance:S3cret@db.invalid/smsbox', period='year'),  # refused by the argument spec itself
    dict(ledger=' postgresql://finance:S3cret@db.invalid/smsbox', key_fingerprint='3f2a9c01b7de'),  # white space around it
])
def test_a_database_password_never_shows_when_an_option_is_refused(run_module, args):
    result = run_module(smsbox_ledger_info, args)
    assert result.failed and 'S3cret' not in result.out


def test_reading_changes_nothing_in_the_ledger(run_module, emulator, base, ledger_path):
    history(run_module, base)
    before = ledger_files_bytes(ledger_path)

    run_module(smsbox_ledger_info, dict(ledger=ledger_path, period='week'))

    assert ledger_files_bytes(ledger_path) == before
    assert json.load(open(ledger_path))['format'] == 3
