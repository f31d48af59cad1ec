# -*- coding: utf-8 -*-
# Copyright: (c) 2026, smsbox.account contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The role's create, credit and allowance stages: the modules' own converge code, run in the controller's process for
every main account of the plan, side by side.

A module task per main account costs a Python start, the imports of requests and the module, and a round trip of its
arguments and result, and converges the accounts one after the other. Here each account is one ``run_result`` of the
same converge function the module calls, validated with the module's argument spec (module_utils/_specs.py), in a thread
of its own, and its result is what the module would return (a unit test holds them equal). Its messages are said in the
caller's vocabulary (the role passes its own). When this Python cannot run them (requests missing), ``module_run`` runs
the modules instead, as ordinary module calls. The action ``subaccounts_converge`` is the shell around this.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import re
import sys
from collections import namedtuple
from concurrent.futures import ThreadPoolExecutor

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from ansible_collections.smsbox.account.plugins.module_utils._api.client import REQUESTS_IMPORT_ERROR
from ansible_collections.smsbox.account.plugins.module_utils._connection import Run, run_result
from ansible_collections.smsbox.account.plugins.module_utils._converge.credits import converge_credits
from ansible_collections.smsbox.account.plugins.module_utils._converge.subaccounts import converge_subaccounts
from ansible_collections.smsbox.account.plugins.module_utils._secrets import hider, uri_passwords
from ansible_collections.smsbox.account.plugins.module_utils._specs import CREDIT_RULES, CREDIT_SPEC, SUBACCOUNT_RULES, SUBACCOUNT_SPEC, with_connection
from ansible_collections.smsbox.account.plugins.module_utils._vocabulary import MODULE_VOCABULARY

# A stage: the module it stands for (its name, spec, rules and converge function), the plan entry of each account it
# converges, and the module option that takes that entry.
Stage = namedtuple('Stage', 'module spec rules converge entries option')
STAGES = {
    'subaccounts': Stage('smsbox.account.smsbox_subaccount', SUBACCOUNT_SPEC, SUBACCOUNT_RULES, converge_subaccounts, 'subaccounts',
                         'subaccounts'),
    'credits': Stage('smsbox.account.smsbox_credit', CREDIT_SPEC, CREDIT_RULES, converge_credits, 'allocations', 'allocations'),
    'allowances': Stage('smsbox.account.smsbox_credit', CREDIT_SPEC, CREDIT_RULES, converge_credits, 'allowances', 'allocations'),
}
ACCOUNT_SETTINGS = ('api_key', 'api_url', 'ledger', 'validate_certs', 'ca_path', 'timeout', 'concurrency', 'lock_timeout',
                    'ledger_connections', 'run_label')
MAX_ACCOUNTS_AT_ONCE = 8
# ansible-playbook's options that take a value: what follows them is no playbook.
OPTIONS_WITH_VALUES = frozenset(('-i', '--inventory', '--inventory-file', '-e', '--extra-vars', '-l', '--limit', '-t', '--tags',
                                 '--skip-tags', '--vault-password-file', '--vault-id', '-u', '--user', '-f', '--forks', '-c',
                                 '--connection', '-T', '--timeout', '--start-at-task', '-M', '--module-path', '--private-key',
                                 '--key-file', '--become-user', '--become-method'))
# What the play knows of its run, which the ledger records with each create and transfer (AWX passes these variables).
PLAY_RUN_VARIABLES = ('awx_job_id', 'awx_job_template_name', 'awx_user_name', 'awx_host', 'tower_job_id',
                      'tower_job_template_name', 'tower_user_name')


