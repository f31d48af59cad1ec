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

This module holds the store class: what its records are in the database, which it reaches through a Database
(database.py: connections, the lock, retries); its SQL is in sql.py.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os

from ansible_collections.smsbox.account.plugins.module_utils._ledger.records import (
    SUBACCOUNT_FIELDS,
    TRANSFER_FIELDS,
    Contents,
    LedgerError,
    NoSuchRecord,
    RecordError,
    checked_fingerprints,
    checked_subaccount,
    checked_transfer,
    now,
)
from ansible_collections.smsbox.account.plugins.module_utils._ledger.store import (
    ASIDE_MARK,
    DECISION,
    DEFAULT_LOCK_TIMEOUT,
    NEW,
    OUTCOME,
    LedgerStore,
)
from ansible_collections.smsbox.account.plugins.module_utils._secrets import mask_uri
from ansible_collections.smsbox.account.plugins.module_utils._ledger.postgresql.database import Database
from ansible_collections.smsbox.account.plugins.module_utils._ledger.postgresql.lock import LockGone
from ansible_collections.smsbox.account.plugins.module_utils._ledger.postgresql.sql import (
    CHECK_LOCK,
    DELETE_ANNOUNCED,
    HOLDS_LOCK,
    INSERT_TRANSFER,
    SCHEMA_OF_TABLES,
    SCHEMA_VERSION,
    UPDATE_TRANSFER,
    UPSERT_ACCOUNT,
    UPSERT_SUBACCOUNT,
    check_version,
    ensure_schema,
    lock_keys,
    read_all,
    schema_outdated,
)


