# -*- coding: utf-8 -*-
# Copyright: (c) 2026, smsbox.account contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The database a PostgreSQL store keeps its ledgers in: connections, the pool of writers, statements retried as what they
record allows, errors masked.

The run lock is held by an open transaction on a connection of its own (lock.py); records are written on
other connections, from a pool. docs/ledger-format.md describes the lock and the commit protocol.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import random
import socket
import threading
import time
import traceback
from contextlib import contextmanager

from ansible_collections.smsbox.account.plugins.module_utils._ledger.records import LedgerDependencyError, LedgerError
from ansible_collections.smsbox.account.plugins.module_utils._ledger.store import DECISION, NEW, OUTCOME, OUTCOME_RETRY_SECONDS
from ansible_collections.smsbox.account.plugins.module_utils._secrets import mask_passwords, uri_passwords
from ansible_collections.smsbox.account.plugins.module_utils._ledger.postgresql.lock import LockGone, RunLock

RETRIES = 12  # attempts at a statement or transaction that met a serialization failure or a deadlock
CONNECT_TIMEOUT = 10
KEEPALIVES = dict(keepalives=1, keepalives_idle=30, keepalives_interval=10, keepalives_count=3)
RETRYABLE_STATES = ('40001', '40P01')  # serialization_failure, deadlock_detected


def _application_name():
    return ('smsbox.account %d on %s' % (os.getpid(), socket.gethostname()))[:63]


def connection_options(given):
    """What every connection adds to the parameters ``given`` in the URI: its name, and a timeout and keepalives unless given."""
    options = dict(application_name=_application_name())
    if 'connect_timeout' not in given:
        options['connect_timeout'] = CONNECT_TIMEOUT
    for name, value in KEEPALIVES.items():
        if name not in given:
            options[name] = value
    return options


def _backoff(attempt):
    time.sleep(random.uniform(0.001, min(0.25, 0.004 * 2 ** attempt)))  # jittered, growing


