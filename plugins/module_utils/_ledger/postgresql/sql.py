# -*- coding: utf-8 -*-
# Copyright: (c) 2026, smsbox.account contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The PostgreSQL store's SQL: the tables (DDL, migrations, schema version), the statements it runs, its advisory lock keys.

docs/ledger-format.md describes the tables.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import hashlib
import time

from ansible_collections.smsbox.account.plugins.module_utils._ledger.records import LedgerError

SCHEMA_VERSION = 2

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
# Version 2 (file format 3): a transfer's kind (a version-1 transfer with a transfer_id was a one-off top-up), the run
# that made each record, the sub-account state "retired", the account's moved_to (a rotated key's new fingerprint).
SCHEMA_V2 = (
    "ALTER TABLE smsbox_ledger_transfers ADD COLUMN kind text",
    "UPDATE smsbox_ledger_transfers SET kind = CASE WHEN transfer_id IS NULL THEN 'allocated' ELSE 'amount' END",
    "ALTER TABLE smsbox_ledger_transfers ALTER COLUMN kind SET NOT NULL, "
    "ADD CONSTRAINT smsbox_ledger_transfers_kind_check CHECK (kind IN ('allocated', 'amount', 'retire', 'period')), ADD COLUMN run jsonb",
    "ALTER TABLE smsbox_ledger_subaccounts DROP CONSTRAINT IF EXISTS smsbox_ledger_subaccounts_state_check, "
    "ADD CONSTRAINT smsbox_ledger_subaccounts_state_check CHECK (state IN ('present', 'unknown', 'retired')), ADD COLUMN run jsonb",
    "ALTER TABLE smsbox_ledger_accounts ADD COLUMN moved_to text",
)
MIGRATIONS = {0: SCHEMA_V1, 1: SCHEMA_V2}  # from version N to N + 1

SCHEMA_OF_TABLES = ("SELECT coalesce((SELECT relnamespace::regnamespace::text FROM pg_class "
                    "WHERE oid = to_regclass('smsbox_ledger_schema')), current_schema()), "
                    "to_regclass('smsbox_ledger_schema') IS NOT NULL, current_setting('default_transaction_isolation')")

# The lock connection holds, besides the account's lock, an exclusive lock on a random token only this run knows.
# A writer cannot take the token's shared lock while that transaction lives: a cheap proof, made by the insert
# itself, that this run still holds the account (no lock table scan, and a reused backend pid cannot fool it).
HOLDS_LOCK = "NOT pg_try_advisory_xact_lock_shared(%(token)s::bigint)"

INSERT_TRANSFER = ("INSERT INTO smsbox_ledger_transfers (account, id, subaccount, amount, transfer_id, state, created, settled, detail, "
                   "kind, run) SELECT %(account)s, %(id)s, %(subaccount)s, %(amount)s, %(transfer_id)s, %(state)s, %(created)s, "
                   "%(settled)s, %(detail)s, %(kind)s, %(run)s::jsonb WHERE " + HOLDS_LOCK)

UPDATE_TRANSFER = ("UPDATE smsbox_ledger_transfers SET subaccount = %(subaccount)s, amount = %(amount)s, transfer_id = %(transfer_id)s, "
                   "state = %(state)s, created = %(created)s, settled = %(settled)s, detail = %(detail)s, kind = %(kind)s, "
                   "run = %(run)s::jsonb WHERE account = %(account)s AND id = %(id)s AND state = %(previous_state)s AND " + HOLDS_LOCK)

# Never turns a sub-account this collection created into an adopted one: a run that adopts what another run created
# would otherwise drop its origin and baseline (ON CONFLICT's WHERE leaves the row as it is, and no row is returned).
UPSERT_SUBACCOUNT = ("INSERT INTO smsbox_ledger_subaccounts AS s (account, name, origin, state, nolimit, password_fp, baseline, recorded, run) "
                     "SELECT %(account)s, %(name)s, %(origin)s, %(state)s, %(nolimit)s::boolean, %(password_fp)s, %(baseline)s::bigint, "
                     "%(recorded)s, %(run)s::jsonb WHERE " + HOLDS_LOCK + " "
                     "ON CONFLICT (account, name) DO UPDATE SET origin = EXCLUDED.origin, state = EXCLUDED.state, "
                     "nolimit = EXCLUDED.nolimit, password_fp = EXCLUDED.password_fp, baseline = EXCLUDED.baseline, "
                     "recorded = EXCLUDED.recorded, run = EXCLUDED.run WHERE s.origin = 'adopted' OR EXCLUDED.origin = 'created'")

