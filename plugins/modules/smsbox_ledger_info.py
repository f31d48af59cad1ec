#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, smsbox.account contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
module: smsbox_ledger_info
short_description: Statements of an SMSBOX main account's ledger, without the API key
version_added: 1.0.0
description:
  - Reads the ledger of one SMSBOX main account, a file or a PostgreSQL database, and returns per sub-account its baseline,
    declared allocation, one-off top-ups, credits received in all, whether it is retired, and its transfers with their
    dates, states and the runs that made them; totals given, taken back and net, in all and per day, week or month.
  - Answers "how much did we hand out this month" and "which job moved these credits" from the ledger alone, since the
    SMSBOX API can list neither sub-accounts nor their credits.
  - Sends nothing to SMSBOX and needs no API key. A PostgreSQL ledger holds several main accounts; name this one by
    O(key_fingerprint), as the other modules' warnings and C(smsbox_balance_info) show it, or give O(api_key) to compute
    it. A finance user needs only read access to the database (C(SELECT) on its tables).
  - Writes the statement's transfers to a CSV file a spreadsheet opens when O(csv) is given.
  - Runs on the controller (or wherever the ledger is reachable), under the ledger's shared lock, so a run that is
    writing the ledger finishes first.
extends_documentation_fragment:
  - smsbox.account.connection
  - smsbox.account.connection.attributes
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details: Reads the ledger; with O(csv), reports whether the file would change and writes nothing.
  diff_mode:
    support: none
  idempotent:
    support: full
    details: Reading changes nothing; O(csv) is rewritten only when its content differs.
notes:
  - It takes the connection options of the other modules, so that one C(module_defaults) group serves them all, and
    uses only O(ledger), O(lock_timeout), O(ledger_connections), and O(api_key) to compute O(key_fingerprint); the others
    are ignored (it sends nothing to SMSBOX).
  - A transfer counts in the period it was recorded in (just before it was sent). Totals count applied transfers only.
options:
  ledger:
    description:
      - The ledger to read, a file path or a C(postgresql://) URI, as the other modules' O(smsbox.account.smsbox_credit#module:ledger).
      - If not set, the value of the E(SMSBOX_LEDGER) environment variable is used.
    type: str
  key_fingerprint:
    description:
      - The main account whose ledger to read, as its key fingerprint (12 hex digits). Needed for a PostgreSQL ledger unless
        O(api_key) is given; a file ledger holds one main account and needs neither.
    type: str
  api_key:
    description:
      - The main account's API key, only to compute O(key_fingerprint); it is never sent anywhere. Falls back to
        E(SMSBOX_API_KEY) when O(key_fingerprint) is not given either.
    type: str
  subaccounts:
    description: Only these sub-accounts.
    type: list
    elements: str
  since:
    description:
      - Only transfers recorded at or after this date or time, in UTC (C(2026-11), C(2026-11-01), C(2026-11-01T08:00:00Z)).
    type: str
  until:
    description:
      - Only transfers recorded up to this date or time, included (C(2026-11) is the whole of November).
    type: str
  period:
    description: Also total the transfers per C(day), C(week) (ISO weeks, C(2026-W45)) or C(month).
    type: str
    choices: [day, week, month]
  csv:
    description:
      - Write the statement's transfers to this file as CSV (UTF-8, comma-separated, a header row, one row per transfer in
        time order, with the columns C(created), C(subaccount), C(amount), C(kind), C(state), C(transfer_id), C(id),
        C(settled), C(detail), C(run)). Missing directories are created.
    type: path
seealso:
  - module: smsbox.account.smsbox_balance_info
  - module: smsbox.account.smsbox_ledger_copy
author:
  - smsbox.account contributors (@smsbox-account)
'''

EXAMPLES = r'''
- name: How much did the EU main account hand out in November, day by day
  smsbox.account.smsbox_ledger_info:
    ledger: /srv/smsbox/ledgers/eu.json
    since: 2026-11
    until: 2026-11
    period: day
  register: november
  delegate_to: localhost

- name: Say it
  ansible.builtin.debug:
    msg: "{{ november.totals.given }} given, {{ november.totals.taken_back }} taken back, {{ november.totals.net }} net"

- name: The statement of one customer in a spreadsheet, from the shared database, read-only
  smsbox.account.smsbox_ledger_info:
    ledger: "postgresql://finance@db.example.net/smsbox"   # a role with SELECT only; password from ~/.pgpass
    key_fingerprint: 3f2a9c01b7de
    subaccounts: [acme-paris-opera]
    since: 2026-01-01
    csv: /srv/reports/acme-paris-opera-2026.csv
  delegate_to: localhost
'''

RETURN = r'''
ledger_path:
  description: Where the ledger is, its file path or its PostgreSQL URI with the password masked.
  returned: always
  type: str
  sample: /srv/smsbox/ledgers/eu.json
key_fingerprint:
  description: The main account read (null for a file ledger read without a key or fingerprint).
  returned: always
  type: str
  sample: 3f2a9c01b7de
exists:
  description: Whether the ledger holds anything for this main account.
  returned: success
  type: bool
