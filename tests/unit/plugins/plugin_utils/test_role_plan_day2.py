# -*- coding: utf-8 -*-
# Copyright: (c) 2026, smsbox.account contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The role's plan on day 2: drift (report, fail, reclaim; never reclaimed on a partial view), retired shops and
allowances, from real ledger files."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os

import pytest
import yaml

from ansible_collections.smsbox.account.plugins.module_utils._ledger.ledger import Ledger
from ansible_collections.smsbox.account.plugins.module_utils._ledger.records import key_fingerprint
from ansible_collections.smsbox.account.plugins.plugin_utils._ledgers_of_the_run import read_ledger
from ansible_collections.smsbox.account.plugins.plugin_utils._role_plan import plan_hosts

KEY = 'eu-key-5b1f0c2d9e'
ROLE = os.path.join(os.path.dirname(__file__), '..', '..', '..', '..', 'roles', 'subaccounts', 'meta', 'argument_specs.yml')


@pytest.fixture
def spec():
    with open(ROLE) as handle:
        return yaml.safe_load(handle)['argument_specs']['main']['options']


@pytest.fixture
def ledger(tmp_path):
    """A ledger that knows paris (received 800), lyon (250) and closed (600), and old, retired."""
    path = str(tmp_path / 'eu.json')
    with Ledger(path, key_fingerprint(KEY)).session() as book:
        for name, amount in (('paris', 800), ('lyon', 250), ('closed', 600), ('old', 0)):
            book.record_subaccount(name, 'created')
            if amount:
                book.settle_transfer(book.begin_transfer(name, amount, kind='allocated')['id'], 'applied')
        book.record_subaccount('old', 'created', state='retired')
    return path


def hosts(ledger, removed='report', **more):
    common = dict(smsbox_api_key=KEY, smsbox_api_url='https://api.smsbox.pro/1.1/api.php', smsbox_ledger=ledger,
                  smsbox_account_label='eu', smsbox_removed=removed)
    described = dict(paris=dict(common, smsbox_subaccount=dict(name='paris', credit=800)),
                     lyon=dict(common, smsbox_subaccount=dict(name='lyon', credit=250)))
    described.update(more)
    return described


def test_the_drift_is_what_the_ledger_holds_and_no_host_describes(spec, ledger):
    hostvars = hosts(ledger)

    result = plan_hosts(list(hostvars), hostvars, spec, read_ledger=read_ledger)

    (account,) = result['accounts']
    assert result['errors'] == []
    assert account['drift'] == [dict(name='closed', state='present', allocated=600, received=600)]  # old is retired: no drift
    assert [item['name'] for item in account['subaccounts']] == ['paris', 'lyon']


def test_fail_refuses_before_any_write_and_names_the_drift(spec, ledger):
    hostvars = hosts(ledger, removed='fail')

    result = plan_hosts(list(hostvars), hostvars, spec, read_ledger=read_ledger)

    (error,) = result['errors']
    assert error.startswith('main account eu: its ledger holds 1 sub-account(s) that no host describes any more (drift), and '
                            'smsbox_removed is fail: closed (present, 600 received). Nothing was sent.')


def test_reclaim_retires_the_drift_but_never_on_a_partial_view(spec, ledger):
    hostvars = hosts(ledger, removed='reclaim')
    hostvars['elsewhere'] = dict(smsbox_subaccount=dict(name='lyon'))   # an inventory host outside the play

    full = plan_hosts(list(hostvars)[:2], hostvars, spec, read_ledger=read_ledger)
    partial = plan_hosts(['paris'], hostvars, spec, read_ledger=read_ledger, outside=['lyon', 'elsewhere'])

    assert full['accounts'][0]['subaccounts'][-1] == dict(name='closed', state='retired')
    assert partial['accounts'][0]['partial'] is True
    assert [item['name'] for item in partial['accounts'][0]['subaccounts']] == ['paris']  # nothing reclaimed
    assert [entry['name'] for entry in partial['accounts'][0]['drift']] == ['closed']  # lyon is described outside the play


def test_retired_shops_and_allowances(spec, ledger):
    hostvars = hosts(ledger,
                     closed=dict(hosts(ledger)['paris'], smsbox_subaccount=dict(name='closed', state='retired')),
                     nice=dict(hosts(ledger)['paris'], smsbox_subaccount=dict(name='nice', password='Pw-nice-1', credit_per_period=75)))
    for host in hostvars.values():
        host['smsbox_period'] = 'week'

    result = plan_hosts(list(hostvars), hostvars, spec, read_ledger=read_ledger)

    (account,) = result['accounts']
    assert result['errors'] == [] and account['drift'] == []
    assert dict(name='closed', password=None, nolimit=False, state='retired') in account['subaccounts']
    assert account['allowances'] == [dict(subaccount='nice', amount=75, period='week')]
    assert [entry['subaccount'] for entry in account['allocations']] == ['paris', 'lyon']


@pytest.mark.parametrize('entry, reason', [
    (dict(name='closed', state='retired', credit=10), "sub-account 'closed': it is retired, so it cannot be given credit"),
    (dict(name='nice', credit_per_period=0), 'credit_per_period is 0'),
    (dict(name='nice', state='closed'), 'state'),
])
def test_bad_day_2_inputs_are_refused(spec, ledger, entry, reason):
    hostvars = hosts(ledger, web=dict(hosts(ledger)['paris'], smsbox_subaccount=entry))

    result = plan_hosts(list(hostvars), hostvars, spec, read_ledger=read_ledger)

    assert any(reason in error for error in result['errors']), result['errors']
