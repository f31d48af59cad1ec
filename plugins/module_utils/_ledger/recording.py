# -*- coding: utf-8 -*-
# Copyright: (c) 2026, smsbox.account contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a run records around a request it sends to SMSBOX, beyond transfers: a create announced before it is sent, a
create SMSBOX refused withdrawn, a transfer whose record failed discarded, and the answers the store could not record.

A create, like a transfer, is recorded before it is sent: a run killed in between leaves it ``unknown``, and the next
run sends it again and settles it from the answer. An answer the store could not record (its database away for longer
than the store retries, the run's lock taken by another run) is kept in ``unrecorded`` and named in the run's failure.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible_collections.smsbox.account.plugins.module_utils._ledger.records import LedgerError, LockLostError, NoSuchRecord, now
from ansible_collections.smsbox.account.plugins.module_utils._ledger.store import NEW


class RecordingMixin:
    """The Ledger's announcements and their withdrawal; it sets ``_store``, ``_mutex``, ``_subaccounts``, ``exists``,
    ``unrecorded`` and ``path``, and has ``_check_writable`` and ``_commit_account``."""

    def announce_create(self, name, nolimit, password_fp):
        """Records a create as ``created``, ``unknown``, durably, before the caller sends it; returns the record. Raises
        LedgerError when it cannot: then send nothing. An interrupted run leaves it unknown: the next run sends the create
        again, and OK or ERREUR settles it as created by this collection."""
        self._check_writable()
        record = dict(name=name, origin='created', state='unknown', nolimit=nolimit, password_fp=password_fp, baseline=0,
                      recorded=now())
        try:
            self._commit_account()
            self._store.commit_subaccount(record, kind=NEW)
        except LockLostError:
            raise
        except LedgerError:
            self._withdraw(record, 'not sent: the ledger could not record it')
            raise
        with self._mutex:
            self._subaccounts[name] = record
            self.exists = True
        return dict(record)

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
        return type(error)('%s SMSBOX answered requests of this run that the ledger could not record: %s.'
                           % (str(error).rstrip('.') + '.', '; '.join(listed)))

    def _discard(self, tx):
        """A transfer whose record failed is not sent: settled rejected, in case its row reached the store anyway."""
        never = dict(tx, state='rejected', settled=now(), detail='never sent: the ledger could not record it first')
        try:
            self._store.commit_transfer(never, previous_state='pending')
        except NoSuchRecord:
            pass
        except LedgerError:
            # No such row (it never reached the store), or the store stayed away: then the next run may report it unknown.
            self._unrecorded('transfer %s of %+d credits to %r was not sent; if a later run reports it unknown, settle it with '
                             'resolve: {%s: rejected}' % (tx['id'], tx['amount'], tx['subaccount'], tx['id']))
