# -*- coding: utf-8 -*-
# Copyright: (c) 2026, smsbox.account contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Every unit run prints what the reliability suites covered (see tests/unit/suite_counts.py); ``ledger_store`` gives each
suite that touches a ledger a fresh one in each store of ``STORES`` (tests/unit/helpers/ledger_stores.py). On the lines
where scripts/test.sh says so, the heavy suites are skipped with its reason."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os

import pytest

from ansible_collections.smsbox.account.tests.unit import suite_counts
from ansible_collections.smsbox.account.tests.unit.helpers.ledger_stores import STORES

# The heavy suites: the fault matrix, the crash and stateful tests, and every property test. scripts/test.sh writes
# "skip: <why>" to this file on the lines that do not run them (ansible-test gives pytest no variable of ours).
HEAVY_SUITES_FILE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'output', '.heavy-suites')
HEAVY_FILES = ('test_crash.py', 'test_fault_matrix.py', 'test_stateful.py')

try:
    HYPOTHESIS_PROFILE = suite_counts.register_profiles()
except ImportError:  # hypothesis missing: the property tests say so themselves
    HYPOTHESIS_PROFILE = None


@pytest.fixture(autouse=True)
def _suite_counts(request):
    suite_counts.take()
    yield
    for name, number in sorted(suite_counts.take().items()):
        request.node.user_properties.append((suite_counts.PROPERTY, [name, number]))


@pytest.fixture(params=list(STORES))
def ledger_store(request, tmp_path):
    """A fresh, empty ledger in each store of STORES (the test id names the store): a LedgerStore."""
    with STORES[request.param](tmp_path) as store:
        yield store


def pytest_collection_modifyitems(items):
    if not os.path.isfile(HEAVY_SUITES_FILE):
        return
    with open(HEAVY_SUITES_FILE) as handle:
        skip = pytest.mark.skip(reason=handle.read().strip().partition('skip: ')[2] or 'the heavy suites are skipped on this line')
    for item in items:
        if item.path.name in HEAVY_FILES or getattr(getattr(item, 'obj', None), 'is_hypothesis_test', False):
            item.add_marker(skip)


def pytest_terminal_summary(terminalreporter):
    if hasattr(terminalreporter.config, 'workerinput'):
        return  # an xdist worker: its tests are counted by the controller, which gets every report
    totals = {}
    seen = set()
    for reports in terminalreporter.stats.values():
        for report in reports:
            if getattr(report, 'when', None) != 'teardown' or report.nodeid in seen:
                continue
            seen.add(report.nodeid)
            for key, value in getattr(report, 'user_properties', ()):
                if key == suite_counts.PROPERTY:
                    totals[value[0]] = totals.get(value[0], 0) + value[1]
    if not totals:
        return
    line = 'smsbox.account counts: %s (hypothesis profile %s)' % (suite_counts.summary(totals), HYPOTHESIS_PROFILE)
    terminalreporter.write_sep('-', 'reliability suites')
    terminalreporter.write_line(line)
    # scripts/test.sh prints these files again at the end of the whole run.
    output = os.path.join(str(terminalreporter.config.rootpath), 'tests', 'output')
    if os.path.isdir(output):
        path = os.path.join(output, 'smsbox-counts-units-%d.txt' % os.getpid())
        with open(path, 'w') as handle:
            handle.write(line + '\n')
