# -*- coding: utf-8 -*-
# Copyright: (c) 2026, smsbox.account contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The ledger: what this collection knows about a main account that the API cannot tell.

One JSON snapshot ``<path>`` plus an append-only journal ``<path>.journal`` of JSON lines, guarded
by an flock on ``<path>.lock``. Every mutation appends one line and fsyncs it before returning, so
a transfer is on disk before its request is sent; the snapshot is rewritten once, when an exclusive
session that changed something ends. The format is described in docs/ledger-format.md.

It holds no secret: the key appears only as a one-way fingerprint, a password only as an HMAC
keyed with the API key (which is not in the ledger).
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import contextlib
import datetime
import errno
import fcntl
import hashlib
import hmac
import json
import os
import threading
import time

FORMAT_VERSION = 1
KIND = 'smsbox.account ledger'
TRANSFER_STATES = ('pending', 'applied', 'rejected', 'unknown')
SUBACCOUNT_ORIGINS = ('created', 'adopted')
SUBACCOUNT_STATES = ('present', 'unknown')

# pending -> anything but pending; unknown -> applied|rejected only (an operator's resolve).
ALLOWED_SETTLES = {
    'pending': ('applied', 'rejected', 'unknown'),
    'unknown': ('applied', 'rejected'),
}

INTERRUPTED_DETAIL = 'interrupted before its answer was recorded'
MAX_DETAIL = 500
MAX_FINGERPRINT_HISTORY = 20
DIR_MODE = 0o700
FILE_MODE = 0o600

_fdatasync = getattr(os, 'fdatasync', os.fsync)


class LedgerError(Exception):
    """Corrupt file, newer format, lock timeout, bad path. str(e) is a full sentence naming the path and what to do."""


def key_fingerprint(api_key):
    """First 12 hex chars of sha256 over a prefixed key: names the key without revealing it."""
    if isinstance(api_key, bytes):
        api_key = api_key.decode('utf-8')
    return hashlib.sha256(b'smsbox.account:' + api_key.encode('utf-8')).hexdigest()[:12]


def password_fingerprint(api_key, password):
    """HMAC-SHA256 of the password keyed with the API key, first 16 hex chars.

    Without the key (not in the ledger) it cannot be brute-forced from the ledger alone.
    """
    if isinstance(api_key, bytes):
        api_key = api_key.decode('utf-8')
    if isinstance(password, bytes):
        password = password.decode('utf-8')
    return hmac.new(api_key.encode('utf-8'), password.encode('utf-8'), hashlib.sha256).hexdigest()[:16]


def default_ledger_path(api_key):
    home = os.environ.get('ANSIBLE_HOME') or '~/.ansible'
    home = os.path.abspath(os.path.expanduser(home))
    return os.path.join(home, 'smsbox', 'ledger-%s.json' % key_fingerprint(api_key))


def _now():
    return datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ')


def _write_all(fd, data):
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _fsync_dir(directory):
    # Makes a rename or a new file's directory entry survive a power loss.
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some filesystems refuse fsync on a directory; the rename itself is still atomic
    finally:
        os.close(fd)


def _open_private(path, flags):
    """Opens path, creating it with mode 0600 whatever the umask; only a file we create is chmod-ed."""
    try:
        fd = os.open(path, flags | os.O_CREAT | os.O_EXCL, FILE_MODE)
    except OSError as error:
        if error.errno != errno.EEXIST:
            raise
        return os.open(path, flags), False
    try:
        os.fchmod(fd, FILE_MODE)
    except OSError:
        pass
    return fd, True


def _describe(error):
    return error.strerror or str(error)


