# -*- coding: utf-8 -*-
# Copyright: (c) 2026, smsbox.account contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters the role uses to report on its bulk calls; their output never holds a key or a password."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible_collections.smsbox.account.plugins.plugin_utils._role_plan import in_role_vocabulary


def _account_results(results):
    """The loop results of a bulk task, without the skipped ones."""
    return [result for result in results or [] if isinstance(result, dict) and not result.get('skipped')]


def subaccount_failures(results):
    """One sentence per main account whose bulk call failed, joined; empty when none did."""
    messages = []
    for result in _account_results(results):
        if result.get('msg'):  # the modules set msg only when they fail
            label = result.get('item', {}).get('label', 'main account')
            messages.append('%s: %s' % (label, in_role_vocabulary(result['msg'])))
    return ' || '.join(messages)


def _by_label(results):
    """The loop results of a stage by their main account's label; None when the stage did not run (tags)."""
    if results is None:
        return None
    return dict((result.get('item', {}).get('label'), result) for result in results if isinstance(result, dict))


def _stage(results, label):
    """(result, what happened to the stage for this account): ok, failed, skipped (nothing to do), not run."""
    if results is None:
        return {}, 'not run'
    result = results.get(label)
    if result is None:
        return {}, 'not run'
    if result.get('skipped'):
        return {}, result.get('skip_reason') if result.get('smsbox_skip') else 'skipped'
    return result, 'failed' if result.get('failed') or result.get('msg') else 'ok'


def _names(result, action):
    return [entry['name'] for entry in result.get('subaccounts', []) if entry.get('action') == action]


def subaccount_summary(accounts, created, credited, check_mode=False):
    """What happened to each main account: a dict per account, with a readable ``line``.

    ``created`` and ``credited`` are the loop results of the role's two stages, None for a stage that did not run.
    The figures are what the results say happened, also when a stage failed part way (its results so far).
    """
    summary = []
    created, credited = _by_label(created), _by_label(credited)
    for account in accounts:
        label = account['label']
        made, made_state = _stage(created, label)
        moved, moved_state = _stage(credited, label)
        transfers = moved.get('transfers', [])
        # The ledger's unsettled transfers after the run (every sub-account's, described by a host or not); only those whose
        # outcome is unknown: one SMSBOX refused (ERREUR) is settled, as rejected.
        ledger_unsettled = moved.get('unsettled', made.get('unsettled', []))
        unsettled = {}
        for tx in ledger_unsettled:
            unsettled.setdefault(tx['subaccount'], []).append(tx['id'])
        entry = dict(
            account=label,
            hosts=len(account.get('hosts', [])),
            created=_names(made, 'created'),
            adopted=_names(made, 'adopted'),
            unchanged=len(_names(made, 'unchanged')),
            credits_moved=moved.get('moved', 0),
            transfers=len([tx for tx in transfers if tx.get('state') in ('applied', 'planned')]),
            balance_before=moved.get('balance_before', made.get('balance')),
            balance_after=moved.get('balance_after', moved.get('balance_before', made.get('balance'))),
            unsettled=sorted(unsettled),
            stages=dict(subaccounts=made_state, credits=moved_state),
        )
        stages = ''.join('; %s %s' % (stage, state.upper() if state == 'failed' else state)
                         for stage, state in (('sub-accounts', made_state), ('credits', moved_state)) if state not in ('ok', 'skipped'))
        entry['line'] = ('%(prefix)s%(account)s: %(created_count)d created, %(adopted_count)d adopted, %(unchanged)d unchanged; '
                         '%(credits_moved)+d credits moved in %(transfers)d transfers; main balance %(balance_before)s -> '
                         '%(balance_after)s; unsettled: %(unsettled_text)s%(stages)s') % dict(
            entry, prefix='(check mode, predicted) ' if check_mode else '', stages=stages,
            created_count=len(entry['created']), adopted_count=len(entry['adopted']),
            unsettled_text=', '.join('%s (%s)' % (name, ', '.join(unsettled[name])) for name in entry['unsettled']) or 'none')
        summary.append(entry)
    return summary


class FilterModule(object):
    def filters(self):
        return {'subaccount_failures': subaccount_failures, 'subaccount_summary': subaccount_summary}
