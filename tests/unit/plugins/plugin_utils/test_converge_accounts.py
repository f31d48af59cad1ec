# -*- coding: utf-8 -*-
# Copyright: (c) 2026, smsbox.account contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The role's in-process converge returns what the module returns for the same parameters, sends what it sends, and
speaks the caller's vocabulary.

Each comparison runs twice from the same start: the module through its main() (as a module task would), then
``converge_in_process`` with the same parameters, each on a fresh emulator state and a ledger of its own.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import re

import pytest

from ansible_collections.smsbox.account.plugins.module_utils._secrets import hider
from ansible_collections.smsbox.account.plugins.modules import smsbox_credit, smsbox_subaccount
from ansible_collections.smsbox.account.plugins.plugin_utils._converge_accounts import converge_accounts, converge_in_process
from ansible_collections.smsbox.account.plugins.plugin_utils._role_plan import ROLE_VOCABULARY
from ansible_collections.smsbox.account.tests.emulator.smsbox_emulator import Emulator
from ansible_collections.smsbox.account.tests.unit.helpers.accounts import BAD_KEY, KEY, START_BALANCE
from ansible_collections.smsbox.account.tests.unit.helpers.emulator import requests_log

# The module's side runs as every module test does (tests/unit/plugins/conftest.py); so does the in-process side.
pytestmark = pytest.mark.usefixtures('isolated')

MODULES = {'subaccounts': smsbox_subaccount, 'credits': smsbox_credit}
SHOPS = [dict(name='shop-paris', password='Pw-Paris+s3cr3t&'), dict(name='shop-lyon', password='Pw-Lyon s3cr3t%', nolimit=True)]
CREATED = ('subaccounts', dict(subaccounts=SHOPS))
EXISTING = {KEY: dict(balance=START_BALANCE, subaccounts={'shop-old': dict(credits=40)})}
MADE_ELSEWHERE = {KEY: dict(balance=START_BALANCE, subaccounts={'shop-hq': dict(credits=0)})}
SMALL_BALANCE = {KEY: dict(balance=150)}

# id: (emulator accounts, steps run by the module first on both sides, the stage and parameters compared, check, diff)
CASES = {
    'create': (None, [], ('subaccounts', dict(subaccounts=SHOPS + [dict(name='shop-hq', adopt=True, baseline=0)])), False, True),
    'create-check': (None, [], CREATED, True, True),
    'create-refused': (EXISTING, [], ('subaccounts', dict(subaccounts=SHOPS + [dict(name='shop-old', password='Pw-Old-1')])),
                       False, False),
    'create-adopted-on-refusal': (EXISTING, [], ('subaccounts', dict(subaccounts=[
        dict(name='shop-old', password='Pw-Old-1', adopt=True, baseline=40)])), False, False),
    'create-warns': (None, [CREATED], ('subaccounts', dict(subaccounts=[dict(SHOPS[0], nolimit=True), SHOPS[1]])), False, False),
    'create-single': (None, [], ('subaccounts', dict(name='shop-solo', password='Pw-Solo-9')), False, True),
    'create-invalid': (None, [], ('subaccounts', dict(name='shop-solo', subaccounts=SHOPS, concurrency='many')), False, False),
    # A one-off amount to a name the ledger does not list (shop-hq, made elsewhere): SMSBOX's answer decides.
    'credits': (MADE_ELSEWHERE, [CREATED, ('credits', dict(subaccount='shop-lyon', allocated=80))],
                ('credits', dict(allocations=[dict(subaccount='shop-paris', allocated=100), dict(subaccount='shop-lyon', allocated=30),
                                              dict(subaccount='shop-hq', amount=5, transfer_id='inv-7')])), False, True),
    'credits-check': (None, [CREATED], ('credits', dict(allocations=[dict(subaccount='shop-paris', allocated=100),
                                                                     dict(subaccount='shop-new', allocated=10)])), True, True),
    'credits-uncovered': (SMALL_BALANCE, [CREATED], ('credits', dict(allocations=[dict(subaccount='shop-paris', allocated=100),
                                                                                  dict(subaccount='shop-lyon', allocated=100)])),
                          False, False),
    'credits-unknown-name': (None, [CREATED], ('credits', dict(subaccount='shop-nowhere', allocated=100)), False, False),
    'credits-bad-key': (None, [], ('credits', dict(subaccount='shop-paris', allocated=100, api_key=BAD_KEY)), False, False),
}