class PostgresqlStore(LedgerStore):
    """The ledger of the main account ``fingerprint`` in the database ``uri`` names."""

    kind = 'postgresql'

    def __init__(self, uri, fingerprint, lock_timeout=DEFAULT_LOCK_TIMEOUT, pool_size=1):
        self.location = mask_uri(uri)
        if not fingerprint or not isinstance(fingerprint, str):
            raise LedgerError('Ledger %s needs the fingerprint of the API key of its main account.' % self.location)
        self.fingerprint = fingerprint
        self.lock_timeout = float(lock_timeout)
        self.database = Database(uri, self.location, fingerprint, self.lock_timeout, max(1, int(pool_size or 1)))
        self._reset()

    def _reset(self):
        self._locked = False
        self._schema = None
        self._tables = False
        self._version = 0

    @property
    def lock_lost(self):
        return self.database.lock.lost

    @property
    def on_wait(self):
        return self.database.lock.on_wait

    @on_wait.setter
    def on_wait(self, report):
        self.database.lock.on_wait = report

    # -- lock --

    def lock(self, exclusive):
        if self._locked:
            raise LedgerError('Ledger %s is already locked by this session.' % self.location)
        self._reset()
        database, lock = self.database, self.database.lock
        lock.begin(exclusive)
        try:
            with database.failing_as('locking', at_start=True):
                conn = lock.open()
                with conn.cursor() as cur:
                    cur.execute(SCHEMA_OF_TABLES)
                    self._schema, self._tables, database.default_isolation = cur.fetchone()
                    if self._tables:
                        cur.execute('SELECT max(version) FROM smsbox_ledger_schema')
                        self._version = cur.fetchone()[0] or 0
                        check_version(self._version, self.location)
                conn.rollback()
                if self._schema is None:
                    raise LedgerError('PostgreSQL ledger %s has no schema to keep its tables in: the search_path names no schema '
                                      'that exists. Create the schema, or choose one with options=-csearch_path%%3D<schema> in the '
                                      'URI.' % self.location)
                if lock.exclusive and (not self._tables or schema_outdated(conn)):
                    self._create_tables()
                lock.take(lock_keys('account', self._schema, self.fingerprint))
                if lock.exclusive:
                    database.open_writers()
        except Exception:
            self.close()
            raise
        self._locked = True

    def _create_tables(self):
        def create(conn):
            return ensure_schema(conn, self._schema, self.location, self.lock_timeout)
        if not self.database.execute('creating its tables', create):
            raise LedgerError('PostgreSQL ledger %s: another run kept its tables locked for %g seconds (lock_timeout) while '
                              'creating or migrating them; nothing was sent. Run again.' % (self.location, self.lock_timeout))
        self._tables = True
        self._version = SCHEMA_VERSION

    # -- reading --

    def read(self):
        if not self._locked:
            raise LedgerError('Ledger %s is not locked: lock it before reading.' % self.location)
        if not self._tables:
            return Contents()
        with self.database.failing_as('reading'):
            with self.database.lock.conn.cursor() as cur:
                cur.execute(read_all(self._version), dict(account=self.fingerprint))
                account, subaccounts, transfers = cur.fetchone()
        contents = Contents(exists=bool(account or subaccounts or transfers))
        try:
            if account:
                contents.fingerprints = checked_fingerprints(account['key_fingerprints'])
                contents.api_url = account['api_url']
                contents.moved_to = account.get('moved_to')
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
            with self.database.lock.conn.cursor() as cur:
                cur.execute('SELECT account FROM smsbox_ledger_accounts WHERE account <> %s AND strpos(account, %s) = 0 '
                            'ORDER BY updated DESC', (self.fingerprint, ASIDE_MARK))
                others = [row[0] for row in cur.fetchall()]
        except self.database.psycopg.Error:
            return None
        if not others:
            return None
        return ('the database (schema %s)' % self._schema, ['fingerprint %s' % other for other in others],
                'copy its old key\'s ledger to this key with smsbox.account.smsbox_ledger_copy (source_fingerprint: the old '
                'fingerprint, dest: this same URI)')

    # -- commits --

    def _check_writable(self):
        if not self._locked or not self.database.lock.exclusive:
            raise LedgerError('Ledger %s is not locked for writing: it cannot record changes.' % self.location)

    def _params(self, **more):
        more.update(account=self.fingerprint, token=self.database.lock.token)
        if more.get('run') is not None:
            more['run'] = json.dumps(more['run'], sort_keys=True)  # cast to jsonb by the statement
        return more

    def _still_held(self, conn, params):
        """After a guarded statement changed no row: raises LockGone unless this run still holds its lock."""
        if not conn.execute(CHECK_LOCK, params).fetchone()[0]:
            raise LockGone()

    def commit_subaccount(self, record, how=DECISION):
        self._check_writable()
        params = self._params(**dict((field, record[field]) for field in SUBACCOUNT_FIELDS))

        def upsert(conn, params):
            if conn.execute(UPSERT_SUBACCOUNT, params).rowcount:
                return None
            self._still_held(conn, params)
            return 'created'
        if self.database.commit('recording sub-account %r' % record['name'], how, upsert, params):
            raise LedgerError('PostgreSQL ledger %s records sub-account %r as created by this collection: it cannot become adopted, '
                              'which would drop its origin and baseline. Nothing was changed.' % (self.location, record['name']))

    def withdraw_subaccount(self, record):
        self._check_writable()
        params = self._params(**dict((field, record[field]) for field in SUBACCOUNT_FIELDS))

        def delete(conn, params):
            if not conn.execute(DELETE_ANNOUNCED, params).rowcount:
                self._still_held(conn, params)  # else already withdrawn by an earlier attempt, or no longer that record
        self.database.commit('withdrawing the create of sub-account %r' % record['name'], OUTCOME, delete, params)

    def commit_transfer(self, record, previous_state=None):
        self._check_writable()
        params = self._params(previous_state=previous_state, **dict((field, record[field]) for field in TRANSFER_FIELDS))
        if previous_state is None:
            def insert(conn, params):
                if not conn.execute(INSERT_TRANSFER, params).rowcount:
                    raise LockGone()  # a fresh id: only the guard can refuse it
            self.database.commit('recording transfer %s of %+d credits to %r' % (record['id'], record['amount'], record['subaccount']),
                                 NEW, insert, params)
            return

        def update(conn, params):
            if conn.execute(UPDATE_TRANSFER, params).rowcount:
                return None
            self._still_held(conn, params)
            row = conn.execute('SELECT state, settled, detail FROM smsbox_ledger_transfers WHERE account = %s AND id = %s',
                               (self.fingerprint, record['id'])).fetchone()
            if row is not None and tuple(row) == (record['state'], record['settled'], record['detail']):
                return None  # an earlier attempt committed it before its connection was lost
            return row[0] if row is not None else 'missing'
        found = self.database.commit('recording transfer %s as %s' % (record['id'], record['state']), OUTCOME, update, params)
        if found == 'missing':
            raise NoSuchRecord('PostgreSQL ledger %s holds no transfer %s to record as %s.' % (self.location, record['id'], record['state']))
        if found:
            raise LedgerError('PostgreSQL ledger %s cannot record transfer %s as %s: it is %s there, no longer %s; another run '
                              'changed it meanwhile. Run smsbox.account.smsbox_balance_info to see it, and settle it with resolve if '
                              'it is unknown.' % (self.location, record['id'], record['state'], found, previous_state))

    def commit_account(self, fingerprints, api_url, moved_to=None):
        self._check_writable()
        params = self._params(fingerprints=list(fingerprints), api_url=api_url, moved_to=moved_to)

        def upsert(conn, params):
            if not conn.execute(UPSERT_ACCOUNT, params).rowcount:
                raise LockGone()
        self.database.commit('recording the account', DECISION, upsert, params)

    def replace_all(self, contents):
        self._check_writable()
        params = self._params(fingerprints=list(contents.fingerprints), api_url=contents.api_url, moved_to=contents.moved_to)
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
        problem = self.database.execute('writing the copied records', run)
        if problem == 'lost':
            raise LedgerError('PostgreSQL ledger %s: this run no longer holds the lock of the main account; nothing was written.'
                              % self.location)
        if problem == 'full':
            raise LedgerError('Ledger %s already holds records for this main account: nothing was written to it.' % self.location)

    def move_aside(self):
        self._check_writable()
        params = self._params(aside='%s%s%s-%s' % (self.fingerprint, ASIDE_MARK, now().replace('-', '').replace(':', ''),
                                                   os.urandom(2).hex()))

        def run(conn):
            with conn.transaction():
                if not conn.execute(CHECK_LOCK, params).fetchone()[0]:
                    return False
                for table in ('smsbox_ledger_accounts', 'smsbox_ledger_subaccounts', 'smsbox_ledger_transfers'):
                    conn.execute('UPDATE %s SET account = %%(aside)s WHERE account = %%(account)s' % table, params)
            return True
        if not self.database.execute('moving its records aside', run):
            raise self.database.lock.lost_error('moving its records aside')
        return params['aside']

    # -- end --

    def close(self):
        self.database.disconnect()
        self._locked = False
        return []
