#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, smsbox.account contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
module: smsbox_subaccount
short_description: Create SMSBOX sub-accounts, once
version_added: 0.1.0
description:
  - Makes sure SMSBOX sub-accounts exist under a main account, one per call or many in one call (O(subaccounts)).
  - The SMSBOX API cannot tell whether a sub-account exists, so the module keeps a ledger of the sub-accounts it
    created or adopted (see O(ledger)). A name the ledger knows is left alone; any other name is created.
  - When SMSBOX refuses a create (C(ERREUR)), the cause cannot be told apart (the name exists, the main account has
    500 sub-accounts, or a parameter was refused). With O(adopt=true) and a O(baseline), which declare the name as
    existing, it is then recorded as made elsewhere; otherwise the task fails and says so. A new sub-account (a
    password and no baseline) whose create is refused is never recorded, with or without O(adopt).
  - The password and O(nolimit) can only be set at creation through the API. When the task asks for other values
    than the ledger recorded at creation, the module warns and changes nothing; change them in the SMSBOX dashboard.
  - An adopted sub-account's credits are unknown to the ledger until O(baseline) records what it had already received;
    until then M(smsbox.account.smsbox_credit) refuses O(smsbox.account.smsbox_credit#module:allocated) on it, so
    losing a ledger and adopting again never pays twice.
  - Before any create, the main balance is read once, so a refused key fails the task before anything is sent.
extends_documentation_fragment:
  - smsbox.account.connection
  - smsbox.account.connection.attributes
  - smsbox.account.connection.bulk
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details: Predicts from the ledger which names would be created; sends no create (the balance read still happens).
  diff_mode:
    support: full
    details: Shows the sub-accounts added to the ledger, never a password.
  idempotent:
    support: full
options:
  name:
    description:
      - Username of the sub-account, at most 50 characters among letters, digits, C(.), C(_), C(-) and C(@).
      - Mutually exclusive with O(subaccounts).
    type: str
  password:
    description:
      - Password of the sub-account, at most 50 printable ASCII characters. Needed only to create it.
    type: str
  nolimit:
    description:
      - Let the sub-account spend the main balance directly, without credits of its own. Chosen at creation only.
      - In the bulk form, the default for items that do not set it.
    type: bool
    default: false
  adopt:
    description:
      - Record a sub-account declared as existing, made elsewhere, instead of failing.
      - Without O(password), record the name as adopted without sending a create.
      - With O(password) and O(baseline), the create is sent; if SMSBOX refuses it (the name exists), the name is
        recorded as adopted with that baseline. With O(password) and no O(baseline), the name is new, so a refused create
        fails, and nothing is recorded.
      - In the bulk form, the default for items that do not set it.
    type: bool
    default: false
  baseline:
    description:
      - For an adopted sub-account, the credits it had received from this main account before this ledger knew it (an
        integer, 0 or more), what it received in all; never what the SMSBOX dashboard shows now, which is net of what
        it spent (a shop that received 500 and spent 300 shows 200; a baseline of 200 would pay 300 again), and
        without the transfers this ledger itself recorded. Recorded at adoption, or later on a sub-account adopted
        without it; a different value for a baseline already recorded only warns.
      - Declarative allocations (O(smsbox.account.smsbox_credit#module:allocated)) count from it.
      - Ignored, with a warning, for a sub-account this collection created (its baseline is 0).
    type: raw
  state:
    description:
      - C(present), the sub-account exists and is managed; C(retired), a shop closes.
      - C(retired) takes back, in one transfer recorded like any other, the credits the ledger knows the sub-account received
        (its baseline, allocations, top-ups and allowances), marks it retired in the ledger, and leaves it alone afterwards.
        When SMSBOX refuses the take-back (it spent some credits), it is retired all the same, with a warning, once, that
        says how to take back what it still holds; the take-back is not sent again.
      - The API cannot delete a sub-account; a retired one still counts toward the 500 of its main account. Describing a
        retired sub-account as C(present) again manages it again, sending nothing.
      - In the bulk form, the default for items that do not set it.
    type: str
    choices: [present, retired]
    default: present
  acknowledge:
    description:
      - Record that the sub-account's password or O(nolimit) was changed in the SMSBOX dashboard to what the task gives,
        sending nothing, so that the module stops warning that they differ from the ones used at creation.
      - In the bulk form, the default for items that do not set it.
    type: bool
    default: false
  subaccounts:
    description:
      - Bulk form, many sub-accounts of the same main account in one call. Each item takes the options above.
      - At most 500 items; each name once.
    type: list
    elements: dict
    suboptions:
      name:
        description: Username of the sub-account.
        type: str
        required: true
      password:
        description: Password of the sub-account, needed only to create it.
        type: str
      nolimit:
        description: Let the sub-account spend the main balance directly. Defaults to O(nolimit).
        type: bool
      adopt:
        description: Record the name as existing when SMSBOX refuses to create it. Defaults to O(adopt).
        type: bool
      baseline:
        description: Credits it had already received, for an adopted sub-account; see O(baseline).
        type: raw
      state:
        description: C(present) or C(retired); see O(state). Defaults to O(state).
        type: str
        choices: [present, retired]
      acknowledge:
        description: Record a password or O(nolimit) changed in the dashboard; see O(acknowledge). Defaults to O(acknowledge).
        type: bool
seealso:
  - module: smsbox.account.smsbox_credit
author:
  - smsbox.account contributors (@smsbox-account)
'''

EXAMPLES = r'''
- name: Create one sub-account (key from SMSBOX_API_KEY)
  smsbox.account.smsbox_subaccount:
    name: shop-paris
    password: "{{ vault_shop_paris_password }}"
  delegate_to: localhost

- name: Create many in one call, each once
  smsbox.account.smsbox_subaccount:
    api_key: "{{ vault_smsbox_api_key }}"
    subaccounts:
      - name: shop-lyon
        password: "{{ vault_shop_lyon_password }}"
      - name: shop-nice
        password: "{{ vault_shop_nice_password }}"
        nolimit: true
  delegate_to: localhost
  run_once: true
  register: created

- name: Record sub-accounts made in the SMSBOX dashboard, with the credits each already received
  smsbox.account.smsbox_subaccount:
    subaccounts:
      - name: hq-marketing
        baseline: 1200
      - name: hq-support
        baseline: 0
    adopt: true
  delegate_to: localhost
  run_once: true
'''

RETURN = r'''
name:
  description: The sub-account, in the single form.
  returned: single form
  type: str
  sample: shop-paris
action:
  description: What happened to it, in the single form; see RV(subaccounts).
  returned: single form
  type: str
  sample: created
subaccounts:
  description:
    - One entry per item, in input order, with C(name), C(action), C(changed), and C(error) when it failed; a retired one
      also has C(reclaimed) (credits taken back, 0 or less) and C(transfer) (its ledger record).
    - C(action) is C(created), C(adopted) (also when it records the baseline of a sub-account adopted without one),
      C(retired), C(reactivated) (a retired one described as present again), C(acknowledged), C(unchanged) or
      C(failed); in check mode, the action a real run would take.
  returned: always
  type: list
  elements: dict
  sample: [{"name": "shop-lyon", "action": "created", "changed": true}, {"name": "shop-nice", "action": "unchanged", "changed": false}]
created:
  description: Names created by this run (in check mode, that a real run would create).
  returned: always
  type: list
  elements: str
  sample: [shop-lyon]
adopted:
  description: Names recorded as made elsewhere.
  returned: always
  type: list
  elements: str
  sample: []
retired:
  description: The sub-accounts retired by this run (in check mode, that a real run would retire).
  returned: always
  type: list
  elements: str
acknowledged:
  description: The sub-accounts whose password or nolimit changed in the dashboard was recorded (O(acknowledge)).
  returned: always
  type: list
  elements: str
reclaimed:
  description: Credits taken back from the sub-accounts retired by this run, 0 or less.
  returned: always
  type: int
unchanged:
  description: Names the ledger already knew.
  returned: always
  type: list
  elements: str
  sample: [shop-nice]
failed_names:
  description: Names that could not be created; the message of each is in RV(subaccounts).
  returned: always
  type: list
  elements: str
  sample: []
balance:
  description: Main balance read before any create (this read also checks the key).
  returned: success
  type: raw
  sample: 1250
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
  returned: success
  type: str
  sample: /home/ops/.ansible/smsbox/ledger-3f2a9c01b7de.json
'''

from ansible_collections.smsbox.account.plugins.module_utils._connection import SmsboxModule
from ansible_collections.smsbox.account.plugins.module_utils._converge.subaccounts import converge_subaccounts
from ansible_collections.smsbox.account.plugins.module_utils._specs import SUBACCOUNT_RULES, SUBACCOUNT_SPEC


def main():
    SmsboxModule(argument_spec=SUBACCOUNT_SPEC, supports_check_mode=True, **SUBACCOUNT_RULES).run(converge_subaccounts)


if __name__ == '__main__':
    main()
