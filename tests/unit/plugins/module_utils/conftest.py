# -*- coding: utf-8 -*-
# Copyright: (c) 2026, smsbox.account contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fixtures that run the ledger tests against each store, and the per-store count printed at the end.

``store`` and ``location`` are those of ``ledger_store`` (tests/unit/conftest.py, a test per store of ``STORES``): a
file path under tmp_path for the file store, and a URI whose search_path is a fresh schema of the test database for
the PostgreSQL store (a real server: see tests/unit/postgresql.py). ``probe`` reads what the store holds, behind the
ledger's back.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import pytest

from ansible_collections.smsbox.account.tests.unit.helpers.ledger_stores import Probe
from ansible_collections.smsbox.account.tests.unit.postgresql import fresh_schema

_RESULTS = {}
_FIGURES = []


@pytest.fixture
def store(ledger_store):
    """The name of the store of the test's ledger (tests/unit/conftest.py's ``ledger_store``: one test per store)."""
    return ledger_store.name


@pytest.fixture
def location(ledger_store):
    return ledger_store.location


@pytest.fixture
def probe(ledger_store):
    return Probe(ledger_store.name, ledger_store.location)


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
    if 'ledger_store' in names:
        record_property('ledger_store', request.node.callspec.params['ledger_store'])
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
