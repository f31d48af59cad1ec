# -*- coding: utf-8 -*-
# Copyright: (c) 2026, smsbox.account contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The file store's journal: one record appended as one line, then flushed to disk before the call returns.

Threads of one run share one flush (group commit). The format is described in docs/ledger-format.md.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import threading

from ansible_collections.smsbox.account.plugins.module_utils._ledger.records import LedgerError
from ansible_collections.smsbox.account.plugins.module_utils._ledger.file.disk import describe, fdatasync, fsync_dir, open_private, write_all


class Journal:
    """The journal of the ledger at ``path`` (as messages name it), for one session at a time: ``start`` (its file and
    size), then ``append`` under the caller's lock and ``sync`` after it; ``close`` at the end. ``broken`` says why no
    further record can be trusted to it (a sentence), or None."""

    def __init__(self, path):
        self.path = path
        self.fd = None
        self._sync_lock = threading.Lock()
        self.start(None, 0)

    def start(self, real_journal, size):
        """A new session on the file ``real_journal``, which holds ``size`` bytes."""
        self.close()
        self.real = real_journal
        self.size = size
        self.broken = None
        self._written = 0
        self._synced = 0

    def open(self):
        if self.fd is None:
            try:
                self.fd, created = open_private(self.real, os.O_WRONLY | os.O_APPEND)
            except OSError as error:
                raise LedgerError('Cannot open the journal %s of ledger %s: %s. Check that the directory is writable by this user.'
                                  % (self.real, self.path, describe(error)))
            if created:
                fsync_dir(os.path.dirname(self.real))
        return self.fd

    def append(self, entry):
        """Writes one journal line and returns its sequence number; the caller holds its lock and calls sync(seq) after
        releasing it."""
        data = (json.dumps(entry, separators=(',', ':')) + '\n').encode('utf-8')
        fd = self.open()
        try:
            write_all(fd, data)
        except OSError as error:
            try:
                os.ftruncate(fd, self.size)  # never leave half a line for the next append to follow
            except OSError:
                self.broken = 'a journal write failed and could not be undone'
            raise LedgerError('Cannot write to the journal of ledger %s: %s. This record was not saved (a transfer not yet recorded '
                              'is not sent; one already sent stays unsettled and is reported next run). Free disk space and run again.'
                              % (self.path, describe(error)))
        self.size += len(data)
        self._written += 1
        return self._written

    def sync(self, seq):
        # Group commit: one fdatasync covers every line written before it, so concurrent threads share it.
        with self._sync_lock:
            if self._synced >= seq:
                return
            target = self._written
            try:
                fdatasync(self.fd)
            except OSError as error:
                self.broken = 'the journal could not be flushed to disk'
                raise LedgerError('Cannot flush the journal of ledger %s to disk: %s. Do not trust this run\'s records: check the '
                                  'disk, then run again; any transfer it lists as unknown must be checked in the SMSBOX dashboard.'
                                  % (self.path, describe(error)))
            self._synced = target

    def cut(self, size):
        """Cuts a torn last line off, durably, before anything is appended after it."""
        fd = self.open()
        try:
            os.ftruncate(fd, size)
            fdatasync(fd)
        except OSError as error:
            raise LedgerError('Cannot repair the journal %s of ledger %s: %s. Check the disk and its permissions.'
                              % (self.real, self.path, describe(error)))
        self.size = size

    def empty(self):
        """Empties the journal once a snapshot holds what it held; a failure is harmless (replay is idempotent)."""
        try:
            if self.fd is None and not os.path.exists(self.real):
                return
            fd = self.open()
            os.ftruncate(fd, 0)
            fdatasync(fd)
            self.size = 0
        except (OSError, LedgerError):
            pass

    def close(self):
        fd, self.fd = self.fd, None
        if fd is not None:
            try:
                os.close(fd)
            except OSError:
                pass
