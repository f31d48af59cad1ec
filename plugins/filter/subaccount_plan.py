# -*- coding: utf-8 -*-
# Copyright: (c) 2026, smsbox.account contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
name: subaccount_plan
short_description: Group the sub-accounts described by inventory hosts by SMSBOX main account
version_added: 0.1.0
description:
  - Used by the role C(smsbox.account.subaccounts) to turn per-host variables into one bulk call per main account.
  - Reads C(smsbox_subaccount), C(smsbox_subaccounts), C(smsbox_api_key), C(smsbox_api_url), C(smsbox_ledger) and
    C(smsbox_account_label) of each host, checks them against the role's argument spec, and groups them by
    (API URL, key, ledger).
  - Never fails on bad input; returns the problems in C(errors), each naming the host and the reason, so the caller
    can report them from a task that carries no secret.
options:
  _input:
    description: Names of the hosts to read, usually C(ansible_play_hosts).
    type: list
    elements: str
    required: true
  hostvars:
    description: The C(hostvars) magic variable.
    type: raw
    required: true
  spec:
    description: The options of the role's C(main) entry point, from its C(meta/argument_specs.yml).
    type: dict
    required: true
author:
  - smsbox.account contributors (@smsbox-account)
'''

EXAMPLES = r'''
- name: Plan one bulk call per main account
  ansible.builtin.set_fact:
    plan: "{{ ansible_play_hosts | smsbox.account.subaccount_plan(hostvars, spec) }}"
  vars:
    spec: "{{ (lookup('ansible.builtin.file', role_path ~ '/meta/argument_specs.yml') | from_yaml).argument_specs.main.options }}"
  run_once: true
  no_log: true
'''

RETURN = r'''
_value:
  description: C(accounts), a list with one entry per main account, and C(errors), a list of sentences.
  type: dict
'''

from ansible.errors import AnsibleFilterError
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.module_utils.six.moves.urllib.parse import urlsplit

from ansible_collections.smsbox.account.plugins.module_utils.ledger import key_fingerprint, printable_location
from ansible_collections.smsbox.account.plugins.module_utils.validation import (
    MAX_SUBACCOUNTS,
    InputError,
    check_count,
    check_name,
    check_password,
)

HOST_VARIABLES = ('smsbox_subaccount', 'smsbox_subaccounts', 'smsbox_api_key', 'smsbox_api_url', 'smsbox_ledger', 'smsbox_account_label')
DEFAULT_URL = 'https://api.smsbox.pro/1.1/api.php'


def _native(value):
    """Plain Python data: vaulted and lazily templated values become str, dict, list."""
    if isinstance(value, dict):
        return dict((str(key), _native(item)) for key, item in value.items())
    if isinstance(value, (list, tuple)):
        return [_native(item) for item in value]
    if value is None or isinstance(value, (bool, int, float)):
        return value
    return str(value)


def _masked(message, secrets):
    for secret in secrets:
        if secret and isinstance(secret, str):
            message = message.replace(secret, '********')
    return message


class Plan:
    def __init__(self, spec):
        self.spec = dict((name, options) for name, options in spec.items() if name in HOST_VARIABLES)
        self.validator = ArgumentSpecValidator(self.spec)
        self.accounts = {}
        self.errors = []

    def read_host(self, host, hostvars):
        provided = dict((name, _native(hostvars[name])) for name in self.spec if name in hostvars)
        result = self.validator.validate(provided)
        if result.error_messages:
            for message in result.error_messages:
                self.errors.append('host %s: %s' % (host, _masked(message, result._no_log_values)))
            return
        values = result.validated_parameters
        entries = ([values['smsbox_subaccount']] if values.get('smsbox_subaccount') else []) + list(values.get('smsbox_subaccounts') or [])
        if not entries:
            return
        try:
            account = self.account_of(values)
        except InputError as error:
            self.errors.append('host %s: %s' % (host, error))
            return
        account['hosts'].append(host)
        for entry in entries:
            # The modules check the same again, but only once the previous step has sent its requests.
            where = 'host %s: sub-account %r' % (host, entry['name'])
            try:
                check_name(entry['name'], where)
                check_password(entry.get('password'), where)
                if entry.get('credit') is not None:
                    check_count(entry['credit'], where, 'credit', allow_zero=True, allow_negative=False)
            except InputError as error:
                self.errors.append(str(error))
                continue
            self.add_entry(account, host, entry)

    def account_of(self, values):
        url = values.get('smsbox_api_url') or DEFAULT_URL
        # The modules refuse credentials in a URL too, but only after this plan is printed in labels.
        if urlsplit(url).username or urlsplit(url).password:
            raise InputError('smsbox_api_url must not carry credentials; the key goes in smsbox_api_key')
        key = values.get('smsbox_api_key') or None
        ledger = values.get('smsbox_ledger') or None
        identity = (url, key, ledger)
        if identity not in self.accounts:
            label = values.get('smsbox_account_label') or '%s key %s' % (
                urlsplit(url).hostname, key_fingerprint(key) if key else 'from SMSBOX_API_KEY')
            if any(account['label'] == label for account in self.accounts.values()):
                label = '%s (%s)' % (label, printable_location(ledger) if ledger else 'default ledger')
            self.accounts[identity] = dict(label=label, api_url=url, api_key=key, ledger=ledger, hosts=[], entries={})
        return self.accounts[identity]

    def add_entry(self, account, host, entry):
        name = entry['name']
        earlier = account['entries'].get(name)
        if earlier is None:
            account['entries'][name] = dict(entry=entry, host=host)
        elif earlier['entry'] != entry:
            self.errors.append('sub-account %r of main account %s is described differently by hosts %s and %s; describe it once'
                               % (name, account['label'], earlier['host'], host))

    def result(self):
        accounts = []
        for account in self.accounts.values():
            entries = [found['entry'] for found in account['entries'].values()]
            if len(entries) > MAX_SUBACCOUNTS:
                self.errors.append('main account %s is given %d sub-accounts; SMSBOX allows %d'
                                   % (account['label'], len(entries), MAX_SUBACCOUNTS))
            accounts.append(dict(
                label=account['label'], api_url=account['api_url'], api_key=account['api_key'], ledger=account['ledger'],
                hosts=account['hosts'],
                subaccounts=[dict(name=entry['name'], password=entry.get('password'), nolimit=bool(entry.get('nolimit')))
                             for entry in entries],
                allocations=[dict(subaccount=entry['name'], allocated=entry['credit'])
                             for entry in entries if entry.get('credit') is not None],
            ))
        return dict(accounts=accounts, errors=self.errors)


def subaccount_plan(hosts, hostvars, spec):
    if not isinstance(spec, dict):
        raise AnsibleFilterError('subaccount_plan needs the options of the role argument spec as a dict')
    plan = Plan(spec)
    for host in hosts:
        plan.read_host(host, hostvars[host])
    return plan.result()


class FilterModule(object):
    def filters(self):
        return {'subaccount_plan': subaccount_plan}
