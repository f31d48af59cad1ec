# -*- coding: utf-8 -*-
# Copyright: (c) 2026, smsbox.account contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The ledger: what this collection knows about a main account that the API cannot tell.

This is its meaning, written once for every store: sub-accounts, transfers and their states, the
credits allocated to each sub-account, the queries the modules plan from, and the operator policy
applied when a session opens (a transfer an interrupted run left pending counts as unknown; a key
change or a key rotation is pointed out). Where the records are kept is a store's business
(store.py): a file by default, or a PostgreSQL database shared by every controller. A Ledger holds its store, what it
holds in memory (holdings.py: the records and the queries) and its writer (recording.py).

It holds no secret: the key appears only as a one-way fingerprint, a password only as an HMAC
keyed with the API key (which is not in the ledger).
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import contextlib
import threading

from ansible_collections.smsbox.account.plugins.module_utils._ledger.records import (  # noqa: F401 pylint: disable=unused-import
    ALLOWED_SETTLES,
    FORMAT_VERSION,
    INTERRUPTED_DETAIL,
    KIND,
    MAX_DETAIL,
    MAX_FINGERPRINT_HISTORY,
    SUBACCOUNT_ORIGINS,
    SUBACCOUNT_STATES,
    TRANSFER_KINDS,
    TRANSFER_STATES,
    LedgerDependencyError,
    LedgerError,
    LockLostError,
    default_baseline,
    default_kind,
    is_count,
    key_fingerprint,
    now,
    password_fingerprint,
)
from ansible_collections.smsbox.account.plugins.module_utils._ledger.store import DEFAULT_CONNECTIONS, DEFAULT_LOCK_TIMEOUT, open_store
from ansible_collections.smsbox.account.plugins.module_utils._ledger.holdings import Holdings
from ansible_collections.smsbox.account.plugins.module_utils._ledger.recording import KEEP, Recorder


