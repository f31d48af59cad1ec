# -*- coding: utf-8 -*-
# Copyright: (c) 2026, smsbox.account contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Statements: periods, totals and the CSV, on a ledger recorded through the Ledger API."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import pytest

from ansible_collections.smsbox.account.plugins.module_utils._ledger.ledger import Ledger
from ansible_collections.smsbox.account.plugins.module_utils._ledger.statements import csv_text, period_of, statement


@pytest.mark.parametrize('moment, period, name', [
    ('2026-11-07T10:00:00Z', 'day', '2026-11-07'),
    ('2026-11-07T10:00:00Z', 'month', '2026-11'),
    ('2026-11-07T10:00:00Z', 'week', '2026-W45'),
    ('2027-01-01T00:00:00Z', 'week', '2026-W53'),  # ISO weeks: the first days of January can belong to last year's
    ('2026-12-28T00:00:00Z', 'week', '2026-W53'),
])
def test_a_transfer_falls_in_the_period_of_the_day_it_was_recorded(moment, period, name):
    assert period_of(moment, period) == name


def record(book, name, amount, when, state='applied', kind='allocated'):
    tx = book.begin_transfer(name, amount, kind=kind, transfer_id='inv-%s-%s' % (name, when) if kind == 'amount' else None)
    book.settle_transfer(tx['id'], state)
    book._holdings._transfers[tx['id']]['created'] = when  # pylint: disable=protected-access  # a history spread over months


def test_totals_per_month_count_applied_transfers_given_and_taken_back(tmp_path):
    with Ledger(str(tmp_path / 'eu.json'), 'abcdef012345').session() as book:
        book.record_subaccount('paris', 'created')
        record(book, 'paris', 600, '2026-10-30T09:00:00Z')
        record(book, 'paris', 200, '2026-11-02T09:00:00Z', kind='amount')
        record(book, 'paris', -100, '2026-11-20T09:00:00Z')
        record(book, 'paris', 50, '2026-11-21T09:00:00Z', state='rejected')

        result = statement(book, period='month', since='2026-11')
        text = csv_text(result)

    assert result['totals'] == dict(given=200, taken_back=100, net=100, transfers=2)
    assert result['periods'] == [dict(period='2026-11', given=200, taken_back=100, net=100, transfers=2)]
    assert result['subaccounts']['paris']['credits'] == dict(baseline=0, allocated=500, top_ups=200, allowances=0, reclaimed=0, received=700)
    lines = text.split('\r\n')
    assert lines[0] == 'created,subaccount,amount,kind,state,transfer_id,id,settled,detail,run'
    assert [line.split(',')[:5] for line in lines[1:4]] == [
        ['2026-11-02T09:00:00Z', 'paris', '200', 'amount', 'applied'], ['2026-11-20T09:00:00Z', 'paris', '-100', 'allocated', 'applied'],
        ['2026-11-21T09:00:00Z', 'paris', '50', 'allocated', 'rejected']]
