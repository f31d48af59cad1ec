# -*- coding: utf-8 -*-
# Copyright: (c) 2026, smsbox.account contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a run records (_ledger/recording.py), on every store: an upsert that changes nothing writes nothing, the life
of a transfer, a create announced before it is sent and withdrawn when refused, a transfer whose record failed, a
read-only session."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os

import pytest

from ansible_collections.smsbox.account.plugins.module_utils._ledger.ledger import TRANSFER_STATES, Ledger, LedgerError
from ansible_collections.smsbox.account.tests.unit.helpers.accounts import FP_A
from ansible_collections.smsbox.account.tests.unit.helpers.ledger_files import read_bytes
from ansible_collections.smsbox.account.tests.unit.helpers.workers import run_child
from ansible_collections.smsbox.account.tests.unit.postgresql import connect, terminate
from ansible_collections.smsbox.account.tests.unit.tcp_proxy import proxy_to


def test_identical_upsert_writes_nothing(location, probe):
    ledger = Ledger(location, FP_A)
    with ledger.session() as book:
        book.record_subaccount('a', 'created', nolimit=False)
        book.record_subaccount('b', 'adopted', baseline=70)
    before = probe.stored()
    with ledger.session() as book:
        book.record_subaccount('a', 'created', nolimit=False)
        book.record_subaccount('b', 'adopted')  # the known baseline is kept, so nothing changes
        book.record_subaccount('b', 'adopted', baseline=70)
        if probe.kind == 'file':
            assert read_bytes(location + '.journal') == b''
    assert probe.stored() == before


def test_transfer_lifecycle_and_illegal_transitions(location):
    ledger = Ledger(location, FP_A)
    with ledger.session() as book:
        tx = book.begin_transfer('shop', 100, transfer_id='order-1')
        assert tx['id'].startswith('tx-') and len(tx['id']) == 15 and int(tx['id'][3:], 16) >= 0
        assert tx['state'] == 'pending' and tx['settled'] is None and tx['detail'] is None
        assert tx['amount'] == 100 and tx['transfer_id'] == 'order-1' and tx['created'].endswith('Z')
        with pytest.raises(LedgerError):
            book.settle_transfer(tx['id'], 'pending')
        with pytest.raises(LedgerError):
            book.settle_transfer(tx['id'], 'lost')
        done = book.settle_transfer(tx['id'], 'unknown', detail='answer lost: ReadTimeout')
        assert done['state'] == 'unknown' and done['settled'] and done['detail'] == 'answer lost: ReadTimeout'
        with pytest.raises(LedgerError):
            book.settle_transfer(tx['id'], 'unknown')
        with pytest.raises(LedgerError):
            book.settle_transfer(tx['id'], 'pending')
        book.settle_transfer(tx['id'], 'applied', detail='resolved by operator')
        for state in TRANSFER_STATES:
            with pytest.raises(LedgerError) as info:
                book.settle_transfer(tx['id'], state)
            assert book.path in str(info.value)
        rejected = book.begin_transfer('shop', -5)
        book.settle_transfer(rejected['id'], 'rejected', detail='ERREUR')
        for state in TRANSFER_STATES:
            with pytest.raises(LedgerError):
                book.settle_transfer(rejected['id'], state)
        with pytest.raises(LedgerError):
            book.settle_transfer('tx-000000000000', 'applied')
        for amount in (0, 1.5, '10', True, None):
            with pytest.raises(LedgerError):
                book.begin_transfer('shop', amount)
        with pytest.raises(LedgerError):
            book.begin_transfer('', 10)
        second = book.begin_transfer('shop', 100, transfer_id='order-1')
        assert book.find_by_transfer_id('order-1')['id'] == second['id']
        assert book.find_by_transfer_id('order-2') is None
        assert book.find_by_transfer_id(None) is None
        assert len(book.transfers()) == 3
    with ledger.session(exclusive=False) as book:
        assert book.transfer(tx['id'])['state'] == 'applied'
        assert book.transfer(tx['id'])['detail'] == 'resolved by operator'
        assert book.transfer('tx-missing') is None
        assert [t['id'] for t in book.transfers()] == [tx['id'], rejected['id'], second['id']]


