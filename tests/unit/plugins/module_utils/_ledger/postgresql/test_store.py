# -*- coding: utf-8 -*-
# Copyright: (c) 2026, smsbox.account contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What only the PostgreSQL store does: its guard against a lost lock, its tables, its secrets, the connections a run
opens. Its lock: test_lock.py; its connections' retries: test_database.py.

Against the real server of tests/unit/postgresql.py, each test in a fresh schema; nothing is mocked. A database that
gives too few connections is a TCP proxy in front of it (tests/unit/tcp_proxy.py).
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import sys
import time

import pytest

from ansible_collections.smsbox.account.plugins.module_utils._ledger.ledger import Ledger, LedgerDependencyError, LedgerError
from ansible_collections.smsbox.account.plugins.module_utils._ledger.location import printable_location
from ansible_collections.smsbox.account.plugins.module_utils._ledger.postgresql import sql as pg_sql_mod
from ansible_collections.smsbox.account.tests.unit.helpers.accounts import FP_A, FP_B
from ansible_collections.smsbox.account.tests.unit.helpers.ledger_stores import assert_no_secret
from ansible_collections.smsbox.account.tests.unit.helpers.workers import run_child, run_in_threads, start_child
from ansible_collections.smsbox.account.tests.unit.postgresql import connect, database_uri, password_of, table_rows, terminate
from ansible_collections.smsbox.account.tests.unit.tcp_proxy import proxy_to


# -- no server needed --

def test_module_utils_import_without_psycopg(tmp_path):
    # module_utils run on targets where psycopg may be missing: only a PostgreSQL ledger needs it.
    child = run_child('''
        import sys
        sys.modules['psycopg'] = None  # import psycopg raises ImportError
        from ansible_collections.smsbox.account.plugins.module_utils import _connection
        from ansible_collections.smsbox.account.plugins.module_utils._ledger import copying, ledger
        from ansible_collections.smsbox.account.plugins.module_utils._ledger.postgresql import store
        from ansible_collections.smsbox.account.plugins.module_utils._ledger.ledger import Ledger, LedgerDependencyError
        with Ledger(sys.argv[1], 'abcdef012345').session() as book:
            book.record_subaccount('a', 'created')
        try:
            Ledger('postgresql://u:pw@db/x', 'abcdef012345')
        except LedgerDependencyError as error:
            assert error.library == 'psycopg[binary]' and ':pw@' not in str(error) and error.traceback
            print('refused: %s' % error)
    ''', tmp_path / 'ledger.json')
    assert child.returncode == 0, child.stderr
    assert 'refused: ' in child.stdout and 'psycopg' in child.stdout


# -- tables --

# Also under a role's lock_timeout of 1 ms (a blocking wait for the schema lock would be cancelled) and a statement_timeout.
@pytest.mark.parametrize('settings', ['', '%20-clock_timeout%3D1ms%20-cstatement_timeout%3D2s'], ids=['plain', 'short timeouts'])
def test_tables_are_created_once_by_first_runs_racing(pg_location, settings):
    code = '''
        import sys, time
        from ansible_collections.smsbox.account.plugins.module_utils._ledger.ledger import Ledger
        location, fingerprint, start = sys.argv[1], sys.argv[2], float(sys.argv[3])
        while time.time() < start:
            pass
        with Ledger(location, fingerprint, lock_timeout=30).session() as book:
            book.record_subaccount('shop-' + fingerprint, 'created')
    '''
    start = time.time() + 1.5
    children = [start_child(code, pg_location + settings, '%012x' % n, start) for n in range(6)]
    for child in children:
        dummy, err = child.communicate(timeout=120)
        assert child.returncode == 0, err
    rows = table_rows(pg_location)
    assert rows['smsbox_ledger_schema'] == [('2', rows['smsbox_ledger_schema'][0][1])]
    assert len(rows['smsbox_ledger_accounts']) == 6 and len(rows['smsbox_ledger_subaccounts']) == 6


