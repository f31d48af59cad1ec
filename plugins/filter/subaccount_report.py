# -*- coding: utf-8 -*-
# Copyright: (c) 2026, smsbox.account contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters the role uses to report on its bulk calls; their output never holds a key or a password."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type


def _account_results(results):
    """The loop results of a bulk task, without the skipped ones."""
    return [result for result in results or [] if isinstance(result, dict) and not result.get('skipped')]


def subaccount_failures(results):
    """One sentence per main account whose bulk call failed, joined; empty when none did."""
    messages = []
    for result in _account_results(results):
        if result.get('msg'):  # the modules set msg only when they fail
            label = result.get('item', {}).get('label', 'main account')
            messages.append('%s: %s' % (label, result['msg']))  # said in the role's words by the converge itself
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


def drift_text(drift, partial):
    """The drift part of a summary line: the ledger's sub-accounts no host describes, with what each received."""
    if not drift:
        return ''
    listed = ', '.join('%s (%d received%s)' % (entry['name'], entry['received'], ', reclaimed' if entry.get('reclaim') else '')
                       for entry in drift[:10])
    more = ' and %d more' % (len(drift) - 10) if len(drift) > 10 else ''
    return '; drift: %s%s%s' % (listed, more, ' (this play sees part of the inventory: nothing is reclaimed)' if partial else '')


def _names(result, action):
    return [entry['name'] for entry in result.get('subaccounts', []) if entry.get('action') == action]


def subaccount_summary(accounts, created, credited, check_mode=False, allowances=None):
    """What happened to each main account: a dict per account, with a readable ``line``.

    ``created``, ``credited`` and ``allowances`` are the results of the role's stages, None for a stage that did not
    run. The figures are what the results say happened, also when a stage failed part way (its results so far). The
    drift (the ledger's sub-accounts no host describes) comes from the plan's ``accounts``.
    """
    summary = []
    created, credited, allowances = _by_label(created), _by_label(credited), _by_label(allowances)
    for account in accounts:
        label = account['label']
        made, made_state = _stage(created, label)
        moved, moved_state = _stage(credited, label)
        paid, paid_state = _stage(allowances, label)
        transfers = moved.get('transfers', [])
        # The ledger's unsettled transfers after the run (every sub-account's, described by a host or not); only those whose
        # outcome is unknown: one SMSBOX refused (ERREUR) is settled, as rejected.
        ledger_unsettled = paid.get('unsettled', moved.get('unsettled', made.get('unsettled', account.get('unsettled', []))))
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
            retired=_names(made, 'retired'),
            reclaimed=made.get('reclaimed', 0),
            allowances_paid=paid.get('moved', 0),
            drift=account.get('drift', []),
            stages=dict(subaccounts=made_state, credits=moved_state, allowances=paid_state),
        )
        if paid.get('balance_after') is not None:
            entry['balance_after'] = paid['balance_after']
        stages = ''.join('; %s %s' % (stage, state.upper() if state == 'failed' else state)
                         for stage, state in (('sub-accounts', made_state), ('credits', moved_state), ('allowances', paid_state))
                         if state not in ('ok', 'skipped') and not (stage == 'allowances' and not account.get('allowances')))
        entry['line'] = ('%(prefix)s%(account)s: %(created_count)d created, %(adopted_count)d adopted, %(unchanged)d unchanged%(retired_text)s; '
                         '%(credits_moved)+d credits moved in %(transfers)d transfers%(allowances_text)s; main balance %(balance_before)s -> '
                         '%(balance_after)s; unsettled: %(unsettled_text)s%(drift_text)s%(stages)s') % dict(
            entry, prefix='(check mode, predicted) ' if check_mode else '', stages=stages,
            retired_text=', %d retired (%+d credits reclaimed)' % (len(entry['retired']), entry['reclaimed']) if entry['retired'] else '',
            allowances_text=', allowances %+d' % entry['allowances_paid'] if entry['allowances_paid'] else '',
            drift_text=drift_text(entry['drift'], account.get('partial')),
            created_count=len(entry['created']), adopted_count=len(entry['adopted']),
            unsettled_text=', '.join('%s (%s)' % (name, ', '.join(unsettled[name])) for name in entry['unsettled']) or 'none')
        summary.append(entry)
    return summary


class FilterModule(object):
    def filters(self):
        return {'subaccount_failures': subaccount_failures, 'subaccount_summary': subaccount_summary}
