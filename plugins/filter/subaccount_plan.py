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
  - Reads C(smsbox_subaccount) and C(smsbox_subaccounts) of each host, and the settings of its main account
    (C(smsbox_api_url), C(smsbox_api_key), C(smsbox_ledger), C(smsbox_account_label), C(smsbox_ca_path),
    C(smsbox_validate_certs), C(smsbox_timeout), C(smsbox_adopt), C(smsbox_concurrency)), checks them against the
    role's argument spec, and groups them by main account (API URL and key).
  - Hosts of one main account that disagree on one of its settings, and main accounts that share a ledger, are
    problems, so the result never depends on inventory order.
  - Never fails on bad input; returns the problems in C(errors), each naming the host and the reason, so the caller
    can report them from a task that carries no secret.
  - The role itself runs the same plan through the action M(smsbox.account.subaccounts_plan).
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
  description:
    - C(accounts), a list with one entry per main account (C(label), C(api_url), C(api_key), C(ledger), C(ca_path),
      C(validate_certs), C(timeout), C(adopt), C(concurrency), C(hosts), C(subaccounts), C(allocations)), and
      C(errors), a list of sentences.
  type: dict
'''

from ansible.errors import AnsibleFilterError

from ansible_collections.smsbox.account.plugins.plugin_utils._role_plan import plan_hosts


def subaccount_plan(hosts, hostvars, spec):
    if not isinstance(spec, dict):
        raise AnsibleFilterError('subaccount_plan needs the options of the role argument spec as a dict')
    return plan_hosts(hosts, hostvars, spec)


class FilterModule(object):
    def filters(self):
        return {'subaccount_plan': subaccount_plan}
