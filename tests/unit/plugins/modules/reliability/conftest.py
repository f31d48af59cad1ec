# -*- coding: utf-8 -*-
# Copyright: (c) 2026, smsbox.account contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fixtures of the reliability suites.

Every suite here names its ledger through the ``ledger_store`` fixture (tests/unit/conftest.py): its ``location`` is
the value of the modules' ``ledger`` option, and ``read()`` reads the ledger back through the collection's own
``Ledger(...).session(exclusive=False)``; every parametrized suite runs against each store of ``STORES``
(tests/unit/helpers/ledger_stores.py).
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import pytest

from ansible_collections.smsbox.account.tests.emulator.smsbox_emulator import Emulator
from ansible_collections.smsbox.account.tests.unit.helpers.accounts import KEY, START_BALANCE
from ansible_collections.smsbox.account.tests.unit.helpers.ledger_stores import file_store


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
