# -*- coding: utf-8 -*-
# Copyright: (c) 2026, smsbox.account contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The ledger, the domain (_ledger/ledger.py), on every store: what a session reads and records, a run killed half-way,
sessions at once, the key's fingerprints, no secret stored. What it records: test_recording.py; what it holds:
test_holdings.py; the store interface each store keeps: test_store.py; what only one store does: file/ and postgresql/
beside this file."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import sys
import threading
import time

import pytest

from ansible_collections.smsbox.account.plugins.module_utils._ledger import ledger as ledger_mod
from ansible_collections.smsbox.account.plugins.module_utils._ledger.ledger import (
    FORMAT_VERSION,
    Ledger,
    LedgerError,
    key_fingerprint,
    password_fingerprint,
)
from ansible_collections.smsbox.account.tests.unit.helpers.accounts import FP_A, FP_B
from ansible_collections.smsbox.account.tests.unit.helpers.ledger_files import read_bytes, snapshot_of
from ansible_collections.smsbox.account.tests.unit.helpers.workers import run_child, run_in_threads, start_child


# -- reading and recording --

def test_fresh_ledger_reads_empty_and_creates_nothing(location, probe):
    ledger = Ledger(location, FP_A)
    with ledger.session(exclusive=False) as book:
        assert book.exists is False
        assert book.subaccounts() == {} and book.transfers() == [] and book.receipts() == {}
        assert book.warnings == []
    assert probe.stored() == {}  # a read-only session creates nothing: no directory, no table
    with ledger.session() as book:
        assert book.exists is False
    # an exclusive session that changed nothing writes no ledger
    assert not probe.holds_records()
    if probe.kind == 'file':
        assert not os.path.exists(location)
        assert not os.path.exists(location + '.journal')


def test_record_and_query_survive_reopening(location, probe):
    ledger = Ledger(location, FP_A, api_url='https://api.example/1.1/api.php')
    with ledger.session() as book:
        rec = book.record_subaccount('shop-paris', 'created', nolimit=False, password_fp='fp:1')
        assert rec['name'] == 'shop-paris' and rec['origin'] == 'created' and rec['state'] == 'present'
        assert rec['recorded'].endswith('Z')
        book.record_subaccount('shop-lyon', 'adopted')
        book.record_subaccount('shop-nice', 'created', state='unknown', nolimit=True)
        rec['state'] = 'tampered'  # a returned copy must not change the ledger
        assert book.subaccount('shop-paris')['state'] == 'present'
    assert probe.holds_records()
    with Ledger(location, FP_A).session(exclusive=False) as book:
        assert book.exists is True
        assert set(book.subaccounts()) == {'shop-paris', 'shop-lyon', 'shop-nice'}
        assert book.subaccount('shop-lyon') == dict(name='shop-lyon', origin='adopted', state='present', nolimit=None,
                                                    password_fp=None, baseline=None, recorded=book.subaccount('shop-lyon')['recorded'],
                                                    run=None)
        assert book.subaccount('shop-paris')['password_fp'] == 'fp:1'
        assert book.subaccount('shop-nice')['state'] == 'unknown'
        assert book.subaccount('shop-nice')['nolimit'] is True
        assert book.subaccount('nope') is None
    assert probe.account(FP_A) == ([FP_A], 'https://api.example/1.1/api.php')
    if probe.kind == 'file':
        data = snapshot_of(location)
        assert data['format'] == FORMAT_VERSION and data['kind'] == 'smsbox.account ledger'
    # upsert: the last record wins, no duplicate
    with ledger.session() as book:
        book.record_subaccount('shop-nice', 'created', state='present', nolimit=True)
    with ledger.session(exclusive=False) as book:
        assert book.subaccount('shop-nice')['state'] == 'present'
        assert len(book.subaccounts()) == 3


def test_sessions_cannot_nest_and_mutations_need_a_session(location):
    ledger = Ledger(location, FP_A)
    with pytest.raises(LedgerError):
        ledger.begin_transfer('shop', 1)
    with ledger.session() as book:
        with pytest.raises(LedgerError):
            with ledger.session():
                pass
        book.record_subaccount('a', 'created')
    with pytest.raises(LedgerError):
        ledger.record_subaccount('b', 'created')
    # a failed session still releases its lock
    with ledger.session() as book:
        assert book.subaccount('a')


