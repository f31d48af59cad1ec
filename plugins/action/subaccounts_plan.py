# -*- coding: utf-8 -*-
# Copyright: (c) 2026, smsbox.account contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The role's plan, as an action: it can see the play (strategy, batch) that a filter cannot."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os

from ansible.module_utils.common.validation import check_type_list
from ansible.parsing.dataloader import DataLoader
from ansible.plugins.action import ActionBase

import yaml

from ansible_collections.smsbox.account.plugins.plugin_utils._inventory_sources import group_clashes
from ansible_collections.smsbox.account.plugins.plugin_utils._ledgers_of_the_run import read_ledger
from ansible_collections.smsbox.account.plugins.plugin_utils._role_plan import ACCOUNT_VARIABLES, plan_hosts

ROLE_SPEC = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'roles', 'subaccounts', 'meta', 'argument_specs.yml')
# Under these strategies run_once runs on every host, so every host would converge every main account.
UNSUPPORTED_STRATEGIES = ('free', 'host_pinned', 'ansible.builtin.free', 'ansible.builtin.host_pinned')


class ActionModule(ActionBase):

    TRANSFERS_FILES = False
    _VALID_ARGS = frozenset(('hosts',))

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        task_vars = task_vars or {}
        play = self._task.get_play()
        strategy = getattr(play, 'strategy', None)
        if strategy in UNSUPPORTED_STRATEGIES:
            return dict(result, failed=True, msg=(
                'The role smsbox.account.subaccounts cannot run with strategy: %s, under which run_once runs on every host, so '
                'every host would converge every main account. Nothing was sent. Run it in a play with the default linear '
                'strategy (serial: works, and converges one batch at a time).' % strategy))
        if not self._task.run_once:
            return dict(result, failed=True, msg='smsbox.account.subaccounts_plan plans the whole batch: give its task run_once: true. '
                                                 'Nothing was sent.')
        hosts = self._task.args.get('hosts')
        hosts = check_type_list(hosts) if hosts is not None else task_vars.get('ansible_play_batch', [])
        clashes = self._group_clashes(hosts, task_vars)
        if clashes:
            return dict(result, failed=True, msg=' | '.join(clashes))
        # Hosts of the inventory this play does not converge (--limit, serial, a play over some groups): their sub-accounts
        # are no drift, and a partial view never reclaims.
        batch = set(hosts)
        outside = [host for host in (task_vars.get('groups') or {}).get('all', []) if host not in batch]
        plan = plan_hosts(hosts, task_vars['hostvars'], self._role_options(), read_ledger=read_ledger, outside=outside)
        if plan['errors']:
            return dict(result, failed=True, msg=' | '.join(plan['errors']))
        # The plan holds keys and passwords: hidden from every callback, kept in the registered variable.
        return dict(result, changed=False, accounts=plan['accounts'], _ansible_no_log=True)

    def _group_clashes(self, hosts, task_vars):
        """Same-named groups of several inventories that give the play's hosts another inventory's main account."""
        sources = task_vars.get('ansible_inventory_sources') or []
        if len(sources) < 2:
            return []
        play_hosts = set(hosts)
        groups = set(group for group, members in (task_vars.get('groups') or {}).items() if play_hosts.intersection(members))
        return group_clashes(sources, groups, self._reader().load_from_file, ACCOUNT_VARIABLES)

    def _reader(self):
        """A loader of our own that decrypts with the play's vault secrets: the play's loader caches what it parses, and
        a file parsed here first would reach the play's variables untrusted as templates (ansible-core 2.19+)."""
        loader = DataLoader()
        secrets = getattr(getattr(self._loader, '_vault', None), 'secrets', None)
        if secrets:
            loader.set_vault_secrets(secrets)
        return loader

    @staticmethod
    def _role_options():
        # The spec of this collection's role, wherever the task is: the plan reads the variables it documents.
        with open(ROLE_SPEC, 'rb') as handle:
            # libyaml's loader when PyYAML has it: the spec is plain YAML, read on every run.
            return yaml.load(handle, Loader=getattr(yaml, 'CSafeLoader', yaml.SafeLoader))['argument_specs']['main']['options']
