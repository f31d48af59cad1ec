# -*- coding: utf-8 -*-
# Copyright: (c) 2026, smsbox.account contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""How the role ``subaccounts`` turns inventory hosts into one bulk call per SMSBOX main account.

Controller side, shared by the action ``smsbox.account.subaccounts_plan`` (the role's first task) and
the filter ``smsbox.account.subaccount_plan``. A main account is an (API URL, API key) pair; every
setting that can differ per account (ledger, CA, certificate checks, timeout, adopt, concurrency,
label) is read from that account's own hosts, and hosts of one account that disagree are refused,
so the result never depends on inventory order. Problems are returned, never raised: each names the
host and the reason in the role's own vocabulary, and none quotes a key or a password.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from ansible_collections.smsbox.account.plugins.module_utils._ledger.location import is_postgresql, ledger_location, printable_location
from ansible_collections.smsbox.account.plugins.module_utils._ledger.records import key_fingerprint
from ansible_collections.smsbox.account.plugins.module_utils._inputs import (
    CONNECTION_CHECKS,
    DEFAULT_API_URL,
    MAX_SUBACCOUNTS,
    InputError,
    check_count,
    check_name,
    check_password,
    connection_problem,
    over_the_cap,
)
from ansible_collections.smsbox.account.plugins.module_utils._secrets import mask
from ansible_collections.smsbox.account.plugins.module_utils._vocabulary import Vocabulary
from ansible_collections.smsbox.account.plugins.plugin_utils._ledgers_of_the_run import LedgersOfTheRun
from ansible_collections.smsbox.account.plugins.plugin_utils._shared_templates import SharedTemplates

try:
    from urllib.parse import urlsplit
except ImportError:  # pragma: no cover
    from urlparse import urlsplit  # type: ignore

SUBACCOUNT_VARIABLES = ('smsbox_subaccount', 'smsbox_subaccounts')
IDENTITY_VARIABLES = ('smsbox_api_url', 'smsbox_api_key')
# Role variable -> the key of the account in the plan (and the module option it feeds).
ACCOUNT_SETTINGS = (
    ('smsbox_ledger', 'ledger'),
    ('smsbox_account_label', 'label'),
    ('smsbox_ca_path', 'ca_path'),
    ('smsbox_validate_certs', 'validate_certs'),
    ('smsbox_timeout', 'timeout'),
    ('smsbox_adopt', 'adopt'),
    ('smsbox_concurrency', 'concurrency'),
    ('smsbox_lock_timeout', 'lock_timeout'),
    ('smsbox_ledger_connections', 'ledger_connections'),
    ('smsbox_removed', 'removed'),
    ('smsbox_period', 'period'),
    ('smsbox_run_label', 'run_label'),
)
ACCOUNT_VARIABLES = IDENTITY_VARIABLES + tuple(variable for variable, _key in ACCOUNT_SETTINGS)
EMPTY_IS_UNSET = ('ledger', 'ca_path')  # an empty smsbox_ledger or smsbox_ca_path (a blanked group variable) is unset
HOST_VARIABLES = SUBACCOUNT_VARIABLES + ACCOUNT_VARIABLES
# The words of the converge messages a role user reads: the role's variable for each module option it sets, and what the
# role has in place of the rest (a host's credit is the module's allocated; one-off transfers are the module's alone).
ROLE_VOCABULARY = Vocabulary(
    dict((option, variable) for variable, option in ACCOUNT_SETTINGS + (('smsbox_api_url', 'api_url'), ('smsbox_api_key', 'api_key'))),
    allocated='credit', amount="smsbox.account.smsbox_credit's amount", subaccount_task="the role's sub-accounts stage")


def native(value):
    """Plain Python data: vaulted, unsafe, tagged and lazily templated values become exact str, int, bool, float, dict,
    list. A subclass (an unsafe or tagged value) is copied and pickled through its class on every validation and result."""
    if isinstance(value, dict):
        return dict((native(key), native(item)) for key, item in value.items())
    if isinstance(value, (list, tuple)):
        return [native(item) for item in value]
    if value is None or type(value) in (bool, int, float, str):
        return value
    if isinstance(value, str):
        return str.__str__(value)  # str(value) may give the subclass back (unsafe text on 2.16)
    for kind in (bool, int, float):  # tagged with where it was read (2.19+)
        if isinstance(value, kind):
            return kind(value)
    return str(value)  # a vaulted value, decrypted


def _validated(validator, provided, api_key):
    """The validated values (a new dict) and the messages, with the key and every no_log value masked."""
    result = validator.validate(provided)
    secrets = list(result._no_log_values) + [api_key]
    return dict(result.validated_parameters), [mask(message, secrets) for message in result.error_messages]


def default_api_url(values):
    """smsbox_api_url, else the SMSBOX_API_URL of the controller's environment, as the modules fall back to it, else SMSBOX's."""
    return values.get('smsbox_api_url') or os.environ.get('SMSBOX_API_URL') or DEFAULT_API_URL


def _shown(value):
    return 'unset' if value is None else repr(value) if isinstance(value, str) else str(value).lower()


class Plan:
    """Reads hosts one by one (``read_host``), then ``result()``: the accounts and every problem found."""

    def __init__(self, spec):
        self.spec = dict((name, options) for name, options in spec.items() if name in HOST_VARIABLES)
        # A main account's settings are the same on all its hosts: checked once per distinct set of values.
        self.account_validator = ArgumentSpecValidator(dict((n, o) for n, o in self.spec.items() if n in ACCOUNT_VARIABLES))
        self.subaccount_validator = ArgumentSpecValidator(dict((n, o) for n, o in self.spec.items() if n not in ACCOUNT_VARIABLES))
        self._checked_settings = {}
        self.accounts = {}
        self.errors = []
        self._disagreements = set()
        self.templates = SharedTemplates()
        self.ledgers = None

    def read_host(self, host, hostvars):
        # The account settings are shared by many hosts: templated once for all of them where that gives the same value.
        provided = dict((name, native(self.templates.value(hostvars, name))) for name in self.spec if name in hostvars)
        shape = self.shape_problem(provided)
        if shape:
            self.errors.append('host %s: %s' % (host, shape))
            return
        settings, messages, problem = self.checked_settings(provided)
        values, subaccount_messages = _validated(self.subaccount_validator, dict(
            (name, value) for name, value in provided.items() if name not in ACCOUNT_VARIABLES), provided.get('smsbox_api_key'))
        if messages or subaccount_messages:
            self.errors.extend('host %s: %s' % (host, message) for message in messages + subaccount_messages)
            return
        values.update(settings)
        entries = ([values['smsbox_subaccount']] if values.get('smsbox_subaccount') else []) + list(values.get('smsbox_subaccounts') or [])
        if not entries:
            return  # a host that describes no sub-account belongs to no main account
        if problem:
            self.errors.append('host %s: %s' % (host, problem))
            return
        host = native(host)
        account = self.account_of(host, values)
        account['hosts'].append(host)
        for entry in entries:
            where = 'host %s: sub-account %r' % (host, entry['name'])
            try:
                check_name(entry['name'], where)
                check_password(entry.get('password'), where)
                for count in ('credit', 'baseline'):
                    if entry.get(count) is not None:
                        check_count(entry[count], where, count, allow_zero=True, allow_negative=False)
                if entry.get('credit_per_period') is not None:
                    check_count(entry['credit_per_period'], where, 'credit_per_period', allow_zero=False, allow_negative=False)
                given = [key for key in ('credit', 'credit_per_period') if entry.get(key) is not None]
                if entry.get('state') == 'retired' and given:
                    raise InputError('%s: it is retired, so it cannot be given %s: a retired sub-account gives its credits back '
                                     'and is left alone' % (where, ' or '.join(given)))
            except InputError as error:
                self.errors.append(str(error))
                continue
            self.add_entry(account, host, entry)

    def described_names(self, hostvars):
        """The names a host outside the play describes, without checking it (it is not converged here)."""
        names = []
        for variable in SUBACCOUNT_VARIABLES:
            if variable in hostvars:
                value = native(self.templates.value(hostvars, variable))
                for entry in (value if isinstance(value, list) else [value]):
                    if isinstance(entry, dict) and isinstance(entry.get('name'), str):
                        names.append(entry['name'])
        return names

    def checked_settings(self, provided):
        """The host's account settings validated, their messages and their problem: computed once per distinct value."""
        settings = dict((name, value) for name, value in provided.items() if name in ACCOUNT_VARIABLES)
        key = json.dumps(settings, sort_keys=True, default=repr)
        if key not in self._checked_settings:
            values, messages = _validated(self.account_validator, settings, settings.get('smsbox_api_key'))
            self._checked_settings[key] = (values, messages, None if messages else self.account_problem(values))
        return self._checked_settings[key]

    @staticmethod
    def shape_problem(provided):
        """The argument spec validator raises (TypeError) on a sub-account that is not a mapping, e.g. smsbox_subaccount: false."""
        single, several = provided.get('smsbox_subaccount'), provided.get('smsbox_subaccounts')
        if single is not None and not isinstance(single, dict):
            return 'smsbox_subaccount must be a mapping with a name (and password, nolimit, credit), got %s' % type(single).__name__
        if several is not None and isinstance(several, list) and not all(isinstance(item, dict) for item in several):
            return 'smsbox_subaccounts must be a list of mappings, each with a name (and password, nolimit, credit)'
        return None

    @staticmethod
    def account_problem(values):
        """The connection settings, checked by the modules' own checks in their order, but before any account sends anything.
        A setting left unset is not checked: the module's environment fallback or default applies."""
        settings = {}
        for option, _check, _pointed_to in CONNECTION_CHECKS:
            if option not in ROLE_VOCABULARY:
                continue  # not set by the role (retries): the module's default applies
            value = values.get(ROLE_VOCABULARY[option])
            if value is not None and not (option in EMPTY_IS_UNSET and value == ''):
                settings[option] = value
        settings['api_url'] = default_api_url(values)
        return connection_problem(settings, ROLE_VOCABULARY)

    def account_of(self, host, values):
        url = default_api_url(values)
        key = values.get('smsbox_api_key') or None
        settings = dict((setting, values.get(variable)) for variable, setting in ACCOUNT_SETTINGS)
        settings['ledger'] = settings['ledger'] or None
        settings['ca_path'] = settings['ca_path'] or None
        identity = (url, key)
        account = self.accounts.get(identity)
        if account is None:
            account = self.accounts[identity] = dict(api_url=url, api_key=key, hosts=[], entries={}, first_host=host, **settings)
            return account
        for variable, setting in ACCOUNT_SETTINGS:
            if account[setting] != settings[setting] and (identity, setting) not in self._disagreements:
                self._disagreements.add((identity, setting))
                self.errors.append(
                    'hosts %s and %s belong to the same main account (%s) but disagree on %s (%s on %s, %s on %s): every setting of '
                    'a main account must be the same on all its hosts; set it once, on their group'
                    % (account['first_host'], host, self.describe(url, key), variable, _shown(account[setting]),
                       account['first_host'], _shown(settings[setting]), host))
        return account

    @staticmethod
    def describe(url, key):
        return '%s key %s' % (urlsplit(url).hostname, key_fingerprint(key) if key else 'from SMSBOX_API_KEY')

    def add_entry(self, account, host, entry):
        name = entry['name']
        earlier = account['entries'].get(name)
        if earlier is None:
            account['entries'][name] = dict(entry=entry, host=host)
        elif earlier['entry'] != entry:
            self.errors.append('sub-account %r of main account %s is described differently by hosts %s and %s; describe it once'
                               % (name, account['label'] or self.describe(account['api_url'], account['api_key']), earlier['host'], host))

    def check_ledgers(self):
        """One ledger per main account: two accounts on one ledger would count each other's sub-accounts and credits."""
        owners = {}
        for account in self.accounts.values():
            where = ledger_location(account['ledger'], account['api_key'])
            if where is None:
                continue  # the key comes from the environment: its default ledger is its own
            if is_postgresql(where):
                # One database holds many main accounts, each in rows of its own key: only one key twice is a clash.
                where = (where, key_fingerprint(account['api_key']) if account['api_key'] else account['api_url'])
            owners.setdefault(where, []).append(account)
        for accounts in owners.values():
            if len(accounts) > 1:
                self.errors.append('main accounts %s share one ledger (%s): each main account needs its own smsbox_ledger'
                                   % (' and '.join('%s (hosts %s)' % (account['label'], ', '.join(account['hosts'][:3]))
                                                   for account in accounts),
                                      'smsbox_ledger %s' % printable_location(accounts[0]['ledger']) if accounts[0]['ledger']
                                      else 'the default ledger of one key'))

    def label_accounts(self):
        labels = set()
        for account in self.accounts.values():
            label = account['label'] or self.describe(account['api_url'], account['api_key'])
            if label in labels:
                label = '%s (%s)' % (label, account['api_url'])
            labels.add(label)
            account['label'] = label

    def check_names_across_accounts(self, read_ledger=None):
        """A name described under two main accounts, or about to be created under one while another's ledger holds it
        (``read_ledger`` given: the action reads the ledgers, once, for this and the drift; the filter cannot), is refused."""
        owners = {}
        for account in self.accounts.values():
            for name, found in account['entries'].items():
                owners.setdefault(name, []).append((account, found['host']))
        for name, found in owners.items():
            if len(found) > 1:
                self.errors.append('sub-account %r is described under two main accounts, %s: SMSBOX names are unique across '
                                   'main accounts, so one of them would be refused or pay the wrong shop; describe it once'
                                   % (name, ' and '.join('%s (host %s)' % (account['label'], host) for account, host in found[:2])))
        if read_ledger is not None and not self.errors:
            self.ledgers = LedgersOfTheRun([
                (account['label'], account, dict((name, found['host']) for name, found in account['entries'].items()))
                for account in self.accounts.values()], read_ledger)
            self.errors.extend(self.ledgers.problems + self.ledgers.names_held_elsewhere())

    def check_drift(self, index, account, outside_names, partial):
        """The account's drift (``drift``), failed on or reclaimed as its smsbox_removed says; reclaimed only on a full view."""
        if self.ledgers is None:
            return []
        described = set(account['entries']) | set(outside_names or ())
        drift = self.ledgers.drift(index, described)
        account['unsettled'] = self.ledgers.unsettled(index)
        if drift and account['removed'] == 'fail':
            self.errors.append('main account %s: its ledger holds %d sub-account(s) that no host describes any more (drift), and '
                               'smsbox_removed is fail: %s. Nothing was sent. Describe them again, retire them (state: retired), or '
                               'set smsbox_removed: reclaim to retire them all' % (account['label'], len(drift), ', '.join(
                                   '%s (%s, %d received)' % (entry['name'], entry['state'], entry['received']) for entry in drift[:20])))
        if drift and account['removed'] == 'reclaim' and not partial:
            for entry in drift:
                entry['reclaim'] = True
        return drift

    def result(self, read_ledger=None, outside_names=None, partial=False):
        """The plan: ``outside_names``, the names inventory hosts outside this play describe (so that they are no drift);
        ``partial``, whether the play sees only some of the inventory's hosts (then nothing is reclaimed)."""
        self.label_accounts()
        self.check_ledgers()
        self.check_names_across_accounts(read_ledger)
        accounts = []
        for index, account in enumerate(self.accounts.values()):
            drift = self.check_drift(index, account, outside_names, partial)
            entries = [found['entry'] for found in account['entries'].values()]
            if over_the_cap(len(entries)):
                self.errors.append('main account %s is given %d sub-accounts; SMSBOX allows %d'
                                   % (account['label'], len(entries), MAX_SUBACCOUNTS))
            accounts.append(dict(
                dict((setting, account[setting]) for _variable, setting in ACCOUNT_SETTINGS),
                api_url=account['api_url'], api_key=account['api_key'], hosts=account['hosts'],
                subaccounts=[subaccount_item(entry) for entry in entries]
                + [dict(name=entry['name'], state='retired') for entry in drift if entry.get('reclaim')],
                allocations=[dict(subaccount=entry['name'], allocated=entry['credit'])
                             for entry in entries if entry.get('credit') is not None],
                allowances=[dict(subaccount=entry['name'], amount=entry['credit_per_period'], period=account['period'])
                            for entry in entries if entry.get('credit_per_period') is not None],
                drift=drift, partial=bool(partial), unsettled=account.get('unsettled', []),
            ))
        return dict(accounts=accounts, errors=self.errors)


def subaccount_item(entry):
    """A host's sub-account as the create stage's item: only what it sets beyond the defaults."""
    item = dict(name=entry['name'], password=entry.get('password'), nolimit=bool(entry.get('nolimit')))
    for key, default in (('baseline', None), ('state', 'present'), ('acknowledge', False)):
        if entry.get(key) not in (None, default):
            item[key] = entry[key]
    return item


def plan_hosts(hosts, hostvars, spec, read_ledger=None, outside=()):
    """The plan of ``hosts``; ``outside``, the inventory's other hosts, whose sub-accounts are no drift."""
    plan = Plan(spec)
    for host in hosts:
        plan.read_host(host, hostvars[host])
    outside_names = set()
    for host in outside:
        outside_names.update(plan.described_names(hostvars[host]))
    return plan.result(read_ledger, outside_names, partial=bool(outside))