class Ledger:
    """The ledger of one main account. Use it through ``session()``.

    ``location`` is a file path (the default store) or a ``postgresql://`` URI; ``path`` is where it
    is, fit to print (a URI's password masked). ``concurrency`` is how many threads of the module may
    record at once; a PostgreSQL store opens at most ``connections`` connections: one holds the lock,
    the others (no more than ``concurrency``) record. ``on_wait`` is told who holds the lock while
    ``session()`` waits for it. ``run`` describes the run that makes the new records (job, CI run,
    controller, playbook, label), recorded with each of them.
    """

    def __init__(self, location, fingerprint, api_url=None, lock_timeout=DEFAULT_LOCK_TIMEOUT, concurrency=1, run=None,
                 connections=DEFAULT_CONNECTIONS, on_wait=None):
        writers = max(1, min(concurrency or 1, (connections or DEFAULT_CONNECTIONS) - 1))
        self._store = open_store(location, fingerprint, lock_timeout=lock_timeout, pool_size=writers)
        self._store.on_wait = on_wait
        self.path = self._store.location
        self.fingerprint = fingerprint
        self.api_url = api_url
        self._holdings = Holdings()
        self._recorder = Recorder(self._store, self._holdings, self.path, dict(run) if run else None, self._now,
                                  self._commit_account)
        self._mutex = threading.Lock()
        self._account_lock = threading.Lock()
        self._active = False
        self._exclusive = False
        self._reset()

    @staticmethod
    def _now():
        """The time records are stamped with: this module's clock, which tests may set."""
        return now()

    @property
    def location(self):
        return self.path

    @property
    def store_kind(self):
        return self._store.kind

    @property
    def run(self):
        """The run that makes the new records (job, CI run, controller, playbook, label), recorded with each of them."""
        return self._recorder.run

    @property
    def exists(self):
        """Whether the store holds anything for this main account."""
        return self._holdings.exists

    @property
    def unrecorded(self):
        """The answers SMSBOX gave this run that the store could not record, each a sentence."""
        return self._recorder.unrecorded

    # -- session --

    @contextlib.contextmanager
    def session(self, exclusive=True):
        """Locks, loads, yields self; the store makes what was recorded durable as it happens and unlocks on exit."""
        with self._mutex:
            if self._active:
                raise LedgerError('Ledger %s is already open in this process: a session cannot be nested in another.' % self.path)
            self._active = True
        self._exclusive = bool(exclusive)
        self._reset()
        try:
            self._store.lock(self._exclusive)
            self._load(self._store.read())
            self._recorder.open(self._exclusive)
            yield self
            if self._exclusive and self._account_due and self.exists and not self._store.lock_lost:
                # A new key alone is recorded only by a run that completed: a key SMSBOX refused is not the account's.
                self._commit_account()
            if self._store.lock_lost:
                self.warnings.append('Ledger %s: this run lost its lock (%s) and took it again to record the answers to the '
                                     'requests it had sent; it sent nothing after that.' % (self.path, self._store.lock_lost))
        except LedgerError as error:
            # What SMSBOX answered that could not be recorded is named, so that nobody has to guess.
            raise self._recorder.with_unrecorded(error)
        finally:
            try:
                self.warnings.extend(self._store.close())
            finally:
                self._recorder.close()
                self._active = False

    def _reset(self):
        """The in-memory state of an empty ledger, before a session loads the store."""
        self.warnings = []
        self._holdings.load(None)
        self._fingerprints = []
        self._stored_api_url = None
        self.moved_to = None  # the key fingerprint this account's records were copied to (a rotated key)
        self._account_due = False  # account metadata to commit before the next record

    # -- loading and operator policy --

    def _load(self, contents):
        self._holdings.load(contents)
        self.warnings.extend(contents.warnings)
        self._fingerprints = list(contents.fingerprints)
        self._stored_api_url = contents.api_url
        self.moved_to = contents.moved_to
        self._check_moved()
        self._check_fingerprint()
        self._check_rotated_key()
        self._settle_interrupted()

    def _check_moved(self):
        # The old key's ledger, copied to the new key after a rotation: writing here would pay again what the new one pays.
        if not self.moved_to:
            return
        text = ('Ledger %s of the API key with fingerprint %s was moved to the key with fingerprint %s (smsbox_ledger_copy after a '
                'key rotation): it is kept as it was and records nothing more. Run with the new API key (fingerprint %s), whose '
                'ledger holds these records and everything since; stop using the old key.'
                % (self.path, self.fingerprint, self.moved_to, self.moved_to))
        if self._exclusive:
            raise LedgerError(text + ' Nothing was sent to SMSBOX.')
        self.warnings.append(text)

    def _check_fingerprint(self):
        if not self.fingerprint:
            return
        if self.exists and self._fingerprints and self._fingerprints[-1] != self.fingerprint:
            self.warnings.append(
                'Ledger %s was last used with another API key (fingerprint %s, now %s). If the key of the same main account was '
                'rotated, this is expected: the ledger now records the new key. If this is another main account, stop and point '
                '`ledger` at that account\'s own ledger: sharing one ledger between main accounts corrupts both.'
                % (self.path, self._fingerprints[-1], self.fingerprint))
        if not self._exclusive:
            return
        if self.api_url is not None and self.api_url != self._stored_api_url:
            self._account_due = True  # informational: recorded with the next record
        if not self._fingerprints or self._fingerprints[-1] != self.fingerprint:
            self._fingerprints.append(self.fingerprint)
            del self._fingerprints[:-MAX_FINGERPRINT_HISTORY]
            self._account_due = True  # recorded with the first record, or at the end of a run that completed

    def _check_rotated_key(self):
        # A rotated key starts from an empty ledger: say so before the account looks brand new.
        if self.exists:
            return
        notice = self._store.rotated_key_notice()
        if not notice:
            return
        place, others, how = notice
        listed = ', '.join(others[:5]) + (' and %d more' % (len(others) - 5) if len(others) > 5 else '')
        self.warnings.append(
            'No ledger exists yet for this API key at %s, but %s holds ledgers of other keys (%s). If the key of this main account '
            'was rotated, stop and %s before any real run, or its sub-accounts and allocations start from nothing; see '
            'docs/ledger.md. If this is another main account, this is expected.' % (self.path, place, listed, how))

    def _settle_interrupted(self):
        pending = self._holdings.transfers(states='pending')
        if not pending:
            return
        listed = ', '.join('%s (%+d to %r)' % (tx['id'], tx['amount'], tx['subaccount']) for tx in pending[:10])
        if len(pending) > 10:
            listed += ' and %d more' % (len(pending) - 10)
        self.warnings.append(
            'Ledger %s holds %d transfer(s) left pending by an interrupted run, which may or may not have reached SMSBOX: %s. They '
            'count as unknown, and no further transfer is made to those sub-accounts until each is settled: check the sub-account '
            'in the SMSBOX dashboard, then run smsbox.account.smsbox_credit with resolve: {<id>: applied} (the credits arrived) or '
            '{<id>: rejected} (they did not).'
            % (self.path, len(pending), listed))
        for tx in pending:
            settled = dict(tx, state='unknown', settled=self._now(), detail=INTERRUPTED_DETAIL)
            if self._exclusive:
                self._store.commit_transfer(settled, previous_state='pending')
            self._holdings.put_transfer(settled)  # a read-only session shows what the next real run will record

    def _commit_account(self):
        with self._account_lock:
            if not self._account_due:
                return
            api_url = self.api_url if self.api_url is not None else self._stored_api_url
            self._store.commit_account(list(self._fingerprints), api_url, moved_to=self.moved_to)
            self._stored_api_url = api_url
            self._account_due = False
            self._holdings.exists = True

    # -- queries: copies, so callers cannot change the ledger behind its back (holdings.py) --

    def subaccount(self, name):
        return self._holdings.subaccount(name)

    def subaccounts(self):
        return self._holdings.subaccounts()

    def baseline(self, name):
        """Credits the sub-account had received before this ledger knew it: 0 when created here, None when unknown."""
        return self._holdings.baseline(name)

    def baseline_known(self, name):
        """Whether ``allocated(name)`` is the sub-account's real total: its baseline is known (not adopted blind, not unrecorded)."""
        return self._holdings.baseline(name) is not None

    def allocated(self, name):
        """Its declared allocation, what ``allocated`` compares with: its baseline (0 when unknown) plus its applied
        transfers of kind ``allocated``. One-off transfers (``amount``) come on top and are never reversed by it."""
        return self._holdings.credits(name)['allocated']

    def received(self, name):
        """Every credit it received in all: its baseline (0 when unknown) plus all its applied transfers."""
        return self._holdings.credits(name)['received']

    def applied_by_ledger(self, name):
        return self._holdings.applied_by_ledger(name)

    def credits(self, name):
        return self._holdings.credits(name)

    def credits_of_all(self):
        return self._holdings.credits_of_all()

    def receipts(self):
        """``received()`` of every sub-account that received anything (a baseline or an applied transfer), by name."""
        return dict((name, credits['received']) for name, credits in self._holdings.credits_of_all().items()
                    if credits['baseline'] or credits['received'] != (credits['baseline'] or 0))

    def transfers(self, subaccount=None, states=None):
        return self._holdings.transfers(subaccount, states)

    def transfer(self, txid):
        return self._holdings.transfer(txid)

    def find_by_transfer_id(self, transfer_id):
        return self._holdings.find_by_transfer_id(transfer_id)

    def unsettled(self, subaccount=None):
        return self._holdings.transfers(subaccount=subaccount, states=('unknown', 'pending'))

    # -- writes: each is committed by the store, durably, before it returns (recording.py) --

    def record_subaccount(self, name, origin, state='present', nolimit=None, password_fp=None, baseline=KEEP, answered=False):
        return self._recorder.record_subaccount(name, origin, state=state, nolimit=nolimit, password_fp=password_fp,
                                                baseline=baseline, answered=answered)

    def announce_create(self, name, nolimit, password_fp):
        return self._recorder.announce_create(name, nolimit, password_fp)

    def begin_transfer(self, subaccount, amount, transfer_id=None, kind=None):
        return self._recorder.begin_transfer(subaccount, amount, transfer_id=transfer_id, kind=kind)

    def settle_transfer(self, txid, state, detail=None):
        return self._recorder.settle_transfer(txid, state, detail=detail)

    def withdraw_create(self, record):
        return self._recorder.withdraw_create(record)
