#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, smsbox.account contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
module: subaccounts_plan
short_description: Plan the role smsbox.account.subaccounts over the hosts of the current batch
version_added: 1.0.0
description:
  - The first task of the role C(smsbox.account.subaccounts). It reads the sub-accounts described by the hosts of the
    current batch (C(ansible_play_batch), so C(serial) is honoured), checks every host against the role's argument
    spec, and groups them by SMSBOX main account (API URL and key), with every setting of an account read from that
    account's own hosts.
  - Fails before any request, naming each host and reason, when a host's input is invalid, when hosts of one main
    account disagree on one of its settings, when two main accounts share a ledger, or when the play uses the
    C(free) or C(host_pinned) strategy, under which C(run_once) runs on every host.
  - Returns the plan, which holds API keys and passwords. The result is hidden from output (as with C(no_log)), while
    a registered variable keeps it for the role's next tasks. A failure message never holds a key or a password.
  - An action that runs on the controller only; it is part of the role and rarely useful on its own.
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.conn
  - ansible.builtin.action_common_attributes.flow
attributes:
  check_mode:
    support: full
    details: It only reads inventory variables.
  diff_mode:
    support: none
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
  hosts:
    description:
      - The hosts to read; the hosts of the current batch when unset.
    type: list
    elements: str
seealso:
  - ref: smsbox.account.subaccounts role
    description: The role whose first task this is.
author:
  - smsbox.account contributors (@smsbox-account)
'''

EXAMPLES = r'''
- name: Plan one bulk call per main account from the hosts of this batch
  smsbox.account.subaccounts_plan:
  run_once: true
  register: smsbox_plan
'''

RETURN = r'''
accounts:
  description:
    - One entry per main account, with C(label), C(api_url), C(api_key), C(ledger), C(ca_path), C(validate_certs),
      C(timeout), C(adopt), C(concurrency), C(hosts), C(subaccounts) (items for M(smsbox.account.smsbox_subaccount))
      and C(allocations) (items for M(smsbox.account.smsbox_credit)).
    - Holds keys and passwords; hidden from output.
  returned: success
  type: list
  elements: dict
'''
