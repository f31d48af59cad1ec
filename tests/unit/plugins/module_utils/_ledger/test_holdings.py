# -*- coding: utf-8 -*-
# Copyright: (c) 2026, smsbox.account contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a ledger holds and the queries the modules plan from (_ledger/holdings.py), on every store: the credits each
sub-account received, the transfers by sub-account and state, those still unsettled."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible_collections.smsbox.account.plugins.module_utils._ledger.ledger import Ledger
from ansible_collections.smsbox.account.tests.unit.helpers.accounts import FP_A


def test_allocated_sums_only_applied_transfers(location):
    with Ledger(location, FP_A).session() as book:
        for amount, state in [(100, 'applied'), (50, 'applied'), (-30, 'applied'), (1000, 'rejected'), (7, 'unknown')]:
            tx = book.begin_transfer('shop', amount)
            book.settle_transfer(tx['id'], state)
        book.begin_transfer('shop', 9)  # still pending
        other = book.begin_transfer('other', 5)
        book.settle_transfer(other['id'], 'applied')
        assert book.allocated('shop') == 120
        assert book.allocated('other') == 5
        assert book.allocated('nobody') == 0
        assert book.receipts() == {'shop': 120, 'other': 5}
        assert [tx['amount'] for tx in book.unsettled('shop')] == [7, 9]
        assert [tx['amount'] for tx in book.transfers('shop', states=('rejected',))] == [1000]
        assert [tx['subaccount'] for tx in book.transfers()] == ['shop'] * 6 + ['other']
