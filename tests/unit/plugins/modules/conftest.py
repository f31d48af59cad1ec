# -*- coding: utf-8 -*-
# Copyright: (c) 2026, smsbox.account contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fixtures of the module tests.

Each module runs in-process (``run_module``, tests/unit/plugins/conftest.py), talks real HTTP over loopback to an
in-process SMSBOX emulator (``emulator``), so the tests assert on what the emulator applied and logged, and on the
ledger (``ledger_path``, a file under ``tmp_path``, never ``~/.ansible``; ``base``: both in tests/unit/plugins/conftest.py).
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import pytest


@pytest.fixture(autouse=True)
def _every_module_test_isolated(isolated):  # pylint: disable=unused-argument
    """Every module test runs ``isolated`` (tests/unit/plugins/conftest.py)."""
