# -*- coding: utf-8 -*-
# Copyright: (c) 2026, smsbox.account contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Where a ledger is and what kind, read in one place (_ledger/location.py) for the modules, the role, the stores and the
event source; a location with white space around it is refused before anything is read, created or shown unmasked."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os

import pytest

from ansible_collections.smsbox.account.plugins.module_utils._ledger.ledger import Ledger, LedgerError, key_fingerprint
from ansible_collections.smsbox.account.plugins.module_utils._ledger.location import (
    check_location,
    default_ledger_path,
    installed_collection_of,
    is_postgresql,
    ledger_location,
    printable_location,
    resolve_location,
)
from ansible_collections.smsbox.account.tests.unit.helpers.accounts import FP_A, KEY, KEY_A, KEY_B


@pytest.mark.parametrize('value, postgresql', [
    ('postgresql://ops@db/smsbox', True), ('postgres://db/x', True), ('PostgreSQL://db/x', True),
    ('/srv/smsbox/eu.json', False), ('~/postgresql://x', False), ('', False), (None, False), (12, False),
    # taken as written: surrounding white space makes it no URI, and check_location refuses it
    (' postgresql://u:S3cret@db/x', False),
])
def test_the_kind_of_a_ledger(value, postgresql):
    assert is_postgresql(value) is postgresql


@pytest.mark.parametrize('value', [' postgresql://smsbox:S3cret@db/x', 'postgresql://smsbox:S3cret@db/x ', '\tpostgres://u:S3cret@db/x',
                                   'postgresql://smsbox:S3cret@db/x\n', ' /srv/smsbox/eu.json', '/srv/smsbox/eu.json\n'])
def test_white_space_around_a_location_is_refused_and_shown_masked(value):
    message = check_location(value, 'smsbox_ledger')
    assert message.startswith("smsbox_ledger %r starts or ends with white space" % printable_location(value))
    assert 'S3cret' not in message and ('://' not in value or ':********@' in message)


def test_a_refused_location_creates_nothing_and_shows_no_password(tmp_path, monkeypatch):
    monkeypatch.chdir(str(tmp_path))
    with pytest.raises(LedgerError) as refused:
        with Ledger(' postgresql://smsbox:S3cret@db/x', key_fingerprint(KEY)).session():
            pass  # never reached: the store is refused before it is opened
    assert 'S3cret' not in str(refused.value) and 'starts or ends with white space' in str(refused.value)
    assert os.listdir(str(tmp_path)) == []


@pytest.mark.parametrize('value', [None, '/srv/smsbox/ledgers/eu.json', '~/smsbox/eu.json', 'postgresql://ops@db/smsbox',
                                   'postgres://db.example.com/ledgers?sslmode=require'])
def test_ledger_locations_accepted(value):
    assert check_location(value) is None


@pytest.mark.parametrize('value', ['ledgers/main.json', './main.json', 'main.json', '../ledgers/eu.json'])
def test_relative_ledger_path_refused_with_a_suggestion(value):
    message = check_location(value)
    assert 'relative path' in message and repr(value) in message
    assert '{{ inventory_dir }}' in message


@pytest.mark.parametrize('value', ['', '  ', '\n'])
def test_empty_ledger_refused(value):
    assert check_location(value).startswith('ledger is empty')


def installed_collection(root, namespace='smsbox', name='account'):
    collection = root / 'ansible_collections' / namespace / name
    (collection / 'playbooks').mkdir(parents=True)
    (collection / 'MANIFEST.json').write_text(u'{}')
    return collection


def test_ledger_inside_an_installed_collection_refused(tmp_path):
    collection = installed_collection(tmp_path / 'collections')
    path = str(collection / 'playbooks' / 'ledgers' / 'main.json')

    message = check_location(path)

    assert 'inside the installed collection smsbox.account' in message
    assert 'ansible-galaxy collection install --force' in message and '{{ inventory_dir }}' in message
    assert installed_collection_of(str(collection / 'MANIFEST.json')) == 'smsbox.account'


def test_ledger_beside_a_collection_checkout_is_accepted(tmp_path):
    # A source checkout (galaxy.yml, no MANIFEST.json) is not an installed collection that galaxy would overwrite.
    checkout = tmp_path / 'ansible_collections' / 'smsbox' / 'account'
    checkout.mkdir(parents=True)
    (checkout / 'galaxy.yml').write_text(u'namespace: smsbox')
    assert check_location(str(checkout / 'tests' / 'output' / 'main.json')) is None
    assert check_location(str(tmp_path / 'ledgers' / 'main.json')) is None


def test_ledger_through_a_symlink_into_a_collection_refused(tmp_path):
    collection = installed_collection(tmp_path / 'collections', 'acme', 'tools')
    os.symlink(str(collection / 'playbooks'), str(tmp_path / 'ledgers'))
    assert 'acme.tools' in check_location(str(tmp_path / 'ledgers' / 'eu.json'))


def test_where_a_run_finds_its_ledger(tmp_path, monkeypatch):
    monkeypatch.setenv('HOME', str(tmp_path / 'home'))
    monkeypatch.delenv('ANSIBLE_HOME', raising=False)
    uri = 'postgresql://smsbox:S3cret@db/x'
    assert resolve_location('~/ledgers/eu.json') == str(tmp_path / 'home' / 'ledgers' / 'eu.json')
    assert resolve_location(uri) == uri and resolve_location(None) is None
    assert ledger_location(uri, KEY) == uri and ledger_location('~/eu.json', KEY) == str(tmp_path / 'home' / 'eu.json')
    assert ledger_location(None, KEY) == default_ledger_path(KEY) == str(
        tmp_path / 'home' / '.ansible' / 'smsbox' / ('ledger-%s.json' % key_fingerprint(KEY)))
    assert ledger_location(None, None) is None  # the key comes from the environment of the module
    assert printable_location(uri) == 'postgresql://smsbox:********@db/x' and printable_location('/srv/eu.json') == '/srv/eu.json'


def test_default_ledger_path_honours_ansible_home(monkeypatch, tmp_path):
    monkeypatch.setenv('ANSIBLE_HOME', str(tmp_path / 'ah'))
    assert default_ledger_path(KEY_A) == os.path.join(str(tmp_path / 'ah'), 'smsbox', 'ledger-%s.json' % FP_A)
    monkeypatch.delenv('ANSIBLE_HOME')
    monkeypatch.setenv('HOME', str(tmp_path / 'home'))
    assert default_ledger_path(KEY_A) == os.path.join(str(tmp_path / 'home'), '.ansible', 'smsbox', 'ledger-%s.json' % FP_A)
    assert default_ledger_path(KEY_A) != default_ledger_path(KEY_B)
    monkeypatch.setenv('ANSIBLE_HOME', '~/elsewhere')
    assert default_ledger_path(KEY_A).startswith(str(tmp_path / 'home' / 'elsewhere'))
