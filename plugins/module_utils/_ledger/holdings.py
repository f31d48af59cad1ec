# -*- coding: utf-8 -*-
# Copyright: (c) 2026, smsbox.account contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a ledger holds, in memory for one session: its sub-accounts and transfers, indexed, and the queries the modules plan
from (the credits each sub-account received, by kind; the transfers still unsettled).

Safe to use from several threads of one run. Queries return copies, so callers cannot change the ledger
behind its back.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import threading


class Holdings:
    """The records of one main account: ``load`` them from a store's Contents, then ``put_*`` what the run records."""

    def __init__(self):
        self._mutex = threading.RLock()
        self.load(None)

    def load(self, contents):
        """Forgets everything, then holds ``contents`` (records.Contents), or nothing when it is None."""
        with self._mutex:
            self.exists = bool(contents and contents.exists)
            self._subaccounts = dict(contents.subaccounts) if contents else {}
            self._transfers = {}  # by id, in creation order (dicts keep insertion order)
            self._by_subaccount = {}  # name -> ids in creation order; keeps per-item queries fast on a long history
            self._by_transfer_id = {}  # idempotency key -> ids in creation order
            for record in (contents.transfers.values() if contents else ()):
                self.put_transfer(record)

    # -- changes (made once the store committed them) --

    def put_subaccount(self, record):
        with self._mutex:
            self._subaccounts[record['name']] = record
            self.exists = True

    def forget_subaccount(self, record):
        """Forgets a sub-account if it is still exactly ``record`` (a create announced, then withdrawn)."""
        with self._mutex:
            if self._subaccounts.get(record['name']) == record:
                del self._subaccounts[record['name']]

    def put_transfer(self, record):
        with self._mutex:
            old = self._transfers.get(record['id'])
            self._transfers[record['id']] = record
            if old is None:
                self._by_subaccount.setdefault(record['subaccount'], []).append(record['id'])
                if record['transfer_id'] is not None:
                    self._by_transfer_id.setdefault(record['transfer_id'], []).append(record['id'])
            elif (old['subaccount'], old['transfer_id']) != (record['subaccount'], record['transfer_id']):
                # Never done by this code; a hand-edited ledger could. Rebuild rather than mis-index.
                self._by_subaccount = {}
                self._by_transfer_id = {}
                for tx in self._transfers.values():
                    self._by_subaccount.setdefault(tx['subaccount'], []).append(tx['id'])
                    if tx['transfer_id'] is not None:
                        self._by_transfer_id.setdefault(tx['transfer_id'], []).append(tx['id'])

    # -- queries --

    def subaccount(self, name):
        with self._mutex:
            record = self._subaccounts.get(name)
            return dict(record) if record is not None else None

    def subaccounts(self):
        with self._mutex:
            return dict((name, dict(record)) for name, record in self._subaccounts.items())

    def baseline(self, name):
        """Credits the sub-account had received before this ledger knew it: 0 when created here, None when unknown."""
        with self._mutex:
            record = self._subaccounts.get(name)
            return record['baseline'] if record is not None else None

    def applied_by_ledger(self, name):
        """The credits this ledger's own applied transfers moved to it, whatever their kind (never part of a baseline)."""
        with self._mutex:
            return sum(self._transfers[txid]['amount'] for txid in self._by_subaccount.get(name, ())
                       if self._transfers[txid]['state'] == 'applied')

    def credits(self, name):
        """What a sub-account received, by kind: ``baseline`` (None when unknown, 0 in the sums), ``allocated`` (the
        declared allocation: baseline plus transfers of kind allocated), ``top_ups`` (one-off amounts), ``allowances``
        (per-period allowances), ``reclaimed`` (taken back at retirement, 0 or less) and ``received`` in all."""
        sums = dict(allocated=0, amount=0, period=0, retire=0)
        with self._mutex:
            record = self._subaccounts.get(name)
            baseline = record['baseline'] if record is not None else None
            for txid in self._by_subaccount.get(name, ()):
                tx = self._transfers[txid]
                if tx['state'] == 'applied':
                    sums[tx['kind']] += tx['amount']
        base = baseline or 0
        return dict(baseline=baseline, allocated=base + sums['allocated'], top_ups=sums['amount'], allowances=sums['period'],
                    reclaimed=sums['retire'], received=base + sum(sums.values()))

    def credits_of_all(self):
        """``credits()`` of every sub-account the ledger has a record or an applied transfer of, by name."""
        with self._mutex:
            names = set(self._subaccounts) | set(tx['subaccount'] for tx in self._transfers.values() if tx['state'] == 'applied')
        return dict((name, self.credits(name)) for name in sorted(names))

    def transfers(self, subaccount=None, states=None):
        if isinstance(states, str):
            states = (states,)
        with self._mutex:
            if subaccount is None:
                records = self._transfers.values()
            else:
                records = [self._transfers[txid] for txid in self._by_subaccount.get(subaccount, ())]
            return [dict(tx) for tx in records if states is None or tx['state'] in states]

    def transfer(self, txid):
        with self._mutex:
            tx = self._transfers.get(txid)
            return dict(tx) if tx is not None else None

    def find_by_transfer_id(self, transfer_id):
        if transfer_id is None:
            return None
        with self._mutex:
            ids = self._by_transfer_id.get(transfer_id)
            return dict(self._transfers[ids[-1]]) if ids else None
