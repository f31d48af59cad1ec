# -*- coding: utf-8 -*-
# Copyright: (c) 2026, smsbox.account contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The file store: a ledger kept on the machine that runs the modules, with no server.

One JSON snapshot ``<path>`` plus an append-only journal ``<path>.journal`` of JSON lines, guarded
by an flock on ``<path>.lock``. Every commit appends one line and fdatasyncs it before returning, so
a transfer is on disk before its request is sent; the snapshot is rewritten once, when an exclusive
session that changed something ends. The format is described in docs/ledger-format.md.

This module holds the store class, which holds a reader of its files (reading.py) and its journal
(journal.py); the on-disk primitives are in disk.py.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import errno
import fcntl
import json
import os
import threading

from ansible_collections.smsbox.account.plugins.module_utils._ledger.records import (
    FORMAT_VERSION,
    KIND,
    Contents,
    LedgerError,
    LockLostError,
    NoSuchRecord,
    now,
)
from ansible_collections.smsbox.account.plugins.module_utils._ledger.location import default_file_name
from ansible_collections.smsbox.account.plugins.module_utils._ledger.store import DECISION, DEFAULT_LOCK_TIMEOUT, LedgerStore
from ansible_collections.smsbox.account.plugins.module_utils._ledger.file.disk import (
    atomic_write,
    describe,
    fsync_dir,
    make_dirs,
    open_private,
    rename_aside,
    still_the_file,
    wait_for_flock,
)
from ansible_collections.smsbox.account.plugins.module_utils._ledger.file.journal import Journal
from ansible_collections.smsbox.account.plugins.module_utils._ledger.file.reading import LedgerFileReader


