# -*- coding: utf-8 -*-
# Copyright: (c) 2026, smsbox.account contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fixtures that run the ledger tests against each store, and the per-store count printed at the end.

``location`` is a file path under tmp_path for the file store, and a URI whose search_path is a
fresh schema of the test database for the PostgreSQL store (a real server: see tests/unit/postgresql.py).
``probe`` reads what the store holds, behind the ledger's back.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import threading

import pytest

from ansible_collections.smsbox.account.tests.unit.postgresql import connect, fresh_schema, table_rows

STORES = ('file', 'postgresql')
_RESULTS = {}
_FIGURES = []


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


def run_in_threads(work, count):
    """work(worker) in ``count`` threads at once; returns the exceptions they raised."""
    errors = []

    def guarded(worker):
        try:
            work(worker)
        except Exception as error:  # pylint: disable=broad-except
            errors.append(error)
    threads = [threading.Thread(target=guarded, args=(worker,)) for worker in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors


@pytest.fixture(params=STORES)
def store(request):
    return request.param


@pytest.fixture
def location(store, tmp_path):
    if store == 'file':
        yield str(tmp_path / 'ledgers' / 'ledger.json')
    else:
        with fresh_schema() as uri:
            yield uri


@pytest.fixture
def probe(store, location):
    return Probe(store, location)


@pytest.fixture
def path(tmp_path):
    """A file-store ledger, for the tests of what only the file store does (its journal, snapshot and files)."""
    return str(tmp_path / 'ledgers' / 'ledger.json')


@pytest.fixture
def pg_location():
    """A fresh schema, for the tests of the PostgreSQL store alone."""
    with fresh_schema() as uri:
        yield uri


@pytest.fixture(autouse=True)
def _store_of_the_test(request, record_property):
    # Which store a ledger test exercised, carried to the summary (also from pytest-xdist workers).
    names = request.fixturenames
    if 'store' in names:
        record_property('ledger_store', request.getfixturevalue('store'))
    elif 'pg_location' in names:
        record_property('ledger_store', 'postgresql')
    elif 'path' in names and '._ledger.' in request.module.__name__:
        record_property('ledger_store', 'file')


def pytest_runtest_logreport(report):
    properties = dict(report.user_properties)
    store = properties.get('ledger_store')
    if 'ledger_figure' in properties and report.when == 'call':
        _FIGURES.append(properties['ledger_figure'])
    if store is None:
        return
    if report.when == 'call' or (report.when == 'setup' and not report.passed):
        outcome = 'error' if report.when == 'setup' and report.failed else report.outcome
        counts = _RESULTS.setdefault(store, {})
        counts[outcome] = counts.get(outcome, 0) + 1


def pytest_terminal_summary(terminalreporter):
    if not _RESULTS:
        return
    terminalreporter.section('ledger tests per store')
    for store in sorted(_RESULTS):
        counts = _RESULTS[store]
        terminalreporter.write_line('%-10s %d run: %s' % (store, sum(counts.values()), ', '.join(
            '%d %s' % (counts[outcome], outcome) for outcome in sorted(counts))))
    for figure in _FIGURES:
        terminalreporter.write_line(figure)
