# -*- coding: utf-8 -*-
# Copyright: (c) 2026, smsbox.account contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The real PostgreSQL server the tests of the PostgreSQL ledger store run against, and a fresh schema per test.

scripts/test.sh starts a throwaway cluster (scripts/postgresql.sh) and writes its URI to
tests/output/.postgresql-uri in the staged collection: ansible-test gives the pytest it runs none of
our environment variables. Run by hand, pytest reads SMSBOX_TEST_POSTGRESQL_URI instead. Without
either the PostgreSQL tests fail; SMSBOX_TEST_POSTGRESQL=skip (or a file holding "skip", or "skip: why") skips them.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import contextlib
import os
import uuid

import pytest

COLLECTION_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
URI_FILE = os.path.join(COLLECTION_ROOT, 'tests', 'output', '.postgresql-uri')
# Read once, at import: the module tests' fixtures clear SMSBOX_* variables before each test.
ENV_URI = os.environ.get('SMSBOX_TEST_POSTGRESQL_URI')
ENV_SKIP = os.environ.get('SMSBOX_TEST_POSTGRESQL') == 'skip'


def database_uri():
    """The test database's URI (with the test role's password), or skip/fail as the docstring above says."""
    uri = ENV_URI
    if not uri:
        if ENV_SKIP:
            pytest.skip('SMSBOX_TEST_POSTGRESQL=skip: no PostgreSQL for the tests of the PostgreSQL ledger store')
        try:
            with open(URI_FILE) as handle:
                uri = handle.read().strip()
        except (IOError, OSError):
            pytest.fail('No PostgreSQL server for the tests of the PostgreSQL ledger store: run them with scripts/test.sh units, '
                        'which starts one, or set SMSBOX_TEST_POSTGRESQL_URI to a database they may create schemas in '
                        '(SMSBOX_TEST_POSTGRESQL=skip skips them).', pytrace=False)
    if uri.split(':', 1)[0] == 'skip':  # "skip", or "skip: the reason" (scripts/test.sh on the lines other than the main one)
        pytest.skip(uri.split(':', 1)[1].strip() if ':' in uri else
                    'SMSBOX_TEST_POSTGRESQL=skip: no PostgreSQL for the tests of the PostgreSQL ledger store')
    return uri


def password_of(uri):
    """The password of the URI's user part, percent-decoded."""
    from urllib.parse import unquote
    userinfo = uri.split('://', 1)[1].split('@', 1)[0] if '@' in uri else ''
    return unquote(userinfo.split(':', 1)[1]) if ':' in userinfo else None


def with_search_path(uri, schema):
    return uri + ('&' if '?' in uri else '?') + 'options=-csearch_path%3D' + schema


def connect(uri):
    import psycopg
    return psycopg.connect(uri, autocommit=True)


def terminate(uri, pid):
    """Ends a backend as a DBA or a dying network would, and waits until it is gone (and its locks with it)."""
    with connect(uri) as conn:
        assert conn.execute('SELECT pg_terminate_backend(%s, 10000)', (pid,)).fetchone()[0], 'backend %s did not end' % pid


@contextlib.contextmanager
def fresh_schema(uri=None):
    """A URI whose search_path is a new, empty schema, dropped afterwards."""
    uri = uri or database_uri()
    name = 'test_%s' % uuid.uuid4().hex[:16]
    with connect(uri) as conn:
        conn.execute('CREATE SCHEMA %s' % name)
    try:
        yield with_search_path(uri, name)
    finally:
        import psycopg
        with connect(uri) as conn:
            conn.execute("SET lock_timeout = '10s'")
            try:
                conn.execute('DROP SCHEMA %s CASCADE' % name)
            except psycopg.Error:
                pass  # a session a failed test left open still uses it; the throwaway cluster goes anyway


def table_rows(location):
    """Every row of the ledger tables in the schema of ``location``, as text: what a test compares or searches."""
    rows = {}
    with connect(location) as conn:
        for table in ('smsbox_ledger_schema', 'smsbox_ledger_accounts', 'smsbox_ledger_subaccounts', 'smsbox_ledger_transfers'):
            exists = conn.execute("SELECT to_regclass(%s) IS NOT NULL", (table,)).fetchone()[0]
            if exists:
                rows[table] = [tuple(str(value) for value in row) for row in
                               conn.execute('SELECT * FROM %s ORDER BY 1, 2' % table).fetchall()]
    return rows
