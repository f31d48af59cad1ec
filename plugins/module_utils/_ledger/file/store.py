# -*- coding: utf-8 -*-
# Copyright: (c) 2026, smsbox.account contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The file store: a ledger kept on the machine that runs the modules, with no server.

One JSON snapshot ``<path>`` plus an append-only journal ``<path>.journal`` of JSON lines, guarded
by an flock on ``<path>.lock``. Every commit appends one line and fdatasyncs it before returning, so
a transfer is on disk before its request is sent; the snapshot is rewritten once, when an exclusive
session that changed something ends. The format is described in docs/ledger-format.md.

This module holds the store class and its writing; reading is in ledger_store_file_reading.py, the
on-disk primitives in ledger_store_file_disk.py.
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
    checked_subaccount,
    checked_transfer,
    key_fingerprint,
    now,
)
from ansible_collections.smsbox.account.plugins.module_utils._ledger.store import DECISION, DEFAULT_LOCK_TIMEOUT, LedgerStore
from ansible_collections.smsbox.account.plugins.module_utils._ledger.file.disk import (
    atomic_write,
    describe,
    fdatasync,
    fsync_dir,
    make_dirs,
    open_private,
    rename_aside,
    still_the_file,
    wait_for_flock,
)
from ansible_collections.smsbox.account.plugins.module_utils._ledger.file.journal import JournalMixin
from ansible_collections.smsbox.account.plugins.module_utils._ledger.file.reading import FileReadingMixin


def default_ledger_path(api_key):
    home = os.environ.get('ANSIBLE_HOME') or '~/.ansible'
    home = os.path.abspath(os.path.expanduser(home))
    return os.path.join(home, 'smsbox', 'ledger-%s.json' % key_fingerprint(api_key))


