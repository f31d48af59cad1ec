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

from ansible_collections.smsbox.account.plugins.module_utils._ledger.records import LedgerError
from ansible_collections.smsbox.account.plugins.module_utils._ledger.file.disk import describe, fdatasync, fsync_dir, open_private, write_all


class JournalMixin:
    """The journal half of FileStore, which sets ``path``, ``_real``, ``_journal_fd``, ``_journal_size``, ``_written``,
    ``_synced``, ``_dirty``, ``_exists``, ``_broken`` and ``_sync_lock``."""

    def _open_journal(self):
        if self._journal_fd is None:
            real_journal = self._real + '.journal'
            try:
                self._journal_fd, created = open_private(real_journal, os.O_WRONLY | os.O_APPEND)
            except OSError as error:
                raise LedgerError('Cannot open the journal %s of ledger %s: %s. Check that the directory is writable by this user.'
                                  % (real_journal, self.path, describe(error)))
            if created:
                fsync_dir(os.path.dirname(real_journal))
        return self._journal_fd

    def _append(self, entry):
        """Writes one journal line; the caller holds _io_lock and calls _sync(seq) after releasing it."""
        data = (json.dumps(entry, separators=(',', ':')) + '\n').encode('utf-8')
        fd = self._open_journal()
        try:
            write_all(fd, data)
        except OSError as error:
            try:
                os.ftruncate(fd, self._journal_size)  # never leave half a line for the next append to follow
            except OSError:
                self._broken = 'a journal write failed and could not be undone'
            raise LedgerError('Cannot write to the journal of ledger %s: %s. This record was not saved (a transfer not yet recorded '
                              'is not sent; one already sent stays unsettled and is reported next run). Free disk space and run again.'
                              % (self.path, describe(error)))
        self._journal_size += len(data)
        self._written += 1
        self._dirty = True
        self._exists = True
        return self._written

    def _sync(self, seq):
        # Group commit: one fdatasync covers every line written before it, so concurrent threads share it.
        with self._sync_lock:
            if self._synced >= seq:
                return
            target = self._written
            try:
                fdatasync(self._journal_fd)
            except OSError as error:
                self._broken = 'the journal could not be flushed to disk'
                raise LedgerError('Cannot flush the journal of ledger %s to disk: %s. Do not trust this run\'s records: check the '
                                  'disk, then run again; any transfer it lists as unknown must be checked in the SMSBOX dashboard.'
                                  % (self.path, describe(error)))
            self._synced = target