# A create announced (recorded unknown before it was sent) that SMSBOX refused, or that was never sent: only that very record.
DELETE_ANNOUNCED = ("DELETE FROM smsbox_ledger_subaccounts WHERE account = %(account)s AND name = %(name)s AND origin = 'created' "
                    "AND state = 'unknown' AND recorded IS NOT DISTINCT FROM %(recorded)s AND " + HOLDS_LOCK)

UPSERT_ACCOUNT = ("INSERT INTO smsbox_ledger_accounts (account, key_fingerprints, api_url, moved_to) "
                  "SELECT %(account)s, %(fingerprints)s, %(api_url)s, %(moved_to)s WHERE " + HOLDS_LOCK + " "
                  "ON CONFLICT (account) DO UPDATE SET key_fingerprints = EXCLUDED.key_fingerprints, api_url = EXCLUDED.api_url, "
                  "moved_to = EXCLUDED.moved_to, updated = now()")

# After a statement that changed no row: does this run still hold its lock?
CHECK_LOCK = "SELECT " + HOLDS_LOCK

# One statement, so one snapshot: the account row and all its records. Version-1 tables (read by a read-only run
# before the first real run migrates them) lack the columns of version 2, which then read as null.
READ_ALL_TEMPLATE = """SELECT
  (SELECT json_build_object('key_fingerprints', key_fingerprints, 'api_url', api_url, 'moved_to', {moved_to})
     FROM smsbox_ledger_accounts WHERE account = %(account)s),
  (SELECT coalesce(json_agg(json_build_object('name', name, 'origin', origin, 'state', state, 'nolimit', nolimit,
                                              'password_fp', password_fp, 'baseline', baseline, 'recorded', recorded,
                                              'run', {run})
                            ORDER BY name), '[]'::json)
     FROM smsbox_ledger_subaccounts WHERE account = %(account)s),
  (SELECT coalesce(json_agg(json_build_object('id', id, 'subaccount', subaccount, 'amount', amount, 'transfer_id', transfer_id,
                                              'state', state, 'created', created, 'settled', settled, 'detail', detail,
                                              'kind', {kind}, 'run', {run})
                            ORDER BY seq), '[]'::json)
     FROM smsbox_ledger_transfers WHERE account = %(account)s)"""
READ_ALL = READ_ALL_TEMPLATE.format(moved_to='moved_to', run='run', kind='kind')
READ_ALL_V1 = READ_ALL_TEMPLATE.format(moved_to='NULL::text', run='NULL::jsonb', kind='NULL::text')


def read_all(version):
    return READ_ALL if version >= 2 else READ_ALL_V1


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


def check_version(version, location):
    if version > SCHEMA_VERSION:
        raise LedgerError('PostgreSQL ledger %s has tables in version %d, made by a newer release of smsbox.account; this one '
                          'knows version %d at most. Nothing was changed. Upgrade the smsbox.account collection on this '
                          'controller.' % (location, version, SCHEMA_VERSION))


def schema_outdated(conn):
    with conn.cursor() as cur:
        cur.execute('SELECT max(version) FROM smsbox_ledger_schema')
        version = cur.fetchone()[0] or 0
    conn.rollback()
    return version < SCHEMA_VERSION


def ensure_schema(conn, schema, location, lock_timeout):
    """Creates or migrates the tables under an advisory lock, so that two first runs do not race.

    The lock is polled rather than waited for: a role's lock_timeout or a pooler's query timeout would cancel a
    blocking wait, and the run's own lock_timeout bounds it instead. Returns False when another run held it too long.
    """
    deadline = time.monotonic() + lock_timeout
    delay = 0.01
    while True:
        with conn.transaction():
            with conn.cursor() as cur:
                cur.execute('SELECT pg_try_advisory_xact_lock(%s, %s)', lock_keys('schema', schema))
                if cur.fetchone()[0]:
                    _create_or_migrate(cur, location)
                    return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(delay)
        delay = min(delay * 2, 0.25)


def _create_or_migrate(cur, location):
    cur.execute("SELECT to_regclass('smsbox_ledger_schema') IS NOT NULL")
    version = 0
    if cur.fetchone()[0]:
        cur.execute('SELECT max(version) FROM smsbox_ledger_schema')
        version = cur.fetchone()[0] or 0
    check_version(version, location)
    while version < SCHEMA_VERSION:
        for statement in MIGRATIONS[version]:
            cur.execute(statement)
        version += 1
        cur.execute('UPDATE smsbox_ledger_schema SET version = %s, migrated = now()', (version,))
