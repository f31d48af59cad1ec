# -*- coding: utf-8 -*-
# Copyright: (c) 2026, smsbox.account contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The role's create and credit stages: the modules' own converge code, run in this process for every main account of
the plan, side by side.

A module task per main account costs a Python start, the imports of requests and the module, and a round trip of its
arguments and result, and converges the accounts one after the other. Here each account is one ``run_result`` of the
same converge function the module calls, with the module's argument spec, in a thread of its own. When this Python
cannot run them (requests missing), the modules run instead, as ordinary module calls.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import re
import sys
from concurrent.futures import ThreadPoolExecutor

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.plugins.action import ActionBase
from ansible.utils.display import Display

from ansible_collections.smsbox.account.plugins.module_utils._api.client import REQUESTS_IMPORT_ERROR
from ansible_collections.smsbox.account.plugins.module_utils._connection import Run, run_result
from ansible_collections.smsbox.account.plugins.module_utils._converge.credits import converge_credits
from ansible_collections.smsbox.account.plugins.module_utils._converge.subaccounts import converge_subaccounts
from ansible_collections.smsbox.account.plugins.module_utils._inputs import masker
from ansible_collections.smsbox.account.plugins.module_utils._ledger.store import is_postgresql, uri_passwords
from ansible_collections.smsbox.account.plugins.module_utils._specs import CREDIT_RULES, CREDIT_SPEC, SUBACCOUNT_RULES, SUBACCOUNT_SPEC, with_connection

SUBACCOUNT_MODULE = ('smsbox.account.smsbox_subaccount', SUBACCOUNT_SPEC, SUBACCOUNT_RULES)
CREDIT_MODULE = ('smsbox.account.smsbox_credit', CREDIT_SPEC, CREDIT_RULES)
# stage -> ((the module, its spec and rules), its converge function, the plan entry it converges, the module option that takes it)
STAGES = {
    'subaccounts': (SUBACCOUNT_MODULE, converge_subaccounts, 'subaccounts', 'subaccounts'),
    'credits': (CREDIT_MODULE, converge_credits, 'allocations', 'allocations'),
    'allowances': (CREDIT_MODULE, converge_credits, 'allowances', 'allocations'),
}
ACCOUNT_SETTINGS = ('api_key', 'api_url', 'ledger', 'validate_certs', 'ca_path', 'timeout', 'concurrency', 'lock_timeout',
                    'ledger_connections', 'run_label')
# ansible-playbook's options that take a value: what follows them is no playbook.
OPTIONS_WITH_VALUES = frozenset(('-i', '--inventory', '--inventory-file', '-e', '--extra-vars', '-l', '--limit', '-t', '--tags',
                                 '--skip-tags', '--vault-password-file', '--vault-id', '-u', '--user', '-f', '--forks', '-c',
                                 '--connection', '-T', '--timeout', '--start-at-task', '-M', '--module-path', '--private-key',
                                 '--key-file', '--become-user', '--become-method'))
# What the play knows of its run, which the ledger records with each create and transfer (AWX passes these variables).
PLAY_RUN_VARIABLES = ('awx_job_id', 'awx_job_template_name', 'awx_user_name', 'awx_host', 'tower_job_id',
                      'tower_job_template_name', 'tower_user_name')
