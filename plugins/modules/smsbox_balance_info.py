#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, smsbox.account contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
module: smsbox_balance_info
short_description: Read the SMSBOX main balance and what the ledger knows
version_added: 0.1.0
description:
  - Reads the credit balance of an SMSBOX main account through the Account API.
  - Also returns what the collection's ledger records for that main account, the sub-accounts
    created or adopted, the credits allocated to each and the transfers still to settle,
    because the SMSBOX API itself cannot list sub-accounts or read their balances.
  - Never changes anything, neither at SMSBOX nor in the ledger.
extends_documentation_fragment:
  - smsbox.account.connection
  - smsbox.account.connection.attributes
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details: Reads only; runs the same in check mode.
  diff_mode:
    support: N/A
    details: Nothing changes, so there is nothing to show.
  idempotent:
    support: full
options: {}
seealso:
  - module: smsbox.account.smsbox_subaccount
  - module: smsbox.account.smsbox_credit
author:
  - smsbox.account contributors (@smsbox-account)
'''

EXAMPLES = r'''
- name: Read the main balance, with the key from the SMSBOX_API_KEY environment variable
  smsbox.account.smsbox_balance_info:
  register: smsbox

- name: Show it
  ansible.builtin.debug:
    msg: "{{ smsbox.balance }} credits left, {{ smsbox.ledger.allocated_total }} allocated to sub-accounts"

- name: Read it with the key from Ansible Vault
  smsbox.account.smsbox_balance_info:
    api_key: "{{ vault_smsbox_api_key }}"
  delegate_to: localhost
  run_once: true

- name: Fail early when a transfer is waiting to be settled
  smsbox.account.smsbox_balance_info:
  register: smsbox
  failed_when: smsbox.ledger.unsettled | length > 0

# Ad hoc:
#   SMSBOX_API_KEY=... ansible localhost -m smsbox.account.smsbox_balance_info
'''

RETURN = r'''
balance:
  description: Credits left on the main account; an integer, or a float when fractional (some SMS cost a fraction).
  returned: success
  type: raw
  sample: 1250
api_url:
  description: The endpoint that was read.
  returned: always
  type: str
  sample: https://api.smsbox.pro/1.1/api.php
ledger:
  description: What the ledger of this main account records.
  returned: success
  type: dict
  contains:
    path:
      description: Where the ledger is, its file path or its PostgreSQL URI with the password masked.
      type: str
      sample: /home/ops/.ansible/smsbox/ledger-3f2a9c01b7de.json
    exists:
      description: Whether the ledger holds anything for this main account yet.
      type: bool
      sample: true
    subaccounts:
      description:
        - The sub-accounts the ledger knows, by name.
        - C(origin) is C(created) (made by this collection) or C(adopted) (made elsewhere and recorded);
          C(state) is C(present), C(unknown) (a create whose answer was lost) or C(retired);
          C(baseline) is what it had received before the ledger knew it (0 when created here, null when adopted
          without one);
          C(allocated) is its declared allocation, what O(smsbox.account.smsbox_credit#module:allocated) compares with,
          its baseline plus the applied transfers made to reach an allocation;
          C(top_ups) is the net of its applied one-off transfers (O(smsbox.account.smsbox_credit#module:amount)), which
          come on top of the allocation and are never reversed by it;
          C(allowances) the total of its per-period allowances (the role's C(credit_per_period));
          C(reclaimed) what was taken back when it was retired (0 or less);
          C(received) is every credit it received in all, the sum of the above.
      type: dict
      sample: {"shop-paris": {"origin": "created", "state": "present", "nolimit": false, "baseline": 0, "allocated": 500,
                              "top_ups": 200, "allowances": 0, "reclaimed": 0, "received": 700}}
    baseline_total:
      description: Sum of the known baselines, the credits the sub-accounts had received before the ledger knew them.
      type: int
      sample: 0
    allocated_total:
      description: Sum of the sub-accounts' declared allocations (C(allocated)), baselines included.
      type: int
      sample: 500
    top_ups_total:
      description: Sum of the sub-accounts' one-off transfers (C(top_ups)).
      type: int
      sample: 200
    received_total:
      description: Sum of the credits the sub-accounts received in all (C(received)), baselines included.
      type: int
      sample: 700
    transferred_total:
      description: Net credits this ledger's applied transfers moved from the main account to the sub-accounts (no baseline).
      type: int
      sample: 700
    unsettled:
      description:
        - Transfers whose outcome is unknown (answer lost, or a run interrupted after sending).
          Settle each with M(smsbox.account.smsbox_credit) and O(smsbox.account.smsbox_credit#module:resolve).
      type: list
      elements: dict
      sample: [{"id": "tx-4be1c2a09d3f", "subaccount": "shop-lyon", "amount": 100, "state": "unknown"}]
'''

from ansible_collections.smsbox.account.plugins.module_utils._connection import SmsboxModule
from ansible_collections.smsbox.account.plugins.module_utils._specs import BALANCE_INFO_SPEC


def ledger_summary(ledger):
    subaccounts = {}
    for name, record in ledger.subaccounts().items():
        subaccounts[name] = dict(ledger.credits(name), origin=record['origin'], state=record['state'], nolimit=record['nolimit'])
    totals = ledger.credits_of_all().values()
    return dict(path=ledger.path, exists=ledger.exists, subaccounts=subaccounts, unsettled=ledger.unsettled(),
                baseline_total=sum(credits['baseline'] or 0 for credits in totals),
                allocated_total=sum(credits['allocated'] for credits in totals),
                top_ups_total=sum(credits['top_ups'] for credits in totals),
                received_total=sum(credits['received'] for credits in totals),
                transferred_total=sum(credits['received'] - (credits['baseline'] or 0) for credits in totals))


def balance_and_ledger(run):
    returned = dict(changed=False, api_url=run.params['api_url'])
    with run.main_account(returned, 'balance', exclusive=False) as (_client, ledger):
        return dict(returned, ledger=ledger_summary(ledger))


def main():
    SmsboxModule(argument_spec=BALANCE_INFO_SPEC, supports_check_mode=True).run(balance_and_ledger)


if __name__ == '__main__':
    main()
