# -*- coding: utf-8 -*-
# Copyright: (c) 2026, smsbox.account contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a run records: a sub-account, and around a request it sends to SMSBOX, a transfer pending or a create unknown before
it is sent, the answer after (a create SMSBOX refused is withdrawn, a transfer whose record failed is discarded), and the
answers the store could not record.

A create, like a transfer, is recorded before it is sent: a run killed in between leaves it ``unknown``, and the next
run sends it again and settles it from the answer. An answer the store could not record (its database away for longer
than the store retries, the run's lock taken by another run) is kept in ``unrecorded`` and named in the run's failure.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import threading

from ansible_collections.smsbox.account.plugins.module_utils._ledger.records import (
    ALLOWED_SETTLES,
    MAX_DETAIL,
    SUBACCOUNT_ORIGINS,
    SUBACCOUNT_STATES,
    TRANSFER_KINDS,
    LedgerError,
    LockLostError,
    NoSuchRecord,
    default_baseline,
    default_kind,
    is_count,
)
from ansible_collections.smsbox.account.plugins.module_utils._ledger.store import DECISION, NEW, OUTCOME

KEEP = object()  # record_subaccount's baseline when not given


class Recorder:
    """The writes of one ledger (``path``, as messages name it) into its ``store`` (a LedgerStore), each durable before it
    returns, then put in its ``holdings`` (a Holdings). ``run`` describes the run the records are made by, ``clock`` gives
    the time they are stamped with, and ``record_account`` is called before each new record (the account's metadata goes
    first). Writable between ``open(True)`` and ``close()``; ``unrecorded`` names the answers it could not record."""

    def __init__(self, store, holdings, path, run, clock, record_account):
        self._store = store
        self._holdings = holdings
        self.path = path
        self.run = run
        self._clock = clock
        self._record_account = record_account
        self._mutex = threading.Lock()
        self._writable = None  # None: no session; False: a read-only one
        self._reserved = set()  # transfer ids being committed
        self.unrecorded = []  # answers SMSBOX gave that the store could not record, each a sentence

    def open(self, exclusive):
        """A session starts: writable when ``exclusive``; nothing unrecorded yet."""
        self._writable = bool(exclusive)
        self._reserved = set()
        self.unrecorded = []

    def close(self):
        """The session ended: nothing more is recorded (``unrecorded`` stays readable)."""
        self._writable = None

    def check_writable(self):
        if self._writable is None:
            raise LedgerError('Ledger %s is not open: record changes inside "with ledger.session():".' % self.path)
        if not self._writable:
            raise LedgerError('Ledger %s was opened read-only (check mode or an info module): it cannot record changes.' % self.path)

    def record_subaccount(self, name, origin, state='present', nolimit=None, password_fp=None, baseline=KEEP, answered=False):
        """Upserts a sub-account; the arguments given replace the whole record.

        ``baseline``: the credits it had received before this ledger knew it, None when unknown. Not given:
        the record's own when its origin stays the same, else 0 for ``created`` and None for ``adopted``.
        ``answered``: the record is the answer to a create already sent (kept and retried while the store is
        away, even after the run lost its lock); a create is announced with ``announce_create`` before it is sent.
        """
        if not isinstance(name, str) or not name:
            raise LedgerError('Ledger %s cannot record a sub-account without a name.' % self.path)
        if origin not in SUBACCOUNT_ORIGINS or state not in SUBACCOUNT_STATES:
            raise LedgerError('Ledger %s cannot record sub-account %r with origin %r and state %r: origin must be one of %s and '
                              'state one of %s.' % (self.path, name, origin, state, ', '.join(SUBACCOUNT_ORIGINS), ', '.join(SUBACCOUNT_STATES)))
        if nolimit is not None and not isinstance(nolimit, bool):
            raise LedgerError('Ledger %s cannot record sub-account %r: nolimit must be true, false or None.' % (self.path, name))
        if password_fp is not None and not isinstance(password_fp, str):
            raise LedgerError('Ledger %s cannot record sub-account %r: password_fp must be a fingerprint string.' % (self.path, name))
        if baseline is not KEEP and baseline is not None and (not is_count(baseline) or baseline < 0):
            raise LedgerError('Ledger %s cannot record sub-account %r: baseline must be a count of credits (an integer, 0 or more) '
                              'or None when unknown.' % (self.path, name))
        self.check_writable()
        current = self._holdings.subaccount(name)
        if baseline is KEEP:
            baseline = current['baseline'] if current is not None and current['origin'] == origin else default_baseline(origin)
        if current is not None and (current['origin'], current['state'], current['nolimit'], current['password_fp'],
                                    current['baseline']) == (origin, state, nolimit, password_fp, baseline):
            return current
        record = dict(name=name, origin=origin, state=state, nolimit=nolimit, password_fp=password_fp, baseline=baseline,
                      recorded=self._clock(), run=self.run)
        self._record_account()
        try:
            self._store.commit_subaccount(record, how=OUTCOME if answered else DECISION)
        except LedgerError:
            if answered:
                self._unrecorded('the create of sub-account %r was answered %s' % (
                    name, 'OK (created)' if state == 'present' else 'with a lost answer (it may exist)'))
            raise
        self._holdings.put_subaccount(record)
        return dict(record)

    def announce_create(self, name, nolimit, password_fp):
        """Records a create as ``created``, ``unknown``, durably, before the caller sends it; returns the record. Raises
        LedgerError when it cannot: then send nothing. An interrupted run leaves it unknown: the next run sends the create
        again, and OK or ERREUR settles it as created by this collection."""
        self.check_writable()
        record = dict(name=name, origin='created', state='unknown', nolimit=nolimit, password_fp=password_fp, baseline=0,
                      recorded=self._clock(), run=self.run)
        try:
            self._record_account()
            self._store.commit_subaccount(record, how=NEW)
        except LockLostError:
            raise
        except LedgerError:
            self._withdraw(record, 'not sent: the ledger could not record it')
            raise
        self._holdings.put_subaccount(record)
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
        self.check_writable()
        with self._mutex:
            txid = 'tx-' + os.urandom(6).hex()
            while self._holdings.transfer(txid) is not None or txid in self._reserved:
                txid = 'tx-' + os.urandom(6).hex()
            self._reserved.add(txid)
        tx = dict(id=txid, subaccount=subaccount, amount=amount, transfer_id=transfer_id, state='pending',
                  created=self._clock(), settled=None, detail=None, kind=kind, run=self.run)
        try:
            self._record_account()
            self._store.commit_transfer(tx)
        except Exception as error:
            with self._mutex:
                self._reserved.discard(txid)
            if isinstance(error, LedgerError) and not isinstance(error, LockLostError):
                self._discard(tx)  # the row may have reached the store before its connection was lost
            raise
        self._holdings.put_transfer(tx)
        self._holdings.exists = True
        with self._mutex:
            self._reserved.discard(txid)
        return dict(tx)

    def settle_transfer(self, txid, state, detail=None):
        """pending -> applied|rejected|unknown; unknown -> applied|rejected. Durable before it returns."""
        self.check_writable()
        if detail is not None:
            detail = str(detail)[:MAX_DETAIL]
        tx = self._holdings.transfer(txid)
        if tx is None:
            raise LedgerError('Ledger %s has no transfer %r to settle.' % (self.path, txid))
        if state not in ALLOWED_SETTLES.get(tx['state'], ()):
            allowed = ALLOWED_SETTLES.get(tx['state'])
            raise LedgerError('Ledger %s cannot settle transfer %s as %r: it is %s%s.' % (
                self.path, txid, state, tx['state'],
                ', which can only become %s' % ' or '.join(allowed) if allowed else ' already, which is final'))
        settled = dict(tx, state=state, settled=self._clock(), detail=detail)
        try:
            self._store.commit_transfer(settled, previous_state=tx['state'])
        except LedgerError:
            if tx['state'] == 'pending':
                self._unrecorded('transfer %s of %+d credits to %r was answered %s: it stays %s in the ledger; %s' % (
                    txid, tx['amount'], tx['subaccount'], detail or state, tx['state'],
                    'settle it with resolve: {%s: %s}' % (txid, state) if state in ('applied', 'rejected')
                    else 'check it in the SMSBOX dashboard and settle it with resolve'))
            raise
        self._holdings.put_transfer(settled)
        return dict(settled)

    def withdraw_create(self, record):
        """Forgets a create announced by ``announce_create`` that SMSBOX refused (ERREUR): the name is not ours."""
        self.check_writable()
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
        self._holdings.forget_subaccount(record)

    def _unrecorded(self, sentence):
        with self._mutex:
            self.unrecorded.append(sentence)

    def with_unrecorded(self, error):
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
        never = dict(tx, state='rejected', settled=self._clock(), detail='never sent: the ledger could not record it first')
        try:
            self._store.commit_transfer(never, previous_state='pending')
        except NoSuchRecord:
            pass  # it never reached the store
        except LedgerError:
            # The store stayed away, or the lock went to another run: the next run may report it unknown.
            self._unrecorded('transfer %s of %+d credits to %r was not sent; if a later run reports it unknown, settle it with '
                             'resolve: {%s: rejected}' % (tx['id'], tx['amount'], tx['subaccount'], tx['id']))