class Database:
    """The database ``uri`` names, as one store uses it for the ledger of the main account ``fingerprint``: ``lock`` (a
    RunLock) holds the account's lock for the run on a connection of its own; ``commit`` and ``execute`` run statements on
    at most ``pool_size`` writers. Every error it raises is a LedgerError naming ``location`` (the URI, masked), never a
    password."""

    def __init__(self, uri, location, fingerprint, lock_timeout, pool_size):
        self.location = location
        try:
            import psycopg  # pylint: disable=import-outside-toplevel
            from psycopg import conninfo  # pylint: disable=import-outside-toplevel
        except ImportError:
            raise LedgerDependencyError('Ledger %s is a PostgreSQL database, which needs the Python library psycopg 3 '
                                        '(pip install "psycopg[binary]") on the host that runs the module.' % location,
                                        'psycopg[binary]', traceback.format_exc())
        self.psycopg = psycopg
        self._uri = uri
        self.fingerprint = fingerprint
        self.lock_timeout = lock_timeout
        self.pool_size = pool_size
        self._secrets = uri_passwords(uri)
        if os.environ.get('PGPASSWORD'):
            self._secrets.append(os.environ['PGPASSWORD'])
        try:
            given = conninfo.conninfo_to_dict(uri)
        except psycopg.Error as error:
            raise LedgerError('Ledger %s is not a valid PostgreSQL URI: %s.' % (location, self.masked(error)))
        if given.get('password'):
            self._secrets.append(given['password'])
        self._options = connection_options(given)
        self._pool = threading.Condition()
        self._idle = []
        self._opened = 0
        self.default_isolation = 'read committed'  # the server's, read by the store when it locks
        self.lock = RunLock(self)

    # -- masked errors --

    def masked(self, error):
        text = mask_passwords(str(error).strip(), self._secrets + [self._uri])
        return text.rstrip('.') if text else type(error).__name__

    def error(self, what, error, advice='Check the database, then run again.'):
        return LedgerError('PostgreSQL ledger %s: %s failed: %s. %s' % (self.location, what, self.masked(error), advice))

    @contextmanager
    def failing_as(self, what, at_start=False):
        """Turns psycopg's errors inside into LedgerErrors: ``what`` failed, or the connection could not be made."""
        try:
            yield
        except self.psycopg.Error as error:
            if getattr(error, 'connecting', False):
                raise self._connect_error(error, at_start=at_start)
            raise self.error(what, error)

    def _connect_error(self, error, at_start=False):
        text = self.masked(error)
        if 'too many connections' in text or 'connection slots' in text:
            advice = ('The database has no connection left for this run, which needs %d (one holds the lock, %d record; the '
                      'ledger_connections option): raise the server\'s max_connections or the role\'s connection limit, lower '
                      'ledger_connections (at least 2), or put a pooler in front: see "Sizing and poolers" in docs/ledger.md.'
                      % (self.pool_size + 1, self.pool_size))
        else:
            advice = ('Check the URI, that the server accepts connections from this host, and the password (in the URI, '
                      'PGPASSWORD, ~/.pgpass or a service file).')
        return LedgerError('Cannot connect to the PostgreSQL ledger %s: %s. %s%s' % (
            self.location, text, advice, ' Nothing was sent to SMSBOX.' if at_start else ''))

    # -- connections --

    def connect(self, autocommit=True):
        """A new connection; raises psycopg's error (``connecting`` set on it) when the server cannot give one."""
        psycopg = self.psycopg
        try:
            # No prepared statements: a transaction-pooling proxy (PgBouncer) would run them on another server connection.
            conn = psycopg.connect(self._uri, autocommit=autocommit, prepare_threshold=None, **self._options)
        except psycopg.Error as error:
            error.connecting = True
            raise
        try:
            if conn.info.password and conn.info.password not in self._secrets:
                self._secrets.append(conn.info.password)  # from ~/.pgpass or a service file, perhaps
        except Exception:  # pylint: disable=broad-except
            pass
        # The run lock and the compare-and-set settlements keep the ledger consistent, not the isolation level: every
        # statement runs at READ COMMITTED, where a server whose default is SERIALIZABLE would abort busy writers.
        if not autocommit:
            conn.isolation_level = psycopg.IsolationLevel.READ_COMMITTED
        elif self.default_isolation != 'read committed':
            conn.isolation_level = psycopg.IsolationLevel.READ_COMMITTED  # then execute opens one explicit transaction
        return conn

    def open_writers(self):
        """Opens every writer now, before anything is sent: a database that cannot give what the run needs fails it here."""
        with self._pool:
            missing = self.pool_size - self._opened
            self._opened += missing
        opened = 0
        try:
            while opened < missing:
                conn = self.connect()
                with self._pool:
                    self._idle.append(conn)
                opened += 1
        except self.psycopg.Error as error:
            with self._pool:
                self._opened -= missing - opened
            raise LedgerError(
                'PostgreSQL ledger %s cannot give this run the %d connections it needs (one holds the lock, %d record; the '
                'ledger_connections option): connection %d failed: %s. Nothing was sent to SMSBOX. Raise the server\'s '
                'max_connections, lower ledger_connections (at least 2), or put a pooler in front: see "Sizing and poolers" '
                'in docs/ledger.md.' % (self.location, self.pool_size + 1, self.pool_size, opened + 2, self.masked(error)))

    @contextmanager
    def _writer(self):
        """A connection to write with, from a pool of at most pool_size; a broken one is dropped."""
        with self._pool:
            while not self._idle and self._opened >= self.pool_size:
                self._pool.wait()
            conn = self._idle.pop() if self._idle else None
            if conn is None:
                self._opened += 1
        try:
            if conn is None:
                conn = self.connect()
        except Exception:
            with self._pool:
                self._opened -= 1
                self._pool.notify()
            raise
        healthy = True
        try:
            yield conn
        except self.psycopg.Error:
            healthy = not conn.closed and not getattr(conn, 'broken', False)
            raise
        finally:
            with self._pool:
                if healthy and not conn.closed:
                    self._idle.append(conn)
                else:
                    self._opened -= 1
                    self.close_quietly(conn)
                self._pool.notify()

    def _run_on_writer(self, run, *args):
        with self._writer() as conn:
            if conn.isolation_level is None:
                return run(conn, *args)
            with conn.transaction():
                return run(conn, *args)

    def execute(self, what, run, retry_lost=False, lost_advice='The connection to the database was lost: check it, then run again.'):
        """run(conn) on a writer, retrying serialization failures and deadlocks; a lost connection is retried only when asked."""
        psycopg = self.psycopg
        attempt = 0
        while True:
            attempt += 1
            try:
                return self._run_on_writer(run)
            except psycopg.Error as error:
                lost = self.lost(error)
                if attempt < RETRIES and (getattr(error, 'sqlstate', None) in RETRYABLE_STATES or (lost and retry_lost)):
                    _backoff(attempt)
                    continue
                if getattr(error, 'connecting', False):
                    raise self._connect_error(error)
                raise self.error(what, error, advice=lost_advice if lost else 'Check the database, then run again.')

    def commit(self, what, how, run, params):
        """run(conn, params) with this run's token in ``params``: None once committed, or what it found instead; raises
        LockGone when the statement's guard found the lock gone. ``how`` (NEW, DECISION, OUTCOME) says what is retried."""
        lock = self.lock
        if how != OUTCOME and lock.lost:
            raise lock.lost_error(what)
        psycopg = self.psycopg
        deadline = time.monotonic() + OUTCOME_RETRY_SECONDS
        attempt = 0
        while True:
            attempt += 1
            generation = lock.generation
            try:
                return self._run_on_writer(run, dict(params, token=lock.token))
            except LockGone:
                lock.lost = lock.lost or 'its lock connection to the database ended'
                if how != OUTCOME:
                    raise lock.lost_error(what)
                problem = lock.take_again(generation, deadline)
                if problem:
                    raise LedgerError('PostgreSQL ledger %s: %s failed: this run lost its lock (%s) and could not take it again '
                                      'within %g seconds: %s.' % (self.location, what, lock.lost, OUTCOME_RETRY_SECONDS, problem))
            except psycopg.Error as error:
                lost = self.lost(error)
                if attempt < RETRIES and getattr(error, 'sqlstate', None) in RETRYABLE_STATES:
                    _backoff(attempt)
                    continue
                if lost and how == DECISION and attempt < RETRIES:
                    _backoff(attempt)
                    continue
                if lost and how == OUTCOME and time.monotonic() < deadline:
                    # Bounded, jittered backoff while the database is away (a restart, a failover): the answer is kept.
                    time.sleep(min(random.uniform(0.5, 1.0) * min(2.0, 0.05 * 2 ** attempt), max(0.0, deadline - time.monotonic())))
                    continue
                if how == NEW:
                    raise self.error(what, error, advice=(
                        'The connection to the database was lost while recording it, so it is not sent.' if lost
                        else 'It is not sent. Check the database, then run again.'))
                if lost and how == OUTCOME:
                    raise self.error(what, error, advice='The database stayed out of reach for %g seconds.' % OUTCOME_RETRY_SECONDS)
                if getattr(error, 'connecting', False):
                    raise self._connect_error(error)
                raise self.error(what, error, advice='The connection to the database was lost: check it, then run again.' if lost
                                 else 'Check the database, then run again.')

    def lost(self, error):
        """Whether the error is the loss of the connection (its outcome unknown), not a refusal by the server."""
        sqlstate = getattr(error, 'sqlstate', None)
        return isinstance(error, self.psycopg.OperationalError) and (sqlstate is None or sqlstate[:2] in ('08', '57'))

    @staticmethod
    def close_quietly(conn):
        if conn is None:
            return
        try:
            conn.close()
        except Exception:  # pylint: disable=broad-except
            pass

    def disconnect(self):
        """Releases the run lock and closes every connection."""
        self.lock.release()
        with self._pool:
            idle, self._idle = self._idle, []
            self._opened -= len(idle)
        for writer in idle:
            self.close_quietly(writer)
