# -*- coding: utf-8 -*-
# Copyright: (c) 2026, smsbox.account contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The connections of a PostgreSQL ledger (_ledger/postgresql/database.py): the answer to a request already sent kept
and retried while the database is away, then named when given up; writers lost and reconnected; serialization failures
and deadlocks retried; no statement prepared on the server (a transaction pooler).

Against the real server of tests/unit/postgresql.py, each test in a fresh schema; a database that goes away is a TCP
proxy in front of it (tests/unit/tcp_proxy.py), cut for a while, so that the server the other tests share stays up."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import time

import pytest

from ansible_collections.smsbox.account.plugins.module_utils._ledger import store as store_mod
from ansible_collections.smsbox.account.plugins.module_utils._ledger.ledger import Ledger, LedgerError
from ansible_collections.smsbox.account.plugins.module_utils._ledger.postgresql import database as pg_database
from ansible_collections.smsbox.account.plugins.module_utils._ledger.records import LockLostError
from ansible_collections.smsbox.account.tests.unit.helpers.accounts import FP_A, FP_B
from ansible_collections.smsbox.account.tests.unit.helpers.ledger_stores import assert_no_secret, lose_lock
from ansible_collections.smsbox.account.tests.unit.helpers.workers import run_in_threads
from ansible_collections.smsbox.account.tests.unit.postgresql import password_of, terminate
from ansible_collections.smsbox.account.tests.unit.tcp_proxy import proxy_to


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


def test_a_lost_writer_connection_sends_nothing_and_a_settlement_is_retried(pg_location):
    def end_writers(book):
        pids = [conn.info.backend_pid for conn in book._store.database._idle]
        assert pids
        for pid in pids:
            terminate(pg_location, pid)
    with Ledger(pg_location, FP_A, concurrency=2).session() as book:
        sent = book.begin_transfer('shop', 10)
        end_writers(book)
        # the settlement reconnects and records the outcome
        assert book.settle_transfer(sent['id'], 'applied', detail='OK')['state'] == 'applied'
        end_writers(book)
        with pytest.raises(LedgerError) as info:
            book.begin_transfer('shop', 20)
        assert 'connection to the database was lost' in str(info.value)
        assert_no_secret([str(info.value)], pg_location)
        # the lock is still held: the next one goes through a new connection
        later = book.begin_transfer('shop', 30)
        book.settle_transfer(later['id'], 'applied', detail='OK')
    with Ledger(pg_location, FP_A).session(exclusive=False) as book:
        assert [(tx['amount'], tx['state']) for tx in book.transfers()] == [(10, 'applied'), (30, 'applied')]


def test_serialization_failures_and_deadlocks_are_retried(pg_location):
    import psycopg
    ledger = Ledger(pg_location, FP_A)
    with ledger.session():
        store = ledger._store
        failures = [psycopg.errors.SerializationFailure('could not serialize access'), psycopg.errors.DeadlockDetected('deadlock')]
        attempts = []

        def flaky(conn):
            attempts.append(conn.execute('SELECT 1').fetchone()[0])  # a real statement on a real connection
            if failures:
                raise failures.pop(0)
            return 'done'
        assert store.database.execute('a test', flaky) == 'done' and len(attempts) == 3

        def always(conn):
            raise psycopg.errors.SerializationFailure('could not serialize access')
        with pytest.raises(LedgerError) as info:
            store.database.execute('a test', always)
        assert 'serialize' in str(info.value)
    # and a server whose transactions are serializable by default works as any other
    serializable = pg_location + '%20-cdefault_transaction_isolation%3Dserializable'
    with Ledger(serializable, FP_B, concurrency=8).session() as book:
        def work(worker):
            for n in range(25):
                book.record_subaccount('w%d-%d' % (worker, n), 'created')
                tx = book.begin_transfer('w%d-%d' % (worker, n), 1)
                book.settle_transfer(tx['id'], 'applied')
        errors = run_in_threads(work, 8)
    assert errors == []
    with Ledger(serializable, FP_B).session(exclusive=False) as book:
        assert sum(book.receipts().values()) == 200