def test_shared_session_is_read_only(location, probe):
    ledger = Ledger(location, FP_A)
    with ledger.session() as book:
        tx = book.begin_transfer('shop', 3)
        book.record_subaccount('shop', 'created')
    before = probe.stored()
    with ledger.session(exclusive=False) as book:
        assert book.transfer(tx['id'])
        with pytest.raises(LedgerError):
            book.record_subaccount('x', 'created')
        with pytest.raises(LedgerError):
            book.begin_transfer('shop', 1)
        with pytest.raises(LedgerError):
            book.settle_transfer(tx['id'], 'applied')
    assert probe.stored() == before


def stored_subaccounts(location):
    """name -> (origin, state) as the store holds them, read without the lock."""
    if location.startswith('postgresql://'):
        with connect(location) as conn:
            return dict((name, (origin, state)) for name, origin, state in
                        conn.execute('SELECT name, origin, state FROM smsbox_ledger_subaccounts'))
    found = {}
    if os.path.exists(location):
        with open(location) as handle:
            found.update((name, (r['origin'], r['state'])) for name, r in json.load(handle)['subaccounts'].items())
    if os.path.exists(location + '.journal'):
        with open(location + '.journal') as handle:
            for line in handle:
                entry = json.loads(line)
                if 'subaccount' in entry:
                    found[entry['subaccount']['name']] = (entry['subaccount']['origin'], entry['subaccount']['state'])
                elif 'withdrawn' in entry:
                    found.pop(entry['withdrawn']['name'], None)
    return found


def test_a_create_is_announced_unknown_before_it_is_sent_and_withdrawn_when_refused(location, store):
    with Ledger(location, FP_A).session() as book:
        made = book.announce_create('shop-new', False, '%s:%s' % (FP_A, '1' * 16))
        # durable before the request: a killed run leaves it, and the next run settles it by sending the create again
        assert stored_subaccounts(location) == {'shop-new': ('created', 'unknown')}
        assert made['state'] == 'unknown' and made['baseline'] == 0
        book.record_subaccount('shop-new', 'created', state='present', nolimit=False, password_fp=made['password_fp'],
                               answered=True)
        refused = book.announce_create('shop-taken', False, None)
        book.withdraw_create(refused)  # SMSBOX answered ERREUR: the name is not ours
        assert book.subaccount('shop-taken') is None
    assert stored_subaccounts(location) == {'shop-new': ('created', 'present')}
    with Ledger(location, FP_A).session(exclusive=False) as book:
        assert sorted(book.subaccounts()) == ['shop-new']


def test_a_run_killed_after_announcing_leaves_the_create_unknown(location, store, tmp_path):
    code = '''
        import os, sys
        from ansible_collections.smsbox.account.plugins.module_utils._ledger.ledger import Ledger
        with Ledger(sys.argv[1], sys.argv[2]).session() as book:
            book.announce_create('shop-killed', True, None)
            os._exit(9)
    '''
    run_child(code, location, FP_A)
    with Ledger(location, FP_A, lock_timeout=5).session() as book:
        assert book.subaccount('shop-killed')['state'] == 'unknown' and book.subaccount('shop-killed')['origin'] == 'created'


def test_a_transfer_whose_record_failed_is_not_left_pending(pg_location):
    with proxy_to(pg_location) as proxy:
        location = proxy.uri(pg_location)
        with Ledger(location, FP_A).session() as book:
            book.record_subaccount('shop', 'created')
            writer_pids = [conn.info.backend_pid for conn in book._store.database._idle]
            for pid in writer_pids:
                terminate(pg_location, pid)  # the writer's connection is gone: recording the transfer fails
            with pytest.raises(LedgerError) as info:
                book.begin_transfer('shop', 10)
            assert 'not sent' in str(info.value) and book.unrecorded == []
    with Ledger(pg_location, FP_A).session(exclusive=False) as book:
        assert [tx['state'] for tx in book.transfers()] in ([], ['rejected']) and book.warnings == []
