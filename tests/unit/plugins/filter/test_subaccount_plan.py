# -*- coding: utf-8 -*-
# Copyright: (c) 2026, smsbox.account contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The subaccount_plan filter with the role's real argument spec and a fake hostvars."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os

import pytest
import yaml

from ansible.errors import AnsibleFilterError

from ansible_collections.smsbox.account.plugins.filter import subaccount_plan as plan_module
from ansible_collections.smsbox.account.plugins.filter.subaccount_plan import FilterModule, subaccount_plan
from ansible_collections.smsbox.account.plugins.module_utils._ledger.ledger import key_fingerprint

COLLECTION_ROOT = os.path.abspath(os.path.join(os.path.dirname(plan_module.__file__), '..', '..'))
SPEC_FILE = os.path.join(COLLECTION_ROOT, 'roles', 'subaccounts', 'meta', 'argument_specs.yml')
DEFAULT_URL = 'https://api.smsbox.pro/1.1/api.php'

KEY_EU = 'eu-KEY-a81f33c07d'
KEY_US = 'us-KEY-09be7712aa'
PASSWORD = 'Vault-pw-Secret!1'
OTHER_PASSWORD = 'Vault-pw-Other!2'


@pytest.fixture(scope='module')
def spec():
    with open(SPEC_FILE) as handle:
        return yaml.safe_load(handle)['argument_specs']['main']['options']


def plan(hostvars, spec, hosts=None):
    return subaccount_plan(list(hostvars) if hosts is None else hosts, hostvars, spec)


def sub(name, password=PASSWORD, **extra):
    return dict(name=name, password=password, **extra)


def by_label(result):
    return dict((account['label'], account) for account in result['accounts'])


def test_the_filter_is_exported():
    assert FilterModule().filters() == {'subaccount_plan': subaccount_plan}


def test_spec_must_be_a_dict():
    with pytest.raises(AnsibleFilterError):
        subaccount_plan(['h1'], {'h1': {}}, ['not', 'a', 'dict'])


def test_smsbox_api_url_falls_back_to_the_environment_as_the_modules_do(spec, monkeypatch):
    monkeypatch.setenv('SMSBOX_API_URL', 'http://127.0.0.1:8080/1.1/api.php')
    hostvars = {'paris': dict(smsbox_subaccount=sub('shop-paris'), smsbox_api_key=KEY_EU),
                'boston': dict(smsbox_subaccount=sub('shop-boston'), smsbox_api_key=KEY_US, smsbox_api_url='https://us.example.net/api')}

    result = plan(hostvars, spec)

    assert result['errors'] == []
    assert sorted(account['api_url'] for account in result['accounts']) == ['http://127.0.0.1:8080/1.1/api.php', 'https://us.example.net/api']
    monkeypatch.setenv('SMSBOX_API_URL', 'http://api.smsbox.pro/1.1/api.php')  # checked as the variable would be
    assert 'smsbox_api_url uses plain http:// to api.smsbox.pro' in plan(hostvars, spec)['errors'][0]