MAX_ACCOUNTS_AT_ONCE = 8
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
        module, converge, entries, _option = STAGES[stage]
        self._play_run = play_run(task_vars)
        accounts = list(plan['accounts'])
        # The create stage's outcome per main account, when it ran in this play: a failure of one account stops only
        # that account's credits, and only for the sub-accounts that could not be made.
        made = dict((entry.get('item', {}).get('label'), entry) for entry in (task_vars.get('smsbox_created') or {}).get('results', [])
                    if isinstance(entry, dict)) if stage != 'subaccounts' else {}

        def converge_account(account):
            item = dict(label=account['label'], hosts=account['hosts'])
            account, not_attempted = without_failed_creates(account, made.get(account['label']), entries)
            if not_attempted:
                return dict(skipped=True, smsbox_skip=True, changed=False, item=item, skip_reason=not_attempted)
            if not account[entries]:
                return dict(skipped=True, changed=False, item=item)
            params = self._params(stage, account)
            if REQUESTS_IMPORT_ERROR:
                return dict(self._module_run(module, params, task_vars), item=item)
            # In check mode, the names the create stage predicts it creates are no surprise to the credit stages.
            expected = frozenset(made.get(account['label'], {}).get('created') or ())
            return dict(self._in_process(module, converge, params, account['label'], expected), item=item)

        if REQUESTS_IMPORT_ERROR:
            results = [converge_account(account) for account in accounts]  # module calls, one after the other
        else:
            with ThreadPoolExecutor(max_workers=max(1, min(MAX_ACCOUNTS_AT_ONCE, len(accounts)))) as pool:
                results = list(pool.map(converge_account, accounts))
        warnings = [warning for account_result in results for warning in account_result.pop('warnings', [])]
        result.update(changed=any(account_result.get('changed') for account_result in results), results=results, warnings=warnings)
        if self._play_context.diff:
            # Shown by --diff: each main account's sub-accounts, before and after (a task's diff must be at its top).
            result['diff'] = [dict(account_result['diff'], before_header='%s (%s)' % (account_result['item']['label'], stage),
                                   after_header='%s (%s)' % (account_result['item']['label'], stage))
                              for account_result in results if account_result.get('changed') and account_result.get('diff')]
        return result

    @staticmethod
    def _params(stage, account):
        params = dict((key, account.get(key)) for key in ACCOUNT_SETTINGS if account.get(key) is not None)
        params[STAGES[stage][3]] = account[STAGES[stage][2]]
        if stage == 'subaccounts':
            params['adopt'] = bool(account.get('adopt'))
        return params

    def _in_process(self, module, converge, params, label, expected=frozenset()):
        _name, spec, rules = module
        validated = ArgumentSpecValidator(with_connection(spec), **rules).validate(params)
        secrets = set(validated._no_log_values)
        if is_postgresql(validated.validated_parameters.get('ledger')):
            secrets.update(uri_passwords(validated.validated_parameters['ledger']))
        if validated.error_messages:
            return scrub(dict(failed=True, changed=False, msg=' | '.join(validated.error_messages)), secrets)
        # Shown as it happens (a module's output only comes at its end): who holds the ledger while this run waits for it.
        notify = self._notifier(label, secrets)
        run = Run(validated.validated_parameters, check_mode=self._play_context.check_mode, diff=self._play_context.diff,
                  notify=notify)
        run.expected_new = expected
        run.play = self._play_run
        account_result = run_result(run, converge)
        account_result.setdefault('changed', False)
        account_result['warnings'] = ['%s: %s' % (label, warning) for warning in run.warnings]
        return scrub(account_result, secrets)

    @staticmethod
    def _notifier(label, secrets):
        hide = masker(secrets)

        def notify(message):
            display.display('smsbox.account: %s: %s' % (label, hide(message)))
        return notify

    def _module_run(self, module, params, task_vars):
        account_result = self._execute_module(module_name=module[0], module_args=params, task_vars=task_vars)
        account_result.pop('invocation', None)
        return account_result


def play_run(task_vars):
    """The run as the play knows it: AWX's variables, and the playbook(s) of the command line."""
    run = dict((name, task_vars[name]) for name in PLAY_RUN_VARIABLES if task_vars.get(name) not in (None, ''))
    playbooks, skip = [], False
    for arg in sys.argv[1:]:
        if skip or arg.startswith('-'):
            skip = arg in OPTIONS_WITH_VALUES
            continue
        if arg.endswith(('.yml', '.yaml')) or re.match(r'^\w+\.\w+\.\w+$', arg):
            playbooks.append(arg)
    if playbooks:
        run['playbook'] = ' '.join(os.path.basename(arg) for arg in playbooks)
    return run


def without_failed_creates(account, made, entries='allocations'):
    """The account without the credit items (``entries``) of sub-accounts its create stage failed to make, and why its
    credits are not attempted at all (its create stage failed as a whole: a refused key, a ledger that cannot be opened),
    or None."""
    if not made or made.get('skipped') or not (made.get('failed') or made.get('msg')):
        return account, None
    if not made.get('subaccounts'):
        return account, 'not attempted: its sub-accounts stage failed'
    failed = set(made.get('failed_names') or ())
    kept = [entry for entry in account[entries] if entry['subaccount'] not in failed]
    if account[entries] and not kept:
        return account, 'not attempted: the sub-accounts it was for could not be created'
    return dict(account, **{entries: kept}), None


# Where a result may quote text it did not make (an answer, an error): the rest is names, ids, numbers and states.
MESSAGE_KEYS = frozenset(('msg', 'error', 'note', 'detail', 'warnings', 'exception'))


def scrub(value, secrets):
    """``value`` with every form of every secret masked in its messages, as a module's no_log values mask its result."""
    hide = masker(secrets)

    def walk(item, message):
        if isinstance(item, dict):
            return dict((key, walk(entry, message or key in MESSAGE_KEYS)) for key, entry in item.items())
        if isinstance(item, list):
            return [walk(entry, message) for entry in item]
        return hide(item) if message and isinstance(item, str) else item
    return walk(value, False)
