# -*- coding: utf-8 -*-
# Copyright: (c) 2026, smsbox.account contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The role entries of the catalogue of refused inputs, through the role's plan; and the catalogue page is up to date.

The plan is the role's first task: what it refuses stops the play before any module runs. Each
entry's hosts point at a running emulator, which must have received nothing.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import importlib.util
import os

import pytest
import yaml

from ansible_collections.smsbox.account.plugins.module_utils._ledger.ledger import key_fingerprint
from ansible_collections.smsbox.account.plugins.plugin_utils._role_plan import plan_hosts
from ansible_collections.smsbox.account.tests.emulator.smsbox_emulator import Emulator
from ansible_collections.smsbox.account.tests.unit.refused_inputs import CONTEXT, ENTRIES
from ansible_collections.smsbox.account.tests.unit.suite_counts import count

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..', '..', '..'))
ROLE = os.path.join(ROOT, 'roles', 'subaccounts')
ROLE_KEY = 'k3y-ROLE-1c9e55d0a2'
ROLE_ENTRIES = [entry for entry in ENTRIES if entry['kind'] == 'role']


def load_yaml(*parts):
    with open(os.path.join(ROLE, *parts)) as handle:
        return yaml.safe_load(handle)


@pytest.fixture(scope='module')
def spec():
    return load_yaml('meta', 'argument_specs.yml')['argument_specs']['main']['options']


@pytest.fixture(scope='module')
def role_defaults():
    return load_yaml('defaults', 'main.yml')


@pytest.mark.parametrize('entry', ROLE_ENTRIES, ids=[entry['id'] for entry in ROLE_ENTRIES])
def test_role_refuses_before_any_request(spec, role_defaults, entry):
    with Emulator(accounts={ROLE_KEY: 1000}) as emulator:
        hostvars = {}
        for host, variables in entry['hosts'].items():
            hostvars[host] = dict(role_defaults, smsbox_api_url=emulator.url, smsbox_api_key=ROLE_KEY)
            hostvars[host].update(variables)

        plan = plan_hosts(list(hostvars), hostvars, spec)

        # The role's plan action fails the play with the problems joined this way.
        message = entry['message'].replace('{fingerprint}', key_fingerprint(ROLE_KEY))
        assert ' | '.join(plan['errors']) == message
        assert emulator.state()['requests'] == []
    count('refused inputs')


def load_generator():
    spec_ = importlib.util.spec_from_file_location('refused_inputs_doc', os.path.join(ROOT, 'scripts', 'refused_inputs_doc.py'))
    generator = importlib.util.module_from_spec(spec_)
    spec_.loader.exec_module(generator)
    return generator


def test_the_catalogue_page_is_generated_from_the_table():
    generator = load_generator()
    with open(os.path.join(ROOT, 'docs', 'refused-inputs.md')) as handle:
        committed = handle.read()
    assert committed == generator.render(ENTRIES, CONTEXT), 'docs/refused-inputs.md is stale: run python3 scripts/refused_inputs_doc.py'
    assert len(ENTRIES) >= 40 and len(set(entry['id'] for entry in ENTRIES)) == len(ENTRIES)
