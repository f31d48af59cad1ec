# -*- coding: utf-8 -*-
# Copyright: (c) 2026, smsbox.account contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The PostgreSQL store's connections: the lock transaction and its guard token, the pool of writers, retries, masked errors.

The run lock is held by an open transaction on a connection of its own; records are written on other
connections, from a pool. docs/ledger-format.md describes the lock and the commit protocol.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import random
import socket
import time
from contextlib import contextmanager

from ansible_collections.smsbox.account.plugins.module_utils._ledger.records import LedgerError, LockLostError
from ansible_collections.smsbox.account.plugins.module_utils._ledger.store import (
    DECISION,
    NEW,
    OUTCOME,
    OUTCOME_RETRY_SECONDS,
    mask_text,
    uri_passwords,
)
from ansible_collections.smsbox.account.plugins.module_utils._ledger.postgresql.sql import HOLDERS, LOCK_SETTINGS

RETRIES = 12  # attempts at a statement or transaction that met a serialization failure or a deadlock
CONNECT_TIMEOUT = 10
KEEPALIVES = dict(keepalives=1, keepalives_idle=30, keepalives_interval=10, keepalives_count=3)
RETRYABLE_STATES = ('40001', '40P01')  # serialization_failure, deadlock_detected
LOCK_REPORT_EVERY = 10.0  # seconds between two "still waiting for the lock" reports


class LockGone(Exception):
    """A statement's guard found that this run no longer holds its lock."""


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