# -- a run killed, another key --

def test_crash_after_begin_transfer_reads_as_unknown(location, probe):
    child = run_child('''
        import os, sys
        from ansible_collections.smsbox.account.plugins.module_utils._ledger.ledger import Ledger
        with Ledger(sys.argv[1], sys.argv[2]).session() as book:
            book.record_subaccount('shop', 'created')
            done = book.begin_transfer('shop', 40)
            book.settle_transfer(done['id'], 'applied', detail='OK')
            tx = book.begin_transfer('shop', 100, transfer_id='t-1')
            print(tx['id'])
            sys.stdout.flush()
            os._exit(1)  # killed before the answer: no session exit, no snapshot, no clean disconnection
    ''', location, FP_A)
    assert child.returncode == 1, child.stderr
    txid = child.stdout.strip()
    if probe.kind == 'file':
        assert not os.path.exists(location)  # only the journal holds it
    stored = probe.stored()

    # a read-only look shows it as unknown but writes nothing
    with Ledger(location, FP_A).session(exclusive=False) as book:
        assert book.exists
        assert book.transfer(txid)['state'] == 'unknown'
        assert any(txid in warning for warning in book.warnings)
    assert probe.stored() == stored

    with Ledger(location, FP_A).session() as book:
        tx = book.transfer(txid)
        assert tx['state'] == 'unknown' and tx['detail'] == ledger_mod.INTERRUPTED_DETAIL
        assert tx['amount'] == 100 and tx['transfer_id'] == 't-1'
        assert [t['id'] for t in book.unsettled('shop')] == [txid]
        assert book.allocated('shop') == 40
        assert book.subaccount('shop')['origin'] == 'created'
        assert len(book.warnings) == 1 and txid in book.warnings[0] and 'resolve' in book.warnings[0]
    if probe.kind == 'file':
        assert [t['state'] for t in snapshot_of(location)['transfers']] == ['applied', 'unknown']
        assert read_bytes(location + '.journal') == b''
    with Ledger(location, FP_A).session() as book:
        assert book.warnings == []  # reported once, now recorded as unknown
        book.settle_transfer(txid, 'rejected', detail='resolved by operator')
        assert book.unsettled() == []


def test_fingerprint_mismatch_warns_and_keeps_history(path):
    with Ledger(path, FP_A).session() as book:
        book.record_subaccount('a', 'created')
        assert book.warnings == []
    before = read_bytes(path)
    with Ledger(path, FP_B).session(exclusive=False) as book:
        assert len(book.warnings) == 1
        assert FP_A in book.warnings[0] and FP_B in book.warnings[0] and path in book.warnings[0]
        assert 'rotated' in book.warnings[0]
    assert read_bytes(path) == before  # a read-only session only warns
    with Ledger(path, FP_B).session() as book:
        assert len(book.warnings) == 1
    assert snapshot_of(path)['key_fingerprints'] == [FP_A, FP_B]
    with Ledger(path, FP_B).session() as book:
        assert book.warnings == []
    with Ledger(path, FP_A).session() as book:
        assert len(book.warnings) == 1
    assert snapshot_of(path)['key_fingerprints'] == [FP_A, FP_B, FP_A]


def test_a_run_that_fails_with_another_key_records_no_fingerprint(path):
    """A key SMSBOX refuses (the module fails at the balance read) must not become the ledger's newest key."""
    with Ledger(path, FP_A).session() as book:
        book.record_subaccount('a', 'created')
    before = read_bytes(path)
    with pytest.raises(SystemExit):
        with Ledger(path, FP_B).session() as book:
            assert len(book.warnings) == 1
            raise SystemExit(1)  # what fail_json does when the balance read is refused
    assert read_bytes(path) == before
    with Ledger(path, FP_A).session() as book:
        assert book.warnings == []  # no "last used with another API key" for the right key
    with pytest.raises(SystemExit):
        with Ledger(path, FP_B).session() as book:
            book.record_subaccount('b', 'created')  # a run that recorded something records its key too
            raise SystemExit(1)
    assert snapshot_of(path)['key_fingerprints'] == [FP_A, FP_B]


