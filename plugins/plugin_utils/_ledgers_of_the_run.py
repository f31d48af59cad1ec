# -*- coding: utf-8 -*-
# Copyright: (c) 2026, smsbox.account contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the ledgers of every main account of a run hold, read before any request, for the checks that span accounts.

SMSBOX cannot say under which main account a name exists, and a sub-account cannot be deleted: a shop moved
to another main account's group would be created and paid again there, while its old sub-account keeps its
credits. Only the ledgers know, so the role's plan reads every ledger of the run (read-only) and refuses to
create a name another main account's ledger holds.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os

from ansible_collections.smsbox.account.plugins.module_utils._ledger.file.store import default_ledger_path
from ansible_collections.smsbox.account.plugins.module_utils._ledger.ledger import Ledger
from ansible_collections.smsbox.account.plugins.module_utils._ledger.records import LedgerError, key_fingerprint
from ansible_collections.smsbox.account.plugins.module_utils._ledger.store import printable_location, resolve_location

MOVE_RECIPE = 'docs/day-2.md, "A shop moves to another main account"'


def read_ledger(account):
    """``(where, {name: record with its credits})`` of one plan account's ledger, read-only; None when its key is unknown."""
    key = account.get('api_key') or os.environ.get('SMSBOX_API_KEY')
    if not key:
        return None
    location = resolve_location(account.get('ledger')) or default_ledger_path(key)
    with Ledger(location, key_fingerprint(key)).session(exclusive=False) as book:
        held = dict((name, dict(record, **book.credits(name))) for name, record in book.subaccounts().items())
    return printable_location(location), held


def names_held_elsewhere(accounts, read=read_ledger):
    """Sentences for each name an account of the run would create while another account's ledger holds it.

    ``accounts``: ``[(label, account, {name: host})]``; ``read(account)``: what ``read_ledger`` returns.
    A ledger that cannot be read is reported too: the run would fail on it anyway, before any request here.
    """
    ledgers = []
    problems = []
    for label, account, _hosts in accounts:
        try:
            ledgers.append(read(account))
        except LedgerError as error:
            ledgers.append(None)
            problems.append('main account %s: its ledger cannot be read: %s' % (label, error))
    for index, (label, _account, hosts) in enumerate(accounts):
        own = ledgers[index][1] if ledgers[index] else {}
        for name, host in hosts.items():
            if name in own:
                continue
            for other, (other_label, _other_account, _other_hosts) in enumerate(accounts):
                found = ledgers[other][1].get(name) if other != index and ledgers[other] else None
                if found is None:
                    continue
                problems.append(
                    'host %s: sub-account %r would be created under main account %s, but the ledger of main account %s (%s) '
                    'holds it (%s, %s, %d credits received in all, %d declared): a shop moved between main accounts would be '
                    'created and paid again, while the old sub-account keeps its credits (sub-accounts cannot be deleted, and '
                    'SMSBOX names are unique across main accounts). Nothing was sent. To move a shop, take its credits back '
                    'on %s first, then give it a new name under %s: see %s'
                    % (host, name, label, other_label, ledgers[other][0], found['origin'], found['state'], found['received'],
                       found['allocated'], other_label, label, MOVE_RECIPE))
    return problems
