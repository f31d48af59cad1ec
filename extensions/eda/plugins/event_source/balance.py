# -*- coding: utf-8 -*-
# Copyright: (c) 2026, smsbox.account contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""smsbox.account.balance: an Event-Driven Ansible source that watches SMSBOX main balances and their ledgers.

ansible-rulebook calls ``main(queue, args)``. The balance is read with the modules' own client (the same
retries, the same strict answer parser and typed errors), the arguments are checked with the modules' own
input checks, and the ledger is read through the modules' own ``Ledger``, read-only: one rule, one place.
"""

import asyncio
import datetime
import logging
import math
import os
import sys
from urllib.parse import urlsplit

DOCUMENTATION = r'''
---
short_description: Watch SMSBOX main balances and the transfers the ledger leaves unsettled
description:
  - An ansible-rulebook event source that reads the balance of one or several SMSBOX main accounts every
    O(interval) seconds and puts an event on the queue when something needs an operator, once per change,
    never once per poll.
  - C(balance_low) once when the balance falls below O(threshold); C(balance_ok) once when it is back to at least
    O(threshold) + O(hysteresis); nothing in between, whatever the number of polls. A balance already below the
    threshold at start is reported at once.
  - C(balance_unreadable) once per outage, when a read still fails after the retries the modules make
    (connection errors, C(ERROR 05), 5xx, each retried with a bounded, jittered backoff), or is refused
    (a wrong key). The source keeps polling; the next good read ends the outage.
  - With a O(ledger), C(transfer_unsettled) once per transfer whose outcome is unknown (its answer was lost,
    or a run was interrupted) for longer than O(unsettled_age), and C(ledger_unreadable) once per outage of the
    ledger. The ledger is read, never written, and waits for a run that holds it.
  - 'Every event is C({"smsbox": {"type": ..., "account": <label>, ...}}). No event, log line or error holds the
    API key or a database password.'
  - Drift (ledger sub-accounts no inventory describes) is not reported here, the source has no inventory; the
    role's summary reports it.
options:
  api_key:
    description:
      - API key of the main account. If not set, E(SMSBOX_API_KEY) of the ansible-rulebook process.
      - Give it from a vaulted variable or an Event-Driven Ansible credential, never in plain text.
    type: str
  api_url:
    description:
      - The Account API endpoint. If not set, E(SMSBOX_API_URL), then the default.
      - Plain C(http://) is refused except to a loopback address (a local emulator).
    type: str
    default: https://api.smsbox.pro/1.1/api.php
  label:
    description:
      - How events name the main account (C(event.smsbox.account)). Unique among O(accounts).
      - Default the short one-way fingerprint of the key, as the ledger names the account.
    type: str
  threshold:
    description: Credits under which the balance is low. Required, more than 0.
    type: float
    required: true
  hysteresis:
    description:
      - Credits above O(threshold) the balance must reach again before C(balance_ok), so a balance that hovers
        around the threshold raises one C(balance_low), not one per crossing.
      - Default a tenth of O(threshold).
    type: float
  interval:
    description:
      - Seconds between two reads of each account. At least 60, so SMSBOX is never polled harder than a person
        would; any positive value for a loopback O(api_url) (a local emulator, in tests).
    type: float
    default: 300
  timeout:
    description: Seconds to wait for each answer.
    type: float
    default: 10
  validate_certs:
    description: Verify the TLS certificate of O(api_url).
    type: bool
    default: true
  ca_path:
    description: PEM file of the certificate authorities to trust instead of the system ones.
    type: path
  ledger:
    description:
      - The ledger of the main account, as the modules' C(ledger) option gives it (a file path or a C(postgresql://)
        URI). Set, the source also reports the transfers left unsettled. Not set, it reads no ledger.
    type: str
  unsettled_age:
    description: Seconds a transfer must have been unsettled before C(transfer_unsettled). Needs O(ledger).
    type: float
    default: 3600
  accounts:
    description:
      - Several main accounts, each a mapping of the options above (except O(accounts)); the options given at the
        top level are their defaults.
    type: list
    elements: dict
requirements:
  - ansible-rulebook, with the collection installed (ansible-galaxy collection install) and its requirements.txt
notes:
  - What was reported is kept in memory; after a restart a balance still low, and each transfer still unsettled,
    is reported once more.
author:
  - smsbox.account contributors (@smsbox-account)
'''

EXAMPLES = r'''
- name: SMSBOX balances
  hosts: localhost
  sources:
    - smsbox.account.balance:
        threshold: 500
        label: main
        ledger: /srv/smsbox/ledgers/main.json
  rules:
    - name: Credits are running out
      condition: event.smsbox.type == "balance_low"
      action:
        run_playbook:
          name: smsbox.account.balance_alert
'''


def _put_collection_on_path():
    """ansible-rulebook runs a source with runpy.run_path and puts no collection path on sys.path, so the
    collection's module_utils are importable only once the directory that holds ``ansible_collections`` is."""
    root = os.path.dirname(os.path.abspath(__file__))
    for _level in range(4):  # extensions/eda/plugins/event_source -> the collection root
        root = os.path.dirname(root)
    namespace_dir = os.path.dirname(root)
    collections_dir = os.path.dirname(os.path.dirname(namespace_dir))
    installed = os.path.basename(os.path.dirname(namespace_dir)) == 'ansible_collections'
    if installed and collections_dir not in sys.path:
        sys.path.append(collections_dir)