# -- concurrency --

def test_two_processes_recording_at_once_lose_nothing(location):
    code = '''
        import sys, time
        from ansible_collections.smsbox.account.plugins.module_utils._ledger.ledger import Ledger
        path, fp, who, start = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
        while time.time() < start:
            time.sleep(0.001)
        ledger = Ledger(path, fp, lock_timeout=60)
        for batch in range(20):
            with ledger.session() as book:
                for n in range(10):
                    tx = book.begin_transfer('%s-%d' % (who, n), 1, transfer_id='%s-%d-%d' % (who, batch, n))
                    book.settle_transfer(tx['id'], 'applied', detail='OK')
                book.record_subaccount('%s-%d' % (who, batch), 'created')
    '''
    start = time.time() + 1.0
    children = [start_child(code, location, FP_A, who, start) for who in ('p1', 'p2')]
    for child in children:
        dummy, err = child.communicate(timeout=120)
        assert child.returncode == 0, err
    with Ledger(location, FP_A).session(exclusive=False) as book:
        transfers = book.transfers()
        assert len(transfers) == 400
        assert len(set(tx['id'] for tx in transfers)) == 400
        assert len(set(tx['transfer_id'] for tx in transfers)) == 400
        assert all(tx['state'] == 'applied' for tx in transfers)
        assert sum(book.receipts().values()) == 400
        assert len(book.subaccounts()) == 40
        assert book.warnings == []


def test_eight_threads_in_one_session(location, probe):
    ledger = Ledger(location, FP_A, concurrency=8)

    def work(worker):
        for n in range(50):
            name = 'w%d-%d' % (worker, n)
            book.record_subaccount(name, 'created', nolimit=False)
            tx = book.begin_transfer(name, n + 1)
            book.settle_transfer(tx['id'], 'applied', detail='OK')

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible to expose races
    try:
        with ledger.session() as book:
            assert run_in_threads(work, 8) == []
            held = dict(list(book.subaccounts().items()) + [(tx['id'], tx) for tx in book.transfers()])
            if probe.kind == 'file':
                journal = [json.loads(line.decode()) for line in read_bytes(location + '.journal').splitlines()]
                assert [entry for entry in journal if 'account' in entry] == [{'account': dict(key_fingerprints=[FP_A], api_url=None, moved_to=None)}]
                journal = [entry for entry in journal if 'account' not in entry]
                assert len(journal) == 8 * 50 * 3
                last = {}
                for entry in journal:
                    record = entry.get('transfer') or entry['subaccount']
                    last[record['id'] if 'id' in record else record['name']] = record
                # what a crash now would replay is exactly what the session holds
                assert last == held
            else:
                # what another controller would read now is exactly what the session holds
                rows = probe.stored()
                assert len(rows['smsbox_ledger_subaccounts']) == 400 and len(rows['smsbox_ledger_transfers']) == 400
                assert set(row[6] for row in rows['smsbox_ledger_transfers']) == {'applied'}
    finally:
        sys.setswitchinterval(interval)
    with ledger.session(exclusive=False) as book:
        assert dict(list(book.subaccounts().items()) + [(tx['id'], tx) for tx in book.transfers()]) == held
        assert len(book.subaccounts()) == 400
        assert len(book.transfers(states=('applied',))) == 400
        assert sum(book.receipts().values()) == 8 * sum(range(1, 51))


# -- secrets, baselines, figures --

def test_no_key_or_password_in_files_or_messages(location, probe):
    key = 'SECRET-api-KEY-7f3e9d'
    password = 'Hunter2-Sub-Password'
    ledger = Ledger(location, key_fingerprint(key), api_url='https://api.example/1.1/api.php')
    seen = []
    with ledger.session() as book:
        book.record_subaccount('shop', 'created', nolimit=False, password_fp=password_fingerprint(key, password))
        tx = book.begin_transfer('shop', 5, transfer_id='order')
        book.settle_transfer(tx['id'], 'applied', detail='OK')
        seen.append(probe.dump())
    with Ledger(location, key_fingerprint('another key')).session() as book:
        seen.extend(warning.encode() for warning in book.warnings)
    seen.append(probe.dump())
    assert b'shop' in seen[0]
    for blob in seen:
        for secret in (key, password):
            assert secret.encode() not in blob
            assert secret.lower().encode() not in blob.lower()


