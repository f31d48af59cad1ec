# -*- coding: utf-8 -*-
# Copyright: (c) 2026, smsbox.account contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The ledger: what this collection knows about a main account that the API cannot tell.

This is its meaning, written once for every store: sub-accounts, transfers and their states, the
credits allocated to each sub-account, the queries the modules plan from, and the operator policy
applied when a session opens (a transfer an interrupted run left pending counts as unknown; a key
change or a key rotation is pointed out). Where the records are kept is a store's business
(ledger_store.py): a file by default, or a PostgreSQL database shared by every controller.

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
# printable_location and default_ledger_path are part of what callers import from here.
from ansible_collections.smsbox.account.plugins.module_utils._ledger.store import (  # noqa: F401 pylint: disable=unused-import
    DECISION,
    DEFAULT_CONNECTIONS,
    DEFAULT_LOCK_TIMEOUT,
    OUTCOME,
    open_store,
    printable_location,
)
from ansible_collections.smsbox.account.plugins.module_utils._ledger.file.store import default_ledger_path  # noqa: F401 pylint: disable=unused-import
from ansible_collections.smsbox.account.plugins.module_utils._ledger.recording import RecordingMixin

_KEEP = object()  # record_subaccount's baseline when not given


class Ledger(RecordingMixin):
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
        self.run = dict(run) if run else None
        self._mutex = threading.RLock()
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
            yield self
            if self._exclusive and self._account_due and self.exists and not self._store.lock_lost:
                # A new key alone is recorded only by a run that completed: a key SMSBOX refused is not the account's.
                self._commit_account()
            if self._store.lock_lost:
                self.warnings.append('Ledger %s: this run lost its lock (%s) and took it again to record the answers to the '
                                     'requests it had sent; it sent nothing after that.' % (self.path, self._store.lock_lost))
        except LedgerError as error:
            # What SMSBOX answered that could not be recorded is named, so that nobody has to guess.
            raise self._with_unrecorded(error)
        finally:
            try:
                self.warnings.extend(self._store.close())
            finally:
                self._active = False

    def _reset(self):
        """The in-memory state of an empty ledger, before a session loads the store."""
        self.warnings = []
        self.exists = False
        self._subaccounts = {}
        self._transfers = {}  # by id, in creation order (dicts keep insertion order)
        self._by_subaccount = {}  # name -> ids in creation order; keeps per-item queries fast on a long history
        self._by_transfer_id = {}  # idempotency key -> ids in creation order
        self._reserved = set()  # transfer ids being committed
        self.unrecorded = []  # answers SMSBOX gave that the store could not record, each a sentence
        self._fingerprints = []
        self._stored_api_url = None
        self.moved_to = None  # the key fingerprint this account's records were copied to (a rotated key)
        self._account_due = False  # account metadata to commit before the next record

    # -- loading and operator policy --

    def _load(self, contents):
        self.exists = contents.exists
        self.warnings.extend(contents.warnings)
        self._fingerprints = list(contents.fingerprints)
        self._stored_api_url = contents.api_url
        self.moved_to = contents.moved_to
        self._subaccounts = dict(contents.subaccounts)
        for record in contents.transfers.values():
            self._put_transfer(record)
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
        pending = [tx for tx in self._transfers.values() if tx['state'] == 'pending']
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
            settled = dict(tx, state='unknown', settled=now(), detail=INTERRUPTED_DETAIL)
            if self._exclusive:
                self._store.commit_transfer(settled, previous_state='pending')
            self._put_transfer(settled)  # a read-only session shows what the next real run will record

    def _put_transfer(self, record):
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

    def _commit_account(self):
        with self._account_lock:
            if not self._account_due:
                return
            api_url = self.api_url if self.api_url is not None else self._stored_api_url
            self._store.commit_account(list(self._fingerprints), api_url, moved_to=self.moved_to)
            self._stored_api_url = api_url
            self._account_due = False
            self.exists = True

    # -- queries (copies, so callers cannot change the ledger behind its back) --

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

    def baseline_known(self, name):
        """Whether ``allocated(name)`` is the sub-account's real total: its baseline is known (not adopted blind, not unrecorded)."""
        return self.baseline(name) is not None

    def allocated(self, name):
        """Its declared allocation, what ``allocated`` compares with: its baseline (0 when unknown) plus its applied
        transfers of kind ``allocated``. One-off transfers (``amount``) come on top and are never reversed by it."""
        return self.credits(name)['allocated']

    def received(self, name):
        """Every credit it received in all: its baseline (0 when unknown) plus all its applied transfers."""
        return self.credits(name)['received']

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

    def receipts(self):
        """``received()`` of every sub-account that received anything (a baseline or an applied transfer), by name."""
        return dict((name, credits['received']) for name, credits in self.credits_of_all().items()
                    if credits['baseline'] or credits['received'] != (credits['baseline'] or 0))

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

    def unsettled(self, subaccount=None):
        return self.transfers(subaccount=subaccount, states=('unknown', 'pending'))

    # -- mutations: each is committed by the store, durably, before it returns --

    def _check_writable(self):
        if not self._active:
            raise LedgerError('Ledger %s is not open: record changes inside "with ledger.session():".' % self.path)
        if not self._exclusive:
            raise LedgerError('Ledger %s was opened read-only (check mode or an info module): it cannot record changes.' % self.path)

    def record_subaccount(self, name, origin, state='present', nolimit=None, password_fp=None, baseline=_KEEP, answered=False):
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
        if baseline is not _KEEP and baseline is not None and (not is_count(baseline) or baseline < 0):
            raise LedgerError('Ledger %s cannot record sub-account %r: baseline must be a count of credits (an integer, 0 or more) '
                              'or None when unknown.' % (self.path, name))
        self._check_writable()
        with self._mutex:
            current = self._subaccounts.get(name)
            if baseline is _KEEP:
                baseline = current['baseline'] if current is not None and current['origin'] == origin else default_baseline(origin)
            if current is not None and (current['origin'], current['state'], current['nolimit'], current['password_fp'],
                                        current['baseline']) == (origin, state, nolimit, password_fp, baseline):
                return dict(current)
            record = dict(name=name, origin=origin, state=state, nolimit=nolimit, password_fp=password_fp, baseline=baseline,
                          recorded=now(), run=self.run)
        self._commit_account()
        try:
            self._store.commit_subaccount(record, how=OUTCOME if answered else DECISION)
        except LedgerError:
            if answered:
                self._unrecorded('the create of sub-account %r was answered %s' % (
                    name, 'OK (created)' if state == 'present' else 'with a lost answer (it may exist)'))
            raise
        with self._mutex:
            self._subaccounts[name] = record
            self.exists = True
        return dict(record)