def test_groups_hosts_by_url_and_key(spec):
    hostvars = {
        'paris': dict(smsbox_subaccount=sub('shop-paris', credit=100), smsbox_api_key=KEY_EU),
        'lyon': dict(smsbox_subaccount=sub('shop-lyon', nolimit=True), smsbox_api_key=KEY_EU, smsbox_api_url=DEFAULT_URL),
        'nice': dict(smsbox_subaccount=sub('shop-nice', credit='25'), smsbox_api_key=KEY_EU, smsbox_api_url='https://eu.example.net/api',
                     smsbox_ledger='/srv/ledgers/eu-staging.json'),
        'boston': dict(smsbox_subaccount=sub('shop-boston', credit=0), smsbox_api_key=KEY_US,
                       smsbox_api_url='https://us.example.net/1.1/api.php', smsbox_account_label='us'),
        'lille': dict(smsbox_subaccount=sub('shop-lille')),
        'router': dict(smsbox_api_key=KEY_EU, ansible_host='10.0.0.1', smsbox_adopt=True),   # no sub-account: ignored
        'printer': dict(ansible_host='10.0.0.2'),
    }

    result = plan(hostvars, spec)

    assert result['errors'] == []
    accounts = result['accounts']
    assert sorted((a['api_url'], a['api_key'] or '') for a in accounts) == sorted([
        (DEFAULT_URL, KEY_EU), ('https://eu.example.net/api', KEY_EU), ('https://us.example.net/1.1/api.php', KEY_US), (DEFAULT_URL, '')])
    eu = [a for a in accounts if a['api_key'] == KEY_EU and a['api_url'] == DEFAULT_URL][0]
    assert eu['hosts'] == ['paris', 'lyon']
    assert eu['subaccounts'] == [dict(name='shop-paris', password=PASSWORD, nolimit=False),
                                 dict(name='shop-lyon', password=PASSWORD, nolimit=True)]
    assert eu['allocations'] == [dict(subaccount='shop-paris', allocated=100)]
    # The defaults of the role's argument spec, per account.
    assert (eu['ledger'], eu['adopt'], eu['concurrency'], eu['validate_certs'], eu['timeout'], eu['ca_path']) == \
        (None, False, 8, True, 10.0, None)
    other = [a for a in accounts if a['api_url'] == 'https://eu.example.net/api'][0]
    assert other['hosts'] == ['nice'] and other['allocations'] == [dict(subaccount='shop-nice', allocated=25)]
    us = by_label(result)['us']
    assert us['hosts'] == ['boston'] and us['allocations'] == [dict(subaccount='shop-boston', allocated=0)]
    from_env = [a for a in accounts if a['api_key'] is None][0]
    assert from_env['hosts'] == ['lille'] and from_env['allocations'] == []
    assert 'SMSBOX_API_KEY' in from_env['label']
    all_hosts = [host for account in accounts for host in account['hosts']]
    assert 'router' not in all_hosts and 'printer' not in all_hosts


SETTINGS = [
    ('smsbox_adopt', True, 'adopt'),
    ('smsbox_ca_path', '/etc/ssl/certs/ca-certificates.crt', 'ca_path'),
    ('smsbox_validate_certs', False, 'validate_certs'),
    ('smsbox_timeout', 30.0, 'timeout'),
    ('smsbox_concurrency', 2, 'concurrency'),
    ('smsbox_ledger', '/srv/ledgers/eu.json', 'ledger'),
    ('smsbox_account_label', 'eu', 'label'),
]


@pytest.mark.parametrize('variable, value, key', SETTINGS)
@pytest.mark.parametrize('order', [('eu1', 'us1'), ('us1', 'eu1')])
def test_each_account_takes_its_settings_from_its_own_hosts_whatever_the_order(spec, variable, value, key, order):
    if variable == 'smsbox_ca_path' and not os.path.exists(value):
        pytest.skip('no system CA bundle at %s' % value)
    hostvars = {
        'eu1': dict(smsbox_subaccount=sub('shop-eu1'), smsbox_api_key=KEY_EU, **{variable: value}),
        'eu2': dict(smsbox_subaccount=sub('shop-eu2'), smsbox_api_key=KEY_EU, **{variable: value}),
        'us1': dict(smsbox_subaccount=sub('shop-us1'), smsbox_api_key=KEY_US),
    }

    result = plan(hostvars, spec, hosts=list(order) + ['eu2'])

    assert result['errors'] == []
    accounts = dict((account['api_key'], account) for account in result['accounts'])
    assert accounts[KEY_EU][key] == value
    assert accounts[KEY_US][key] != value


@pytest.mark.parametrize('variable, value, key', SETTINGS)
def test_hosts_of_one_account_that_disagree_on_a_setting_are_refused_by_name(spec, variable, value, key):
    if variable == 'smsbox_ca_path' and not os.path.exists(value):
        pytest.skip('no system CA bundle at %s' % value)
    hostvars = {
        'eu1': dict(smsbox_subaccount=sub('shop-eu1'), smsbox_api_key=KEY_EU),
        'eu2': dict(smsbox_subaccount=sub('shop-eu2'), smsbox_api_key=KEY_EU, **{variable: value}),
        'eu3': dict(smsbox_subaccount=sub('shop-eu3'), smsbox_api_key=KEY_EU, **{variable: value}),
    }

    result = plan(hostvars, spec)

    assert len(result['errors']) == 1, result['errors']
    error = result['errors'][0]
    assert 'hosts eu1 and eu2' in error and 'disagree on %s' % variable in error and 'on their group' in error
    assert KEY_EU not in error and PASSWORD not in error


