# -*- coding: utf-8 -*-
# Copyright: (c) 2026, smsbox.account contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Every unit run prints what the reliability suites covered (see tests/unit/suite_counts.py); ``ledger_store`` gives each
suite that touches a ledger a fresh one in each store of ``STORES`` (tests/unit/helpers/ledger_stores.py)."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os

import pytest

from ansible_collections.smsbox.account.tests.unit import suite_counts
from ansible_collections.smsbox.account.tests.unit.helpers.ledger_stores import STORES

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