_put_collection_on_path()

# pylint: disable=wrong-import-position
from ansible_collections.smsbox.account.plugins.module_utils._api.client import REQUESTS_IMPORT_ERROR, SmsboxClient
from ansible_collections.smsbox.account.plugins.module_utils._api.errors import SmsboxAuthError, SmsboxError, SmsboxRefused
from ansible_collections.smsbox.account.plugins.module_utils._inputs import DEFAULT_API_URL, connection_problem, is_loopback
from ansible_collections.smsbox.account.plugins.module_utils._ledger.ledger import Ledger
from ansible_collections.smsbox.account.plugins.module_utils._ledger.records import LedgerError, key_fingerprint
from ansible_collections.smsbox.account.plugins.module_utils._ledger.location import printable_location, resolve_location
from ansible_collections.smsbox.account.plugins.module_utils._secrets import mask, uri_passwords


LOG = logging.getLogger('smsbox.account.balance')
OPTIONS = ('api_key', 'api_url', 'label', 'threshold', 'hysteresis', 'interval', 'timeout', 'validate_certs', 'ca_path',
           'ledger', 'unsettled_age')
DEFAULT_INTERVAL = 300.0
MIN_INTERVAL = 60.0  # SMSBOX documents no rate: one read a minute per account is what a person checking would do
DEFAULT_UNSETTLED_AGE = 3600.0
LEDGER_LOCK_TIMEOUT = 60.0  # a module run holds the ledger a few seconds; past this the ledger counts as unreadable
MAX_LABEL = 100
MAX_ERROR = 300


class SourceArgumentError(ValueError):
    """A refused argument: the source stops at start, before any request; the message names the account."""


def _number(value, where, what, minimum, allow_equal):
    """A number of credits or seconds (10, 2.5, or '10' from a rulebook variable), above ``minimum``."""
    try:
        number = float(value) if not isinstance(value, bool) and isinstance(value, (int, float, str)) else None
    except ValueError:
        number = None
    if number is None or not math.isfinite(number):
        _refuse('%s must be a number, got %r' % (what, value), where)
    if number < minimum or (number == minimum and not allow_equal):
        _refuse('%s must be %s %g, got %r' % (what, 'at least' if allow_equal else 'more than', minimum, value), where)
    return int(number) if number.is_integer() else number


def _refuse(problem, where):
    if problem:
        raise SourceArgumentError('%s: %s' % (where, problem) if where else problem)


def _check_keys(mapping, allowed, where):
    # ansible-rulebook adds its own arguments (eda_feedback_queue, ...), all named eda_*.
    unknown = sorted(str(key) for key in mapping if key not in allowed and not str(key).startswith('eda_'))
    if unknown:
        raise SourceArgumentError('%sunknown argument%s %s; the arguments are %s' % (
            where + ': ' if where else '', 's' if len(unknown) > 1 else '', ', '.join(unknown), ', '.join(allowed)))


