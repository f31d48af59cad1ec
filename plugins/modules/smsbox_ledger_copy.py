#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, smsbox.account contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
module: smsbox_ledger_copy
short_description: Copy the ledger of an SMSBOX main account into another file or a PostgreSQL database
version_added: 1.0.0
description:
  - Copies every record of the ledger of one main account, its sub-accounts and all its transfers with their states,
    from the ledger named by O(ledger) (a file, by default the key's default file, or a PostgreSQL URI) into O(dest).
  - Moves a file ledger into PostgreSQL, so that several controllers, CI runners or AWX/AAP jobs share it; or exports any
    ledger to the JSON snapshot format of a file ledger, as a backup or to review it.
  - O(api_key) names the main account; a file ledger that was never used with this key is refused.
    After a key rotation, O(source_fingerprint) names the old key's ledger, which is copied to the new key; the old key's
    ledger is then marked as moved (under its exclusive lock), so that a job still running with the old key refuses to
    write to it instead of paying again.
  - The destination must hold no record of the main account, unless O(move_aside) moves them out of the way first. Everything
    is written in one transaction (PostgreSQL) or one atomic rename (file), then read back; the counts and credit totals read
    back must equal the source's, or the task fails.
  - Sends nothing to SMSBOX. The source is read under its shared lock (its exclusive lock after a key rotation) and the
    destination written under its exclusive lock, so no run of the modules changes either meanwhile. The source's records
    are left as they are; stop using it afterwards.
extends_documentation_fragment:
  - smsbox.account.connection
  - smsbox.account.connection.attributes
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details: Reads the source and the destination and reports what would be copied; writes nothing.
  diff_mode:
    support: none
  idempotent:
    support: full
    details: A destination that already holds exactly the source's records is left alone (C(changed=false)).
options:
  dest:
    description:
      - Where to copy the ledger, a file path (C(~) is expanded) or a C(postgresql://) or C(postgres://) URI, as O(ledger).
      - A file gets the JSON snapshot format described in the collection's docs/ledger-format.md.
    type: str
    required: true
  move_aside:
    description:
      - When O(dest) already holds other records of the main account, keep them under another name instead of refusing the
        copy, under the destination's exclusive lock, in the same run. A file becomes C(<dest>.aside-<UTC time>) (and its
        journal C(<dest>.aside-<UTC time>.journal)); in PostgreSQL the rows are renamed to the account
        C(<fingerprint>@aside-<UTC time>-<4 hex digits>), which no key ever reads again and which
        C(DELETE FROM smsbox_ledger_<table> WHERE account = '<that name>') removes for good once it is no longer needed.
      - RV(moved_aside) says where they went. Nothing is deleted.
    type: bool
    default: false
  source_fingerprint:
    description:
      - The key fingerprint of the main account's ledger in the source, when it is not the fingerprint of O(api_key);
        after a key rotation, the old key's (the warnings of the other modules name it). It is copied to O(api_key)'s.
    type: str
seealso:
  - module: smsbox.account.smsbox_balance_info
author:
  - smsbox.account contributors (@smsbox-account)
'''

EXAMPLES = r'''
- name: Move the main account's file ledger into PostgreSQL (then set ledger to that URI everywhere)
  smsbox.account.smsbox_ledger_copy:
    api_key: "{{ vault_smsbox_api_key }}"
    ledger: /srv/smsbox/ledgers/eu.json
    dest: "postgresql://smsbox@db.example.net/smsbox?sslmode=verify-full"   # password from ~/.pgpass or PGPASSWORD
  delegate_to: localhost
  run_once: true
  register: moved

- name: Show what was copied
  ansible.builtin.debug:
    msg: "{{ moved.dest.subaccounts }} sub-accounts, {{ moved.dest.transfers.applied }} applied transfers, {{ moved.dest.credits.allocated }} credits allocated"

- name: Export the PostgreSQL ledger of this main account to a JSON file, for review
  smsbox.account.smsbox_ledger_copy:
    ledger: "postgresql://smsbox@db.example.net/smsbox"
    dest: "/srv/backups/smsbox-eu-{{ now(utc=true, fmt='%Y%m%d') }}.json"
  delegate_to: localhost

- name: After a key rotation, give the new key the old key's ledger in the same database
  smsbox.account.smsbox_ledger_copy:
    api_key: "{{ vault_smsbox_new_api_key }}"
    ledger: "postgresql://smsbox@db.example.net/smsbox"
    dest: "postgresql://smsbox@db.example.net/smsbox"
    source_fingerprint: 3f2a9c01b7de
  delegate_to: localhost
'''

RETURN = r'''
moved_aside:
  description:
    - Where the destination's earlier records of the main account were moved by O(move_aside), a file path or the account
      name their rows carry now; absent when nothing was moved.
  returned: when records were moved aside
  type: str
  sample: 3f2a9c01b7de@aside-20261125T090554Z-4be1
source:
  description:
    - What the source ledger holds for the main account.
    - After a key rotation (O(source_fingerprint)), C(moved_to) is the new key's fingerprint, now recorded in the old key's
      ledger. A run with the old key then refuses to write to it, naming the new one.
    - C(subaccounts) counts its sub-accounts and C(subaccounts_baseline_unknown) those whose earlier credits are unknown;
      C(transfers) counts its transfers by state; C(credits) sums their credits (C(allocated) is C(baseline) plus
      C(applied); C(unsettled) is the amount of the C(pending) and C(unknown) transfers).
  returned: success
  type: dict
  sample: {"location": "/srv/smsbox/ledgers/eu.json", "fingerprint": "3f2a9c01b7de", "subaccounts": 2,
           "subaccounts_baseline_unknown": 0, "transfers": {"pending": 0, "applied": 3, "rejected": 1, "unknown": 0},
           "credits": {"baseline": 0, "applied": 800, "allocated": 800, "unsettled": 0, "rejected": 100}}
dest:
  description:
    - The same figures for the destination, as read back after the copy (in check mode, what it would hold); equal to
      RV(source) whenever the task succeeds. C(location) is a URI's with its password masked.
  returned: success
  type: dict
  sample: {"location": "postgresql://smsbox@db.example.net/smsbox", "fingerprint": "3f2a9c01b7de", "subaccounts": 2,
           "subaccounts_baseline_unknown": 0, "transfers": {"pending": 0, "applied": 3, "rejected": 1, "unknown": 0},
           "credits": {"baseline": 0, "applied": 800, "allocated": 800, "unsettled": 0, "rejected": 100}}
'''

from ansible_collections.smsbox.account.plugins.module_utils._connection import SmsboxModule, ledger_dependency_failure
from ansible_collections.smsbox.account.plugins.module_utils._api.errors import ModuleFailure
from ansible_collections.smsbox.account.plugins.module_utils._inputs import InputError
from ansible_collections.smsbox.account.plugins.module_utils._ledger.copying import copy_ledger
from ansible_collections.smsbox.account.plugins.module_utils._ledger.records import LedgerDependencyError, LedgerError, key_fingerprint
from ansible_collections.smsbox.account.plugins.module_utils._ledger.location import check_location, printable_location, resolve_location
from ansible_collections.smsbox.account.plugins.module_utils._specs import LEDGER_COPY_SPEC


def copy(run):
    problem = check_location(run.params['dest'], 'dest')
    if problem:
        raise InputError(problem)
    dest = resolve_location(run.params['dest'])
    source_fingerprint = run.params['source_fingerprint']
    if source_fingerprint is not None and (len(source_fingerprint) != 12 or source_fingerprint.strip('0123456789abcdef')):
        raise InputError('source_fingerprint must be a key fingerprint, 12 hex digits as the ledger warnings show it, got %r'
                         % source_fingerprint)
    try:
        return copy_ledger(run.ledger_location, dest, key_fingerprint(run.params['api_key']), source_fingerprint=source_fingerprint,
                           check_mode=run.check_mode, lock_timeout=run.params['lock_timeout'], move_aside=run.params['move_aside'])
    except LedgerDependencyError as error:
        raise ledger_dependency_failure(error)
    except LedgerError as error:
        raise ModuleFailure(str(error), source=dict(location=run.ledger_path), dest=dict(location=printable_location(dest)))


def main():
    SmsboxModule(argument_spec=LEDGER_COPY_SPEC, supports_check_mode=True).run(copy)


if __name__ == '__main__':
    main()