def test_version_1_tables_are_read_as_they_are_then_migrated_in_place_by_a_real_run(pg_location):
    # Tables made by the previous release, with its rows: a top-up keyed by its transfer_id, and an allocation.
    with connect(pg_location) as conn:
        for statement in pg_sql_mod.SCHEMA_V1:
            conn.execute(statement)
        conn.execute("INSERT INTO smsbox_ledger_accounts (account, key_fingerprints) VALUES (%s, %s)", (FP_A, [FP_A]))
        conn.execute("INSERT INTO smsbox_ledger_subaccounts (account, name, origin, state, baseline) VALUES (%s, 'shop', 'created', 'present', 0)",
                     (FP_A,))
        for txid, amount, transfer_id in (('tx-000000000001', 600, None), ('tx-000000000002', 200, 'invoice-1')):
            conn.execute("INSERT INTO smsbox_ledger_transfers (account, id, subaccount, amount, transfer_id, state) "
                         "VALUES (%s, %s, 'shop', %s, %s, 'applied')", (FP_A, txid, amount, transfer_id))

    with Ledger(pg_location, FP_A).session(exclusive=False) as book:
        assert [tx['kind'] for tx in book.transfers()] == ['allocated', 'amount']
        assert (book.allocated('shop'), book.received('shop')) == (600, 800)
    assert table_rows(pg_location)['smsbox_ledger_schema'][0][0] == '1'  # a read-only run migrates nothing

    with Ledger(pg_location, FP_A).session() as book:
        book.record_subaccount('shop', 'created', state='retired')
    rows = table_rows(pg_location)
    assert rows['smsbox_ledger_schema'][0][0] == '2'
    with connect(pg_location) as conn:
        assert conn.execute('SELECT id, kind FROM smsbox_ledger_transfers ORDER BY seq').fetchall() == [
            ('tx-000000000001', 'allocated'), ('tx-000000000002', 'amount')]
    with Ledger(pg_location, FP_A).session(exclusive=False) as book:
        assert book.subaccount('shop')['state'] == 'retired' and book.moved_to is None
        assert (book.allocated('shop'), book.received('shop')) == (600, 800)


def test_tables_of_a_newer_release_are_refused(pg_location):
    with Ledger(pg_location, FP_A).session() as book:
        book.record_subaccount('a', 'created')
    with connect(pg_location) as conn:
        conn.execute('UPDATE smsbox_ledger_schema SET version = 99')
    before = table_rows(pg_location)
    for exclusive in (True, False):
        with pytest.raises(LedgerError) as info:
            with Ledger(pg_location, FP_A).session(exclusive=exclusive):
                pass
        assert 'newer' in str(info.value) and 'Upgrade' in str(info.value) and '99' in str(info.value)
    assert table_rows(pg_location) == before


def test_a_search_path_without_an_existing_schema_is_a_sentence():
    uri = database_uri() + ('&' if '?' in database_uri() else '?') + 'options=-csearch_path%3Dno_such_schema_here'
    with pytest.raises(LedgerError) as info:
        with Ledger(uri, FP_A).session():
            pass
    assert 'search_path' in str(info.value) and 'schema' in str(info.value)
    assert_no_secret([str(info.value)], uri)


def test_records_are_committed_as_they_happen(pg_location):
    def stored_transfers():
        with connect(pg_location) as conn:
            return conn.execute('SELECT id, state, detail FROM smsbox_ledger_transfers ORDER BY seq').fetchall()
    with Ledger(pg_location, FP_A, api_url='https://api.example/1.1/api.php').session() as book:
        tx = book.begin_transfer('shop', 10)
        # seen by another connection while the session is still open: committed, not waiting for the end
        assert stored_transfers() == [(tx['id'], 'pending', None)]
        book.settle_transfer(tx['id'], 'applied', detail='OK')
        assert stored_transfers() == [(tx['id'], 'applied', 'OK')]
        book.record_subaccount('shop', 'adopted', baseline=12)
        with connect(pg_location) as conn:
            assert conn.execute('SELECT name, origin, baseline FROM smsbox_ledger_subaccounts').fetchall() == [('shop', 'adopted', 12)]
            assert conn.execute('SELECT account, key_fingerprints, api_url FROM smsbox_ledger_accounts').fetchall() == [
                (FP_A, [FP_A], 'https://api.example/1.1/api.php')]