def test_two_main_accounts_on_one_ledger_are_refused(spec):
    hostvars = {
        'eu1': dict(smsbox_subaccount=sub('shop-eu1'), smsbox_api_key=KEY_EU, smsbox_ledger='/srv/ledgers/main.json', smsbox_account_label='eu'),
        'us1': dict(smsbox_subaccount=sub('shop-us1'), smsbox_api_key=KEY_US, smsbox_ledger='/srv/ledgers/../ledgers/main.json',
                    smsbox_account_label='us'),
        'fr1': dict(smsbox_subaccount=sub('shop-fr1'), smsbox_api_key='fr-KEY-77', smsbox_ledger='/srv/ledgers/fr.json'),
    }

    result = plan(hostvars, spec)

    assert len(result['errors']) == 1
    assert 'main accounts eu (hosts eu1) and us (hosts us1) share one ledger' in result['errors'][0]
    assert KEY_EU not in result['errors'][0] and KEY_US not in result['errors'][0]


@pytest.mark.parametrize('variable, value, reason', [
    ('smsbox_ledger', 'ledgers/eu.json', 'smsbox_ledger \'ledgers/eu.json\' is a relative path'),
    ('smsbox_ca_path', '/nonexistent/ca.pem', 'smsbox_ca_path /nonexistent/ca.pem does not exist'),
    ('smsbox_api_url', 'https://api.smsbox.pro/1.1/api.php?apikey=' + KEY_EU, 'smsbox_api_url https://api.smsbox.pro/1.1/api.php must not'),
    ('smsbox_api_key', 'two words', 'smsbox_api_key contains a space'),
    ('smsbox_concurrency', 40, 'smsbox_concurrency must be between 1 and 16'),
    ('smsbox_timeout', 0, 'smsbox_timeout must be a positive number'),
])
def test_account_settings_are_checked_in_the_role_vocabulary(spec, variable, value, reason):
    hostvars = {'eu1': dict(dict(smsbox_subaccount=sub('shop-eu1'), smsbox_api_key=KEY_EU), **{variable: value})}

    result = plan(hostvars, spec)

    assert result['accounts'] == [] and len(result['errors']) == 1
    assert result['errors'][0].startswith('host eu1: ' + reason), result['errors'][0]
    assert KEY_EU not in result['errors'][0] and 'two words' not in result['errors'][0]


def test_labels_name_the_account_without_its_key(spec):
    hostvars = {
        'paris': dict(smsbox_subaccount=sub('shop-paris'), smsbox_api_key=KEY_EU),
        'boston': dict(smsbox_subaccount=sub('shop-boston'), smsbox_api_key=KEY_US, smsbox_api_url='https://us.example.net/1.1/api.php'),
    }

    result = plan(hostvars, spec)

    labels = [account['label'] for account in result['accounts']]
    assert labels == ['api.smsbox.pro key %s' % key_fingerprint(KEY_EU), 'us.example.net key %s' % key_fingerprint(KEY_US)]
    for label in labels:
        assert KEY_EU not in label and KEY_US not in label
    assert len(set(labels)) == 2


def test_identical_list_on_several_hosts_of_a_group_is_kept_once(spec):
    group_list = [sub('shop-a', credit=10), sub('shop-b', nolimit=False), sub('shop-c', nolimit=True, credit=5)]
    hostvars = dict(('web%d' % index, dict(smsbox_subaccounts=[dict(entry) for entry in group_list], smsbox_api_key=KEY_EU))
                    for index in range(1, 4))
    hostvars['web4'] = dict(smsbox_subaccount=sub('shop-b'), smsbox_api_key=KEY_EU)  # nolimit omitted = false: the same

    result = plan(hostvars, spec)

    assert result['errors'] == []
    (account,) = result['accounts']
    assert account['hosts'] == ['web1', 'web2', 'web3', 'web4']
    assert [entry['name'] for entry in account['subaccounts']] == ['shop-a', 'shop-b', 'shop-c']
    assert account['allocations'] == [dict(subaccount='shop-a', allocated=10), dict(subaccount='shop-c', allocated=5)]


