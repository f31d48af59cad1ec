# -*- coding: utf-8 -*-
# Copyright: (c) 2026, smsbox.account contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""One run's context (_connection.py): ``Run`` and ``run_result``, what every converge code goes through.

The options are checked before any request; the balance read under the ledger's lock checks the key before anything
is written; check mode never takes the ledger for writing; every failure becomes one result, with what was found so
far, and no secret. Against the in-process emulator (the ``emulator`` fixture) and a ledger under tmp_path.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os

import pytest

from ansible_collections.smsbox.account.plugins.module_utils._api.errors import ModuleFailure, SmsboxRefused
from ansible_collections.smsbox.account.plugins.module_utils._connection import Run, run_result
from ansible_collections.smsbox.account.plugins.module_utils._inputs import InputError
from ansible_collections.smsbox.account.plugins.module_utils._ledger.ledger import Ledger, LedgerError, key_fingerprint
from ansible_collections.smsbox.account.plugins.module_utils._specs import CONNECTION_SPEC
from ansible_collections.smsbox.account.plugins.plugin_utils._role_plan import ROLE_VOCABULARY
from ansible_collections.smsbox.account.tests.unit.helpers.accounts import BAD_KEY, KEY, START_BALANCE
from ansible_collections.smsbox.account.tests.unit.helpers.emulator import requests_log
from ansible_collections.smsbox.account.tests.unit.helpers.ledger_stores import fill_ledger, ledger_view


def options(**given):
    """The connection options as a module gets them: every default, then ``given``."""
    values = dict((name, spec.get('default')) for name, spec in CONNECTION_SPEC.items())
    values.update(given)
    return values


@pytest.fixture
def params(base):
    """The module tests' connection options (tests/unit/plugins/conftest.py), with every default."""
    return options(**base)


def test_a_converge_runs_after_the_checks_and_its_result_is_the_run_s(emulator, params):
    seen = []

    def converge(run):
        seen.append(run.params)
        return dict(changed=False, found=1)
    assert run_result(Run(params), converge) == dict(changed=False, found=1)
    assert seen == [params]


@pytest.mark.parametrize('given, named', [
    (dict(api_key='two words'), 'api_key'),
    (dict(timeout=0), 'timeout'),
    (dict(retries=11), 'retries'),
    (dict(ledger='ledgers/main.json'), 'ledger'),
    (dict(lock_timeout=-1), 'lock_timeout'),
])
def test_a_bad_connection_option_fails_the_run_before_the_converge_and_any_request(emulator, params, given, named):
    called = []
    result = run_result(Run(dict(params, **given)), called.append)
    assert result['failed'] is True and result['msg'].startswith(named), result
    assert called == [] and requests_log(emulator) == []


def test_a_role_user_reads_the_role_variable_in_the_same_refusal(emulator, params):
    run = Run(dict(params, timeout=0))
    run.words = ROLE_VOCABULARY
    with pytest.raises(InputError) as info:
        run.check()
    assert str(info.value).startswith('smsbox_timeout must be a positive number of seconds'), str(info.value)
    assert requests_log(emulator) == []


@pytest.mark.parametrize('error, message', [
    (ModuleFailure('3 transfers failed', created=['shop-a'], balance_before=90), '3 transfers failed'),
    (InputError("'shop a': name contains ' '"), "'shop a': name contains ' '"),
    (LedgerError('ledger /srv/l.json is damaged'), 'ledger /srv/l.json is damaged'),
    (SmsboxRefused('SMSBOX answered ERREUR'), 'SMSBOX answered ERREUR'),
])
def test_every_failure_becomes_one_result_keeping_what_was_found_so_far(params, error, message):
    def converge(run):
        raise error
    result = run_result(Run(params), converge)
    expected = dict(getattr(error, 'result', {}), failed=True, msg=message)
    assert result == expected


def test_the_balance_is_read_under_the_ledger_lock_into_the_result(emulator, params, ledger_path):
    run = Run(params)
    returned = {}
    with run.main_account(returned, 'balance_before') as (client, book):
        assert returned == dict(balance_before=START_BALANCE)
        book.record_subaccount('shop-a', 'created')
        # another run waits for this one: the lock is held while the converge runs
        with pytest.raises(LedgerError) as info:
            with Ledger(ledger_path, key_fingerprint(KEY), lock_timeout=0).session():
                pass
        assert 'another run' in str(info.value)
    assert all(len(adapter.poolmanager.pools) == 0 for adapter in client.session.adapters.values())  # the client was closed
    assert list(ledger_view(ledger_path).subaccounts) == ['shop-a']
    assert [(entry['method'], entry['action']) for entry in requests_log(emulator)] == [('GET', 'credit')]


def test_a_refused_key_fails_at_the_balance_read_and_the_ledger_records_nothing(emulator, params, ledger_path):
    fill_ledger(ledger_path, ['shop-a'])
    before = ledger_view(ledger_path)
    run = Run(dict(params, api_key=BAD_KEY))
    returned = {}
    with pytest.raises(ModuleFailure) as info:
        with run.main_account(returned, 'balance_before'):
            pytest.fail('the converge ran with a key SMSBOX refused')
    message = str(info.value)
    assert 'Check the key and the IP restrictions of the main account' in message and BAD_KEY not in message
    assert info.value.result == dict(api_url=emulator.url)
    assert ledger_view(ledger_path) == before
    assert [request['action'] for request in requests_log(emulator)] == ['credit']


def test_check_mode_never_takes_the_ledger_for_writing(emulator, params, ledger_path):
    run = Run(params, check_mode=True)
    with run.ledger_session() as book:
        with pytest.raises(LedgerError):
            book.record_subaccount('shop-a', 'created')
    assert not os.path.exists(ledger_path) and not os.path.exists(ledger_path + '.journal')
    with Run(params).ledger_session() as book:  # a real run does
        book.record_subaccount('shop-a', 'created')
    assert list(ledger_view(ledger_path).subaccounts) == ['shop-a']


def test_the_ledger_s_warnings_are_the_run_s(params, ledger_path):
    fill_ledger(ledger_path, ['shop-a'], key='key-used-before-the-rotation')
    run = Run(params)
    with run.ledger_session(exclusive=False):
        pass
    assert len(run.warnings) == 1 and 'rotated' in run.warnings[0], run.warnings


def test_a_ledger_that_cannot_be_opened_fails_the_run_with_what_was_found(params, tmp_path):
    (tmp_path / 'a-file').write_text('x')
    run = Run(dict(params, ledger=str(tmp_path / 'a-file' / 'main.json')))
    with pytest.raises(ModuleFailure) as info:
        with run.ledger_session(balance_before=50):
            pytest.fail('a session was opened on a path under a file')
    assert 'not a directory' in str(info.value)
    assert info.value.result == dict(api_url=params['api_url'], balance_before=50)


def test_an_unset_ledger_is_the_default_file_of_the_key_and_a_uri_shows_no_password(params, tmp_path, monkeypatch):
    monkeypatch.setenv('ANSIBLE_HOME', str(tmp_path / 'home'))
    run = Run(dict(params, ledger=None))
    assert run.ledger_location == run.ledger_path == str(tmp_path / 'home' / 'smsbox' / ('ledger-%s.json' % key_fingerprint(KEY)))
    run = Run(dict(params, ledger='postgresql://ops:S3cret-pw@db.example.net/smsbox'))
    assert run.ledger_location == 'postgresql://ops:S3cret-pw@db.example.net/smsbox'
    assert 'S3cret-pw' not in run.ledger_path and run.ledger_path.startswith('postgresql://ops:') and 'db.example.net' in run.ledger_path
