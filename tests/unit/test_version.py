# -*- coding: utf-8 -*-
# Copyright: (c) 2026, smsbox.account contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The version sent in the User-Agent is the one in galaxy.yml."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import re

from ansible_collections.smsbox.account.plugins.module_utils._api.client import USER_AGENT
from ansible_collections.smsbox.account.plugins.module_utils._version import COLLECTION_VERSION

# tests/unit -> tests -> the collection root
GALAXY_YML = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), 'galaxy.yml')


def galaxy_version():
    with open(GALAXY_YML) as handle:
        found = re.findall(r'''^version:[ \t]*["']?([^"'\s#]+)["']?[ \t]*(?:#.*)?$''', handle.read(), re.MULTILINE)
    assert len(found) == 1, 'expected one top-level version: line in %s, found %r' % (GALAXY_YML, found)
    return found[0]


def test_collection_version_matches_galaxy_yml():
    assert COLLECTION_VERSION == galaxy_version()


def test_version_is_semantic():
    assert re.match(r'^\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?$', COLLECTION_VERSION)


def test_user_agent_carries_the_version():
    assert USER_AGENT.startswith('smsbox.account/%s ' % galaxy_version())