def converge_accounts(stage, accounts, made=None, check_mode=False, diff=False, words=MODULE_VOCABULARY, play=None, show=None,
                      module_run=None):
    """One result per main account of the plan (``accounts``), in its order, as a loop over the stage's module would give.

    ``made``: the create stage's results when it ran in this play (a failure of one account stops only that account's
    credits, and only for the sub-accounts that could not be made); ``words``: the caller's vocabulary; ``play``: what the
    play knows of its run; ``show(text)``: shows a sentence at once (who holds a ledger this run waits for);
    ``module_run(module, params)``: runs the module, for when this Python cannot run its code (requests missing).
    """
    name, stage = stage, STAGES[stage]
    made = dict((entry.get('item', {}).get('label'), entry) for entry in (made or {}).get('results', [])
                if isinstance(entry, dict)) if stage.entries != 'subaccounts' else {}

    def converge_account(account):
        item = dict(label=account['label'], hosts=account['hosts'])
        account, not_attempted = without_failed_creates(account, made.get(account['label']), stage.entries)
        if not_attempted:
            return dict(skipped=True, smsbox_skip=True, changed=False, item=item, skip_reason=not_attempted)
        if not account[stage.entries]:
            return dict(skipped=True, changed=False, item=item)
        params = account_params(stage, account)
        if REQUESTS_IMPORT_ERROR:
            return dict(module_run(stage.module, params), item=item)
        # In check mode, the names the create stage predicts it creates are no surprise to the credit stages.
        expected = frozenset(made.get(account['label'], {}).get('created') or ())
        returned = converge_in_process(name, params, check_mode=check_mode, diff=diff, words=words, play=play, expected_new=expected,
                                       show=(lambda text: show('%s: %s' % (account['label'], text))) if show else None)
        returned['warnings'] = ['%s: %s' % (account['label'], warning) for warning in returned.get('warnings', [])]
        return dict(returned, item=item)

    if REQUESTS_IMPORT_ERROR:
        return [converge_account(account) for account in accounts]  # module calls, one after the other
    with ThreadPoolExecutor(max_workers=max(1, min(MAX_ACCOUNTS_AT_ONCE, len(accounts)))) as pool:
        return list(pool.map(converge_account, accounts))


def converge_in_process(stage, params, check_mode=False, diff=False, words=MODULE_VOCABULARY, play=None, expected_new=frozenset(),
                        show=None):
    """What the stage's module returns for ``params`` (without its ``invocation``), from its own code in this process: the
    same validation, converge function and failure path, every secret masked in it, and its ``warnings``."""
    stage = STAGES[stage]
    validated = ArgumentSpecValidator(with_connection(stage.spec), **stage.rules).validate(params)
    values = validated.validated_parameters
    hide = hider(set(validated._no_log_values) | set(uri_passwords(values.get('ledger'))))
    if validated.error_messages:
        return hide(dict(failed=True, msg=validated.errors.msg))  # the first, as AnsibleModule reports it
    run = Run(values, check_mode=check_mode, diff=diff, notify=(lambda text: show(hide(text))) if show else None)
    run.words = words
    run.expected_new = expected_new
    run.play = play or {}
    returned = run_result(run, stage.converge)
    if run.warnings:
        returned['warnings'] = run.warnings
    return hide(returned)


def account_params(stage, account):
    """The module parameters of one plan account for ``stage``."""
    params = dict((key, account.get(key)) for key in ACCOUNT_SETTINGS if account.get(key) is not None)
    params[stage.option] = account[stage.entries]
    if stage.entries == 'subaccounts':
        params['adopt'] = bool(account.get('adopt'))
    return params


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


def play_run(task_vars, argv=None):
    """The run as the play knows it: AWX's variables, and the playbook(s) of the command line."""
    run = dict((name, task_vars[name]) for name in PLAY_RUN_VARIABLES if task_vars.get(name) not in (None, ''))
    playbooks, skip = [], False
    for arg in (sys.argv if argv is None else argv)[1:]:
        if skip or arg.startswith('-'):
            skip = arg in OPTIONS_WITH_VALUES
            continue
        if arg.endswith(('.yml', '.yaml')) or re.match(r'^\w+\.\w+\.\w+$', arg):
            playbooks.append(arg)
    if playbooks:
        run['playbook'] = ' '.join(os.path.basename(arg) for arg in playbooks)
    return run
