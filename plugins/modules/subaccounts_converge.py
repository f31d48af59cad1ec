#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, smsbox.account contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
module: subaccounts_converge
short_description: Converge every main account of the role's plan, one stage at a time
version_added: 1.0.0
description:
  - A task of the role C(smsbox.account.subaccounts), after M(smsbox.account.subaccounts_plan). For each main account of
    the plan (the variable C(smsbox_plan) that the plan task registered), it runs what
    M(smsbox.account.smsbox_subaccount) (O(stage=subaccounts)) or M(smsbox.account.smsbox_credit) (O(stage=credits))
    does, with the same options, the same checks and the same ledger, and returns one result per main account, as a
    loop over the module would.
  - The main accounts are converged side by side, in the controller's process, with the modules' own code; when the
    controller's Python lacks the modules' requirements, the modules run as ordinary module calls instead.
  - Its results hold no key and no password. It never fails for a failed main account; the role reports those from
    RV(results) with the filter P(smsbox.account.subaccount_failures#filter).
  - An action that runs on the controller only; it is part of the role and rarely useful on its own.
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.conn
  - ansible.builtin.action_common_attributes.flow
attributes:
  check_mode:
    support: full
    details: As the modules, it predicts from the ledger and sends no write.
  diff_mode:
    support: full
    details: Each main account's result holds the diff its module would show.
  platform:
    platforms: all
  action:
    support: full
  async:
    support: none
  become:
    support: none
  bypass_host_loop:
    support: none
    details: Use it with C(run_once), as the role does.
  connection:
    support: none
  delegation:
    support: none
options:
  stage:
    description:
      - C(subaccounts) creates or adopts the sub-accounts of each main account; C(credits) allocates their credits.
    type: str
    required: true
    choices: [subaccounts, credits]
seealso:
  - module: smsbox.account.subaccounts_plan
  - module: smsbox.account.smsbox_subaccount
  - module: smsbox.account.smsbox_credit
author:
  - smsbox.account contributors (@smsbox-account)
'''

EXAMPLES = r'''
- name: Create the sub-accounts of each main account of the plan
  smsbox.account.subaccounts_converge:
    stage: subaccounts
  run_once: true
  register: created
'''

RETURN = r'''
results:
  description:
    - One entry per main account of the plan, in its order, with what M(smsbox.account.smsbox_subaccount) or
      M(smsbox.account.smsbox_credit) returns for it (C(failed) and C(msg) when it failed; C(skipped) when it had nothing
      for this stage), and C(item), the account's C(label) and C(hosts).
  returned: always
  type: list
  elements: dict
'''