class FileStore(FileReadingMixin, JournalMixin, LedgerStore):
    """The ledger of one main account in a file (and its journal and lock file) at ``path``."""

    kind = 'file'

    def __init__(self, path, fingerprint=None, lock_timeout=DEFAULT_LOCK_TIMEOUT):
        self.path = os.path.abspath(os.path.expanduser(path))
        self.location = self.path
        self.fingerprint = fingerprint
        self.lock_timeout = float(lock_timeout)
        self._io_lock = threading.Lock()  # orders journal appends and guards the records below
        self._sync_lock = threading.Lock()
        self._lock_fd = None
        self._journal_fd = None
        self._exclusive = False
        self._reset()

    def _reset(self):
        self._real = None
        self._locked = False
        self._exists = False
        self._format = FORMAT_VERSION
        self._subaccounts = {}
        self._transfers = {}  # by id, in creation order (dicts keep insertion order)
        self._fingerprints = []
        self._api_url = None
        self._moved_to = None
        self._warnings = []
        self._dirty = False
        self._broken = None
        self._lock_lost = None
        self._journal_size = 0
        self._written = 0
        self._synced = 0

    @property
    def lock_lost(self):
        return self._lock_lost

    # -- paths --

    @property
    def journal_path(self):
        return self.path + '.journal'

    @property
    def lock_path(self):
        return self.path + '.lock'

    def _real_paths(self):
        # Follows a symlinked ledger so the rename replaces the target, not the link.
        real = os.path.realpath(self.path)
        return real, real + '.journal', real + '.lock'

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
        self._real, real_journal, real_lock = self._real_paths()
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
        self._subaccounts = {}
        self._transfers = {}
        self._warnings = []
        snapshot = self._read_snapshot()
        if snapshot is not None:
            self._exists = True
            self._format = snapshot['format']
            self._fingerprints = list(snapshot['key_fingerprints'])
            self._api_url = snapshot.get('api_url')
            self._moved_to = snapshot.get('moved_to')
            for name, record in snapshot['subaccounts'].items():
                self._subaccounts[name] = self._checked(checked_subaccount, record, 'its sub-account %r' % name, name)
            for index, record in enumerate(snapshot['transfers']):
                checked = self._checked(checked_transfer, record, 'its transfer #%d' % (index + 1))
                if checked['id'] in self._transfers:
                    raise self._corrupt('its transfer #%d' % (index + 1), 'repeats the id %s' % checked['id'])
                self._transfers[checked['id']] = checked
        good_end, replayed = self._replay_journal()
        if replayed:
            self._exists = True
        if self._exclusive:
            if replayed or good_end is not None or (self._exists and self._format < FORMAT_VERSION):
                self._dirty = True  # fold the journal into a snapshot on close; an older format is rewritten in this one
            if good_end is not None:
                self._open_journal()
                try:
                    os.ftruncate(self._journal_fd, good_end)
                    fdatasync(self._journal_fd)
                except OSError as error:
                    raise LedgerError('Cannot repair the journal %s of ledger %s: %s. Check the disk and its permissions.'
                                      % (self._real + '.journal', self.path, describe(error)))
                self._journal_size = good_end
        return Contents(exists=self._exists, fingerprints=self._fingerprints, api_url=self._api_url, moved_to=self._moved_to,
                        subaccounts=self._subaccounts, transfers=self._transfers, warnings=self._warnings)

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
        if self._broken:
            raise LedgerError('Ledger %s refuses further records in this run because %s. Check the disk, then run again.'
                              % (self.path, self._broken))

    # -- commits --

    def _holds_lock(self):
        """Whether the lock file this run locked is still the ledger's: deleting or replacing it would let another run in."""
        return still_the_file(self._lock_fd, self._real + '.lock')

    def commit_subaccount(self, record, how=DECISION):
        self._check_writable()
        with self._io_lock:
            current = self._subaccounts.get(record['name'])
            if current is not None and current['origin'] == 'created' and record['origin'] == 'adopted':
                raise LedgerError('Ledger %s records sub-account %r as created by this collection: it cannot become adopted, '
                                  'which would drop its origin and baseline. Nothing was changed.' % (self.path, record['name']))
            seq = self._append({'subaccount': record})
            self._subaccounts[record['name']] = record
        self._sync(seq)

    def withdraw_subaccount(self, record):
        self._check_writable()
        with self._io_lock:
            if self._subaccounts.get(record['name']) != record:
                return  # no longer that announced record: nothing to withdraw
            seq = self._append({'withdrawn': dict(name=record['name'], recorded=record['recorded'])})
            del self._subaccounts[record['name']]
        self._sync(seq)

    def commit_transfer(self, record, previous_state=None):
        self._check_writable()
        with self._io_lock:
            current = self._transfers.get(record['id'])
            if previous_state is None and current is not None:
                raise LedgerError('Ledger %s already holds a transfer %s.' % (self.path, record['id']))
            if previous_state is not None and current is None:
                raise NoSuchRecord('Ledger %s holds no transfer %s to settle.' % (self.path, record['id']))
            if previous_state is not None and current['state'] != previous_state:
                raise LedgerError('Ledger %s cannot settle transfer %s: it is no longer %s.' % (self.path, record['id'], previous_state))
            seq = self._append({'transfer': record})
            self._transfers[record['id']] = record
        self._sync(seq)

    def commit_account(self, fingerprints, api_url, moved_to=None):
        self._check_writable()
        with self._io_lock:
            seq = self._append({'account': dict(key_fingerprints=list(fingerprints), api_url=api_url, moved_to=moved_to)})
            self._fingerprints = list(fingerprints)
            self._api_url = api_url
            self._moved_to = moved_to
        self._sync(seq)

    def replace_all(self, contents):
        self._check_writable()
        with self._io_lock:
            if self._subaccounts or self._transfers:
                raise LedgerError('Ledger %s already holds records: nothing was written to it.' % self.path)
            problem = self._write_snapshot(contents.fingerprints, contents.api_url, contents.moved_to, contents.subaccounts,
                                           contents.transfers.values())
            if problem:
                raise LedgerError('Cannot write ledger %s: %s. Nothing was written to it.' % (self.path, problem))
            self._fingerprints = list(contents.fingerprints)
            self._api_url = contents.api_url
            self._moved_to = contents.moved_to
            self._subaccounts = dict(contents.subaccounts)
            self._transfers = dict(contents.transfers)
            self._exists = True
            self._format = FORMAT_VERSION
            self._truncate_journal()
            self._dirty = False

    def move_aside(self):
        self._check_writable()
        with self._io_lock:
            if self._journal_fd is not None:
                os.close(self._journal_fd)
                self._journal_fd = None
            try:
                aside = rename_aside(self._real, now().replace('-', '').replace(':', ''))
            except OSError as error:
                raise LedgerError('Cannot move ledger %s aside: %s. Nothing was copied.' % (self.path, describe(error)))
            self._subaccounts, self._transfers, self._fingerprints = {}, {}, []
            self._api_url = self._moved_to = None
            self._exists = self._dirty = False
            self._journal_size = 0
        return aside

    # -- snapshot --

    def _write_snapshot(self, fingerprints, api_url, moved_to, subaccounts, transfers):
        """Writes a snapshot atomically; returns None, or what went wrong."""
        snapshot = dict(
            format=FORMAT_VERSION,
            kind=KIND,
            key_fingerprints=list(fingerprints),
            api_url=api_url,
            moved_to=moved_to,
            updated=now(),
            subaccounts=dict((name, subaccounts[name]) for name in sorted(subaccounts)),
            transfers=list(transfers),
        )
        data = (json.dumps(snapshot, indent=1, ensure_ascii=False) + '\n').encode('utf-8')
        try:
            atomic_write(self._real, data)
        except OSError as error:
            return describe(error)
        return None

    def _truncate_journal(self):
        try:
            fd = self._journal_fd
            if fd is None:
                if not os.path.exists(self._real + '.journal'):
                    return
                fd = self._open_journal()
            os.ftruncate(fd, 0)
            fdatasync(fd)
            self._journal_size = 0
        except (OSError, LedgerError):
            pass  # the journal only repeats what the snapshot now holds

    def _compact(self):
        """Writes the snapshot, then empties the journal (a crash in between is harmless: replay is idempotent)."""
        problem = self._write_snapshot(self._fingerprints, self._api_url, self._moved_to, self._subaccounts, self._transfers.values())
        if problem:
            # Every record is already durable in the journal; the next exclusive session folds it in.
            return ['Could not rewrite ledger %s (%s); its records are safe in %s and will be folded in by the next run.'
                    % (self.path, problem, self._real + '.journal')]
        self._dirty = False
        self._truncate_journal()
        return []

    # -- the rest of the interface --

    def rotated_key_notice(self):
        # A rotated key changes the default file name: say so before the account looks brand new.
        directory, base = os.path.split(self._real or os.path.realpath(self.path))
        if self._exists or not self.fingerprint or base != 'ledger-%s.json' % self.fingerprint:
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
        for name in ('_journal_fd', '_lock_fd'):
            fd = getattr(self, name)
            if fd is not None:
                setattr(self, name, None)
                try:
                    os.close(fd)  # closing the lock fd releases the flock
                except OSError:
                    pass

    def close(self):
        warnings = []
        try:
            # Also after an error in the session: every record is already durable, this only folds the journal in.
            if self._locked and self._exclusive and self._dirty and self._broken is None and self._lock_lost is None:
                warnings = self._compact()
        finally:
            self._close_fds()
            self._locked = False
        return warnings
