# -*- coding: utf-8 -*-
# Copyright: (c) 2026, smsbox.account contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Every module entry of the catalogue of refused inputs (tests/unit/refused_inputs.py), through the real module.

Each must fail with exactly the catalogued message, before any request reaches the emulator, and
leave the ledger as it was (here: not created), write nothing where the module runs, and show no password
of its ledger option anywhere in what it prints.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os

import pytest

from ansible_collections.smsbox.account.plugins.module_utils._secrets import uri_passwords
from ansible_collections.smsbox.account.plugins.modules import smsbox_balance_info, smsbox_credit, smsbox_subaccount
from ansible_collections.smsbox.account.tests.unit.helpers.accounts import KEY
from ansible_collections.smsbox.account.tests.unit.refused_inputs import ENTRIES
from ansible_collections.smsbox.account.tests.unit.suite_counts import count

MODULES = dict(smsbox_subaccount=smsbox_subaccount, smsbox_credit=smsbox_credit, smsbox_balance_info=smsbox_balance_info)
MODULE_ENTRIES = [entry for entry in ENTRIES if entry['kind'] == 'module']


def filled(value, places):
    """``value`` with the {placeholders} of the catalogue replaced, in strings, lists and dicts."""
    if isinstance(value, str):
        for name, text in places.items():
            value = value.replace('{%s}' % name, text)
        return value
    if isinstance(value, list):
        return [filled(item, places) for item in value]
    if isinstance(value, dict):
        return dict((key, filled(item, places)) for key, item in value.items())
    return value


def installed_collection(tmp_path):
    """{tmp}/collections/ansible_collections/acme/tools, a collection as ansible-galaxy installs it; {tmp}/a-file, a file."""
    root = tmp_path / 'collections' / 'ansible_collections' / 'acme' / 'tools'
    root.mkdir(parents=True)
    (root / 'MANIFEST.json').write_text('{}')
    (tmp_path / 'a-file').write_text('not a directory')


@pytest.mark.parametrize('entry', MODULE_ENTRIES, ids=[entry['id'] for entry in MODULE_ENTRIES])
def test_refused_before_any_request(run_module, fresh_emulator, ledger_store, tmp_path, monkeypatch, entry):
    installed_collection(tmp_path)
    places = dict(url=fresh_emulator.url, ledger=ledger_store.location, tmp=str(tmp_path))
    args = dict(api_key=KEY, api_url=fresh_emulator.url, ledger=ledger_store.location)
    args.update(filled(entry['args'], places))
    for option in entry['unset']:
        del args[option]
    workdir = tmp_path / 'workdir'
    workdir.mkdir()
    monkeypatch.chdir(workdir)  # where a relative ledger path would be created

    result = run_module(MODULES[entry['module']], args)

    assert result.failed
    assert result.msg == filled(entry['message'], places)
    assert fresh_emulator.state()['requests'] == [], 'a request was sent before the input was refused'
    assert not os.path.exists(ledger_store.location)
    assert os.listdir(str(workdir)) == []
    for secret in uri_passwords(args.get('ledger')):
        assert secret not in result.out
    count('refused inputs')