class Account:
    """One watched main account: its checked settings, its client and ledger, and what was already reported."""

    def __init__(self, settings, where, environ):
        self.where = where
        self.key = settings.get('api_key')
        if self.key is None:
            self.key = environ.get('SMSBOX_API_KEY')
        if self.key is None:
            _refuse('no API key: set api_key (from a vaulted variable or an Event-Driven Ansible credential) or the '
                    'SMSBOX_API_KEY environment variable of ansible-rulebook', where)
        self.api_url = settings.get('api_url') or environ.get('SMSBOX_API_URL') or DEFAULT_API_URL
        self.ca_path = settings.get('ca_path')
        location = settings.get('ledger')
        # The modules' connection checks, in their order; the timeout is read below, as a rulebook variable may give '10'.
        _refuse(connection_problem(dict(api_key=self.key, api_url=self.api_url, ca_path=self.ca_path, ledger=location)), where)
        self.label = settings.get('label') or key_fingerprint(self.key)
        if not isinstance(self.label, str) or len(self.label) > MAX_LABEL or mask(self.label, [self.key]) != self.label:
            _refuse('label must be a text of at most %d characters, without the API key' % MAX_LABEL, where)
        if 'threshold' not in settings:
            _refuse('threshold is required: the balance, in credits, under which balance_low is sent', where)
        self.threshold = _number(settings['threshold'], where, 'threshold', 0, False)
        default_hysteresis = self.threshold / 10.0
        self.hysteresis = _number(settings.get('hysteresis', default_hysteresis), where, 'hysteresis', 0, True)
        self.interval = _number(settings.get('interval', DEFAULT_INTERVAL), where, 'interval', 0, False)
        if self.interval < MIN_INTERVAL and not is_loopback(urlsplit(self.api_url).hostname or ''):
            _refuse('interval is %g seconds; SMSBOX is read at most once every %g seconds per main account (a shorter '
                    'interval is accepted only for a loopback api_url, a local emulator)' % (self.interval, MIN_INTERVAL), where)
        self.timeout = _number(settings.get('timeout', 10), where, 'timeout', 0, False)
        self.validate_certs = settings.get('validate_certs', True)
        if not isinstance(self.validate_certs, bool):
            _refuse('validate_certs must be true or false, got %r' % (self.validate_certs,), where)
        if 'unsettled_age' in settings and location is None:
            _refuse('unsettled_age needs ledger: the unsettled transfers are read from the ledger', where)
        self.unsettled_age = _number(settings.get('unsettled_age', DEFAULT_UNSETTLED_AGE), where, 'unsettled_age', 0, True)
        self.secrets = [self.key] + uri_passwords(location)
        # Opening a store connects to nothing: a missing psycopg stops the source here, at start.
        self.ledger = None
        self.ledger_path = None
        if location:
            try:
                self.ledger = Ledger(resolve_location(location), key_fingerprint(self.key), lock_timeout=LEDGER_LOCK_TIMEOUT)
            except LedgerError as error:
                _refuse(self.safe(error), where)
            self.ledger_path = printable_location(location)
        self.client = None
        self.low = None  # None until the first good read, then whether balance_low was the last threshold event
        self.outage = False
        self.ledger_outage = False
        self.reported = set()  # transfer ids already reported
        self.warned = set()

    def safe(self, text):
        """A message fit for an event or a log line: every form of the key and database passwords masked, cut short."""
        text = mask(str(text), self.secrets)
        return text if len(text) <= MAX_ERROR else text[:MAX_ERROR] + '...'

    def event(self, kind, **fields):
        fields.update(type=kind, account=self.label)
        return {'smsbox': fields}

    # -- what a read means: pure, so the rules are tested without HTTP --

    def on_balance(self, balance):
        events = []
        if self.outage:
            LOG.info('%s: the balance is readable again', self.label)
            self.outage = False
        if balance < self.threshold and self.low is not True:
            events.append(self.event('balance_low', balance=balance, threshold=self.threshold))
            self.low = True
        elif self.low and balance >= self.threshold + self.hysteresis:
            events.append(self.event('balance_ok', balance=balance, threshold=self.threshold))
            self.low = False
        elif self.low is None:
            self.low = False
        return events

    def on_unreadable(self, error):
        message = self.safe(error)
        if isinstance(error, (SmsboxAuthError, SmsboxRefused)):
            message += ' (check the key and the IP restrictions of the main account in the SMSBOX dashboard)'
        LOG.warning('%s: the balance could not be read: %s', self.label, message)
        if self.outage:
            return []
        self.outage = True
        return [self.event('balance_unreadable', error=message, threshold=self.threshold)]

    def on_unsettled(self, transfers, now):
        events = []
        self.ledger_outage = False
        for tx in transfers:
            if tx['id'] in self.reported:
                continue
            age = _age(tx['created'], now)
            if age is not None and age < self.unsettled_age:
                continue
            self.reported.add(tx['id'])
            events.append(self.event('transfer_unsettled', transfer=tx['id'], subaccount=tx['subaccount'], amount=tx['amount'],
                                     state=tx['state'], created=tx['created'], age=age, ledger=self.ledger_path))
        self.reported &= set(tx['id'] for tx in transfers)  # a settled transfer is never unsettled again
        return events

    def on_ledger_unreadable(self, error):
        message = self.safe(error)
        LOG.warning('%s: the ledger %s could not be read: %s', self.label, self.ledger_path, message)
        if self.ledger_outage:
            return []
        self.ledger_outage = True
        return [self.event('ledger_unreadable', ledger=self.ledger_path, error=message)]

    # -- blocking work, run in a thread --

    def read_unsettled(self):
        with self.ledger.session(exclusive=False) as book:
            for warning in book.warnings:
                if warning not in self.warned:
                    self.warned.add(warning)
                    LOG.warning('%s: %s', self.label, self.safe(warning))
            return book.unsettled()

    async def poll(self):
        """One read of the balance (and of the ledger); the events it gives. The event loop never waits on HTTP or a lock."""
        try:
            events = self.on_balance(await asyncio.to_thread(self.client.balance))
        except Exception as error:  # pylint: disable=broad-except  # the source keeps polling through any failure
            events = self.on_unreadable(error if isinstance(error, SmsboxError) else error.__class__.__name__)
        if self.ledger is not None:
            try:
                events += self.on_unsettled(await asyncio.to_thread(self.read_unsettled), _utcnow())
            except Exception as error:  # pylint: disable=broad-except
                events += self.on_ledger_unreadable(error if isinstance(error, LedgerError) else error.__class__.__name__)
        return events


