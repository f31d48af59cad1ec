# -*- coding: utf-8 -*-
# Copyright: (c) 2026, smsbox.account contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the ledgers of every main account of a run hold, read once before any request, for what only they can tell.

SMSBOX cannot list sub-accounts, say under which main account a name exists, nor delete one. So the role's plan
reads each main account's ledger (read-only) and, from it:
- refuses to create a name another main account's ledger holds: a shop moved to another main account's group would
  be created and paid again there, while its old sub-account keeps its credits;
- finds the drift: the sub-accounts a ledger holds that no host describes any more (a shop removed from the
  inventory, renamed, moved), reported with the credits each holds, failed on, or reclaimed (``smsbox_removed``).
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os

from ansible_collections.smsbox.account.plugins.module_utils._ledger.ledger import Ledger
from ansible_collections.smsbox.account.plugins.module_utils._ledger.records import LedgerError, key_fingerprint
from ansible_collections.smsbox.account.plugins.module_utils._ledger.location import ledger_location, printable_location

MOVE_RECIPE = 'docs/day-2.md, "A shop moves to another main account"'
DRIFTING_STATES = ('present', 'unknown')  # a retired sub-account is left alone: it is no drift


def read_ledger(account):
    """``(where, {name: record with its credits}, unsettled transfers)`` of one plan account's ledger, read-only; None when
    its key is unknown."""
    key = account.get('api_key') or os.environ.get('SMSBOX_API_KEY')
    if not key:
        return None
    location = ledger_location(account.get('ledger'), key)
    with Ledger(location, key_fingerprint(key)).session(exclusive=False) as book:
        held = dict((name, dict(record, **book.credits(name))) for name, record in book.subaccounts().items())
        return printable_location(location), held, book.unsettled()


class LedgersOfTheRun:
    """Each account's ledger, read once: ``accounts`` is ``[(label, account, {name: host})]``, ``read`` as read_ledger."""

    def __init__(self, accounts, read=read_ledger):
        self.accounts = accounts
        self.problems = []
        self.ledgers = []
        for label, account, _hosts in accounts:
            try:
                self.ledgers.append(read(account))
            except LedgerError as error:
                self.ledgers.append(None)
                self.problems.append('main account %s: its ledger cannot be read: %s' % (label, error))

    def held(self, index):
        return self.ledgers[index][1] if self.ledgers[index] else {}

    def names_held_elsewhere(self):
        """Sentences for each name an account would create while another account's ledger holds it."""
        problems = []
        for index, (label, _account, hosts) in enumerate(self.accounts):
            own = self.held(index)
            for name, host in hosts.items():
                if name in own:
                    continue
                for other, (other_label, _other_account, _other_hosts) in enumerate(self.accounts):
                    found = self.held(other).get(name) if other != index else None
                    if found is None:
                        continue
                    problems.append(
                        'host %s: sub-account %r would be created under main account %s, but the ledger of main account %s (%s) '
                        'holds it (%s, %s, %d credits received in all, %d declared): a shop moved between main accounts would '
                        'be created and paid again, while the old sub-account keeps its credits (sub-accounts cannot be '
                        'deleted, and SMSBOX names are unique across main accounts). Nothing was sent. To move a shop, take its '
                        'credits back on %s first, then give it a new name under %s: see %s'
                        % (host, name, label, other_label, self.ledgers[other][0], found['origin'], found['state'], found['received'],
                           found['allocated'], other_label, label, MOVE_RECIPE))
        return problems

    def drift(self, index, described):
        """The sub-accounts of account ``index``'s ledger that no name in ``described`` stands for, with their figures."""
        return [dict(name=name, state=record['state'], allocated=record['allocated'], received=record['received'])
                for name, record in sorted(self.held(index).items())
                if record['state'] in DRIFTING_STATES and name not in described]

    def unsettled(self, index):
        return list(self.ledgers[index][2]) if self.ledgers[index] else []


def names_held_elsewhere(accounts, read=read_ledger):
    """``LedgersOfTheRun(accounts, read)``'s problems and cross-account names, for a caller that needs only those."""
    ledgers = LedgersOfTheRun(accounts, read)
    return ledgers.problems + ledgers.names_held_elsewhere()