def normalized(result, ledger):
    """The result with what differs between two runs by nature replaced: the ledger's path, transfer ids, times, and the
    order of the transfers (listed as they end, several at once)."""
    text = json.dumps(result, sort_keys=True).replace(json.dumps(ledger)[1:-1], '<ledger>')
    text = re.sub(r'tx-[0-9a-f]{12}', 'tx-<id>', text)
    result = json.loads(re.sub(r'\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:?\d\d)?', '<time>', text))
    if 'transfers' in result:
        result['transfers'].sort(key=json.dumps)
    return result


def smsbox(emulator_):
    """What SMSBOX holds: the creates and transfers it applied, in no order (several are sent at once)."""
    return dict((key, dict(account, creates=sorted(account['creates']), transfers=sorted(account['transfers'], key=json.dumps)))
                for key, account in emulator_.state(requests=False)['accounts'].items())


def sent(requests):
    return sorted((entry['method'], entry['action'], json.dumps(entry['params'], sort_keys=True)) for entry in requests)


def converge_both(run_module_, emulator_, tmp_path, accounts, steps, compared, check, diff, words=None):
    """(module result, in-process result, what each sent, SMSBOX after each): the same start for both."""
    outcomes = []
    stage, params = compared
    for side in ('module', 'in-process'):
        emulator_.reset(accounts)
        base = dict(api_key=KEY, api_url=emulator_.url, ledger=str(tmp_path / side / 'ledger.json'))
        for step_stage, step_params in steps:
            assert not run_module_(MODULES[step_stage], dict(base, **step_params)).failed
        since = len(requests_log(emulator_))
        if side == 'module':
            ran = run_module_(MODULES[stage], dict(base, **params), check=check, diff=diff)
            result = dict(ran.result, **(dict(warnings=ran.warnings) if ran.warnings else {}))
            result.pop('invocation', None)  # what it was given (before 2.19): no part of what it did
        else:
            result = converge_in_process(stage, dict(base, **params), check_mode=check, diff=diff, **dict(words=words) if words else {})
        outcomes.append((normalized(result, base['ledger']), requests_log(emulator_)[since:], smsbox(emulator_)))
    return outcomes


@pytest.mark.parametrize('case', sorted(CASES))
def test_the_in_process_converge_returns_and_sends_what_the_module_does(case, run_module, emulator, tmp_path):
    accounts, steps, compared, check, diff = CASES[case]

    (module, module_sent, module_smsbox), (in_process, in_process_sent, in_process_smsbox) = converge_both(
        run_module, emulator, tmp_path, accounts, steps, compared, check, diff)

    assert in_process == module
    assert sent(in_process_sent) == sent(module_sent)
    assert in_process_smsbox == module_smsbox
    # What each case is about, so that an equality of two empty results cannot pass for one.
    assert bool(module.get('failed')) == (case.endswith(('refused', 'uncovered', 'unknown-name', 'bad-key', 'invalid')))
    if check:
        assert not [entry for entry in module_sent if entry['method'] == 'POST'] and module['changed']


def reworded(result, *replacements):
    text = json.dumps(result)
    for module_words, role_words in replacements:
        assert module_words in text
        text = text.replace(module_words, role_words)
    return json.loads(text)


