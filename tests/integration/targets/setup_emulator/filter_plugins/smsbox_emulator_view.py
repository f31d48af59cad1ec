# -*- coding: utf-8 -*-
# Copyright: (c) 2026, smsbox.account contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Test helper: the emulator's state without the secrets it holds.

The state of the emulator names main accounts by their API key and stores sub-account passwords
in clear. Integration targets run at -vvvv and grep the output for keys and passwords, so they
read the state with no_log and keep only this view: accounts under an alias, no password, and
each request with the alias of its account instead of its key.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type


def smsbox_emulator_view(state, keys, passwords=None):
    """``state``: GET /_emulator/state; ``keys``: {alias: api_key}. Returns the view described above.

    ``passwords`` ({name: password}, optional): each sub-account of the view then says whether SMSBOX holds that
    password (``password_matches``: true or false; none for a name not in ``passwords``), never the password.
    """
    alias_of = dict((key, alias) for alias, key in keys.items())
    accounts = {}
    unnamed = 0
    for key, account in sorted(state.get('accounts', {}).items()):
        alias = alias_of.get(key)
        if alias is None:
            unnamed += 1
            alias = 'unnamed-%d' % unnamed
        accounts[alias] = dict(
            balance=account['balance'],
            creates=list(account['creates']),
            transfers=list(account['transfers']),
            subaccounts=dict((name, dict(credits=sub['credits'], nolimit=sub['nolimit']))
                             for name, sub in account['subaccounts'].items()),
        )
        if passwords is not None:
            for name, sub in account['subaccounts'].items():
                accounts[alias]['subaccounts'][name]['password_matches'] = (
                    sub.get('password') == passwords[name] if name in passwords else None)
    requests = []
    for entry in state.get('requests', []):
        params = dict(entry.get('params') or {})
        if 'mdp' in params:
            params['mdp'] = '***'
        requests.append(dict(
            seq=entry['seq'],
            method=entry['method'],
            action=entry['action'],
            params=params,
            account=alias_of.get(entry['key'], 'unnamed') if entry.get('key') else None,
            answer=entry['answer'],
            result=entry['result'],
        ))
    return dict(
        accounts=accounts,
        requests=requests,
        last_seq=max([entry['seq'] for entry in requests] or [0]),
        faults=len(state.get('faults', [])),
        connections=state.get('connections', 0),
    )


class FilterModule(object):
    """smsbox_emulator_view"""

    def filters(self):
        return {'smsbox_emulator_view': smsbox_emulator_view}