@pytest.mark.parametrize('change', [dict(credit=11), dict(nolimit=True), dict(password=OTHER_PASSWORD)],
                         ids=['credit', 'nolimit', 'password'])
def test_a_name_described_differently_by_two_hosts_is_an_error_naming_both(spec, change):
    hostvars = {
        'web1': dict(smsbox_subaccounts=[sub('shop-a', credit=10), sub('shop-b')], smsbox_api_key=KEY_EU),
        'web2': dict(smsbox_subaccounts=[sub('shop-a', credit=10), sub('shop-b')], smsbox_api_key=KEY_EU),
        'web3': dict(smsbox_subaccounts=[dict(sub('shop-a', credit=10), **change), sub('shop-b')], smsbox_api_key=KEY_EU),
    }

    result = plan(hostvars, spec)

    assert len(result['errors']) == 1
    error = result['errors'][0]
    assert "'shop-a'" in error and 'web1' in error and 'web3' in error and 'web2' not in error
    dumped = json.dumps(result['errors'])
    assert PASSWORD not in dumped and OTHER_PASSWORD not in dumped and KEY_EU not in dumped


def test_the_same_name_under_two_main_accounts_is_refused(spec):
    # SMSBOX names are unique across main accounts: one of the two would be refused, or pay the wrong shop.
    hostvars = {
        'paris': dict(smsbox_subaccount=sub('shop-x', credit=1), smsbox_api_key=KEY_EU, smsbox_account_label='eu'),
        'boston': dict(smsbox_subaccount=sub('shop-x', credit=2), smsbox_api_key=KEY_US, smsbox_account_label='us'),
    }

    result = plan(hostvars, spec)

    assert result['errors'] == ["sub-account 'shop-x' is described under two main accounts, eu (host paris) and us (host boston): "
                                "SMSBOX names are unique across main accounts, so one of them would be refused or pay the wrong shop; "
                                "describe it once"]


@pytest.mark.parametrize('entry, words', [
    (sub('x' * 51), ['51 characters']),
    (sub(''), ['empty']),
    (sub('shop paris'), ["' '"]),
    (sub('shop-a', credit=-1), ['credit', '-1']),
    (sub('shop-a', credit='abc'), ['credit']),
    (sub('shop-a', credit=2.5), ['credit']),
    (sub('shop-a', nolimit='maybe'), ['nolimit']),
    (sub('shop-a', nolimit=['x']), ['nolimit']),
    (sub('shop-a', password='p' * 51), ['password', '51']),
    (dict(password=PASSWORD), ['name']),
    (dict(name='shop-a', password=PASSWORD, pasword=PASSWORD), ['pasword']),
], ids=['51-chars', 'empty-name', 'space', 'credit-negative', 'credit-abc', 'credit-float', 'nolimit-str', 'nolimit-list',
        'long-password', 'no-name', 'unknown-option'])
@pytest.mark.parametrize('form', ['single', 'list'])
def test_invalid_input_is_an_error_naming_the_host_never_the_password(spec, entry, words, form):
    variables = dict(smsbox_subaccount=entry) if form == 'single' else dict(smsbox_subaccounts=[sub('shop-ok'), entry])
    hostvars = {
        'good': dict(smsbox_subaccount=sub('shop-good'), smsbox_api_key=KEY_EU),
        'bad-host': dict(variables, smsbox_api_key=KEY_EU),
    }

    result = plan(hostvars, spec)

    assert result['errors'], result
    for error in result['errors']:
        assert error.startswith('host bad-host: ')
    joined = ' '.join(result['errors'])
    for word in words:
        assert word in joined
    dumped = json.dumps(result['errors'])
    assert PASSWORD not in dumped and ('p' * 51) not in dumped and KEY_EU not in dumped
    planned = [entry['name'] for account in result['accounts'] for entry in account['subaccounts']]
    assert 'shop-good' in planned