def test_a_role_user_reads_the_role_variables_in_the_same_failures(run_module, emulator, tmp_path):
    """What a module user reads as options, a role user reads as the role's variables: passed down, never rewritten."""
    (module, _sent, _smsbox), (role, _role_sent, _role_smsbox) = converge_both(
        run_module, emulator, tmp_path, *CASES['create-refused'], words=ROLE_VOCABULARY)

    assert role == reworded(module, ('to record it, set adopt: true and baseline:', 'to record it, set smsbox_adopt: true and baseline:'))

    (module, _sent, _smsbox), (role, _role_sent, _role_smsbox) = converge_both(
        run_module, emulator, tmp_path, *CASES['credits-unknown-name'], words=ROLE_VOCABULARY)

    assert role == reworded(
        module, ('allocated: 100 could pay', 'credit: 100 could pay'),
        ('create it first with smsbox.account.smsbox_subaccount;', "create it first with the role's sub-accounts stage;"),
        ('point ledger at', 'point smsbox_ledger at'),
        ('adopt it with smsbox.account.smsbox_subaccount, adopt: true and baseline:',
         "adopt it with the role's sub-accounts stage, smsbox_adopt: true and baseline:"),
        ('already received. amount with transfer_id', "already received. smsbox.account.smsbox_credit's amount with transfer_id"))
    for message in (role['msg'], role['allocations'][0]['error']):
        assert not re.search(r'(?<![\w.])(adopt|ledger|allocated): |smsbox_subaccount,', message), message


def test_an_untrusted_certificate_names_the_role_variables_to_a_role_user(tmp_path):
    with Emulator(accounts={KEY: START_BALANCE}, tls=True, cert_dir=str(tmp_path / 'certs')) as tls:
        params = dict(api_key=KEY, api_url=tls.url, ledger=str(tmp_path / 'ledger.json'), subaccounts=SHOPS)

        module_words = converge_in_process('subaccounts', params)
        role_words = converge_in_process('subaccounts', params, words=ROLE_VOCABULARY)

    assert 'set ca_path to the PEM file' in module_words['msg'] and 'validate_certs: false is for a test' in module_words['msg']
    assert role_words['msg'] == module_words['msg'].replace('ca_path', 'smsbox_ca_path').replace('validate_certs', 'smsbox_validate_certs')


def test_a_failed_create_stops_only_its_own_credits_and_every_account_converges(emulator, tmp_path):
    eu = dict(label='eu', hosts=['paris'], api_key=KEY, api_url=emulator.url, ledger=str(tmp_path / 'eu.json'), adopt=False,
              subaccounts=SHOPS, allocations=[dict(subaccount='shop-paris', allocated=10), dict(subaccount='shop-lyon', allocated=5)])
    bad = dict(eu, label='bad', hosts=['nowhere'], api_key=BAD_KEY, ledger=str(tmp_path / 'bad.json'),
               subaccounts=[dict(name='shop-x', password='Pw-x-1')], allocations=[dict(subaccount='shop-x', allocated=10)])
    emulator.reset({KEY: dict(balance=START_BALANCE, subaccounts={'shop-lyon': dict(credits=0)})})

    created = converge_accounts('subaccounts', [eu, bad], words=ROLE_VOCABULARY)
    credited = converge_accounts('credits', [eu, bad], made=dict(results=created), words=ROLE_VOCABULARY)

    assert [result['item'] for result in created] == [dict(label='eu', hosts=['paris']), dict(label='bad', hosts=['nowhere'])]
    assert created[0]['failed_names'] == ['shop-lyon'] and created[0]['created'] == ['shop-paris']
    assert 'smsbox_adopt: true' in created[0]['msg'] and created[1]['failed']
    assert credited[0]['allocations'] == [dict(credited[0]['allocations'][0], subaccount='shop-paris', amount=10, action='transferred')]
    assert credited[1] == dict(skipped=True, smsbox_skip=True, changed=False, item=dict(label='bad', hosts=['nowhere']),
                               skip_reason='not attempted: its sub-accounts stage failed')
    assert [(entry['params']['to'], entry['params']['credit']) for entry in requests_log(emulator) if entry['action'] == 'credit'
            and entry['method'] == 'POST'] == [('shop-paris', '10')]


def test_every_form_of_every_secret_is_masked_wherever_it_is_in_a_result():
    hide = hider(['Pw-Lyon s3cr3t%', KEY])

    masked = hide(dict(msg='refused Pw-Lyon s3cr3t% and Pw-Lyon+s3cr3t%25', items=[dict(note='key %s' % KEY, count=3)],
                       names=['shop-lyon', 'UHctTHlvbiBzM2NyM3Ql']))

    assert masked == dict(msg='refused ******** and ********', items=[dict(note='key ********', count=3)],
                          names=['shop-lyon', '********'])
