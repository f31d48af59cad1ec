# -*- coding: utf-8 -*-
# Copyright: (c) 2026, smsbox.account contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a run records around a request it sends to SMSBOX: a transfer pending or a create unknown before it is sent, the
answer after (a create SMSBOX refused is withdrawn, a transfer whose record failed is discarded), and the answers the
store could not record.

A create, like a transfer, is recorded before it is sent: a run killed in between leaves it ``unknown``, and the next
run sends it again and settles it from the answer. An answer the store could not record (its database away for longer
than the store retries, the run's lock taken by another run) is kept in ``unrecorded`` and named in the run's failure.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os

from ansible_collections.smsbox.account.plugins.module_utils._ledger.records import (
    ALLOWED_SETTLES,
    MAX_DETAIL,
    TRANSFER_KINDS,
    LedgerError,
    LockLostError,
    NoSuchRecord,
    default_kind,
    is_count,
)
from ansible_collections.smsbox.account.plugins.module_utils._ledger.store import NEW


class RecordingMixin:
    """The Ledger's writes around a request; it sets ``_store``, ``_mutex``, ``_subaccounts``, ``_transfers``, ``_reserved``,
    ``exists``, ``run``, ``unrecorded`` and ``path``, and has ``_check_writable``, ``_commit_account``, ``_put_transfer`` and
    ``_now`` (the ledger's clock)."""

    def announce_create(self, name, nolimit, password_fp):
        """Records a create as ``created``, ``unknown``, durably, before the caller sends it; returns the record. Raises
        LedgerError when it cannot: then send nothing. An interrupted run leaves it unknown: the next run sends the create
        again, and OK or ERREUR settles it as created by this collection."""
        self._check_writable()
        record = dict(name=name, origin='created', state='unknown', nolimit=nolimit, password_fp=password_fp, baseline=0,
                      recorded=self._now(), run=self.run)
        try:
            self._commit_account()
            self._store.commit_subaccount(record, how=NEW)
        except LockLostError:
            raise
        except LedgerError:
            self._withdraw(record, 'not sent: the ledger could not record it')
            raise
        with self._mutex:
            self._subaccounts[name] = record
            self.exists = True
        return dict(record)

    def begin_transfer(self, subaccount, amount, transfer_id=None, kind=None):
        """Records a pending transfer, durably, before the caller sends it. Raises LedgerError when it cannot: then send nothing.

        ``kind``: ``allocated`` (made to reach a declared allocation) or ``amount`` (a one-off); by default ``amount``
        when it has a ``transfer_id``, else ``allocated``."""
        kind = kind or default_kind(transfer_id)
        if kind not in TRANSFER_KINDS:
            raise LedgerError('Ledger %s cannot record a transfer of kind %r: it must be one of %s.' % (self.path, kind, ', '.join(TRANSFER_KINDS)))
        if not isinstance(subaccount, str) or not subaccount:
            raise LedgerError('Ledger %s cannot record a transfer without a sub-account name.' % self.path)
        if not is_count(amount) or amount == 0:
            raise LedgerError('Ledger %s cannot record a transfer of %r credits to %r: the amount must be a non-zero integer.'
                              % (self.path, amount, subaccount))
        if transfer_id is not None and not isinstance(transfer_id, str):
            raise LedgerError('Ledger %s cannot record a transfer to %r: transfer_id must be a string.' % (self.path, subaccount))
        self._check_writable()
        with self._mutex:
            txid = 'tx-' + os.urandom(6).hex()
            while txid in self._transfers or txid in self._reserved:
                txid = 'tx-' + os.urandom(6).hex()
            self._reserved.add(txid)
        tx = dict(id=txid, subaccount=subaccount, amount=amount, transfer_id=transfer_id, state='pending',
                  created=self._now(), settled=None, detail=None, kind=kind, run=self.run)
        try:
            self._commit_account()
            self._store.commit_transfer(tx)
        except Exception as error:
            with self._mutex:
                self._reserved.discard(txid)
            if isinstance(error, LedgerError) and not isinstance(error, LockLostError):
                self._discard(tx)  # the row may have reached the store before its connection was lost
            raise
        with self._mutex:
            self._put_transfer(tx)
            self._reserved.discard(txid)
            self.exists = True
        return dict(tx)

    def settle_transfer(self, txid, state, detail=None):
        """pending -> applied|rejected|unknown; unknown -> applied|rejected. Durable before it returns."""
        self._check_writable()
        if detail is not None:
            detail = str(detail)[:MAX_DETAIL]
        with self._mutex:
            tx = self._transfers.get(txid)
            if tx is None:
                raise LedgerError('Ledger %s has no transfer %r to settle.' % (self.path, txid))
            if state not in ALLOWED_SETTLES.get(tx['state'], ()):
                allowed = ALLOWED_SETTLES.get(tx['state'])
                raise LedgerError('Ledger %s cannot settle transfer %s as %r: it is %s%s.' % (
                    self.path, txid, state, tx['state'],
                    ', which can only become %s' % ' or '.join(allowed) if allowed else ' already, which is final'))
            settled = dict(tx, state=state, settled=self._now(), detail=detail)
        try:
            self._store.commit_transfer(settled, previous_state=tx['state'])
        except LedgerError:
            if tx['state'] == 'pending':
                self._unrecorded('transfer %s of %+d credits to %r was answered %s: it stays %s in the ledger; %s' % (
                    txid, tx['amount'], tx['subaccount'], detail or state, tx['state'],
                    'settle it with resolve: {%s: %s}' % (txid, state) if state in ('applied', 'rejected')
                    else 'check it in the SMSBOX dashboard and settle it with resolve'))
            raise
        with self._mutex:
            self._put_transfer(settled)
        return dict(settled)

    def withdraw_create(self, record):
        """Forgets a create announced by ``announce_create`` that SMSBOX refused (ERREUR): the name is not ours."""
        self._check_writable()
        self._withdraw(record, 'answered ERREUR (not created)', strict=True)

    def _withdraw(self, record, why, strict=False):
        try:
            self._store.withdraw_subaccount(record)
        except LedgerError:
            self._unrecorded('the create of sub-account %r was %s, but the ledger still holds it as unknown: the next run '
                             'sends it again' % (record['name'], why))
            if strict:
                raise
            return
        with self._mutex:
            if self._subaccounts.get(record['name']) == record:
                del self._subaccounts[record['name']]

    def _unrecorded(self, sentence):
        with self._mutex:
            self.unrecorded.append(sentence)

    def _with_unrecorded(self, error):
        """The error, with what SMSBOX answered that the ledger could not record, so that nobody has to guess."""
        with self._mutex:
            listed = list(self.unrecorded)
        if not listed:
            return error
        kind = LockLostError if isinstance(error, LockLostError) else LedgerError
        return kind('%s SMSBOX answered requests of this run that the ledger could not record: %s.'
                    % (str(error).rstrip('.') + '.', '; '.join(listed)))

    def _discard(self, tx):
        """A transfer whose record failed is not sent: settled rejected, in case its row reached the store anyway."""
        never = dict(tx, state='rejected', settled=self._now(), detail='never sent: the ledger could not record it first')
        try:
            self._store.commit_transfer(never, previous_state='pending')
        except NoSuchRecord:
            pass  # it never reached the store
        except LedgerError:
            # The store stayed away, or the lock went to another run: the next run may report it unknown.
            self._unrecorded('transfer %s of %+d credits to %r was not sent; if a later run reports it unknown, settle it with '
                             'resolve: {%s: rejected}' % (tx['id'], tx['amount'], tx['subaccount'], tx['id']))
