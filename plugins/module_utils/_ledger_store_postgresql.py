# -*- coding: utf-8 -*-
# Copyright: (c) 2026, smsbox.account contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The PostgreSQL store: the ledgers of several main accounts in one database, shared by every controller.

Chosen by a ``ledger`` option that is a libpq URI (``postgresql://`` or ``postgres://``); the password
comes from the URI or from libpq's own sources (PGPASSWORD, ~/.pgpass, a service file) and never
appears in a message. Tables are created on first use in the schema the URI's search_path chooses.

The run lock is a transaction-level advisory lock held by an open transaction on a connection of its
own: it dies with the run's process or connection, and a transaction-pooling proxy cannot leave it
behind. Records are committed one by one (autocommit) on other connections; a new transfer is
inserted only while the lock connection still holds the lock, so a run that lost it sends nothing.
docs/ledger-format.md describes the tables, the lock and the commit protocol.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import hashlib
import os
import random
import socket
import threading
import time
import traceback
from contextlib import contextmanager

from ansible_collections.smsbox.account.plugins.module_utils._ledger_records import (
    SUBACCOUNT_FIELDS,
    TRANSFER_FIELDS,
    Contents,
    LedgerDependencyError,
    LedgerError,
    RecordError,
    checked_fingerprints,
    checked_subaccount,
    checked_transfer,
)
from ansible_collections.smsbox.account.plugins.module_utils._ledger_store import (
    DEFAULT_LOCK_TIMEOUT,
    LedgerStore,
    mask_text,
    mask_uri,
    uri_passwords,
)

SCHEMA_VERSION = 1
RETRIES = 12  # attempts at a statement or transaction that met a serialization failure or a deadlock
CONNECT_TIMEOUT = 10
KEEPALIVES = dict(keepalives=1, keepalives_idle=30, keepalives_interval=10, keepalives_count=3)
RETRYABLE_STATES = ('40001', '40P01')  # serialization_failure, deadlock_detected

# Version 1 of the schema. Unqualified names: the URI's search_path chooses the schema.
SCHEMA_V1 = (
    """CREATE TABLE smsbox_ledger_schema (
         version integer NOT NULL,
         migrated timestamptz NOT NULL DEFAULT now())""",
    """CREATE TABLE smsbox_ledger_accounts (
         account text PRIMARY KEY,
         key_fingerprints text[] NOT NULL DEFAULT '{}',
         api_url text,
         created timestamptz NOT NULL DEFAULT now(),
         updated timestamptz NOT NULL DEFAULT now())""",
    """CREATE TABLE smsbox_ledger_subaccounts (
         account text NOT NULL,
         name text NOT NULL,
         origin text NOT NULL CHECK (origin IN ('created', 'adopted')),
         state text NOT NULL CHECK (state IN ('present', 'unknown')),
         nolimit boolean,
         password_fp text,
         baseline bigint CHECK (baseline >= 0),
         recorded text,
         PRIMARY KEY (account, name))""",
    """CREATE TABLE smsbox_ledger_transfers (
         account text NOT NULL,
         seq bigint GENERATED ALWAYS AS IDENTITY,
         id text NOT NULL,
         subaccount text NOT NULL,
         amount bigint NOT NULL,
         transfer_id text,
         state text NOT NULL CHECK (state IN ('pending', 'applied', 'rejected', 'unknown')),
         created text,
         settled text,
         detail text,
         PRIMARY KEY (account, id))
       WITH (fillfactor = 80)""",  # room on each page for a transfer's settlement to be a HOT update
    "CREATE INDEX smsbox_ledger_transfers_order ON smsbox_ledger_transfers (account, seq)",
    "INSERT INTO smsbox_ledger_schema (version) VALUES (1)",
)
MIGRATIONS = {0: SCHEMA_V1}  # from version N to N + 1

SCHEMA_OF_TABLES = ("SELECT coalesce((SELECT relnamespace::regnamespace::text FROM pg_class "
                    "WHERE oid = to_regclass('smsbox_ledger_schema')), current_schema()), "
                    "to_regclass('smsbox_ledger_schema') IS NOT NULL, current_setting('default_transaction_isolation')")

# The lock connection holds, besides the account's lock, an exclusive lock on a random token only this run knows.
# A writer cannot take the token's shared lock while that transaction lives: a cheap proof, made by the insert
# itself, that this run still holds the account (no lock table scan, and a reused backend pid cannot fool it).
HOLDS_LOCK = "NOT pg_try_advisory_xact_lock_shared(%(token)s::bigint)"

INSERT_TRANSFER = ("INSERT INTO smsbox_ledger_transfers (account, id, subaccount, amount, transfer_id, state, created, settled, detail) "
                   "SELECT %(account)s, %(id)s, %(subaccount)s, %(amount)s, %(transfer_id)s, %(state)s, %(created)s, %(settled)s, "
                   "%(detail)s WHERE " + HOLDS_LOCK)

UPDATE_TRANSFER = ("UPDATE smsbox_ledger_transfers SET subaccount = %(subaccount)s, amount = %(amount)s, transfer_id = %(transfer_id)s, "
                   "state = %(state)s, created = %(created)s, settled = %(settled)s, detail = %(detail)s "
                   "WHERE account = %(account)s AND id = %(id)s AND state = %(previous_state)s")

UPSERT_SUBACCOUNT = ("INSERT INTO smsbox_ledger_subaccounts (account, name, origin, state, nolimit, password_fp, baseline, recorded) "
                     "VALUES (%(account)s, %(name)s, %(origin)s, %(state)s, %(nolimit)s, %(password_fp)s, %(baseline)s, %(recorded)s) "
                     "ON CONFLICT (account, name) DO UPDATE SET origin = EXCLUDED.origin, state = EXCLUDED.state, "
                     "nolimit = EXCLUDED.nolimit, password_fp = EXCLUDED.password_fp, baseline = EXCLUDED.baseline, "
                     "recorded = EXCLUDED.recorded")

UPSERT_ACCOUNT = ("INSERT INTO smsbox_ledger_accounts (account, key_fingerprints, api_url) VALUES (%(account)s, %(fingerprints)s, %(api_url)s) "
                  "ON CONFLICT (account) DO UPDATE SET key_fingerprints = EXCLUDED.key_fingerprints, api_url = EXCLUDED.api_url, "
                  "updated = now()")

# One statement, so one snapshot: the account row and all its records.
READ_ALL = """SELECT
  (SELECT json_build_object('key_fingerprints', key_fingerprints, 'api_url', api_url)
     FROM smsbox_ledger_accounts WHERE account = %(account)s),
  (SELECT coalesce(json_agg(json_build_object('name', name, 'origin', origin, 'state', state, 'nolimit', nolimit,
                                              'password_fp', password_fp, 'baseline', baseline, 'recorded', recorded)
                            ORDER BY name), '[]'::json)
     FROM smsbox_ledger_subaccounts WHERE account = %(account)s),
  (SELECT coalesce(json_agg(json_build_object('id', id, 'subaccount', subaccount, 'amount', amount, 'transfer_id', transfer_id,
                                              'state', state, 'created', created, 'settled', settled, 'detail', detail)
                            ORDER BY seq), '[]'::json)
     FROM smsbox_ledger_transfers WHERE account = %(account)s)"""

LOCK_SETTINGS = ("SELECT set_config('idle_in_transaction_session_timeout', '0', true), "
                 "set_config('tcp_keepalives_idle', '30', true), set_config('tcp_keepalives_interval', '10', true), "
                 "set_config('tcp_keepalives_count', '3', true)")

HOLDERS = """SELECT a.pid, a.application_name, host(a.client_addr), a.client_hostname,
                    to_char(coalesce(a.xact_start, a.backend_start) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'), l.mode
             FROM pg_locks l LEFT JOIN pg_stat_activity a ON a.pid = l.pid
             WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 2
               AND l.classid::bigint = %s AND l.objid::bigint = %s
               AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
             ORDER BY a.xact_start"""


def lock_keys(*parts):
    """Two non-negative int4 naming an advisory lock (pg_locks shows them as classid and objid)."""
    digest = hashlib.sha256(('smsbox.account ledger:' + ':'.join(parts)).encode('utf-8')).digest()
    return (int.from_bytes(digest[:4], 'big') & 0x7fffffff, int.from_bytes(digest[4:8], 'big') & 0x7fffffff)


def _application_name():
    return ('smsbox.account %d on %s' % (os.getpid(), socket.gethostname()))[:63]


class PostgresqlStore(LedgerStore):
    """The ledger of the main account ``fingerprint`` in the database ``uri`` names."""

    kind = 'postgresql'

    def __init__(self, uri, fingerprint, lock_timeout=DEFAULT_LOCK_TIMEOUT, pool_size=1):
        self.location = mask_uri(uri)
        if not fingerprint or not isinstance(fingerprint, str):
            raise LedgerError('Ledger %s needs the fingerprint of the API key of its main account.' % self.location)
        try:
            import psycopg  # pylint: disable=import-outside-toplevel
            from psycopg import conninfo  # pylint: disable=import-outside-toplevel
        except ImportError:
            raise LedgerDependencyError('Ledger %s is a PostgreSQL database, which needs the Python library psycopg 3 '
                                        '(pip install "psycopg[binary]") on the host that runs the module.' % self.location,
                                        'psycopg[binary]', traceback.format_exc())
        self._psycopg = psycopg
        self._uri = uri
        self.fingerprint = fingerprint
        self.lock_timeout = float(lock_timeout)
        self.pool_size = max(1, int(pool_size or 1))
        self._secrets = self._known_secrets(uri)
        try:
            given = conninfo.conninfo_to_dict(uri)
        except psycopg.Error as error:
            raise LedgerError('Ledger %s is not a valid PostgreSQL URI: %s.' % (self.location, self._masked(error)))
        if given.get('password'):
            self._secrets.append(given['password'])
        self._options = dict(application_name=_application_name())
        if 'connect_timeout' not in given:
            self._options['connect_timeout'] = CONNECT_TIMEOUT
        for name, value in KEEPALIVES.items():
            if name not in given:
                self._options[name] = value
        self._pool = threading.Condition()
        self._idle = []
        self._opened = 0
        self._lock_conn = None
        self._default_isolation = 'read committed'  # the server's, read when locking
        self._reset()

    def _reset(self):
        self._locked = False
        self._exclusive = False
        self._schema = None
        self._tables = False
        self._keys = None
        self._token = None

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

    # -- connections --

    def _connect(self, autocommit=True):
        psycopg = self._psycopg
        try:
            conn = psycopg.connect(self._uri, autocommit=autocommit, **self._options)
        except psycopg.Error as error:
            raise LedgerError('Cannot connect to the PostgreSQL ledger %s: %s. Check the URI, that the server accepts connections '
                              'from this host, and the password (in the URI, PGPASSWORD, ~/.pgpass or a service file).'
                              % (self.location, self._masked(error)))
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

    @contextmanager
    def _writer(self):
        """A connection to write with, from a pool of at most pool_size (the module's concurrency); a broken one is dropped."""
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

    def _execute(self, what, run, retry_lost=False, lost_advice='The connection to the database was lost: check it, then run again.'):
        """run(conn) on a writer, retrying serialization failures and deadlocks; a lost connection is retried only when asked."""
        psycopg = self._psycopg
        attempt = 0
        while True:
            attempt += 1
            try:
                with self._writer() as conn:
                    if conn.isolation_level is None:
                        return run(conn)
                    with conn.transaction():
                        return run(conn)
            except psycopg.Error as error:
                lost = self._lost(error)
                if attempt < RETRIES and (getattr(error, 'sqlstate', None) in RETRYABLE_STATES or (lost and retry_lost)):
                    time.sleep(random.uniform(0.001, min(0.25, 0.004 * 2 ** attempt)))  # jittered, growing backoff
                    continue
                raise self._error(what, error, advice=lost_advice if lost else 'Check the database, then run again.')

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

    # -- schema --

    def _ensure_schema(self, conn):
        """Creates or migrates the tables under an advisory lock, so that two first runs do not race."""
        with conn.transaction():
            with conn.cursor() as cur:
                cur.execute('SELECT pg_advisory_xact_lock(%s, %s)', lock_keys('schema', self._schema))
                cur.execute("SELECT to_regclass('smsbox_ledger_schema') IS NOT NULL")
                version = 0
                if cur.fetchone()[0]:
                    cur.execute('SELECT max(version) FROM smsbox_ledger_schema')
                    version = cur.fetchone()[0] or 0
                self._check_version(version)
                while version < SCHEMA_VERSION:
                    for statement in MIGRATIONS[version]:
                        cur.execute(statement)
                    version += 1
                    cur.execute('UPDATE smsbox_ledger_schema SET version = %s, migrated = now()', (version,))
        self._tables = True

    def _check_version(self, version):
        if version > SCHEMA_VERSION:
            raise LedgerError('PostgreSQL ledger %s has tables in version %d, made by a newer release of smsbox.account; this one '
                              'knows version %d at most. Nothing was changed. Upgrade the smsbox.account collection on this '
                              'controller.' % (self.location, version, SCHEMA_VERSION))

    # -- lock --

    def lock(self, exclusive):
        if self._locked:
            raise LedgerError('Ledger %s is already locked by this session.' % self.location)
        self._reset()
        self._exclusive = bool(exclusive)
        psycopg = self._psycopg
        try:
            self._lock_conn = self._connect(autocommit=False)
            with self._lock_conn.cursor() as cur:
                cur.execute(SCHEMA_OF_TABLES)
                self._schema, self._tables, self._default_isolation = cur.fetchone()
                if self._tables:
                    cur.execute('SELECT max(version) FROM smsbox_ledger_schema')
                    self._check_version(cur.fetchone()[0] or 0)
            self._lock_conn.rollback()
            if self._schema is None:
                raise LedgerError('PostgreSQL ledger %s has no schema to keep its tables in: the search_path names no schema that '
                                  'exists. Create the schema, or choose one with options=-csearch_path%%3D<schema> in the URI.'
                                  % self.location)
            self._keys = lock_keys('account', self._schema, self.fingerprint)
            if self._exclusive and (not self._tables or self._schema_outdated()):
                self._execute('creating its tables', self._ensure_schema)
            self._take_lock()
        except psycopg.Error as error:
            self.close()
            raise self._error('locking', error)
        except Exception:
            self.close()
            raise
        self._locked = True

    def _schema_outdated(self):
        with self._lock_conn.cursor() as cur:
            cur.execute('SELECT max(version) FROM smsbox_ledger_schema')
            version = cur.fetchone()[0] or 0
        self._lock_conn.rollback()
        return version < SCHEMA_VERSION

    def _take_lock(self):
        """Polls the account's advisory lock in a transaction that then stays open for the whole run."""
        function = 'pg_try_advisory_xact_lock' if self._exclusive else 'pg_try_advisory_xact_lock_shared'
        conn = self._lock_conn
        deadline = time.monotonic() + self.lock_timeout
        delay = 0.01
        while True:
            with conn.cursor() as cur:
                # Local settings live as long as this transaction, even behind a transaction-pooling proxy: the lock is
                # never ended for idling, and the server drops it within about a minute of losing a silent client.
                cur.execute(LOCK_SETTINGS)
                cur.execute('SELECT %s(%%s, %%s)' % function, self._keys)
                if cur.fetchone()[0]:
                    if self._exclusive:
                        self._take_token(cur)
                    return
            conn.rollback()
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise LedgerError('PostgreSQL ledger %s is locked by another run on the same main account (key fingerprint %s): waited '
                                  '%g seconds. The lock is held by %s. It is released the moment that run ends or loses its '
                                  'connection to the database, so a killed job frees it at once; wait for that run to end and run '
                                  'again. If it is hung, stop it, or end its connection with SELECT pg_terminate_backend(<pid>).'
                                  % (self.location, self.fingerprint, self.lock_timeout, self._holders()))
            time.sleep(min(delay, remaining))
            delay = min(delay * 2, 0.25)

    def _take_token(self, cur):
        # The one-bigint form of advisory locks: a key space apart from the two-int4 account locks.
        while True:
            token = random.SystemRandom().randrange(1, 1 << 63)
            cur.execute('SELECT pg_try_advisory_xact_lock(%s::bigint)', (token,))
            if cur.fetchone()[0]:
                self._token = token
                return

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

    # -- reading --

    def read(self):
        if not self._locked:
            raise LedgerError('Ledger %s is not locked: lock it before reading.' % self.location)
        if not self._tables:
            return Contents()
        try:
            with self._lock_conn.cursor() as cur:
                cur.execute(READ_ALL, dict(account=self.fingerprint))
                account, subaccounts, transfers = cur.fetchone()
        except self._psycopg.Error as error:
            raise self._error('reading', error)
        contents = Contents(exists=bool(account or subaccounts or transfers))
        try:
            if account:
                contents.fingerprints = checked_fingerprints(account['key_fingerprints'])
                contents.api_url = account['api_url']
            for record in subaccounts:
                contents.subaccounts[record['name']] = checked_subaccount(record)
            for record in transfers:
                contents.transfers[record['id']] = checked_transfer(record)
        except RecordError as error:
            raise LedgerError('PostgreSQL ledger %s holds a record that %s. Nothing was changed. Repair the row (see '
                              'docs/ledger-format.md) or restore the database from a backup.' % (self.location, error))
        return contents

    def rotated_key_notice(self):
        if not self._locked or not self._tables:
            return None
        try:
            with self._lock_conn.cursor() as cur:
                cur.execute('SELECT account FROM smsbox_ledger_accounts WHERE account <> %s ORDER BY updated DESC', (self.fingerprint,))
                others = [row[0] for row in cur.fetchall()]
        except self._psycopg.Error:
            return None
        if not others:
            return None
        return ('the database (schema %s)' % self._schema, ['fingerprint %s' % other for other in others],
                'copy its old key\'s ledger to this key with smsbox.account.smsbox_ledger_copy (source_fingerprint: the old '
                'fingerprint, dest: this same URI)')

    # -- commits --

    def _check_writable(self):
        if not self._locked or not self._exclusive:
            raise LedgerError('Ledger %s is not locked for writing: it cannot record changes.' % self.location)

    def _params(self, **more):
        more.update(account=self.fingerprint, token=self._token)
        return more

    def commit_subaccount(self, record):
        self._check_writable()
        params = self._params(**dict((field, record[field]) for field in SUBACCOUNT_FIELDS))

        def run(conn):
            conn.execute(UPSERT_SUBACCOUNT, params)
        self._execute('recording sub-account %r' % record['name'], run, retry_lost=True)

    def commit_transfer(self, record, previous_state=None):
        self._check_writable()
        params = self._params(previous_state=previous_state, **dict((field, record[field]) for field in TRANSFER_FIELDS))
        if previous_state is None:
            def insert(conn):
                return conn.execute(INSERT_TRANSFER, params).rowcount
            # Not retried after a lost connection: the caller sends nothing, and a row that did commit reads as unknown next run.
            if not self._execute('recording transfer %s' % record['id'], insert, lost_advice=(
                    'The connection to the database was lost while recording it, so this transfer is not sent; if the '
                    'record did reach the database, the next run reports the transfer as unknown, to settle with resolve.')):
                raise LedgerError('PostgreSQL ledger %s: this run no longer holds the lock of the main account (its lock connection to '
                                  'the database was closed or ended), so transfer %s of %+d credits to %r was not recorded and is '
                                  'not sent. Another run may hold the ledger now: run again once it is done.'
                                  % (self.location, record['id'], record['amount'], record['subaccount']))
            return

        def update(conn):
            if conn.execute(UPDATE_TRANSFER, params).rowcount:
                return None
            row = conn.execute('SELECT state, settled, detail FROM smsbox_ledger_transfers WHERE account = %s AND id = %s',
                               (self.fingerprint, record['id'])).fetchone()
            if row is not None and tuple(row) == (record['state'], record['settled'], record['detail']):
                return None  # an earlier attempt committed it before its connection was lost
            return row[0] if row is not None else 'missing'
        found = self._execute('settling transfer %s' % record['id'], update, retry_lost=True)
        if found:
            raise LedgerError('PostgreSQL ledger %s cannot record transfer %s as %s: it is %s there, no longer %s; another run '
                              'changed it meanwhile. Run smsbox.account.smsbox_balance_info to see it, and settle it with resolve if '
                              'it is unknown.' % (self.location, record['id'], record['state'], found, previous_state))

    def commit_account(self, fingerprints, api_url):
        self._check_writable()
        params = self._params(fingerprints=list(fingerprints), api_url=api_url)

        def run(conn):
            conn.execute(UPSERT_ACCOUNT, params)
        self._execute('recording the account', run, retry_lost=True)

    def replace_all(self, contents):
        self._check_writable()
        params = self._params(fingerprints=list(contents.fingerprints), api_url=contents.api_url)
        subaccounts = [self._params(**dict((field, record[field]) for field in SUBACCOUNT_FIELDS))
                       for record in contents.subaccounts.values()]
        transfers = [self._params(**dict((field, record[field]) for field in TRANSFER_FIELDS)) for record in contents.transfers.values()]

        def run(conn):
            with conn.transaction():
                with conn.cursor() as cur:
                    cur.execute('SELECT ' + HOLDS_LOCK, params)
                    if not cur.fetchone()[0]:
                        return 'lost'
                    cur.execute('SELECT EXISTS (SELECT 1 FROM smsbox_ledger_subaccounts WHERE account = %(account)s) OR '
                                'EXISTS (SELECT 1 FROM smsbox_ledger_transfers WHERE account = %(account)s)', params)
                    if cur.fetchone()[0]:
                        return 'full'
                    cur.execute(UPSERT_ACCOUNT, params)
                    if subaccounts:
                        cur.executemany(UPSERT_SUBACCOUNT, subaccounts)
                    if transfers:
                        cur.executemany(INSERT_TRANSFER.replace(' WHERE ' + HOLDS_LOCK, ''), transfers)
            return None
        problem = self._execute('writing the copied records', run)
        if problem == 'lost':
            raise LedgerError('PostgreSQL ledger %s: this run no longer holds the lock of the main account; nothing was written.'
                              % self.location)
        if problem == 'full':
            raise LedgerError('Ledger %s already holds records for this main account: nothing was written to it.' % self.location)

    # -- end --

    def close(self):
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
        self._locked = False
        return []
