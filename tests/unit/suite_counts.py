# -*- coding: utf-8 -*-
# Copyright: (c) 2026, smsbox.account contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Counts the reliability suites report (fault-matrix cases, hypothesis examples, crash cases, refused inputs).

A test calls ``count(name)``; tests/unit/conftest.py attaches the counts of each test to its report
(``user_properties``, which survive ansible-test's forked runs and pytest-xdist), adds them up and
prints them at the end of the run. Also the hypothesis settings: derandomized and bounded by
default, longer with the profile ``long`` (see docs/testing.md).
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os

PROPERTY = 'smsbox_count'
ORDER = ('fault-matrix cases', 'hypothesis examples', 'stateful steps', 'crash cases', 'refused inputs')
PROFILE_VARIABLE = 'SMSBOX_HYPOTHESIS_PROFILE'
# ansible-test units passes no environment variable of ours to pytest: scripts/test.sh writes the profile here instead.
PROFILE_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'hypothesis-profile')
PROFILES = {'ci': 1, 'long': 20}

_counts = {}


def count(name, number=1):
    _counts[name] = _counts.get(name, 0) + number


def take():
    """The counts since the last take (one test's), emptied."""
    taken = dict(_counts)
    _counts.clear()
    return taken


def profile_name():
    name = os.environ.get(PROFILE_VARIABLE)
    if not name and os.path.isfile(PROFILE_FILE):
        with open(PROFILE_FILE) as handle:
            name = handle.read().strip()
    name = name or 'ci'
    if name not in PROFILES:
        raise ValueError('%s=%s: the hypothesis profiles are %s' % (PROFILE_VARIABLE, name, ', '.join(sorted(PROFILES))))
    return name


def examples(number):
    """A test's example budget in the active profile: ``number`` in CI, 20 times more with ``long``."""
    return number * PROFILES[profile_name()]


def register_profiles():
    """Registers and loads the hypothesis profiles; returns the active one's name."""
    from hypothesis import HealthCheck, settings  # pylint: disable=import-outside-toplevel
    common = dict(deadline=None, database=None, print_blob=True,
                  suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture, HealthCheck.data_too_large])
    settings.register_profile('ci', derandomize=True, **common)
    settings.register_profile('long', derandomize=False, **common)
    name = profile_name()
    settings.load_profile(name)
    return name


def summary(totals):
    names = [name for name in ORDER if name in totals] + sorted(name for name in totals if name not in ORDER)
    return ', '.join('%s: %d' % (name, totals[name]) for name in names)