class Ledger:
    """The ledger of one main account. Use it through ``session()``."""

    def __init__(self, path, fingerprint, api_url=None, lock_timeout=300.0):
        if not path or not isinstance(path, str):
            raise LedgerError('The ledger path is empty: set the ledger option (or SMSBOX_LEDGER) to a file path, or leave it unset for the default.')
        self.path = os.path.abspath(os.path.expanduser(path))
        self.fingerprint = fingerprint
        self.api_url = api_url
        self.lock_timeout = float(lock_timeout)
        self._mutex = threading.RLock()
        self._sync_lock = threading.Lock()
        self._active = False
        self._exclusive = False
        self._real = None
        self._lock_fd = None
        self._journal_fd = None
        self._reset()

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

    # -- session --

    @contextlib.contextmanager
    def session(self, exclusive=True):
        """Locks, loads, yields self; an exclusive session that changed something writes one snapshot on exit."""
        with self._mutex:
            if self._active:
                raise LedgerError('Ledger %s is already open in this process: a session cannot be nested in another.' % self.path)
            self._active = True
        self._exclusive = bool(exclusive)
        self._reset()
        try:
            self._open_lock()
            self._load()
            completed = False
            try:
                yield self
                completed = True
            finally:
                # Also after an error in the block: every record is already durable, this only folds the journal in.
                # A new key alone is recorded only by a run that completed: a key SMSBOX refused is not the account's.
                if self._exclusive and self._broken is None and (self._dirty or (self._new_fingerprint and completed)):
                    self._compact()
        finally:
            self._close()

    def _reset(self):
        """The in-memory state of an empty ledger, before a session loads the files."""
        self.warnings = []
        self.exists = False
        self._subaccounts = {}
        self._transfers = {}  # by id, in creation order (dicts keep insertion order)
        self._by_subaccount = {}  # name -> ids in creation order; keeps per-item queries fast on a long history
        self._by_transfer_id = {}  # idempotency key -> ids in creation order
        self._fingerprints = []
        self._stored_api_url = None
        self._dirty = False
        self._new_fingerprint = False
        self._broken = None
        self._journal_size = 0
        self._written = 0
        self._synced = 0

    def _close(self):
        for name in ('_journal_fd', '_lock_fd'):
            fd = getattr(self, name)
            if fd is not None:
                setattr(self, name, None)
                try:
                    os.close(fd)  # closing the lock fd releases the flock
                except OSError:
                    pass
        self._active = False

    def _make_dirs(self, directory):
        missing = []
        current = directory
        while not os.path.isdir(current):
            if os.path.lexists(current):
                raise LedgerError('Cannot use ledger %s: %s exists and is not a directory. Point the ledger option at a path in a '
                                  'directory.' % (self.path, current))
            missing.append(current)
            parent = os.path.dirname(current)
            if parent == current:
                break
            current = parent
        for created in reversed(missing):
            try:
                os.mkdir(created, DIR_MODE)
            except OSError as error:
                if error.errno == errno.EEXIST and os.path.isdir(created):
                    continue  # another run made it meanwhile
                raise LedgerError('Cannot create the directory %s for ledger %s: %s. Create it (mode 0700) or point the ledger option '
                                  'elsewhere.' % (created, self.path, _describe(error)))
            os.chmod(created, DIR_MODE)  # mkdir honours the umask; the tenant list stays private

    def _open_lock(self):
        self._real, real_journal, real_lock = self._real_paths()
        directory = os.path.dirname(self._real)
        if os.path.isdir(self._real):
            raise LedgerError('Ledger path %s is a directory. Point the ledger option at a file inside it, e.g. %s.'
                              % (self.path, os.path.join(self.path, 'ledger.json')))
        if self._exclusive:
            self._make_dirs(directory)
            try:
                self._lock_fd, created = _open_private(real_lock, os.O_RDWR)
            except OSError as error:
                raise LedgerError('Cannot open the lock file %s of ledger %s: %s. Check that the directory is writable by this user, '
                                  'or point the ledger option elsewhere.' % (real_lock, self.path, _describe(error)))
            if created:
                _fsync_dir(directory)
            operation = fcntl.LOCK_EX
        else:
            try:
                self._lock_fd = os.open(real_lock, os.O_RDONLY)
            except OSError as error:
                if error.errno in (errno.ENOENT, errno.ENOTDIR):
                    return  # no writer ever ran here; a read-only session creates nothing
                raise LedgerError('Cannot open the lock file %s of ledger %s: %s. Check its permissions.'
                                  % (real_lock, self.path, _describe(error)))
            operation = fcntl.LOCK_SH
        deadline = time.monotonic() + self.lock_timeout
        delay = 0.005
        while True:
            try:
                fcntl.flock(self._lock_fd, operation | fcntl.LOCK_NB)
                return
            except OSError as error:
                if error.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                    raise LedgerError('Cannot lock ledger %s (%s): %s. Put the ledger on a local filesystem that supports flock.'
                                      % (self.path, real_lock, _describe(error)))
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise LedgerError('Ledger %s is locked by another run: waited %g seconds for %s. Another smsbox.account task against '
                                  'the same main account is still running; wait for it to end and run again. The lock is released '
                                  'when its process exits, so if none is running, look for a hung ansible process holding it.'
                                  % (self.path, self.lock_timeout, real_lock))
            time.sleep(min(delay, remaining))
            delay = min(delay * 2, 0.1)

    # -- loading --

    def _corrupt(self, where, why):
        return LedgerError('Ledger %s is unreadable: %s %s. Nothing was changed and the file was left as it is. Restore it from a '
                           'backup: it is the only record of the credits each sub-account received. Moving it aside starts an '
                           'empty ledger that knows no credits; each sub-account must then be adopted with the credits it has '
                           'already received (its baseline, read from the SMSBOX dashboard), or declarative allocations would pay '
                           'them again (see docs/ledger-format.md, "Recovering").' % (self.path, where, why))

    def _load(self):
        real_journal = self._real + '.journal'
        snapshot = self._read_snapshot()
        if snapshot is not None:
            self.exists = True
            self._fingerprints = list(snapshot.get('key_fingerprints') or [])
            self._stored_api_url = snapshot.get('api_url')
            for name, record in snapshot['subaccounts'].items():
                self._subaccounts[name] = self._checked_subaccount(record, 'its sub-account %r' % name, name)
            for index, record in enumerate(snapshot['transfers']):
                checked = self._checked_transfer(record, 'its transfer #%d' % (index + 1))
                if checked['id'] in self._transfers:
                    raise self._corrupt('its transfer #%d' % (index + 1), 'repeats the id %s' % checked['id'])
                self._put_transfer(checked)
        good_end, replayed = self._replay_journal(real_journal)
        if replayed:
            self.exists = True
        if self._exclusive:
            if replayed or good_end is not None:
                self._dirty = True  # fold the journal into a snapshot on exit
            if good_end is not None:
                self._open_journal()
                try:
                    os.ftruncate(self._journal_fd, good_end)
                    _fdatasync(self._journal_fd)
                except OSError as error:
                    raise LedgerError('Cannot repair the journal %s of ledger %s: %s. Check the disk and its permissions.'
                                      % (real_journal, self.path, _describe(error)))
                self._journal_size = good_end
        self._check_fingerprint()
        self._check_rotated_default()
        self._settle_interrupted()

    def _read_snapshot(self):
        try:
            with open(self._real, 'rb') as handle:
                data = handle.read()
        except (IOError, OSError) as error:
            if error.errno in (errno.ENOENT, errno.ENOTDIR):
                return None
            raise LedgerError('Cannot read ledger %s: %s. Check its permissions.' % (self.path, _describe(error)))
        try:
            snapshot = json.loads(data.decode('utf-8'))
        except (ValueError, UnicodeDecodeError) as error:
            raise self._corrupt('the file', 'is not valid JSON (%s)' % str(error)[:120])
        if not isinstance(snapshot, dict):
            raise self._corrupt('the file', 'holds a JSON %s, not an object' % type(snapshot).__name__)
        kind = snapshot.get('kind', KIND)
        if kind != KIND:
            raise LedgerError('%s is not a smsbox.account ledger (its "kind" is %r). Nothing was changed. Point the ledger option at '
                              'another path.' % (self.path, str(kind)[:60]))
        version = snapshot.get('format')
        if not isinstance(version, int) or isinstance(version, bool) or version < 1:
            raise self._corrupt('the file', 'has no valid "format" number')
        if version > FORMAT_VERSION:
            raise LedgerError('Ledger %s is in format %d, written by a newer release of smsbox.account; this one reads format %d '
                              'at most. Nothing was changed. Upgrade the smsbox.account collection on this controller.'
                              % (self.path, version, FORMAT_VERSION))
        snapshot.setdefault('subaccounts', {})
        snapshot.setdefault('transfers', [])
        if not isinstance(snapshot['subaccounts'], dict):
            raise self._corrupt('its "subaccounts"', 'is not an object')
        if not isinstance(snapshot['transfers'], list):
            raise self._corrupt('its "transfers"', 'is not a list')
        prints = snapshot.get('key_fingerprints')
        if prints is not None and (not isinstance(prints, list) or not all(isinstance(item, str) for item in prints)):
            raise self._corrupt('its "key_fingerprints"', 'is not a list of strings')
        return snapshot

    def _replay_journal(self, real_journal):
        """Applies the journal; returns (offset to cut a torn tail at or None, number of records replayed)."""
        try:
            with open(real_journal, 'rb') as handle:
                data = handle.read()
        except (IOError, OSError) as error:
            if error.errno in (errno.ENOENT, errno.ENOTDIR):
                return None, 0
            raise LedgerError('Cannot read the journal %s of ledger %s: %s. Check its permissions.'
                              % (real_journal, self.path, _describe(error)))
        self._journal_size = len(data)
        lines = data.split(b'\n')
        tail = lines.pop()  # b'' when the journal ends with a newline
        offset = 0
        replayed = 0
        torn_at = None
        for number, line in enumerate(lines, 1):
            start = offset
            offset += len(line) + 1
            if not line.strip():
                continue
            try:
                entry = json.loads(line.decode('utf-8'))
            except (ValueError, UnicodeDecodeError):
                if number == len(lines) and not tail:
                    torn_at = start  # a last line that never fully reached the disk
                    break
                raise self._corrupt('its journal %s' % real_journal, 'has an invalid record on line %d, before the end' % number)
            self._apply_entry(entry, '%s line %d' % (real_journal, number))
            replayed += 1
        if tail and torn_at is None:
            torn_at = offset
        if torn_at is None:
            return None, replayed
        self.warnings.append('The journal %s of ledger %s ended with an incomplete record (%d bytes), left by a run interrupted while '
                             'writing it; it was ignored. Its write never completed, so the request it announced was not sent.'
                             % (real_journal, self.path, len(data) - torn_at))
        return torn_at, replayed

    def _apply_entry(self, entry, where):
        if not isinstance(entry, dict) or len(entry) != 1:
            raise self._corrupt('the journal record at %s' % where, 'is not an object with one record')
        kind, record = next(iter(entry.items()))
        if kind == 'subaccount':
            checked = self._checked_subaccount(record, 'the journal record at %s' % where)
            self._subaccounts[checked['name']] = checked
        elif kind == 'transfer':
            self._put_transfer(self._checked_transfer(record, 'the journal record at %s' % where))
        else:
            raise self._corrupt('the journal record at %s' % where, 'has an unknown type %r (written by a newer release?)' % str(kind)[:40])

    def _checked_subaccount(self, record, where, name=None):
        if not isinstance(record, dict) or not isinstance(record.get('name', name), str) or (name is not None and record.get('name', name) != name):
            raise self._corrupt(where, 'is not a sub-account record')
        if record.get('origin') not in SUBACCOUNT_ORIGINS or record.get('state') not in SUBACCOUNT_STATES:
            raise self._corrupt(where, 'has an unknown origin or state')
        nolimit = record.get('nolimit')
        if nolimit is not None and not isinstance(nolimit, bool):
            raise self._corrupt(where, 'has a "nolimit" that is not true, false or null')
        return dict(name=record.get('name', name), origin=record['origin'], state=record['state'], nolimit=nolimit,
                    password_fp=record.get('password_fp'), recorded=record.get('recorded'))

    def _checked_transfer(self, record, where):
        if not isinstance(record, dict) or not isinstance(record.get('id'), str) or not isinstance(record.get('subaccount'), str):
            raise self._corrupt(where, 'is not a transfer record')
        amount = record.get('amount')
        if not isinstance(amount, int) or isinstance(amount, bool):
            raise self._corrupt(where, 'has an amount that is not an integer')
        if record.get('state') not in TRANSFER_STATES:
            raise self._corrupt(where, 'has an unknown state')
        return dict(id=record['id'], subaccount=record['subaccount'], amount=amount, transfer_id=record.get('transfer_id'),
                    state=record['state'], created=record.get('created'), settled=record.get('settled'), detail=record.get('detail'))

    def _check_fingerprint(self):
        if not self.fingerprint:
            return
        if self.exists and self._fingerprints and self._fingerprints[-1] != self.fingerprint:
            self.warnings.append(
                'Ledger %s was last used with another API key (fingerprint %s, now %s). If the key of the same main account was '
                'rotated, this is expected: the ledger now records the new key. If this is another main account, stop and point '
                '`ledger` at that account\'s own file: sharing one ledger between main accounts corrupts both.'
                % (self.path, self._fingerprints[-1], self.fingerprint))
        if self._exclusive and (not self._fingerprints or self._fingerprints[-1] != self.fingerprint):
            self._fingerprints.append(self.fingerprint)
            del self._fingerprints[:-MAX_FINGERPRINT_HISTORY]
            if self.exists:
                self._new_fingerprint = True  # a new ledger gets it with its first record, not as an empty file

    def _check_rotated_default(self):
        # A rotated key changes the default file name: say so before the account looks brand new.
        directory, base = os.path.split(self._real)
        if self.exists or not self.fingerprint or base != 'ledger-%s.json' % self.fingerprint:
            return
        try:
            others = sorted(name for name in os.listdir(directory)
                            if name != base and name.startswith('ledger-') and name.endswith('.json') and len(name) == len(base))
        except OSError:
            return
        if others:
            self.warnings.append(
                'No ledger exists yet for this API key at %s, but %s holds ledgers of other keys (%s). If the key of this main account '
                'was rotated, stop and rename its old ledger (and its .journal) to %s before any real run, or its sub-accounts and '
                'allocations start from nothing; see docs/ledger-format.md. If this is another main account, this is expected.'
                % (self.path, directory, ', '.join(others[:5]) + (' and %d more' % (len(others) - 5) if len(others) > 5 else ''), base))

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
            'in the SMSBOX dashboard, then run smsbox.account.smsbox_credit with resolve: applied or resolve: rejected.'
            % (self.path, len(pending), listed))
        for tx in pending:
            settled = dict(tx, state='unknown', settled=_now(), detail=INTERRUPTED_DETAIL)
            if self._exclusive:
                with self._mutex:
                    seq = self._append({'transfer': settled})
                self._sync(seq)
            self._put_transfer(settled)  # a read-only session shows what the next real run will record

    def _put_transfer(self, record):
        old = self._transfers.get(record['id'])
        self._transfers[record['id']] = record
        if old is None:
            self._by_subaccount.setdefault(record['subaccount'], []).append(record['id'])
            if record['transfer_id'] is not None:
                self._by_transfer_id.setdefault(record['transfer_id'], []).append(record['id'])
        elif (old['subaccount'], old['transfer_id']) != (record['subaccount'], record['transfer_id']):
            # Never done by this code; a hand-edited journal could. Rebuild rather than mis-index.
            self._by_subaccount = {}
            self._by_transfer_id = {}
            for tx in self._transfers.values():
                self._by_subaccount.setdefault(tx['subaccount'], []).append(tx['id'])
                if tx['transfer_id'] is not None:
                    self._by_transfer_id.setdefault(tx['transfer_id'], []).append(tx['id'])

    # -- journal --

    def _open_journal(self):
        if self._journal_fd is None:
            real_journal = self._real + '.journal'
            try:
                self._journal_fd, created = _open_private(real_journal, os.O_WRONLY | os.O_APPEND)
            except OSError as error:
                raise LedgerError('Cannot open the journal %s of ledger %s: %s. Check that the directory is writable by this user.'
                                  % (real_journal, self.path, _describe(error)))
            if created:
                _fsync_dir(os.path.dirname(real_journal))
        return self._journal_fd

    def _append(self, entry):
        """Writes one journal line; the caller holds _mutex and calls _sync(seq) after releasing it."""
        data = (json.dumps(entry, separators=(',', ':')) + '\n').encode('utf-8')
        fd = self._open_journal()
        try:
            _write_all(fd, data)
        except OSError as error:
            try:
                os.ftruncate(fd, self._journal_size)  # never leave half a line for the next append to follow
            except OSError:
                self._broken = 'a journal write failed and could not be undone'
            raise LedgerError('Cannot write to the journal of ledger %s: %s. This record was not saved (a transfer not yet recorded '
                              'is not sent; one already sent stays unsettled and is reported next run). Free disk space and run again.'
                              % (self.path, _describe(error)))
        self._journal_size += len(data)
        self._written += 1
        self._dirty = True
        return self._written

    def _sync(self, seq):
        # Group commit: one fdatasync covers every line written before it, so concurrent threads share it.
        with self._sync_lock:
            if self._synced >= seq:
                return
            target = self._written
            try:
                _fdatasync(self._journal_fd)
            except OSError as error:
                self._broken = 'the journal could not be flushed to disk'
                raise LedgerError('Cannot flush the journal of ledger %s to disk: %s. Do not trust this run\'s records: check the '
                                  'disk, then run again; any transfer it lists as unknown must be checked in the SMSBOX dashboard.'
                                  % (self.path, _describe(error)))
            self._synced = target

    def _compact(self):
        """Writes the snapshot atomically, then empties the journal (a crash in between is harmless: replay is idempotent)."""
        real = self._real
        directory = os.path.dirname(real)
        temp = real + '.tmp'  # fixed name: only the holder of the exclusive lock writes it
        if self.api_url is not None:
            self._stored_api_url = self.api_url
        snapshot = dict(
            format=FORMAT_VERSION,
            kind=KIND,
            key_fingerprints=list(self._fingerprints),
            api_url=self._stored_api_url,
            updated=_now(),
            subaccounts=dict((name, self._subaccounts[name]) for name in sorted(self._subaccounts)),
            transfers=list(self._transfers.values()),
        )
        data = (json.dumps(snapshot, indent=1, ensure_ascii=False) + '\n').encode('utf-8')
        try:
            fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
            try:
                os.fchmod(fd, FILE_MODE)
                _write_all(fd, data)
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(temp, real)
            _fsync_dir(directory)
        except OSError as error:
            # Every record is already durable in the journal; the next exclusive session folds it in.
            self.warnings.append('Could not rewrite ledger %s (%s); its records are safe in %s and will be folded in by the next run.'
                                 % (self.path, _describe(error), real + '.journal'))
            return
        self._dirty = False
        try:
            fd = self._journal_fd
            if fd is None:
                if not os.path.exists(real + '.journal'):
                    return
                fd = self._open_journal()
            os.ftruncate(fd, 0)
            _fdatasync(fd)
            self._journal_size = 0
        except (OSError, LedgerError):
            pass  # the journal only repeats what the snapshot now holds

    # -- queries (copies, so callers cannot change the ledger behind its back) --

    def subaccount(self, name):
        with self._mutex:
            record = self._subaccounts.get(name)
            return dict(record) if record is not None else None

    def subaccounts(self):
        with self._mutex:
            return dict((name, dict(record)) for name, record in self._subaccounts.items())

    def allocated(self, name):
        with self._mutex:
            records = [self._transfers[txid] for txid in self._by_subaccount.get(name, ())]
            return sum(tx['amount'] for tx in records if tx['state'] == 'applied')

    def allocations(self):
        totals = {}
        with self._mutex:
            for tx in self._transfers.values():
                if tx['state'] == 'applied':
                    totals[tx['subaccount']] = totals.get(tx['subaccount'], 0) + tx['amount']
        return totals

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

    # -- mutations --

    def _check_writable(self):
        if not self._active:
            raise LedgerError('Ledger %s is not open: record changes inside "with ledger.session():".' % self.path)
        if not self._exclusive:
            raise LedgerError('Ledger %s was opened read-only (check mode or an info module): it cannot record changes.' % self.path)
        if self._broken:
            raise LedgerError('Ledger %s refuses further records in this run because %s. Check the disk, then run again.'
                              % (self.path, self._broken))

    def record_subaccount(self, name, origin, state='present', nolimit=None, password_fp=None):
        """Upserts a sub-account; the arguments given replace the whole record."""
        if not isinstance(name, str) or not name:
            raise LedgerError('Ledger %s cannot record a sub-account without a name.' % self.path)
        if origin not in SUBACCOUNT_ORIGINS or state not in SUBACCOUNT_STATES:
            raise LedgerError('Ledger %s cannot record sub-account %r with origin %r and state %r: origin must be one of %s and '
                              'state one of %s.' % (self.path, name, origin, state, ', '.join(SUBACCOUNT_ORIGINS), ', '.join(SUBACCOUNT_STATES)))
        if nolimit is not None and not isinstance(nolimit, bool):
            raise LedgerError('Ledger %s cannot record sub-account %r: nolimit must be true, false or None.' % (self.path, name))
        if password_fp is not None and not isinstance(password_fp, str):
            raise LedgerError('Ledger %s cannot record sub-account %r: password_fp must be a fingerprint string.' % (self.path, name))
        self._check_writable()
        with self._mutex:
            current = self._subaccounts.get(name)
            if current is not None and (current['origin'], current['state'], current['nolimit'], current['password_fp']) == \
                    (origin, state, nolimit, password_fp):
                return dict(current)
            record = dict(name=name, origin=origin, state=state, nolimit=nolimit, password_fp=password_fp, recorded=_now())
            seq = self._append({'subaccount': record})
            self._subaccounts[name] = record
        self._sync(seq)
        return dict(record)

    def begin_transfer(self, subaccount, amount, transfer_id=None):
        """Records a pending transfer, durably, before the caller sends it."""
        if not isinstance(subaccount, str) or not subaccount:
            raise LedgerError('Ledger %s cannot record a transfer without a sub-account name.' % self.path)
        if not isinstance(amount, int) or isinstance(amount, bool) or amount == 0:
            raise LedgerError('Ledger %s cannot record a transfer of %r credits to %r: the amount must be a non-zero integer.'
                              % (self.path, amount, subaccount))
        if transfer_id is not None and not isinstance(transfer_id, str):
            raise LedgerError('Ledger %s cannot record a transfer to %r: transfer_id must be a string.' % (self.path, subaccount))
        self._check_writable()
        with self._mutex:
            txid = 'tx-' + os.urandom(6).hex()
            while txid in self._transfers:
                txid = 'tx-' + os.urandom(6).hex()
            tx = dict(id=txid, subaccount=subaccount, amount=amount, transfer_id=transfer_id, state='pending',
                      created=_now(), settled=None, detail=None)
            seq = self._append({'transfer': tx})
            self._put_transfer(tx)
        self._sync(seq)
        return dict(tx)

    def settle_transfer(self, txid, state, detail=None):
        """pending -> applied|rejected|unknown; unknown -> applied|rejected. Durable before it returns."""
        self._check_writable()
        if detail is not None:
            detail = str(detail)[:MAX_DETAIL]
        with self._mutex:
            tx = self._transfers.get(txid)
            if tx is None:
                raise LedgerError('Ledger %s has no transfer %r to settle.' % (self.path, txid))
            if state not in ALLOWED_SETTLES.get(tx['state'], ()):
                allowed = ALLOWED_SETTLES.get(tx['state'])
                raise LedgerError('Ledger %s cannot settle transfer %s as %r: it is %s%s.' % (
                    self.path, txid, state, tx['state'],
                    ', which can only become %s' % ' or '.join(allowed) if allowed else ' already, which is final'))
            settled = dict(tx, state=state, settled=_now(), detail=detail)
            seq = self._append({'transfer': settled})
            self._put_transfer(settled)
        self._sync(seq)
        return dict(settled)