def _utcnow():
    return datetime.datetime.now(datetime.timezone.utc)


def _age(created, now):
    """Whole seconds since a ledger timestamp (``2026-05-04T10:00:00Z``); None when unreadable (then reported at once)."""
    try:
        then = datetime.datetime.strptime(created, '%Y-%m-%dT%H:%M:%SZ').replace(tzinfo=datetime.timezone.utc)
    except (TypeError, ValueError):
        return None
    return max(0, int((now - then).total_seconds()))


def read_accounts(args, environ=None):
    """The accounts the arguments describe, each checked; SourceArgumentError names the first refused one."""
    environ = os.environ if environ is None else environ
    if not isinstance(args, dict):
        raise SourceArgumentError('the arguments of smsbox.account.balance must be a mapping')
    _check_keys(args, OPTIONS + ('accounts',), '')
    defaults = dict((key, args[key]) for key in OPTIONS if key in args and args[key] is not None)
    if args.get('accounts') is None:
        return [Account(defaults, '', environ)]
    items = args['accounts']
    if not isinstance(items, list) or not items:
        raise SourceArgumentError('accounts must be a list of mappings (api_key, label, threshold, ...), got %r' % (type(items).__name__,))
    accounts = []
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            raise SourceArgumentError('accounts[%d] must be a mapping, got a %s' % (index, type(item).__name__))
        where = 'accounts[%d]%s' % (index, ' %r' % item['label'] if isinstance(item.get('label'), str) else '')
        _check_keys(item, OPTIONS, where)
        settings = dict(defaults)
        settings.update((key, value) for key, value in item.items() if value is not None)
        accounts.append(Account(settings, where, environ))
    seen = {}
    for account in accounts:
        for name, value in (('label', account.label), ('main account', (account.api_url, key_fingerprint(account.key)))):
            if (name, value) in seen:
                raise SourceArgumentError('%s: the same %s as %s; watch each main account once, under its own label'
                                          % (account.where, name, seen[(name, value)]))
            seen[(name, value)] = account.where
    return accounts


async def watch(account, queue):
    account.client = SmsboxClient(account.api_url, account.key, timeout=account.timeout,
                                  validate_certs=account.validate_certs, ca_path=account.ca_path)
    try:
        while True:
            for event in await account.poll():
                await queue.put(event)
            await asyncio.sleep(account.interval)
    finally:
        account.client.close()


async def main(queue, args):
    """The entry point ansible-rulebook calls: checks every argument first, then watches each account until cancelled."""
    accounts = read_accounts(args)
    if REQUESTS_IMPORT_ERROR:
        raise SourceArgumentError('smsbox.account.balance needs the Python library requests where ansible-rulebook runs: '
                                  'install the requirements.txt of the collection (in a decision environment, list the '
                                  'collection: ansible-builder installs them)')
    for account in accounts:
        LOG.info('%s: watching the balance of %s every %gs (low under %g, ok again from %g)%s', account.label, account.api_url,
                 account.interval, account.threshold, account.threshold + account.hysteresis,
                 ', and ledger %s' % account.ledger_path if account.ledger else '')
    tasks = [asyncio.ensure_future(watch(account, queue)) for account in accounts]
    try:
        await asyncio.gather(*tasks)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
