# -*- coding: utf-8 -*-
# Copyright: (c) 2026, smsbox.account contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""How the file store reads a ledger: its JSON snapshot checked, then its journal replayed over it (a torn last line cut off).

The format is described in docs/ledger-format.md.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import errno
import json

from ansible_collections.smsbox.account.plugins.module_utils._ledger.records import (
    FORMAT_VERSION,
    KIND,
    Contents,
    LedgerError,
    RecordError,
    checked_fingerprints,
    checked_subaccount,
    checked_transfer,
)
from ansible_collections.smsbox.account.plugins.module_utils._ledger.file.disk import describe


class FileRead:
    """What reading a file ledger found: ``contents`` (records.Contents, every record checked), ``format`` (its
    snapshot's format number), ``journal_size`` (bytes), ``replayed`` (journal records applied) and ``torn_at`` (the offset
    to cut a torn last journal line at, or None)."""

    def __init__(self):
        self.contents = Contents()
        self.format = FORMAT_VERSION
        self.journal_size = 0
        self.replayed = 0
        self.torn_at = None


class LedgerFileReader:
    """Reads the ledger at ``path`` (as messages name it) from its files, ``real`` (the snapshot, symlinks followed) and
    ``real + '.journal'``; refuses a damaged one with a LedgerError that says what to do."""

    def __init__(self, path):
        self.path = path

    def read(self, real):
        found = FileRead()
        contents = found.contents
        snapshot = self._read_snapshot(real)
        if snapshot is not None:
            contents.exists = True
            found.format = snapshot['format']
            contents.fingerprints = list(snapshot['key_fingerprints'])
            contents.api_url = snapshot.get('api_url')
            contents.moved_to = snapshot.get('moved_to')
            for name, record in snapshot['subaccounts'].items():
                contents.subaccounts[name] = self._checked(checked_subaccount, record, 'its sub-account %r' % name, name)
            for index, record in enumerate(snapshot['transfers']):
                checked = self._checked(checked_transfer, record, 'its transfer #%d' % (index + 1))
                if checked['id'] in contents.transfers:
                    raise self.corrupt('its transfer #%d' % (index + 1), 'repeats the id %s' % checked['id'])
                contents.transfers[checked['id']] = checked
        self._replay_journal(real + '.journal', found)
        if found.replayed:
            contents.exists = True
        return found

    def corrupt(self, where, why):
        return LedgerError('Ledger %s is unreadable: %s %s. Nothing was changed and the file was left as it is. Restore it from a '
                           'backup: it is the only record of the credits each sub-account received. Moving it aside starts an '
                           'empty ledger that knows no credits; each sub-account must then be adopted with the credits it has '
                           'already received (its baseline, read from the SMSBOX dashboard), or declarative allocations would pay '
                           'them again (see docs/ledger-format.md, "Recovering").' % (self.path, where, why))

    def _checked(self, check, record, where, *args):
        try:
            return check(record, *args)
        except RecordError as error:
            raise self.corrupt(where, str(error))

    def _read_snapshot(self, real):
        try:
            with open(real, 'rb') as handle:
                data = handle.read()
        except (IOError, OSError) as error:
            if error.errno in (errno.ENOENT, errno.ENOTDIR):
                return None
            raise LedgerError('Cannot read ledger %s: %s. Check its permissions.' % (self.path, describe(error)))
        try:
            snapshot = json.loads(data.decode('utf-8'))
        except (ValueError, UnicodeDecodeError) as error:
            raise self.corrupt('the file', 'is not valid JSON (%s)' % str(error)[:120])
        if not isinstance(snapshot, dict):
            raise self.corrupt('the file', 'holds a JSON %s, not an object' % type(snapshot).__name__)
        kind = snapshot.get('kind', KIND)
        if kind != KIND:
            raise LedgerError('%s is not a smsbox.account ledger (its "kind" is %r). Nothing was changed. Point the ledger option at '
                              'another path.' % (self.path, str(kind)[:60]))
        version = snapshot.get('format')
        if not isinstance(version, int) or isinstance(version, bool) or version < 1:
            raise self.corrupt('the file', 'has no valid "format" number')
        if version > FORMAT_VERSION:
            raise LedgerError('Ledger %s is in format %d, written by a newer release of smsbox.account; this one reads format %d '
                              'at most. Nothing was changed. Upgrade the smsbox.account collection on this controller.'
                              % (self.path, version, FORMAT_VERSION))
        snapshot.setdefault('subaccounts', {})
        snapshot.setdefault('transfers', [])
        if not isinstance(snapshot['subaccounts'], dict):
            raise self.corrupt('its "subaccounts"', 'is not an object')
        if not isinstance(snapshot['transfers'], list):
            raise self.corrupt('its "transfers"', 'is not a list')
        snapshot['key_fingerprints'] = self._checked(checked_fingerprints, snapshot.get('key_fingerprints'), 'its "key_fingerprints"')
        return snapshot

    def _replay_journal(self, real_journal, found):
        """Applies the journal to ``found``: its records, its size, and where to cut a torn tail."""
        try:
            with open(real_journal, 'rb') as handle:
                data = handle.read()
        except (IOError, OSError) as error:
            if error.errno in (errno.ENOENT, errno.ENOTDIR):
                return
            raise LedgerError('Cannot read the journal %s of ledger %s: %s. Check its permissions.'
                              % (real_journal, self.path, describe(error)))
        found.journal_size = len(data)
        lines = data.split(b'\n')
        tail = lines.pop()  # b'' when the journal ends with a newline
        offset = 0
        for number, line in enumerate(lines, 1):
            start = offset
            offset += len(line) + 1
            if not line.strip():
                continue
            try:
                entry = json.loads(line.decode('utf-8'))
            except (ValueError, UnicodeDecodeError):
                if number == len(lines) and not tail:
                    found.torn_at = start  # a last line that never fully reached the disk
                    break
                raise self.corrupt('its journal %s' % real_journal, 'has an invalid record on line %d, before the end' % number)
            self._apply_entry(found.contents, entry, '%s line %d' % (real_journal, number))
            found.replayed += 1
        if tail and found.torn_at is None:
            found.torn_at = offset
        if found.torn_at is not None:
            found.contents.warnings.append(
                'The journal %s of ledger %s ended with an incomplete record (%d bytes), left by a run interrupted while writing it; '
                'it was ignored. Its write never completed, so the request it announced was not sent.'
                % (real_journal, self.path, len(data) - found.torn_at))

    def _apply_entry(self, contents, entry, where):
        where = 'the journal record at %s' % where
        if not isinstance(entry, dict) or len(entry) != 1:
            raise self.corrupt(where, 'is not an object with one record')
        kind, record = next(iter(entry.items()))
        if kind == 'subaccount':
            checked = self._checked(checked_subaccount, record, where)
            contents.subaccounts[checked['name']] = checked
        elif kind == 'transfer':
            checked = self._checked(checked_transfer, record, where)
            contents.transfers[checked['id']] = checked
        elif kind == 'withdrawn' and isinstance(record, dict) and isinstance(record.get('name'), str):
            # A create announced before it was sent, then refused by SMSBOX or never sent: the ledger forgets it.
            current = contents.subaccounts.get(record['name'])
            if current is not None and current['recorded'] == record.get('recorded'):
                del contents.subaccounts[record['name']]
        elif kind == 'account' and isinstance(record, dict):
            contents.fingerprints = self._checked(checked_fingerprints, record.get('key_fingerprints'), where)
            contents.api_url = record.get('api_url')
            contents.moved_to = record.get('moved_to')
        else:
            raise self.corrupt(where, 'has an unknown type %r (written by a newer release?)' % str(kind)[:40])
