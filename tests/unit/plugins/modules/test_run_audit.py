# -*- coding: utf-8 -*-
# Copyright: (c) 2026, smsbox.account contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Every create and transfer the modules record carries the run that made it."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible_collections.smsbox.account.plugins.modules import smsbox_credit, smsbox_subaccount
from ansible_collections.smsbox.account.tests.unit.helpers.ledger_stores import ledger_view


def test_every_create_and_transfer_records_its_run(run_module, emulator, base, ledger_path, monkeypatch):
    monkeypatch.setenv('GITHUB_ACTIONS', 'true')
    monkeypatch.setenv('GITHUB_RUN_ID', '5150')
    monkeypatch.setenv('GITHUB_REPOSITORY', 'acme/shops')
    run_module(smsbox_subaccount, dict(base, name='paris', password='Pw-paris-1', run_label='opening'))
    run_module(smsbox_credit, dict(base, subaccount='paris', allocated=10, run_label='invoice 7'))

    subaccounts, transfers = ledger_view(ledger_path)

    assert subaccounts['paris']['run']['label'] == 'opening' and subaccounts['paris']['run']['ci']['id'] == '5150'
    (tx,) = transfers
    assert tx['run']['label'] == 'invoice 7' and tx['run']['ci']['url'] == 'https://github.com/acme/shops/actions/runs/5150'
    assert 'github run 5150' in tx['run']['summary']