subaccounts:
  description:
    - Per sub-account (by name) C(origin), C(state), C(retired), C(recorded) and C(run) (the run that last recorded it);
      C(credits), its C(baseline), declared allocation C(allocated), C(top_ups) and C(received) in all (whatever the
      period); C(totals) of its transfers in the period; and those C(transfers), each with C(id), C(amount), C(kind),
      C(state), C(transfer_id), C(created), C(settled), C(detail) and C(run).
  returned: success
  type: dict
  sample: {"acme-paris-opera": {"origin": "created", "state": "present", "retired": false,
           "credits": {"baseline": 0, "allocated": 600, "top_ups": 200, "received": 800},
           "totals": {"given": 200, "taken_back": 0, "net": 200, "transfers": 1}, "transfers": []}}
totals:
  description: C(given), C(taken_back) and C(net) credits, and the number of applied C(transfers), over the selection.
  returned: success
  type: dict
  sample: {"given": 2100, "taken_back": 300, "net": 1800, "transfers": 9}
transfers:
  description: How many transfers the selection holds, in any state.
  returned: success
  type: int
periods:
  description: With O(period), the totals of each period that has transfers, oldest first, with its C(period) name.
  returned: when O(period) is given
  type: list
  elements: dict
  sample: [{"period": "2026-11", "given": 2100, "taken_back": 300, "net": 1800, "transfers": 9}]
csv:
  description: The CSV file written (or, in check mode, that would be).
  returned: when O(csv) is given
  type: str
'''

import os
import re

from ansible_collections.smsbox.account.plugins.module_utils._connection import SmsboxModule, ledger_dependency_failure
from ansible_collections.smsbox.account.plugins.module_utils._api.errors import ModuleFailure
from ansible_collections.smsbox.account.plugins.module_utils._inputs import InputError
from ansible_collections.smsbox.account.plugins.module_utils._ledger.ledger import Ledger
from ansible_collections.smsbox.account.plugins.module_utils._ledger.records import LedgerDependencyError, LedgerError, key_fingerprint
from ansible_collections.smsbox.account.plugins.module_utils._ledger.statements import csv_text, statement
from ansible_collections.smsbox.account.plugins.module_utils._ledger.location import check_location, is_postgresql, printable_location, resolve_location
from ansible_collections.smsbox.account.plugins.module_utils._specs import LEDGER_INFO_SPEC

FINGERPRINT = re.compile(r'^[0-9a-f]{12}\Z')
MOMENT = re.compile(r'^\d{4}-\d{2}(-\d{2}(T\d{2}(:\d{2}(:\d{2}Z?)?)?)?)?\Z')


def checked(params):
    """The ledger location and the account's fingerprint, every option checked before anything is read."""
    problem = check_location(params['ledger'])
    if problem or not params['ledger']:
        raise InputError(problem or 'no ledger: set the ledger option (or the SMSBOX_LEDGER environment variable) to the '
                                    'file path or postgresql:// URI of the ledger to read')
    for option in ('since', 'until'):
        if params[option] is not None and not MOMENT.match(params[option]):
            raise InputError('%s must be a UTC date or time such as 2026-11, 2026-11-01 or 2026-11-01T08:00:00Z, got %r'
                             % (option, params[option][:40]))
    fingerprint = params['key_fingerprint']
    if fingerprint is not None and not FINGERPRINT.match(fingerprint):
        raise InputError('key_fingerprint must be 12 hex digits, as smsbox_balance_info and the ledger warnings show it, got %r'
                         % fingerprint[:40])
    if fingerprint is None and params['api_key']:
        fingerprint = key_fingerprint(params['api_key'])
    location = resolve_location(params['ledger'])
    if fingerprint is None and is_postgresql(location):
        raise InputError('a PostgreSQL ledger holds several main accounts: name the one to read with key_fingerprint (or api_key, '
                         'from which it is computed)')
    return location, fingerprint


def read_statement(module):
    params = module.params
    location, fingerprint = checked(params)
    result = dict(changed=False, ledger_path=printable_location(location), key_fingerprint=fingerprint)
    try:
        with Ledger(location, fingerprint, lock_timeout=params['lock_timeout'], connections=params['ledger_connections']).session(
                exclusive=False) as book:
            result['exists'] = book.exists
            result.update(statement(book, names=params['subaccounts'], since=params['since'], until=params['until'],
                                    period=params['period']))
            for warning in book.warnings:
                module.warn(warning)
    except LedgerDependencyError as error:
        raise ledger_dependency_failure(error, **result)
    except LedgerError as error:
        raise ModuleFailure(str(error), **result)
    if params['csv']:
        result.update(write_csv(params['csv'], csv_text(result), module.check_mode))
    return result


def write_csv(path, text, check_mode):
    try:
        with open(path, encoding='utf-8', newline='') as handle:
            same = handle.read() == text
    except (IOError, OSError):
        same = False
    if not same and not check_mode:
        try:
            os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
            with open(path + '.tmp', 'w', encoding='utf-8', newline='') as handle:
                handle.write(text)
            os.replace(path + '.tmp', path)
        except (IOError, OSError) as error:
            raise ModuleFailure('Cannot write the CSV file %s: %s' % (path, error.strerror or error))
    return dict(csv=path, changed=not same)


def main():
    # The connection options (one module_defaults group serves every module), a URI's password masked in all it prints.
    module = SmsboxModule(argument_spec=LEDGER_INFO_SPEC, supports_check_mode=True)
    try:
        module.exit_json(**read_statement(module))
    except ModuleFailure as failure:
        module.fail_json(msg=str(failure), **failure.result)
    except InputError as error:
        module.fail_json(msg=str(error))


if __name__ == '__main__':
    main()
