# -*- coding: utf-8 -*-
# Copyright: (c) 2026, smsbox.account contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""THE place where the ledger stores the tests run against are listed (``STORES``), and how a test reads a ledger.

A new store is one more entry in ``STORES``: every suite parametrized over it (the ``ledger_store`` fixture of
tests/unit/conftest.py, and what is built on it) then runs against it too.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import collections
import contextlib
import json
import os

from ansible_collections.smsbox.account.plugins.module_utils._ledger import ledger as ledger_module
from ansible_collections.smsbox.account.plugins.module_utils._ledger.ledger import Ledger, key_fingerprint
from ansible_collections.smsbox.account.plugins.module_utils._secrets import uri_passwords
from ansible_collections.smsbox.account.tests.unit.helpers.accounts import KEY
from ansible_collections.smsbox.account.tests.unit.postgresql import connect, fresh_schema, table_rows, terminate

LedgerView = collections.namedtuple('LedgerView', 'subaccounts transfers')


def ledger_view(location, key=KEY):
    """(sub-accounts, transfers) as the ledger at ``location`` holds them, read as the modules read it (a shared,
    read-only session)."""
    book = Ledger(location, key_fingerprint(key))
    with book.session(exclusive=False) as opened:
        return LedgerView(opened.subaccounts(), opened.transfers())


def fill_ledger(location, names, key=KEY, origin='created'):
    """Record sub-accounts as present through the Ledger API."""
    book = Ledger(location, key_fingerprint(key))
    with book.session() as opened:
        for name in names:
            opened.record_subaccount(name, origin=origin, state='present', nolimit=False if origin == 'created' else None)


def unknown_transfer(location, subaccount, amount, monkeypatch, created=None, key=KEY):
    """Records a transfer whose answer was lost, as smsbox_credit records it, at ``created`` (default now); returns its id.
    The event source's tests (tests/unit/extensions/eda, tests/integration/eda) read it as unsettled."""
    with monkeypatch.context() as patch:
        if created:
            patch.setattr(ledger_module, 'now', lambda: created)
        with Ledger(location, key_fingerprint(key)).session() as book:
            book.record_subaccount(subaccount, 'created')
            tx = book.begin_transfer(subaccount, amount)
            book.settle_transfer(tx['id'], 'unknown', detail='answer lost')
    return tx['id']


def secrets_of(uri):
    """The passwords the URI ``uri`` carries, as _secrets.uri_passwords finds them, none empty."""
    return [secret for secret in uri_passwords(uri) if secret]


def assert_no_secret(texts, uri):
    """No password of the URI ``uri`` in any of ``texts``."""
    for text in texts:
        for secret in secrets_of(uri):
            assert secret not in text, 'the password appears in: %s' % text


def lose_lock(book):
    """The run's lock ends under it: its lock connection terminated (PostgreSQL), its lock file deleted (file)."""
    store = book._store
    if book.store_kind == 'postgresql':
        terminate(store.database._uri, store.database.lock.conn.info.backend_pid)
    else:
        os.unlink(store._real + '.lock')


class LedgerStore:
    """One ledger for one test: ``location`` goes in the ledger option, ``read()`` reads it back."""

    def __init__(self, name, location):
        self.name = name
        self.location = location

    def read(self, key=KEY):
        return ledger_view(self.location, key)

    def allocated(self, key=KEY):
        """Credits the ledger says each sub-account received (applied transfers only)."""
        totals = {}
        for tx in self.read(key).transfers:
            if tx['state'] == 'applied':
                totals[tx['subaccount']] = totals.get(tx['subaccount'], 0) + tx['amount']
        return totals

    def unsettled(self, key=KEY):
        return [tx for tx in self.read(key).transfers if tx['state'] in ('pending', 'unknown')]

    def __repr__(self):
        return '<%s ledger %s>' % (self.name, self.location)


@contextlib.contextmanager
def file_store(tmp_path):
    yield LedgerStore('file', str(tmp_path / 'ledgers' / 'main.json'))


@contextlib.contextmanager
def postgresql_store(_tmp_path):
    """A new schema of the test PostgreSQL (tests/unit/postgresql.py), dropped afterwards."""
    with fresh_schema() as uri:
        yield LedgerStore('postgresql', uri)


# The stores every parametrized suite runs against: name -> context manager factory(tmp_path) of a fresh, empty ledger.
STORES = collections.OrderedDict([
    ('file', file_store),
    ('postgresql', postgresql_store),
])


class Probe:
    """What a store holds, read directly: to prove that a session wrote nothing, or what it wrote."""

    def __init__(self, kind, location):
        self.kind = kind
        self.location = location

    def stored(self):
        """Everything stored, comparable: the files' bytes, or the tables' rows."""
        if self.kind == 'postgresql':
            return table_rows(self.location)
        directory = os.path.dirname(self.location)
        if not os.path.isdir(directory):
            return {}
        found = {}
        for name in sorted(os.listdir(directory)):
            with open(os.path.join(directory, name), 'rb') as handle:
                found[name] = handle.read()
        return found

    def dump(self):
        """Everything stored, as one bytes blob to search for a secret."""
        stored = self.stored()
        if self.kind == 'postgresql':
            return json.dumps(stored).encode()
        return b'\n'.join(stored.values())

    def holds_records(self):
        if self.kind == 'postgresql':
            rows = table_rows(self.location)
            return any(rows.get(table) for table in ('smsbox_ledger_accounts', 'smsbox_ledger_subaccounts', 'smsbox_ledger_transfers'))
        journal = self.location + '.journal'
        return os.path.exists(self.location) or (os.path.exists(journal) and os.path.getsize(journal) > 0)

    def account(self, fingerprint):
        """(key fingerprints, api_url) as stored for the account."""
        if self.kind == 'postgresql':
            with connect(self.location) as conn:
                row = conn.execute('SELECT key_fingerprints, api_url FROM smsbox_ledger_accounts WHERE account = %s',
                                   (fingerprint,)).fetchone()
            return (list(row[0]), row[1]) if row else None
        with open(self.location) as handle:
            snapshot = json.load(handle)
        return snapshot['key_fingerprints'], snapshot['api_url']
