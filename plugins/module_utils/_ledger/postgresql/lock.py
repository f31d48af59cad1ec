# -*- coding: utf-8 -*-
# Copyright: (c) 2026, smsbox.account contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The run lock of a PostgreSQL ledger: a transaction-level advisory lock on the main account, held by a transaction left
open on a connection of its own, and, to write, a guard token every statement checks.

The lock dies with the run's process or connection, and a transaction-pooling proxy cannot leave it
behind. docs/ledger-format.md describes the lock and the commit protocol.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import random
import threading
import time

from ansible_collections.smsbox.account.plugins.module_utils._ledger.records import LedgerError, LockLostError
from ansible_collections.smsbox.account.plugins.module_utils._ledger.postgresql.sql import HOLDERS, LOCK_SETTINGS

LOCK_REPORT_EVERY = 10.0  # seconds between two "still waiting for the lock" reports


class LockGone(Exception):
    """A statement's guard found that this run no longer holds its lock."""


class RunLock:
    """The lock of one main account in ``database`` (a Database), for one session at a time: ``begin``, ``open``, ``take``;
    ``release`` at the end. ``conn`` is the connection that holds it (the store reads on it), ``token`` the guard of an
    exclusive lock, ``lost`` why this run no longer holds it (a sentence) or None, ``on_wait`` told who holds it while
    ``take`` waits."""

    def __init__(self, database):
        self.database = database
        self.conn = None
        self.on_wait = None
        self._mutex = threading.Lock()  # one thread takes the lock again
        self.begin(False)

    def begin(self, exclusive):
        """Forgets the previous session's lock: a new one, exclusive (to write) or shared, is about to be taken."""
        self.exclusive = bool(exclusive)
        self.keys = None
        self.token = None
        self.generation = 0  # how many times this session took the lock
        self.lost = None

    def open(self):
        """The connection that will hold the lock, in a transaction (psycopg's errors are the caller's to turn)."""
        self.conn = self.database.connect(autocommit=False)
        return self.conn

    def _try(self, conn):
        """One attempt at the account's lock (and, to write, a token of our own) in a transaction left open when it succeeds."""
        function = 'pg_try_advisory_xact_lock' if self.exclusive else 'pg_try_advisory_xact_lock_shared'
        with conn.cursor() as cur:
            # Local settings live as long as this transaction, even behind a transaction-pooling proxy: the lock is
            # never ended for idling, and the server drops it within about a minute of losing a silent client.
            cur.execute(LOCK_SETTINGS)
            cur.execute('SELECT %s(%%s, %%s)' % function, self.keys)
            if cur.fetchone()[0]:
                if self.exclusive:
                    self._take_token(cur)
                return True
        conn.rollback()
        return False

    def take(self, keys):
        """Polls the account's advisory lock ``keys`` on ``conn``, in a transaction that then stays open for the whole run;
        says who holds it every LOCK_REPORT_EVERY seconds to ``on_wait``, when set."""
        database = self.database
        self.keys = keys
        deadline = time.monotonic() + database.lock_timeout
        started = time.monotonic()
        reported = started
        delay = 0.01
        while not self._try(self.conn):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise LedgerError('PostgreSQL ledger %s is locked by another run on the same main account (key fingerprint %s): waited '
                                  '%g seconds (lock_timeout). The lock is held by %s. It is released the moment that run ends or loses '
                                  'its connection to the database, so a killed job frees it at once; wait for that run to end and run '
                                  'again, or give a longer lock_timeout. If it is hung, stop it: ending its connection with SELECT '
                                  'pg_terminate_backend(<pid>) frees the lock too, and that run then records and sends nothing more.'
                                  % (database.location, database.fingerprint, database.lock_timeout, self._holders(self.conn)))
            if self.on_wait is not None and time.monotonic() - reported >= LOCK_REPORT_EVERY:
                reported = time.monotonic()
                self.on_wait('waiting for the lock of PostgreSQL ledger %s (key fingerprint %s), held by %s: %d s of %g'
                             % (database.location, database.fingerprint, self._holders(self.conn), reported - started,
                                database.lock_timeout))
            time.sleep(min(delay, remaining))
            delay = min(delay * 2, 0.25)
        self.generation += 1

    def _take_token(self, cur):
        # The one-bigint form of advisory locks: a key space apart from the two-int4 account locks.
        while True:
            token = random.SystemRandom().randrange(1, 1 << 63)
            cur.execute('SELECT pg_try_advisory_xact_lock(%s::bigint)', (token,))
            if cur.fetchone()[0]:
                self.token = token
                return

    def take_again(self, generation, deadline):
        """Takes the lock again on a new connection, to record the answers to requests already sent; returns None, or why not.
        Retried while the database is out of reach, up to ``deadline``; given up at once when another run holds the lock."""
        database = self.database
        with self._mutex:
            if self.generation != generation:
                return None  # another thread took it again meanwhile
            database.close_quietly(self.conn)
            self.conn = None
            delay = 0.05
            problem = 'no attempt'
            while True:
                try:
                    conn = database.connect(autocommit=False)
                    try:
                        if self._try(conn):
                            self.conn = conn
                            self.generation += 1
                            return None
                        # Another run holds the ledger: it has read this run's records already and settles them its way.
                        return 'another run holds it now: %s' % self._holders(conn)
                    finally:
                        if self.conn is not conn:
                            database.close_quietly(conn)
                except database.psycopg.Error as error:
                    problem = database.masked(error)
                if time.monotonic() >= deadline:
                    return problem
                time.sleep(min(random.uniform(0.5, 1.0) * delay, max(0.0, deadline - time.monotonic())))
                delay = min(delay * 2, 2.0)

    def lost_error(self, what):
        return LockLostError(
            'PostgreSQL ledger %s: this run no longer holds the lock of the main account (%s), so %s failed, and nothing more is '
            'recorded or sent to SMSBOX by this run: what it had not recorded is not sent. Another run may hold the ledger now: '
            'run again once it is done.' % (self.database.location, self.lost, what))

    def release(self):
        """Ends the lock transaction, which releases the lock, and closes its connection."""
        conn, self.conn = self.conn, None
        if conn is not None:
            try:
                conn.rollback()
            except Exception:  # pylint: disable=broad-except
                pass
            self.database.close_quietly(conn)

    def _holders(self, conn):
        """Who holds the account's lock, as a sentence, asked on ``conn``."""
        try:
            with conn.cursor() as cur:
                cur.execute(HOLDERS, self.keys)
                rows = cur.fetchall()
            conn.rollback()
        except self.database.psycopg.Error as error:
            return 'a session this role cannot see (%s)' % self.database.masked(error)
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