class PostgresqlConnectionsMixin:
    """The connection half of PostgresqlStore, which sets what this uses: ``_psycopg``, ``_uri``, ``_options``, ``_secrets``,
    ``location``, ``fingerprint``, ``lock_timeout``, ``pool_size``, the pool (``_pool``, ``_idle``, ``_opened``),
    ``_lock_conn``, ``_default_isolation``, ``_exclusive``, ``_keys``, ``_relock_mutex`` and ``on_wait``; ``_token``,
    ``_generation`` and ``_lock_lost`` are set here."""

    # -- masking --

    @staticmethod
    def _known_secrets(uri):
        secrets = uri_passwords(uri)
        if os.environ.get('PGPASSWORD'):
            secrets.append(os.environ['PGPASSWORD'])
        return secrets

    def _masked(self, error):
        text = mask_text(str(error).strip(), self._secrets + [self._uri])
        return text.rstrip('.') if text else type(error).__name__

    def _error(self, what, error, advice='Check the database, then run again.'):
        return LedgerError('PostgreSQL ledger %s: %s failed: %s. %s' % (self.location, what, self._masked(error), advice))

    def _connect_error(self, error, at_start=False):
        text = self._masked(error)
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

    def _connect(self, autocommit=True):
        """A new connection; raises psycopg's error (``connecting`` set on it) when the server cannot give one."""
        psycopg = self._psycopg
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
        elif self._default_isolation != 'read committed':
            conn.isolation_level = psycopg.IsolationLevel.READ_COMMITTED  # then _execute opens one explicit transaction
        return conn

    def _open_writers(self):
        """Opens every writer now, before anything is sent: a database that cannot give what the run needs fails it here."""
        with self._pool:
            missing = self.pool_size - self._opened
            self._opened += missing
        opened = 0
        try:
            while opened < missing:
                conn = self._connect()
                with self._pool:
                    self._idle.append(conn)
                opened += 1
        except self._psycopg.Error as error:
            with self._pool:
                self._opened -= missing - opened
            raise LedgerError(
                'PostgreSQL ledger %s cannot give this run the %d connections it needs (one holds the lock, %d record; the '
                'ledger_connections option): connection %d failed: %s. Nothing was sent to SMSBOX. Raise the server\'s '
                'max_connections, lower ledger_connections (at least 2), or put a pooler in front: see "Sizing and poolers" '
                'in docs/ledger.md.' % (self.location, self.pool_size + 1, self.pool_size, opened + 2, self._masked(error)))

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
                conn = self._connect()
        except Exception:
            with self._pool:
                self._opened -= 1
                self._pool.notify()
            raise
        healthy = True
        try:
            yield conn
        except self._psycopg.Error:
            healthy = not conn.closed and not getattr(conn, 'broken', False)
            raise
        finally:
            with self._pool:
                if healthy and not conn.closed:
                    self._idle.append(conn)
                else:
                    self._opened -= 1
                    self._close_quietly(conn)
                self._pool.notify()

    def _run_on_writer(self, run, *args):
        with self._writer() as conn:
            if conn.isolation_level is None:
                return run(conn, *args)
            with conn.transaction():
                return run(conn, *args)

    def _execute(self, what, run, retry_lost=False, lost_advice='The connection to the database was lost: check it, then run again.'):
        """run(conn) on a writer, retrying serialization failures and deadlocks; a lost connection is retried only when asked."""
        psycopg = self._psycopg
        attempt = 0
        while True:
            attempt += 1
            try:
                return self._run_on_writer(run)
            except psycopg.Error as error:
                lost = self._lost(error)
                if attempt < RETRIES and (getattr(error, 'sqlstate', None) in RETRYABLE_STATES or (lost and retry_lost)):
                    time.sleep(random.uniform(0.001, min(0.25, 0.004 * 2 ** attempt)))  # jittered, growing backoff
                    continue
                if getattr(error, 'connecting', False):
                    raise self._connect_error(error)
                raise self._error(what, error, advice=lost_advice if lost else 'Check the database, then run again.')

    def _commit(self, what, how, run, params):
        """run(conn, params) with this run's token in ``params``: None once committed, or what it found instead; raises
        LockGone when the statement's guard found the lock gone. ``how`` (NEW, DECISION, OUTCOME) says what is retried."""
        if how != OUTCOME and self._lock_lost:
            raise self._lock_lost_error(what)
        psycopg = self._psycopg
        deadline = time.monotonic() + OUTCOME_RETRY_SECONDS
        attempt = 0
        while True:
            attempt += 1
            generation = self._generation
            try:
                return self._run_on_writer(run, dict(params, token=self._token))
            except LockGone:
                self._lock_lost = self._lock_lost or 'its lock connection to the database ended'
                if how != OUTCOME:
                    raise self._lock_lost_error(what)
                problem = self._relock(generation, deadline)
                if problem:
                    raise LedgerError('PostgreSQL ledger %s: %s failed: this run lost its lock (%s) and could not take it again '
                                      'within %g seconds: %s.' % (self.location, what, self._lock_lost, OUTCOME_RETRY_SECONDS, problem))
            except psycopg.Error as error:
                lost = self._lost(error)
                if attempt < RETRIES and getattr(error, 'sqlstate', None) in RETRYABLE_STATES:
                    time.sleep(random.uniform(0.001, min(0.25, 0.004 * 2 ** attempt)))
                    continue
                if lost and how == DECISION and attempt < RETRIES:
                    time.sleep(random.uniform(0.001, min(0.25, 0.004 * 2 ** attempt)))
                    continue
                if lost and how == OUTCOME and time.monotonic() < deadline:
                    # Bounded, jittered backoff while the database is away (a restart, a failover): the answer is kept.
                    time.sleep(min(random.uniform(0.5, 1.0) * min(2.0, 0.05 * 2 ** attempt), max(0.0, deadline - time.monotonic())))
                    continue
                if how == NEW:
                    raise self._error(what, error, advice=(
                        'The connection to the database was lost while recording it, so it is not sent.' if lost
                        else 'It is not sent. Check the database, then run again.'))
                if lost and how == OUTCOME:
                    raise self._error(what, error, advice='The database stayed out of reach for %g seconds.' % OUTCOME_RETRY_SECONDS)
                if getattr(error, 'connecting', False):
                    raise self._connect_error(error)
                raise self._error(what, error, advice='The connection to the database was lost: check it, then run again.' if lost
                                  else 'Check the database, then run again.')

    def _lock_lost_error(self, what):
        return LockLostError(
            'PostgreSQL ledger %s: this run no longer holds the lock of the main account (%s), so %s failed, and nothing more is '
            'recorded or sent to SMSBOX by this run: what it had not recorded is not sent. Another run may hold the ledger now: '
            'run again once it is done.' % (self.location, self._lock_lost, what))

    def _lost(self, error):
        """Whether the error is the loss of the connection (its outcome unknown), not a refusal by the server."""
        sqlstate = getattr(error, 'sqlstate', None)
        return isinstance(error, self._psycopg.OperationalError) and (sqlstate is None or sqlstate[:2] in ('08', '57'))

    @staticmethod
    def _close_quietly(conn):
        if conn is None:
            return
        try:
            conn.close()
        except Exception:  # pylint: disable=broad-except
            pass

    def _disconnect(self):
        """Ends the lock transaction, which releases the lock, and closes every connection."""
        conn, self._lock_conn = self._lock_conn, None
        if conn is not None:
            try:
                conn.rollback()  # ends the lock transaction: the lock is released
            except Exception:  # pylint: disable=broad-except
                pass
            self._close_quietly(conn)
        with self._pool:
            idle, self._idle = self._idle, []
            self._opened -= len(idle)
        for writer in idle:
            self._close_quietly(writer)

    # -- the lock --

    def _try_lock(self, conn):
        """One attempt at the account's lock (and, to write, a token of our own) in a transaction left open when it succeeds."""
        function = 'pg_try_advisory_xact_lock' if self._exclusive else 'pg_try_advisory_xact_lock_shared'
        with conn.cursor() as cur:
            # Local settings live as long as this transaction, even behind a transaction-pooling proxy: the lock is
            # never ended for idling, and the server drops it within about a minute of losing a silent client.
            cur.execute(LOCK_SETTINGS)
            cur.execute('SELECT %s(%%s, %%s)' % function, self._keys)
            if cur.fetchone()[0]:
                if self._exclusive:
                    self._take_token(cur)
                return True
        conn.rollback()
        return False

    def _take_lock(self):
        """Polls the account's advisory lock in a transaction that then stays open for the whole run; says who holds it
        every LOCK_REPORT_EVERY seconds to ``on_wait``, when set."""
        deadline = time.monotonic() + self.lock_timeout
        started = time.monotonic()
        reported = started
        delay = 0.01
        while not self._try_lock(self._lock_conn):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise LedgerError('PostgreSQL ledger %s is locked by another run on the same main account (key fingerprint %s): waited '
                                  '%g seconds (lock_timeout). The lock is held by %s. It is released the moment that run ends or loses '
                                  'its connection to the database, so a killed job frees it at once; wait for that run to end and run '
                                  'again, or give a longer lock_timeout. If it is hung, stop it: ending its connection with SELECT '
                                  'pg_terminate_backend(<pid>) frees the lock too, and that run then records and sends nothing more.'
                                  % (self.location, self.fingerprint, self.lock_timeout, self._holders()))
            if self.on_wait is not None and time.monotonic() - reported >= LOCK_REPORT_EVERY:
                reported = time.monotonic()
                self.on_wait('waiting for the lock of PostgreSQL ledger %s (key fingerprint %s), held by %s: %d s of %g'
                             % (self.location, self.fingerprint, self._holders(), reported - started, self.lock_timeout))
            time.sleep(min(delay, remaining))
            delay = min(delay * 2, 0.25)
        self._generation += 1

    def _take_token(self, cur):
        # The one-bigint form of advisory locks: a key space apart from the two-int4 account locks.
        while True:
            token = random.SystemRandom().randrange(1, 1 << 63)
            cur.execute('SELECT pg_try_advisory_xact_lock(%s::bigint)', (token,))
            if cur.fetchone()[0]:
                self._token = token
                return

    def _relock(self, generation, deadline):
        """Takes the lock again on a new connection, to record the answers to requests already sent; returns None, or why not.
        Retried while the database is out of reach, up to ``deadline``; given up at once when another run holds the lock."""
        with self._relock_mutex:
            if self._generation != generation:
                return None  # another thread took it again meanwhile
            self._close_quietly(self._lock_conn)
            self._lock_conn = None
            delay = 0.05
            problem = 'no attempt'
            while True:
                try:
                    conn = self._connect(autocommit=False)
                    try:
                        if self._try_lock(conn):
                            self._lock_conn = conn
                            self._generation += 1
                            return None
                        # Another run holds the ledger: it has read this run's records already and settles them its way.
                        self._lock_conn = conn
                        problem = 'another run holds it now: %s' % self._holders()
                        self._lock_conn = None
                        return problem
                    finally:
                        if self._lock_conn is not conn:
                            self._close_quietly(conn)
                except self._psycopg.Error as error:
                    problem = self._masked(error)
                if time.monotonic() >= deadline:
                    return problem
                time.sleep(min(random.uniform(0.5, 1.0) * delay, max(0.0, deadline - time.monotonic())))
                delay = min(delay * 2, 2.0)

    def _holders(self):
        try:
            with self._lock_conn.cursor() as cur:
                cur.execute(HOLDERS, self._keys)
                rows = cur.fetchall()
            self._lock_conn.rollback()
        except self._psycopg.Error as error:
            return 'a session this role cannot see (%s)' % self._masked(error)
        held = []
        for pid, application, address, hostname, since, mode in rows:
            if application is None and since is None:
                held.append('backend pid %s (a session of another role)' % pid)
                continue
            where = hostname or address or 'a local socket'
            held.append('%s (backend pid %s, %s, from %s, since %s)' % (
                repr(application) if application else 'a session with no application_name', pid,
                'writing' if mode == 'ExclusiveLock' else 'reading', where, since))
        return ', and '.join(held) if held else 'a session that ended just now'
