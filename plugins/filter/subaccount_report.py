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


def _at(results, index):
    result = results[index] if results and index < len(results) else {}
    return {} if result.get('skipped') else result


def _names(result, action):
    return [entry['name'] for entry in result.get('subaccounts', []) if entry.get('action') == action]


def subaccount_summary(accounts, created, credited, check_mode=False):
    """What happened to each main account: a dict per account, with a readable ``line``."""
    summary = []
    # The loop results come in the order of the accounts they looped over; skipped ones stay in place.
    for index, account in enumerate(accounts):
        label = account['label']
        made = _at(created, index)
        moved = _at(credited, index)
        transfers = moved.get('transfers', [])
        # Only transfers whose outcome is unknown; one SMSBOX refused (ERREUR) is settled, as rejected.
        unsettled = dict((entry['subaccount'], entry['unsettled']) for entry in moved.get('allocations', []) if entry.get('unsettled'))
        entry = dict(
            account=label,
            hosts=len(account.get('hosts', [])),
            created=_names(made, 'created'),
            adopted=_names(made, 'adopted'),
            unchanged=len(_names(made, 'unchanged')),
            credits_moved=moved.get('moved', 0),
            transfers=len([tx for tx in transfers if tx.get('state') in ('applied', 'planned')]),
            balance_before=moved.get('balance_before', made.get('balance')),
            balance_after=moved.get('balance_after', made.get('balance')),
            unsettled=sorted(unsettled),
        )
        entry['line'] = ('%(prefix)s%(account)s: %(created_count)d created, %(adopted_count)d adopted, %(unchanged)d unchanged; '
                         '%(credits_moved)+d credits moved in %(transfers)d transfers; main balance %(balance_before)s -> '
                         '%(balance_after)s; unsettled: %(unsettled_text)s') % dict(
            entry, prefix='(check mode, predicted) ' if check_mode else '',
            created_count=len(entry['created']), adopted_count=len(entry['adopted']),
            unsettled_text=', '.join('%s (%s)' % (name, ', '.join(unsettled[name])) for name in entry['unsettled']) or 'none')
        summary.append(entry)
    return summary


class FilterModule(object):
    def filters(self):
        return {'subaccount_failures': subaccount_failures, 'subaccount_summary': subaccount_summary}
