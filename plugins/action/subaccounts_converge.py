# -*- coding: utf-8 -*-
# Copyright: (c) 2026, smsbox.account contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The role's create, credit and allowance stages: the shell around plugin_utils/_converge_accounts.py, which runs the
modules' converge code for every main account of the plan. Here: the play's side (the plan from the variable its task
registered, the modes, the run, the lock-wait notices, the module calls when this Python lacks requests), in the role's
words."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible.plugins.action import ActionBase
from ansible.utils.display import Display

from ansible_collections.smsbox.account.plugins.plugin_utils._converge_accounts import STAGES, converge_accounts, play_run
from ansible_collections.smsbox.account.plugins.plugin_utils._role_plan import ROLE_VOCABULARY, native

display = Display()
NO_PLAN = ('The role smsbox.account.subaccounts plans every stage in its first task, which this run skipped (--start-at-task '
           'past it?). Select stages with tags instead, e.g. --tags smsbox_credits: the plan always runs. Nothing was sent.')


class ActionModule(ActionBase):

    TRANSFERS_FILES = False
    _VALID_ARGS = frozenset(('stage',))

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        task_vars = task_vars or {}
        stage = self._task.args.get('stage')
        if stage not in STAGES:
            return dict(result, failed=True, msg='stage must be one of %s, got %r' % (', '.join(sorted(STAGES)), stage))
        # The plan holds keys and passwords: it is read from the variable its task registered, never passed as arguments.
        plan = task_vars.get('smsbox_plan') or {}
        if 'accounts' not in plan:
            return dict(result, failed=True, msg=NO_PLAN)
        results = converge_accounts(
            stage, native(plan['accounts']), made=task_vars.get('smsbox_created'), check_mode=self._play_context.check_mode,
            diff=self._play_context.diff, words=ROLE_VOCABULARY, play=play_run(task_vars),
            # Shown as it happens (a module's output only comes at its end): who holds the ledger while this run waits for it.
            show=lambda text: display.display('smsbox.account: %s' % text),
            module_run=lambda module, params: self._module_run(module, params, task_vars))
        warnings = [warning for account_result in results for warning in account_result.pop('warnings', [])]
        result.update(changed=any(account_result.get('changed') for account_result in results), results=results, warnings=warnings)
        if self._play_context.diff:
            # Shown by --diff: each main account's sub-accounts, before and after (a task's diff must be at its top).
            result['diff'] = [dict(account_result['diff'], before_header='%s (%s)' % (account_result['item']['label'], stage),
                                   after_header='%s (%s)' % (account_result['item']['label'], stage))
                              for account_result in results if account_result.get('changed') and account_result.get('diff')]
        return result

    def _module_run(self, module, params, task_vars):
        account_result = self._execute_module(module_name=module, module_args=params, task_vars=task_vars)
        account_result.pop('invocation', None)
        return account_result
