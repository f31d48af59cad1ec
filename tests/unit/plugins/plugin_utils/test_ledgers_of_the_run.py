# -*- coding: utf-8 -*-
# Copyright: (c) 2026, smsbox.account contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A name another main account's ledger holds is never created again: read from real ledger files."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible_collections.smsbox.account.plugins.module_utils._ledger.ledger import Ledger
from ansible_collections.smsbox.account.plugins.module_utils._ledger.records import key_fingerprint
from ansible_collections.smsbox.account.plugins.plugin_utils._ledgers_of_the_run import names_held_elsewhere, read_ledger

EU_KEY = 'eu-key-5b1f0c2d9e'
US_KEY = 'us-key-77aa03c1f4'


def account(key, ledger):
    return dict(api_key=key, api_url='https://api.smsbox.pro/1.1/api.php', ledger=ledger)


def test_a_shop_moved_to_another_main_account_is_refused_naming_both_and_its_credits(tmp_path):
    eu_ledger, us_ledger = str(tmp_path / 'eu.json'), str(tmp_path / 'us.json')
    with Ledger(eu_ledger, key_fingerprint(EU_KEY)).session() as book:
        book.record_subaccount('paris', 'created')
        tx = book.begin_transfer('paris', 250, kind='allocated')
        book.settle_transfer(tx['id'], 'applied')
    accounts = [('eu', account(EU_KEY, eu_ledger), {'paris-2': 'host-a'}),
                ('us', account(US_KEY, us_ledger), {'paris': 'host-paris'})]

    (problem,) = names_held_elsewhere(accounts)

    assert problem.startswith("host host-paris: sub-account 'paris' would be created under main account us, but the ledger of main "
                              "account eu (%s) holds it (created, present, 250 credits received in all, 250 declared)" % eu_ledger)
    assert 'take its credits back on eu first, then give it a new name under us' in problem and 'day-2' in problem
    assert EU_KEY not in problem and US_KEY not in problem


def test_names_each_ledger_holds_already_or_no_other_ledger_knows_pass(tmp_path):
    eu_ledger, us_ledger = str(tmp_path / 'eu.json'), str(tmp_path / 'us.json')
    for key, ledger, name in ((EU_KEY, eu_ledger, 'paris'), (US_KEY, us_ledger, 'boston')):
        with Ledger(ledger, key_fingerprint(key)).session() as book:
            book.record_subaccount(name, 'created')
    accounts = [('eu', account(EU_KEY, eu_ledger), {'paris': 'h1', 'lyon': 'h2'}),
                ('us', account(US_KEY, us_ledger), {'boston': 'h3', 'miami': 'h4'})]

    assert names_held_elsewhere(accounts) == []
    assert read_ledger(account(EU_KEY, str(tmp_path / 'none.json')))[1] == {}  # a ledger not made yet is empty
    assert not (tmp_path / 'none.json').exists()


def test_a_ledger_that_cannot_be_read_is_named(tmp_path):
    broken = tmp_path / 'eu.json'
    broken.write_text('{not json')
    accounts = [('eu', account(EU_KEY, str(broken)), {'paris': 'h1'}), ('us', account(US_KEY, str(tmp_path / 'us.json')), {})]

    (problem,) = names_held_elsewhere(accounts)

    assert problem.startswith('main account eu: its ledger cannot be read: Ledger %s is unreadable' % broken)