def test_accounts_share_a_database_apart_and_a_new_key_is_pointed_at_the_others(pg_location):
    with Ledger(pg_location, FP_A).session() as book:
        book.record_subaccount('a-shop', 'created')
        tx = book.begin_transfer('a-shop', 50)
        book.settle_transfer(tx['id'], 'applied')
        # another main account is not blocked by this one's lock
        with Ledger(pg_location, FP_B, lock_timeout=0).session(exclusive=False) as other:
            assert other.subaccounts() == {} and other.receipts() == {}
            assert len(other.warnings) == 1
            warning = other.warnings[0]
            assert 'fingerprint %s' % FP_A in warning and 'rotated' in warning and 'smsbox_ledger_copy' in warning
            assert 'source_fingerprint' in warning
    with Ledger(pg_location, FP_B).session() as book:
        assert len(book.warnings) == 1
        book.record_subaccount('b-shop', 'created')
    with Ledger(pg_location, FP_B).session(exclusive=False) as book:
        assert book.warnings == [] and list(book.subaccounts()) == ['b-shop']
    with Ledger(pg_location, FP_A).session(exclusive=False) as book:
        assert book.warnings == [] and list(book.subaccounts()) == ['a-shop'] and book.allocated('a-shop') == 50


# -- a lost lock --

def test_a_run_that_lost_its_lock_sends_nothing_more(pg_location):
    ledger = Ledger(pg_location, FP_A)
    with ledger.session() as book:
        sent = book.begin_transfer('shop', 10)
        # the lock connection is ended (a network cut, a pooler restart, a DBA): the lock is gone with it
        terminate(pg_location, book._store.database.lock.conn.info.backend_pid)
        before = table_rows(pg_location)['smsbox_ledger_transfers']
        with pytest.raises(LedgerError) as info:
            book.begin_transfer('shop', 20)
        assert 'no longer holds the lock' in str(info.value) and 'not sent' in str(info.value)
        assert_no_secret([str(info.value)], pg_location)
        assert table_rows(pg_location)['smsbox_ledger_transfers'] == before
        assert [tx['id'] for tx in book.transfers()] == [sent['id']]
        # another run can take the ledger now; it finds the first transfer pending and counts it unknown
        with Ledger(pg_location, FP_A, lock_timeout=2).session() as other:
            assert other.transfer(sent['id'])['state'] == 'unknown'
        # the outcome of the request already sent cannot overwrite what that run recorded
        with pytest.raises(LedgerError) as info:
            book.settle_transfer(sent['id'], 'applied', detail='OK')
        assert 'another run changed it' in str(info.value)
    with ledger.session(exclusive=False) as book:
        assert [(tx['amount'], tx['state']) for tx in book.transfers()] == [(10, 'unknown')]


# -- secrets --

