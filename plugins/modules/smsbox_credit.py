#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, smsbox.account contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
module: smsbox_credit
short_description: Move SMSBOX credits to sub-accounts, never twice
version_added: 0.1.0
description:
  - Transfers credits between an SMSBOX main account and its sub-accounts, for one sub-account or many in one call
    (O(allocations)).
  - Declarative, with O(allocated=N) the module makes the sub-account's declared allocation (its baseline plus the
    transfers made to reach an O(allocated) total) equal N by transferring the difference, in either direction, and
    does nothing when it is equal already.
  - Imperative, with O(amount=N) the module makes one transfer of N credits (negative takes credits back) each run,
    unless O(transfer_id) names a transfer the ledger already applied. Such one-off transfers (an invoice's top-up)
    come on top of the declared allocation and are never reversed by a later O(allocated), so a paid invoice stays paid.
    Results show both figures, the declared allocation and the credits received in all.
  - The SMSBOX API cannot read a sub-account's credits; the totals come from the ledger (see O(ledger)), where every
    transfer is recorded as C(pending) before it is sent, then C(applied), C(rejected), or C(unknown) when its answer
    was lost. A transfer is never sent again on its own; while a sub-account has an C(unknown) transfer, the module
    refuses to move its credits until the transfer is settled with O(resolve).
  - Credits taken back (negative transfers) are moved first; then the main balance, with what they freed, must cover
    the total of the positive transfers, or none of those is sent.
  - A take-back that SMSBOX refused (the sub-account spent its credits) is not sent again while the task asks for the
    same one; the message says what to set instead.
extends_documentation_fragment:
  - smsbox.account.connection
  - smsbox.account.connection.attributes
  - smsbox.account.connection.bulk
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details: Predicts from the ledger and the balance exactly which transfers a real run would send, and sends none.
  diff_mode:
    support: full
    details: Shows the credits allocated to each sub-account before and after.
  idempotent:
    support: partial
    details:
      - With O(allocated), or O(amount) with O(transfer_id), a second run changes nothing.
      - O(amount) without O(transfer_id) transfers again on every run, as asked.
options:
  subaccount:
    description:
      - Username of the sub-account.
      - With O(allocated) it must be known to the ledger (created or adopted through it). With O(amount) it need not be
        (it may have been made elsewhere); SMSBOX's answer decides.
      - Mutually exclusive with O(allocations).
    type: str
  allocated:
    description:
      - Total of credits the sub-account should have received from this main account, 0 or more (an integer).
      - Needs a sub-account the ledger knows with its baseline, that is created through it, or adopted with
        O(smsbox.account.smsbox_subaccount#module:baseline). On any other name a real run refuses before sending anything,
        since the credits it already received are unknown and a fresh controller would pay the whole allocation again;
        check mode predicts it with a warning, since an earlier task of the same play may record it.
      - Mutually exclusive with O(amount).
    type: raw
  amount:
    description:
      - Credits to transfer in one transfer, an integer other than 0; negative takes credits back from the sub-account.
    type: raw
  transfer_id:
    description:
      - Idempotency key for O(amount). When the ledger holds an applied transfer with this key, nothing is sent.
      - A key names one transfer; giving it with another O(subaccount) or O(amount) is refused before anything is sent.
    type: str
  period:
    description:
      - Makes O(amount) an allowance, paid once per period whatever the number of runs, controllers or retries, as a
        schedule (AWX, cron) needs; C(month) or C(week) (ISO weeks) is the current one in UTC, and a period named
        C(2026-12) or C(2026-W50) pays that one (a period that was missed).
      - Its idempotency key is O(transfer_id), by default C(allowance-<period>-<sub-account>); a period already paid sends
        nothing, even when O(amount) changed since (the new amount applies from the next period).
      - Allowances come on top of the declared allocation (O(allocated)), as one-off amounts do; results and
        M(smsbox.account.smsbox_balance_info) show them apart (C(allowances)).
    type: str
  resolve:
    description:
      - "Settle transfers of the sub-account whose outcome is C(unknown), after checking in the SMSBOX dashboard whether
        they arrived, by naming each one with its id and what you found, for example C({\"tx-4be1c2a09d3f\": applied})."
      - The ids are in the message of the task that lost the answer, and in RV(smsbox.account.smsbox_balance_info#module:ledger.unsettled).
      - C(applied) counts the transfer in the sub-account's total; C(rejected) records that it never moved credits.
      - Naming each transfer makes a settlement single-use, so a task kept in a playbook can never settle a transfer
        that becomes unknown later. An id that is settled already changes nothing and is reported in the C(note) of its item in RV(allocations).
      - May be combined with O(allocated) or O(amount), which are then applied after the settlement.
    type: raw
  allocations:
    description:
      - Bulk form, many sub-accounts of the same main account in one call, each once. Each item takes the options above.
    type: list
    elements: dict
    suboptions:
      subaccount:
        description: Username of the sub-account.
        type: str
        required: true
      allocated:
        description: Total the sub-account should have received.
        type: raw
      amount:
        description: Credits to transfer once, negative to take back.
        type: raw
      transfer_id:
        description: Idempotency key for O(allocations[].amount).
        type: str
      resolve:
        description: Transfers of this sub-account to settle first, by id, each C(applied) or C(rejected); see O(resolve).
        type: raw
      period:
        description: Pay O(allocations[].amount) once per period; see O(period).
        type: str
notes:
  - Do not wrap this module in C(until)/C(retries). A transfer whose answer was lost may have been applied, and the
    module already stops rather than pay twice; settle it with O(resolve) instead.
seealso:
  - module: smsbox.account.smsbox_subaccount
author:
  - smsbox.account contributors (@smsbox-account)
'''

EXAMPLES = r'''
- name: Give shop-paris 500 credits in all (transfers only the difference from what it got already)
  smsbox.account.smsbox_credit:
    subaccount: shop-paris
    allocated: 500
  delegate_to: localhost

- name: Top up once per invoice, even if the play runs twice
  smsbox.account.smsbox_credit:
    subaccount: shop-lyon
    amount: 200
    transfer_id: "invoice-2026-11-0042"
  delegate_to: localhost

- name: Take 50 credits back
  smsbox.account.smsbox_credit:
    subaccount: shop-nice
    amount: -50

- name: Allocate to many sub-accounts in one call
  smsbox.account.smsbox_credit:
    api_key: "{{ vault_smsbox_api_key }}"
    allocations:
      - subaccount: shop-paris
        allocated: 500
      - subaccount: shop-lyon
        allocated: 300
  delegate_to: localhost
  run_once: true
  register: credits

- name: After checking the SMSBOX dashboard, record that the lost transfer tx-4be1c2a09d3f did arrive
  smsbox.account.smsbox_credit:
    subaccount: shop-lyon
    resolve:
      tx-4be1c2a09d3f: applied
  delegate_to: localhost
'''

RETURN = r'''
subaccount:
  description: The sub-account, in the single form.
  returned: single form
  type: str
  sample: shop-paris
action:
  description: What happened to it, in the single form; see RV(allocations).
  returned: single form
  type: str
  sample: transferred
allocations:
  description:
    - One entry per item, in input order, with C(subaccount), C(action), C(changed), C(allocated_before) and
      C(allocated_after) (its declared allocation, what O(allocated) compares with), C(received_before) and
      C(received_after) (every credit it received in all, the declared allocation plus one-off transfers),
      C(amount) (the transfer made, 0 when none), C(transfer) (its ledger record, when one was made), C(resolved) (ids
      of the transfers settled by O(resolve)), C(unsettled) (ids of its transfers whose outcome is still unknown),
      C(note) when something needs no action but is worth knowing, and C(error) when it failed.
    - C(action) is C(transferred), C(unchanged), C(resolved) or C(failed); in check mode, what a real run would do.
  returned: always
  type: list
  elements: dict
  sample: [{"subaccount": "shop-paris", "action": "transferred", "changed": true, "allocated_before": 300,
            "allocated_after": 500, "received_before": 350, "received_after": 550, "amount": 200}]
transfers:
  description:
    - Every transfer this run made or settled, with C(id), C(subaccount), C(amount), C(state)
      (C(applied), C(rejected) or C(unknown)), C(transfer_id) and C(detail). In check mode, the transfers
      a real run would send, with state C(planned).
  returned: always
  type: list
  elements: dict
  sample: [{"id": "tx-4be1c2a09d3f", "subaccount": "shop-paris", "amount": 200, "state": "applied", "transfer_id": null, "detail": "OK"}]
balance_before:
  description: Main balance read before any transfer.
  returned: when the balance could be read
  type: raw
  sample: 1250
balance_after:
  description: Main balance read after the transfers (in check mode, the predicted one).
  returned: when the balance could be read
  type: raw
  sample: 1050
moved:
  description: Net credits moved to sub-accounts by applied transfers (in check mode, by the planned ones).
  returned: always
  type: int
  sample: 200
unsettled:
  description:
    - Every transfer of this main account's ledger whose outcome is still unknown after the run (C(unknown), or C(pending)
      when a run was interrupted), whichever sub-account it went to, described by this task or not. Settle each with
      O(smsbox.account.smsbox_credit#module:resolve).
  returned: when the ledger could be opened
  type: list
  elements: dict
  sample: [{"id": "tx-4be1c2a09d3f", "subaccount": "shop-lyon", "amount": 100, "state": "unknown"}]
ledger_path:
  description: Where the ledger of this main account is, its file path or its PostgreSQL URI with the password masked.
  returned: always
  type: str
  sample: /home/ops/.ansible/smsbox/ledger-3f2a9c01b7de.json
'''

from ansible_collections.smsbox.account.plugins.module_utils._connection import SmsboxModule
from ansible_collections.smsbox.account.plugins.module_utils._converge.credits import converge_credits
from ansible_collections.smsbox.account.plugins.module_utils._specs import CREDIT_RULES, CREDIT_SPEC


def main():
    SmsboxModule(argument_spec=CREDIT_SPEC, supports_check_mode=True, **CREDIT_RULES).run(converge_credits)


if __name__ == '__main__':
    main()