def test_baseline_counts_in_allocated_and_is_unknown_for_adopted_names(location):
    ledger = Ledger(location, FP_A)
    with ledger.session() as book:
        assert book.record_subaccount('made', 'created')['baseline'] == 0
        assert book.record_subaccount('found', 'adopted')['baseline'] is None
        assert book.record_subaccount('told', 'adopted', baseline=300)['baseline'] == 300
        for name in ('made', 'found', 'told'):
            tx = book.begin_transfer(name, 10)
            book.settle_transfer(tx['id'], 'applied')
        assert [book.baseline(name) for name in ('made', 'found', 'told', 'nobody')] == [0, None, 300, None]
        assert [book.baseline_known(name) for name in ('made', 'found', 'told', 'nobody')] == [True, False, True, False]
        assert [book.allocated(name) for name in ('made', 'found', 'told', 'nobody')] == [10, 10, 310, 0]
        assert book.receipts() == {'made': 10, 'found': 10, 'told': 310}
        # not given: an unchanged origin keeps its baseline; another origin takes the new origin's
        assert book.record_subaccount('told', 'adopted', state='present', nolimit=False)['baseline'] == 300
        # a sub-account this collection created never becomes adopted: it would lose its origin and its baseline
        with pytest.raises(LedgerError) as info:
            book.record_subaccount('made', 'adopted')
        assert "'made' as created by this collection: it cannot become adopted" in str(info.value)
        assert book.subaccount('made')['origin'] == 'created' and book.baseline('made') == 0
        assert book.record_subaccount('found', 'adopted', baseline=None)['baseline'] is None
        book.record_subaccount('quiet', 'adopted', baseline=25)
    with ledger.session(exclusive=False) as book:
        assert book.baseline('told') == 300 and book.allocated('told') == 310
        assert book.subaccount('made')['origin'] == 'created' and book.baseline_known('made') is True
        assert book.receipts() == {'made': 10, 'found': 10, 'told': 310, 'quiet': 25}


def test_bulk_run_figures(location, store, tmp_path, record_property):
    """500 sub-accounts, then 500 transfers (begin + settle), from one thread, then from 8 threads on another account."""
    def fill(ledger, threads):
        started = time.monotonic()
        with ledger.session() as book:
            for n in range(500):
                book.record_subaccount('shop-%03d' % n, 'created', nolimit=False, password_fp='%s:%s' % (FP_A, '0' * 16))
            created = time.monotonic()

            def work(first):
                for n in range(first, 500, threads):
                    tx = book.begin_transfer('shop-%03d' % n, 100, transfer_id='t-%d' % n)
                    book.settle_transfer(tx['id'], 'applied', detail='OK')
            workers = [threading.Thread(target=work, args=(first,)) for first in range(threads)]
            for worker in workers:
                worker.start()
            for worker in workers:
                worker.join()
            transferred = time.monotonic()
        ended = time.monotonic()
        with ledger.session(exclusive=False) as book:
            assert len(book.subaccounts()) == 500 and sum(book.receipts().values()) == 50000
            assert len(book.transfers(states='applied')) == 500
        return created - started, transferred - created, ended - transferred, time.monotonic() - ended

    one = fill(Ledger(location, FP_A), 1)
    other = str(tmp_path / 'eight' / 'ledger.json') if store == 'file' else location
    eight = fill(Ledger(other, FP_B, concurrency=8), 8)
    figure = ('%-10s 500 sub-accounts %.2f s; 500 transfers (begin+settle) %.2f s with 1 thread, %.2f s with 8; '
              'close %.2f s; reload %.2f s' % (store, one[0], one[1], eight[1], one[2], one[3]))
    record_property('ledger_figure', figure)
    print('\n' + figure)
