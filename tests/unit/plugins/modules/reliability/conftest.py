# -*- coding: utf-8 -*-
# Copyright: (c) 2026, smsbox.account contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fixtures of the reliability suites: THE place where ledger stores are chosen.

Every suite here names its ledger through the ``ledger_store`` fixture: its ``location`` is the
value of the modules' ``ledger`` option, and ``read()`` reads the ledger back through the
collection's own ``Ledger(...).session(exclusive=False)``. ``STORES`` lists the stores: the file store
and the PostgreSQL store (a fresh schema of the test cluster per test); every parametrized suite runs
against both.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import collections
import contextlib

import pytest

from ansible_collections.smsbox.account.plugins.module_utils._ledger.ledger import Ledger, key_fingerprint
from ansible_collections.smsbox.account.tests.emulator.smsbox_emulator import Emulator
from ansible_collections.smsbox.account.tests.unit.plugins.modules.conftest import KEY, START_BALANCE
from ansible_collections.smsbox.account.tests.unit.postgresql import fresh_schema

LedgerView = collections.namedtuple('LedgerView', 'subaccounts transfers')


def read_ledger(location, key=KEY):
    """What the ledger at ``location`` holds, read as the modules read it (a shared, read-only session)."""
    book = Ledger(location, key_fingerprint(key))
    with book.session(exclusive=False) as opened:
        return LedgerView(opened.subaccounts(), opened.transfers())


class LedgerStore:
    """One ledger for one test: ``location`` goes in the ledger option, ``read()`` reads it back."""

    def __init__(self, name, location):
        self.name = name
        self.location = location

    def read(self, key=KEY):
        return read_ledger(self.location, key)

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


# The stores every parametrized suite runs against: name -> context manager factory(tmp_path).
STORES = collections.OrderedDict([
    ('file', file_store),
    ('postgresql', postgresql_store),
])


@pytest.fixture(params=list(STORES))
def ledger_store(request, tmp_path):
    """A fresh, empty ledger in each store of STORES (the test id names the store)."""
    with STORES[request.param](tmp_path) as store:
        yield store


@pytest.fixture
def file_ledger(tmp_path):
    """A file-store ledger, for the tests of the file store itself (torn journals, damaged snapshots)."""
    with file_store(tmp_path) as store:
        yield store


@pytest.fixture
def fresh_emulator():
    """An emulator whose main account KEY holds START_BALANCE credits; stopped at the end of the test."""
    with Emulator(accounts={KEY: START_BALANCE}) as emu:
        yield emu
