# -*- coding: utf-8 -*-
# Copyright: (c) 2026, smsbox.account contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The ledger while the platform fails under it: a lost lock, a database away for seconds, too few connections, a
pooler, a long wait for the lock, a ledger moved aside, a key rotation. (First runs racing to create the tables under a
role's lock_timeout: postgresql/test_store.py.)

Against the real test PostgreSQL (tests/unit/postgresql.py); a database that goes away is a TCP proxy in front of it
(tests/unit/tcp_proxy.py), cut for a while, so that the server the other tests share stays up.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import time

import pytest

from ansible_collections.smsbox.account.plugins.module_utils._ledger import store as store_mod
from ansible_collections.smsbox.account.plugins.module_utils._ledger.copying import copy_ledger
from ansible_collections.smsbox.account.plugins.module_utils._ledger.ledger import Ledger, LedgerError, key_fingerprint
from ansible_collections.smsbox.account.plugins.module_utils._ledger.postgresql import database as pg_database
from ansible_collections.smsbox.account.plugins.module_utils._ledger.postgresql import lock as pg_lock
from ansible_collections.smsbox.account.plugins.module_utils._ledger.records import LockLostError
from ansible_collections.smsbox.account.tests.unit.helpers.accounts import FP_A, FP_B
from ansible_collections.smsbox.account.tests.unit.helpers.ledger_stores import Probe
from ansible_collections.smsbox.account.tests.unit.helpers.workers import run_child, run_in_threads
from ansible_collections.smsbox.account.tests.unit.postgresql import connect, password_of, table_rows, terminate
from ansible_collections.smsbox.account.tests.unit.tcp_proxy import proxy_to


def lose_lock(book):
    """The run's lock ends under it: its lock connection terminated (PostgreSQL), its lock file deleted (file)."""
    store = book._store
    if book.store_kind == 'postgresql':
        terminate(store.database._uri, store.database.lock.conn.info.backend_pid)
    else:
        os.unlink(store._real + '.lock')


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


# -- item 1: a create is recorded before it is sent --

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


# -- item 2: every write checks the lock --

def test_a_run_that_lost_its_lock_records_and_sends_nothing_new(location, store):
    with Ledger(location, FP_A).session() as book:
        sent = book.begin_transfer('shop', 10)
        announced = book.announce_create('shop-2', False, None)
        lose_lock(book)
        for attempt in (lambda: book.begin_transfer('shop', 20),
                        lambda: book.announce_create('shop-3', False, None),
                        lambda: book.record_subaccount('shop-4', 'adopted', baseline=5)):
            with pytest.raises(LockLostError) as info:
                attempt()
            assert 'no longer holds the lock' in str(info.value) and 'sent' in str(info.value)
        assert [tx['id'] for tx in book.transfers()] == [sent['id']]
        assert sorted(book.subaccounts()) == ['shop-2']
        if store == 'postgresql':
            # the answers to requests already sent are still recorded: the lock is taken again for them (nobody holds it)
            book.settle_transfer(sent['id'], 'applied', detail='OK')
            book.record_subaccount('shop-2', 'created', state='present', answered=True)
            # but nothing new, ever, in this run
            with pytest.raises(LockLostError):
                book.begin_transfer('shop', 30)
        else:
            # a file ledger whose lock file went may be another run's now: not even answers are written into it
            with pytest.raises(LockLostError):
                book.settle_transfer(sent['id'], 'applied', detail='OK')
            assert any(sent['id'] in line and 'answered OK' in line for line in book.unrecorded)
    with Ledger(location, FP_A).session(exclusive=False) as book:
        if store == 'postgresql':
            assert [(tx['amount'], tx['state']) for tx in book.transfers()] == [(10, 'applied')]
            assert book.subaccount('shop-2')['state'] == 'present'
        else:
            assert book.subaccount('shop-2')['state'] == announced['state'] == 'unknown'


def test_a_lost_lock_another_run_took_leaves_the_answers_named_in_the_failure(pg_location, monkeypatch):
    monkeypatch.setattr(store_mod, 'OUTCOME_RETRY_SECONDS', 1.0)
    monkeypatch.setattr(pg_database, 'OUTCOME_RETRY_SECONDS', 1.0)
    with pytest.raises(LedgerError) as info:
        with Ledger(pg_location, FP_A).session() as book:
            sent = book.begin_transfer('shop', 10)
            lose_lock(book)
            with Ledger(pg_location, FP_A, lock_timeout=5).session():
                # the other run holds the ledger now: the answer cannot be recorded, and says so
                book.settle_transfer(sent['id'], 'applied', detail='OK')
    message = str(info.value)
    assert 'could not take it again' in message and 'another run holds it' in message
    assert 'SMSBOX answered requests of this run that the ledger could not record' in message
    assert '%s of +10 credits to \'shop\' was answered OK' % sent['id'] in message
    assert 'resolve: {%s: applied}' % sent['id'] in message
    assert password_of(pg_location) not in message


def test_a_created_sub_account_never_becomes_adopted(location, store):
    with Ledger(location, FP_A).session() as book:
        book.record_subaccount('ours', 'created', nolimit=False)
    with Ledger(location, FP_A).session() as book:
        with pytest.raises(LedgerError) as info:
            book.record_subaccount('ours', 'adopted', baseline=None)
        assert 'created by this collection: it cannot become adopted' in str(info.value)
    with Ledger(location, FP_A).session(exclusive=False) as book:
        assert book.subaccount('ours')['origin'] == 'created' and book.baseline('ours') == 0


def test_the_upsert_itself_keeps_created_rows_created(pg_location):
    # Two runs that both believed they held the ledger: the adoption of the second must not overwrite the first's create.
    with Ledger(pg_location, FP_A).session() as book:
        book.record_subaccount('ours', 'created', nolimit=False)
    with Ledger(pg_location, FP_A).session() as book:
        book._holdings._subaccounts.pop('ours')  # a stale view, as a run that read the ledger before the other one's create
        with pytest.raises(LedgerError):
            book.record_subaccount('ours', 'adopted', baseline=None)
    assert [row[2] for row in table_rows(pg_location)['smsbox_ledger_subaccounts']] == ['created']


# -- item 4: a database away for a few seconds --

@pytest.mark.parametrize('outage', [1.5, 4.0])
def test_an_answer_is_kept_and_recorded_when_the_database_comes_back(pg_location, outage):
    with proxy_to(pg_location) as proxy:
        location = proxy.uri(pg_location)
        with Ledger(location, FP_A, concurrency=2, connections=3).session() as book:
            sent = book.begin_transfer('shop', 10)
            made = book.announce_create('shop-new', False, None)
            proxy.cut(outage)  # the lock connection and every writer dropped, new ones refused meanwhile
            started = time.monotonic()
            book.settle_transfer(sent['id'], 'applied', detail='OK')
            book.record_subaccount('shop-new', 'created', state='present', password_fp=made['password_fp'], answered=True)
            waited = time.monotonic() - started
            assert outage - 0.5 < waited < outage + 5
            with pytest.raises(LockLostError):
                book.begin_transfer('shop', 20)  # nothing new after the lock was lost, even once it is taken again
    with Ledger(pg_location, FP_A).session(exclusive=False) as book:
        assert [(tx['amount'], tx['state']) for tx in book.transfers()] == [(10, 'applied')]
        assert book.subaccount('shop-new')['state'] == 'present'


def test_an_answer_is_given_up_after_the_bound_and_named(pg_location, monkeypatch):
    monkeypatch.setattr(store_mod, 'OUTCOME_RETRY_SECONDS', 1.0)
    monkeypatch.setattr(pg_database, 'OUTCOME_RETRY_SECONDS', 1.0)
    with proxy_to(pg_location) as proxy:
        location = proxy.uri(pg_location)
        with pytest.raises(LedgerError) as info:
            with Ledger(location, FP_A).session() as book:
                sent = book.begin_transfer('shop', 10)
                proxy.cut(30)
                started = time.monotonic()
                try:
                    book.settle_transfer(sent['id'], 'applied', detail='OK')
                finally:
                    assert time.monotonic() - started < 15
        message = str(info.value)
        assert '%s of +10 credits to \'shop\' was answered OK' % sent['id'] in message and 'resolve: {%s: applied}' % sent['id'] in message
        proxy.cut(0)
    with Ledger(pg_location, FP_A).session(exclusive=False) as book:
        # left pending by the run; the next real run reports it unknown, and the message above said what SMSBOX answered
        assert [(tx['id'], tx['state']) for tx in book.transfers()] == [(sent['id'], 'unknown')]


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


# -- item 5: the connections a run opens --

def test_a_run_opens_its_connections_up_front_and_no_more(pg_location):
    with proxy_to(pg_location) as proxy:
        location = proxy.uri(pg_location)
        with Ledger(location, FP_A, concurrency=8, connections=3).session() as book:
            assert proxy.open_connections == 3  # one holds the lock, two record: all open before anything is sent

            def work(worker):
                for n in range(10):
                    tx = book.begin_transfer('w%d' % worker, n + 1)
                    book.settle_transfer(tx['id'], 'applied')
            assert run_in_threads(work, 8) == [] and proxy.open_connections == 3 and proxy.accepted == 3
        with Ledger(location, FP_A, concurrency=4).session(exclusive=False):
            assert proxy.open_connections == 1  # a read-only run: the lock connection alone


def test_a_database_that_cannot_give_the_connections_fails_the_run_before_anything(pg_location):
    with Ledger(pg_location, FP_A).session() as book:
        book.record_subaccount('shop', 'created')  # the tables exist: the run below needs nothing else
    with proxy_to(pg_location, limit=2) as proxy:
        with pytest.raises(LedgerError) as info:
            with Ledger(proxy.uri(pg_location), FP_A, concurrency=4, connections=4).session():
                raise AssertionError('the session opened without the connections it needs')
        message = str(info.value)
        assert 'cannot give this run the 4 connections it needs' in message and 'Nothing was sent to SMSBOX' in message
        assert 'ledger_connections' in message and password_of(pg_location) not in message
        deadline = time.monotonic() + 5
        while proxy.open_connections and time.monotonic() < deadline:
            time.sleep(0.05)
        assert proxy.open_connections == 0  # what it had opened is closed again
    with Ledger(pg_location, FP_A, lock_timeout=1).session():
        pass  # and the lock went with it
    with proxy_to(pg_location, limit=0) as proxy:
        with pytest.raises(LedgerError) as info:
            with Ledger(proxy.uri(pg_location), FP_A).session():
                raise AssertionError('the session opened without a connection')
        assert 'Cannot connect' in str(info.value) and 'Nothing was sent to SMSBOX' in str(info.value)


# -- item 3: a transaction pooler --

def test_no_statement_is_prepared_on_the_server(pg_location):
    # psycopg prepares a query run 5 times on a connection; behind a transaction-pooling PgBouncer the next transaction
    # may be on another server connection, which does not have it ("prepared statement _pg3_0 does not exist").
    with Ledger(pg_location, FP_A, concurrency=1).session() as book:
        for n in range(12):
            tx = book.begin_transfer('shop', n + 1)
            book.settle_transfer(tx['id'], 'applied')
        for conn in [book._store.database.lock.conn] + list(book._store.database._idle):
            assert conn.execute('SELECT count(*) FROM pg_prepared_statements').fetchone()[0] == 0
            conn.rollback() if not conn.autocommit else None


# -- item 6: waiting for the lock --

def test_a_waiting_run_says_who_holds_the_lock_at_an_interval(location, store, monkeypatch):
    monkeypatch.setattr(pg_lock, 'LOCK_REPORT_EVERY', 0.3)
    from ansible_collections.smsbox.account.plugins.module_utils._ledger.file import disk
    defaults = list(disk.wait_for_flock.__defaults__)
    defaults[-1] = 0.3
    monkeypatch.setattr(disk.wait_for_flock, '__defaults__', tuple(defaults))
    heard = []
    with Ledger(location, FP_A).session():
        with pytest.raises(LedgerError) as info:
            with Ledger(location, FP_A, lock_timeout=1.2, on_wait=heard.append).session():
                pass
    assert 2 <= len(heard) <= 4, heard
    holder = "'smsbox.account %d on " % os.getpid() if store == 'postgresql' else 'process %d' % os.getpid()
    assert all(holder in line and 'waiting for the lock' in line and 'of 1.2' in line for line in heard), heard
    assert holder in str(info.value) and 'lock_timeout' in str(info.value)


def test_lock_timeout_zero_does_not_wait(location, store):
    with Ledger(location, FP_A).session():
        started = time.monotonic()
        with pytest.raises(LedgerError):
            with Ledger(location, FP_A, lock_timeout=0).session():
                pass
        assert time.monotonic() - started < 1


# -- item 9: moving a ledger aside --

def test_a_copy_can_move_the_destination_records_aside(location, store, tmp_path):
    source = str(tmp_path / 'source.json')
    with Ledger(source, FP_A).session() as book:
        book.record_subaccount('from-source', 'created')
    with Ledger(location, FP_A).session() as book:
        book.record_subaccount('in-the-way', 'adopted', baseline=5)
    with pytest.raises(LedgerError) as info:
        copy_ledger(source, location, FP_A)
    assert 'move_aside: true' in str(info.value)
    result = copy_ledger(source, location, FP_A, move_aside=True)
    assert result['changed'] and result['moved_aside']
    with Ledger(location, FP_A).session(exclusive=False) as book:
        assert sorted(book.subaccounts()) == ['from-source'] and book.warnings == []
    if store == 'postgresql':
        assert result['moved_aside'].startswith(FP_A + '@aside-')
        with connect(location) as conn:
            assert conn.execute('SELECT account, name FROM smsbox_ledger_subaccounts WHERE name = %s',
                                ('in-the-way',)).fetchone() == (result['moved_aside'], 'in-the-way')
    else:
        with open(result['moved_aside']) as handle:
            assert list(json.load(handle)['subaccounts']) == ['in-the-way']
    # and another key sees no "other keys' ledgers" warning for the records moved aside
    with Ledger(location, FP_B).session(exclusive=False) as other:
        if store == 'postgresql':
            assert all(result['moved_aside'] not in warning for warning in other.warnings)


# -- item 8: a key rotation --

def test_the_copy_to_a_rotated_key_marks_the_old_ledger_moved_and_the_old_key_writes_nothing(location, store, tmp_path):
    with Ledger(location, FP_A).session() as book:
        book.record_subaccount('shop', 'created')
        tx = book.begin_transfer('shop', 45)
        book.settle_transfer(tx['id'], 'applied', detail='OK')
    before = Probe(store, location).stored() if store == 'file' else None
    dest = location if store == 'postgresql' else str(tmp_path / 'ledgers' / 'new-key.json')
    assert copy_ledger(location, dest, FP_B, source_fingerprint=FP_A, check_mode=True)['source']['moved_to'] == FP_B
    with Ledger(location, FP_A).session():
        pass  # check mode marked nothing
    result = copy_ledger(location, dest, FP_B, source_fingerprint=FP_A)
    assert result['changed'] and result['source']['moved_to'] == FP_B
    # a job still on the old key: refused before anything is sent, naming the new key
    with pytest.raises(LedgerError) as info:
        with Ledger(location, FP_A).session():
            raise AssertionError('a run with the old key opened its ledger for writing')
    assert 'moved to the key with fingerprint %s' % FP_B in str(info.value) and 'Nothing was sent' in str(info.value)
    with Ledger(location, FP_A).session(exclusive=False) as old:
        assert any('moved to the key with fingerprint %s' % FP_B in warning for warning in old.warnings)
        assert old.received('shop') == 45  # kept as it was
    # the same copy again changes nothing; a copy of the old ledger to a third key is refused
    assert copy_ledger(location, dest, FP_B, source_fingerprint=FP_A)['changed'] is False
    with Ledger(dest, FP_B).session() as new:
        assert new.received('shop') == 45 and new.moved_to is None
        new.record_subaccount('shop-2', 'created')
    with pytest.raises(LedgerError) as info:
        copy_ledger(location, str(tmp_path / 'third.json'), key_fingerprint('a third key 000000000'), source_fingerprint=FP_A)
    assert 'moved to key fingerprint %s already' % FP_B in str(info.value)
    if before is not None:
        assert Probe(store, location).stored() != before  # the old file records where it went