def test_a_secret_in_a_bad_value_is_masked(spec):
    hostvars = {'h1': dict(smsbox_subaccount=dict(name='shop-a', password=PASSWORD, credit=PASSWORD), smsbox_api_key=KEY_EU)}

    result = plan(hostvars, spec)

    assert result['errors'] and result['errors'][0].startswith('host h1: ')
    assert PASSWORD not in json.dumps(result['errors'])


def test_a_bad_type_for_the_whole_variable_is_an_error(spec):
    hostvars = {'h1': dict(smsbox_subaccount='not-a-dict ' + PASSWORD), 'h2': dict(smsbox_subaccounts='shop-a')}

    result = plan(hostvars, spec)

    hosts = set(error.split(':')[0] for error in result['errors'])
    assert hosts == {'host h1', 'host h2'}
    assert PASSWORD not in json.dumps(result['errors'])
    assert result['accounts'] == []


@pytest.mark.parametrize('count, fails', [(500, False), (501, True)])
def test_more_than_500_sub_accounts_for_one_main_account_is_an_error(spec, count, fails):
    hostvars = dict(('h%03d' % index, dict(smsbox_subaccount=sub('shop-%03d' % index), smsbox_api_key=KEY_EU))
                    for index in range(count))
    hostvars['other'] = dict(smsbox_subaccount=sub('shop-us'), smsbox_api_key=KEY_US)

    result = plan(hostvars, spec)

    eu_label = 'api.smsbox.pro key %s' % key_fingerprint(KEY_EU)
    if fails:
        assert len(result['errors']) == 1
        assert eu_label in result['errors'][0] and '501' in result['errors'][0] and '500' in result['errors'][0]
        assert KEY_EU not in result['errors'][0]
    else:
        assert result['errors'] == []
    assert len(by_label(result)[eu_label]['subaccounts']) == count


def test_only_the_hosts_given_are_read(spec):
    hostvars = {
        'in-play': dict(smsbox_subaccount=sub('shop-a')),
        'not-in-play': dict(smsbox_subaccount=sub('x' * 60)),
    }

    result = plan(hostvars, spec, hosts=['in-play'])

    assert result['errors'] == []
    assert [entry['name'] for entry in result['accounts'][0]['subaccounts']] == ['shop-a']


def test_credentials_in_the_url_never_reach_a_label(spec):
    hostvars = {'h1': dict(smsbox_subaccount=sub('shop-a'), smsbox_api_key=KEY_EU,
                           smsbox_api_url='https://user:%s@api.smsbox.pro/1.1/api.php' % KEY_EU)}

    result = plan(hostvars, spec)

    shown = json.dumps([account['label'] for account in result['accounts']] + result['errors'])
    assert KEY_EU not in shown
    assert result['errors'] or result['accounts'][0]['label'].startswith('api.smsbox.pro ')


def test_main_accounts_may_share_one_postgresql_database(spec):
    # Its rows are keyed by the key's fingerprint: one database holds many main accounts; one key twice still clashes.
    uri = 'postgresql://smsbox@db.example.net/smsbox'
    hostvars = {
        'eu1': dict(smsbox_subaccount=sub('shop-eu1'), smsbox_api_key=KEY_EU, smsbox_ledger=uri, smsbox_account_label='eu'),
        'us1': dict(smsbox_subaccount=sub('shop-us1'), smsbox_api_key=KEY_US, smsbox_ledger=uri, smsbox_account_label='us'),
        'eu2': dict(smsbox_subaccount=sub('shop-eu2'), smsbox_api_key=KEY_EU, smsbox_ledger=uri, smsbox_account_label='eu-staging',
                    smsbox_api_url='https://staging.example.net/1.1/api.php'),
    }

    result = plan(hostvars, spec)

    assert len(result['errors']) == 1 and 'main accounts eu (hosts eu1) and eu-staging (hosts eu2) share one ledger' in result['errors'][0]
    assert KEY_EU not in result['errors'][0]
