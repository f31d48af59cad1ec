# -*- coding: utf-8 -*-
# Copyright: (c) 2026, smsbox.account contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Where a ledger is kept: the store interface, and the store a ``ledger`` option value names (location.py reads it).

A store keeps the records of one main account (named by its key fingerprint) and knows nothing of
what they mean: it locks, reads everything, commits one record at a time durably, and closes. The
meaning (states, totals, the interrupted-run policy) is in ledger.py, written once for every store.

- file/store.py: a JSON snapshot, an fsync'd journal and an flock, on the machine that runs the modules.
- postgresql/store.py: tables in a PostgreSQL database shared by every controller, chosen by a
  ``postgresql://`` or ``postgres://`` URI.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible_collections.smsbox.account.plugins.module_utils._ledger.location import check_location, is_postgresql
from ansible_collections.smsbox.account.plugins.module_utils._ledger.records import LedgerError

DEFAULT_LOCK_TIMEOUT = 300.0
DEFAULT_CONNECTIONS = 2  # to a PostgreSQL ledger, per main account: one holds the lock, one records
MAX_CONNECTIONS = 17
OUTCOME_RETRY_SECONDS = 30.0  # how long the answer to a request already sent is kept and retried while the store is away
# What a commit records, which says what may be retried: NEW announces a request before it is sent (never retried blind,
# never once the run lost its lock: the request is then not sent); DECISION records what the run decided (retried on a
# new connection, never once the lock was lost); OUTCOME records the answer to a request already sent (kept and retried
# up to OUTCOME_RETRY_SECONDS, the lock taken again if the store had dropped it; a compare-and-set guards it).
NEW, DECISION, OUTCOME = 'new', 'decision', 'outcome'
ASIDE_MARK = '@aside-'


class LedgerStore:
    """What the Ledger needs from a place that keeps records. One store serves one main account.

    A store is used as: ``lock(exclusive)``, ``read()``, any number of ``commit_*`` calls (only after an
    exclusive lock), ``close()``; then it may be locked again. The ``commit_*`` methods may be called from
    several threads at once and return only once the record is durable. Every error is a LedgerError
    whose text names ``location`` and never holds a password. A commit is made only while this run holds
    its lock, checked with the write itself, else it raises LockLostError; each store keeps this rule the
    one way it can (a PostgreSQL store takes a dropped lock again for an OUTCOME, see above).
    """

    kind = None
    """``file`` or ``postgresql``."""

    location = None
    """Where the ledger is, fit to print: a file path, or a URI with its password masked."""

    on_wait = None
    """Called with a sentence (who holds the lock, how long this run has waited) every few seconds while ``lock`` waits."""

    lock_lost = None
    """Why this run no longer holds its lock (a sentence), or None. Once set, only OUTCOME commits are made."""

    def lock(self, exclusive):
        """Takes the run lock of this account, waiting up to the lock timeout: exclusive to write, shared to read only."""
        raise NotImplementedError

    def read(self):
        """Everything the store holds for this account, as records.Contents."""
        raise NotImplementedError

    def commit_subaccount(self, record, how=DECISION):
        """Upserts one sub-account record (the whole record, keyed by its name), as ``how`` says (NEW, DECISION, OUTCOME).

        A record of origin ``created`` is never replaced by one of origin ``adopted``: that raises LedgerError.
        """
        raise NotImplementedError

    def withdraw_subaccount(self, record):
        """Removes ``record``, a create announced (``created``, ``unknown``) that SMSBOX refused or that was never sent, if
        it is still exactly that record (an OUTCOME)."""
        raise NotImplementedError

    def commit_transfer(self, record, previous_state=None):
        """Upserts one transfer record, keyed by its id.

        ``previous_state`` None: a new transfer (NEW), which must not exist yet. Otherwise (an OUTCOME) the transfer
        must still be in that state (compare-and-set), so two runs can never both settle one transfer.
        Every commit is made only while this run holds its lock: LockLostError when it does not.
        """
        raise NotImplementedError

    def commit_account(self, fingerprints, api_url, moved_to=None):
        """Records the account's metadata: the key fingerprints its ledger was used with, oldest first, the API URL, and
        the key fingerprint its records were copied to after a key rotation (None while they were not)."""
        raise NotImplementedError

    def replace_all(self, contents):
        """Writes every record of ``contents`` at once (all or nothing), into an account that holds no record yet."""
        raise NotImplementedError

    def move_aside(self):
        """Renames every record of this account out of its way, kept for reference (under the exclusive lock); returns
        where they went: a file path, or the name the rows now carry (``<fingerprint>@aside-<UTC time>-<hex>``)."""
        raise NotImplementedError

    def rotated_key_notice(self):
        """When this account has no ledger here but the same place holds other keys' ledgers, after a key rotation
        perhaps: ``(place, [other ledgers], how to move one to this key)``; else None."""
        return None

    def close(self):
        """Ends the session: releases the lock and anything held open. Never raises; returns warnings (sentences)."""
        raise NotImplementedError


def open_store(location, fingerprint, lock_timeout=DEFAULT_LOCK_TIMEOUT, pool_size=1):
    """The store a ``ledger`` option value names: a PostgreSQL URI, else a file path (``~`` expanded).

    Opening connects to nothing and creates nothing; ``lock()`` does. A location the checks refuse is refused here too.
    """
    if not location or not isinstance(location, str):
        raise LedgerError('The ledger location is empty: set the ledger option (or SMSBOX_LEDGER) to a file path or a '
                          'postgresql:// URI, or leave it unset for the default file.')
    problem = check_location(location)
    if problem:
        raise LedgerError(problem[0].upper() + problem[1:] + '.')
    if is_postgresql(location):
        from ansible_collections.smsbox.account.plugins.module_utils._ledger.postgresql.store import PostgresqlStore
        return PostgresqlStore(location, fingerprint, lock_timeout=lock_timeout, pool_size=pool_size)
    from ansible_collections.smsbox.account.plugins.module_utils._ledger.file.store import FileStore
    return FileStore(location, fingerprint, lock_timeout=lock_timeout)