class FileStore(LedgerStore):
    """The ledger of one main account in a file (and its journal and lock file) at ``path``."""

    kind = 'file'

    def __init__(self, path, fingerprint=None, lock_timeout=DEFAULT_LOCK_TIMEOUT):
        self.path = os.path.abspath(os.path.expanduser(path))
        self.location = self.path
        self.fingerprint = fingerprint
        self.lock_timeout = float(lock_timeout)
        self._io_lock = threading.Lock()  # orders journal appends and guards the records below
        self._reader = LedgerFileReader(self.path)
        self._journal = Journal(self.path)
        self._lock_fd = None
        self._exclusive = False
        self._reset()

    def _reset(self):
        self._real = None  # the snapshot's path, a symlinked ledger followed (so the rename replaces the target, not the link)
        self._locked = False
        self._format = FORMAT_VERSION
        self._contents = Contents()  # what the files hold, kept current by every commit (transfers in creation order)
        self._dirty = False
        self._lock_lost = None

    @property
    def lock_lost(self):
        return self._lock_lost

    # -- lock --

    def lock(self, exclusive):
        if self._locked:
            raise LedgerError('Ledger %s is already locked by this session.' % self.path)
        self._reset()
        self._exclusive = bool(exclusive)
        try:
            self._open_lock()
        except Exception:
            self._close_fds()
            raise
        self._locked = True

    def _open_lock(self):
        self._real = os.path.realpath(self.path)
        real_lock = self._real + '.lock'
        directory = os.path.dirname(self._real)
        if os.path.isdir(self._real):
            raise LedgerError('Ledger path %s is a directory. Point the ledger option at a file inside it, e.g. %s.'
                              % (self.path, os.path.join(self.path, 'ledger.json')))
        if self._exclusive:
            make_dirs(directory, self.path)
            try:
                self._lock_fd, created = open_private(real_lock, os.O_RDWR)
            except OSError as error:
                raise LedgerError('Cannot open the lock file %s of ledger %s: %s. Check that the directory is writable by this user, '
                                  'or point the ledger option elsewhere.' % (real_lock, self.path, describe(error)))
            if created:
                fsync_dir(directory)
            operation = fcntl.LOCK_EX
        else:
            try:
                self._lock_fd = os.open(real_lock, os.O_RDONLY)
            except OSError as error:
                if error.errno in (errno.ENOENT, errno.ENOTDIR):
                    return  # no writer ever ran here; a read-only session creates nothing
                raise LedgerError('Cannot open the lock file %s of ledger %s: %s. Check its permissions.'
                                  % (real_lock, self.path, describe(error)))
            operation = fcntl.LOCK_SH
        wait_for_flock(self._lock_fd, operation, self.lock_timeout, self.path, real_lock, on_wait=self.on_wait)

    # -- reading --

    def read(self):
        if not self._locked:
            raise LedgerError('Ledger %s is not locked: lock it before reading.' % self.path)
        found = self._reader.read(self._real)
        self._contents = contents = found.contents
        self._format = found.format
        self._journal.start(self._real + '.journal', found.journal_size)
        if self._exclusive:
            if found.replayed or found.torn_at is not None or (contents.exists and self._format < FORMAT_VERSION):
                self._dirty = True  # fold the journal into a snapshot on close; an older format is rewritten in this one
            if found.torn_at is not None:
                self._journal.cut(found.torn_at)
        return Contents(exists=contents.exists, fingerprints=contents.fingerprints, api_url=contents.api_url,
                        moved_to=contents.moved_to, subaccounts=contents.subaccounts, transfers=contents.transfers,
                        warnings=contents.warnings)

    def _check_writable(self):
        if not self._locked or not self._exclusive:
            raise LedgerError('Ledger %s is not locked for writing: it cannot record changes.' % self.path)
        if self._lock_lost is None and not self._holds_lock():
            self._lock_lost = 'its lock file %s was deleted or replaced while this run held it' % (self._real + '.lock')
        if self._lock_lost:
            # Another run may have locked a new lock file and be writing these files: nothing more is recorded or sent.
            raise LockLostError('Ledger %s: this run no longer holds the lock of the main account (%s), so nothing more is '
                                'recorded, nor sent to SMSBOX. Another run may hold the ledger now: run again once it is done, and '
                                'never delete a ledger\'s lock file while a run may be going.' % (self.path, self._lock_lost))
        if self._journal.broken:
            raise LedgerError('Ledger %s refuses further records in this run because %s. Check the disk, then run again.'
                              % (self.path, self._journal.broken))

    # -- commits --

    def _holds_lock(self):
        """Whether the lock file this run locked is still the ledger's: deleting or replacing it would let another run in."""
        return still_the_file(self._lock_fd, self._real + '.lock')

    def _append(self, entry):
        """Appends one record to the journal; the caller holds _io_lock and calls ``self._journal.sync(seq)`` after it."""
        seq = self._journal.append(entry)
        self._dirty = True
        self._contents.exists = True
        return seq

    def commit_subaccount(self, record, how=DECISION):
        self._check_writable()
        subaccounts = self._contents.subaccounts
        with self._io_lock:
            current = subaccounts.get(record['name'])
            if current is not None and current['origin'] == 'created' and record['origin'] == 'adopted':
                raise LedgerError('Ledger %s records sub-account %r as created by this collection: it cannot become adopted, '
                                  'which would drop its origin and baseline. Nothing was changed.' % (self.path, record['name']))
            seq = self._append({'subaccount': record})
            subaccounts[record['name']] = record
        self._journal.sync(seq)

    def withdraw_subaccount(self, record):
        self._check_writable()
        subaccounts = self._contents.subaccounts
        with self._io_lock:
            if subaccounts.get(record['name']) != record:
                return  # no longer that announced record: nothing to withdraw
            seq = self._append({'withdrawn': dict(name=record['name'], recorded=record['recorded'])})
            del subaccounts[record['name']]
        self._journal.sync(seq)

    def commit_transfer(self, record, previous_state=None):
        self._check_writable()
        with self._io_lock:
            current = self._contents.transfers.get(record['id'])
            if previous_state is None and current is not None:
                raise LedgerError('Ledger %s already holds a transfer %s.' % (self.path, record['id']))
            if previous_state is not None and current is None:
                raise NoSuchRecord('Ledger %s holds no transfer %s to settle.' % (self.path, record['id']))
            if previous_state is not None and current['state'] != previous_state:
                raise LedgerError('Ledger %s cannot settle transfer %s: it is no longer %s.' % (self.path, record['id'], previous_state))
            seq = self._append({'transfer': record})
            self._contents.transfers[record['id']] = record
        self._journal.sync(seq)

    def commit_account(self, fingerprints, api_url, moved_to=None):
        self._check_writable()
        contents = self._contents
        with self._io_lock:
            seq = self._append({'account': dict(key_fingerprints=list(fingerprints), api_url=api_url, moved_to=moved_to)})
            contents.fingerprints = list(fingerprints)
            contents.api_url = api_url
            contents.moved_to = moved_to
        self._journal.sync(seq)

    def replace_all(self, contents):
        self._check_writable()
        with self._io_lock:
            if not self._contents.empty:
                raise LedgerError('Ledger %s already holds records: nothing was written to it.' % self.path)
            problem = self._write_snapshot(contents)
            if problem:
                raise LedgerError('Cannot write ledger %s: %s. Nothing was written to it.' % (self.path, problem))
            self._contents = Contents(exists=True, fingerprints=contents.fingerprints, api_url=contents.api_url,
                                      moved_to=contents.moved_to, subaccounts=contents.subaccounts, transfers=contents.transfers)
            self._format = FORMAT_VERSION
            self._journal.empty()
            self._dirty = False

    def move_aside(self):
        self._check_writable()
        with self._io_lock:
            self._journal.close()
            try:
                aside = rename_aside(self._real, now().replace('-', '').replace(':', ''))
            except OSError as error:
                raise LedgerError('Cannot move ledger %s aside: %s. Nothing was copied.' % (self.path, describe(error)))
            self._contents = Contents()
            self._dirty = False
            self._journal.start(self._real + '.journal', 0)
        return aside

    # -- snapshot --

    def _write_snapshot(self, contents):
        """Writes a snapshot of ``contents`` atomically; returns None, or what went wrong."""
        subaccounts = contents.subaccounts
        snapshot = dict(
            format=FORMAT_VERSION,
            kind=KIND,
            key_fingerprints=list(contents.fingerprints),
            api_url=contents.api_url,
            moved_to=contents.moved_to,
            updated=now(),
            subaccounts=dict((name, subaccounts[name]) for name in sorted(subaccounts)),
            transfers=list(contents.transfers.values()),
        )
        data = (json.dumps(snapshot, indent=1, ensure_ascii=False) + '\n').encode('utf-8')
        try:
            atomic_write(self._real, data)
        except OSError as error:
            return describe(error)
        return None

    def _compact(self):
        """Writes the snapshot, then empties the journal (a crash in between is harmless: replay is idempotent)."""
        problem = self._write_snapshot(self._contents)
        if problem:
            # Every record is already durable in the journal; the next exclusive session folds it in.
            return ['Could not rewrite ledger %s (%s); its records are safe in %s and will be folded in by the next run.'
                    % (self.path, problem, self._real + '.journal')]
        self._dirty = False
        self._journal.empty()
        return []

    # -- the rest of the interface --

    def rotated_key_notice(self):
        # A rotated key changes the default file name: say so before the account looks brand new.
        directory, base = os.path.split(self._real or os.path.realpath(self.path))
        if self._contents.exists or not self.fingerprint or base != default_file_name(self.fingerprint):
            return None
        try:
            others = sorted(name for name in os.listdir(directory)
                            if name != base and name.startswith('ledger-') and name.endswith('.json') and len(name) == len(base))
        except OSError:
            return None
        if not others:
            return None
        return (directory, others, 'rename its old ledger (and its .journal) to %s' % base)

    def _close_fds(self):
        self._journal.close()
        fd, self._lock_fd = self._lock_fd, None
        if fd is not None:
            try:
                os.close(fd)  # releases the flock
            except OSError:
                pass

    def close(self):
        warnings = []
        try:
            # Also after an error in the session: every record is already durable, this only folds the journal in.
            if self._locked and self._exclusive and self._dirty and self._journal.broken is None and self._lock_lost is None:
                warnings = self._compact()
        finally:
            self._close_fds()
            self._locked = False
        return warnings