def test_the_password_appears_in_no_location_message_or_warning(pg_location, tmp_path, monkeypatch):
    password = password_of(pg_location)
    assert password and '$' in password  # scripts/postgresql.sh gives the test role a password a shell would expand
    raw = pg_location.split('://', 1)[1].split('@', 1)[0].split(':', 1)[1]  # as written in the URI, percent-encoded
    texts = []
    ledger = Ledger(pg_location, FP_A, api_url='https://api.example/1.1/api.php')
    texts.append(ledger.path)
    with ledger.session() as book:
        book.record_subaccount('shop', 'created')
        book.begin_transfer('shop', 5)  # left pending: the next session warns
        try:
            with Ledger(pg_location, FP_A, lock_timeout=0.1).session():
                pass
        except LedgerError as error:
            texts.append(str(error))
    with Ledger(pg_location, FP_B).session(exclusive=False) as book:
        texts.extend(book.warnings)  # another key: the rotation warning
    with Ledger(pg_location, FP_A).session() as book:
        texts.extend(book.warnings)  # the interrupted transfer
        terminate(pg_location, book._store.database.lock.conn.info.backend_pid)
        try:
            book.begin_transfer('shop', 1)
        except LedgerError as error:
            texts.append(str(error))
    # a wrong database, a wrong password, a refused port, a bad URI
    wrong = [pg_location.replace('/smsbox_test?', '/no_such_database?'), pg_location.replace(':' + raw + '@', ':wrong-' + password[:4] + '@'),
             pg_location.rsplit(':', 1)[0].replace('@127.0.0.1', '@127.0.0.1:1') + '/smsbox_test',
             pg_location + '&no_such_parameter=1']
    for uri in wrong:
        texts.append(printable_location(uri))
        try:
            with Ledger(uri, FP_A, lock_timeout=1).session():
                pass
        except LedgerError as error:
            texts.append(str(error))
        else:  # pragma: no cover
            pytest.fail('%s was accepted' % printable_location(uri))
    # the password as a query parameter, and from PGPASSWORD or a password file instead of the URI
    user_only = pg_location.replace(':' + raw + '@', '@')
    assert password not in user_only and raw not in user_only
    as_parameter = user_only + '&password=' + raw
    passfile = tmp_path / 'pgpass'
    host_port = user_only.split('@', 1)[1].split('/', 1)[0]
    passfile.write_text('%s:%s:*:*:%s\n' % (host_port.split(':')[0], host_port.split(':')[1], password.replace('\\', '\\\\').replace(':', '\\:')))
    os.chmod(str(passfile), 0o600)
    with_passfile = user_only + '&passfile=' + str(passfile)
    for uri in (as_parameter, with_passfile):
        with Ledger(uri, FP_A).session(exclusive=False) as book:
            assert book.subaccount('shop')
            texts.append(book.path)
        try:
            with Ledger(uri.replace('/smsbox_test?', '/no_such_database?'), FP_A).session():
                pass
        except LedgerError as error:
            texts.append(str(error))
    monkeypatch.setenv('PGPASSWORD', password)
    with Ledger(user_only, FP_A).session(exclusive=False) as book:
        assert book.subaccount('shop')
    try:
        with Ledger(user_only.replace('/smsbox_test?', '/no_such_database?'), FP_A).session():
            pass
    except LedgerError as error:
        texts.append(str(error))
    assert len(texts) == 18 and sum('no_such_database' in text for text in texts) == 5
    for text in texts:
        assert password not in text and raw not in text, text


def test_psycopg_missing_is_a_dependency_error(monkeypatch):
    monkeypatch.setitem(sys.modules, 'psycopg', None)
    with pytest.raises(LedgerDependencyError) as info:
        Ledger('postgresql://u:topsecret@db/x', FP_A)
    assert info.value.library == 'psycopg[binary]' and 'topsecret' not in str(info.value)
    assert 'postgresql://u:********@db/x' in str(info.value)
    assert pg_sql_mod.SCHEMA_VERSION == 2


# -- the upsert, the connections a run opens --

def test_the_upsert_itself_keeps_created_rows_created(pg_location):
    # Two runs that both believed they held the ledger: the adoption of the second must not overwrite the first's create.
    with Ledger(pg_location, FP_A).session() as book:
        book.record_subaccount('ours', 'created', nolimit=False)
    with Ledger(pg_location, FP_A).session() as book:
        book._holdings._subaccounts.pop('ours')  # a stale view, as a run that read the ledger before the other one's create
        with pytest.raises(LedgerError):
            book.record_subaccount('ours', 'adopted', baseline=None)
    assert [row[2] for row in table_rows(pg_location)['smsbox_ledger_subaccounts']] == ['created']


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
