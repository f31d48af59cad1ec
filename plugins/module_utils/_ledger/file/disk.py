# -*- coding: utf-8 -*-
# Copyright: (c) 2026, smsbox.account contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The file store's on-disk primitives: private files and directories, durable writes, the flock wait.

Nothing here knows what a ledger holds; ``ledger_path`` is only the name the messages give.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import errno
import fcntl
import os
import time

from ansible_collections.smsbox.account.plugins.module_utils._ledger.records import LedgerError

DIR_MODE = 0o700
FILE_MODE = 0o600

fdatasync = getattr(os, 'fdatasync', os.fsync)


def describe(error):
    return error.strerror or str(error)


def write_all(fd, data):
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def fsync_dir(directory):
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


def open_private(path, flags):
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


def atomic_write(path, data):
    """Replaces path with data (mode 0600) so that a crash leaves the old file or the new one; raises OSError."""
    temp = path + '.tmp'  # fixed name: only the holder of the exclusive lock writes it
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
    try:
        os.fchmod(fd, FILE_MODE)
        write_all(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(temp, path)
    fsync_dir(os.path.dirname(path))


def still_the_file(fd, path):
    """Whether the open file fd is still the one at path (same device and inode, not deleted)."""
    try:
        held = os.fstat(fd)
        current = os.stat(path)
    except OSError:
        return False
    return held.st_nlink > 0 and (held.st_dev, held.st_ino) == (current.st_dev, current.st_ino)


def rename_aside(path, stamp):
    """Renames path and its journal to path.aside-<stamp> (and .journal); returns the new path. Raises OSError."""
    aside = '%s.aside-%s' % (path, stamp)
    for suffix in ('', '.journal'):
        if os.path.exists(path + suffix):
            os.rename(path + suffix, aside + suffix)
    fsync_dir(os.path.dirname(path))
    return aside


def make_dirs(directory, ledger_path):
    """Creates directory and its missing parents with mode 0700, for the ledger at ledger_path."""
    missing = []
    current = directory
    while not os.path.isdir(current):
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
                continue  # another run made it a moment ago: that is what we wanted
            if error.errno in (errno.EEXIST, errno.ENOTDIR):
                raise LedgerError('Cannot use ledger %s: %s exists and is not a directory. Point the ledger option at a path in a '
                                  'directory.' % (ledger_path, created if error.errno == errno.EEXIST else os.path.dirname(created)))
            raise LedgerError('Cannot create the directory %s for ledger %s: %s. Create it (mode 0700) or point the ledger option '
                              'elsewhere.' % (created, ledger_path, describe(error)))
        try:
            os.chmod(created, DIR_MODE)  # mkdir honours the umask; the tenant list stays private
        except OSError:
            pass


def flock_holders(lock_path):
    """Who holds flocks on lock_path, from /proc/locks (Linux): 'process 4711 (ansible-playbook site.yml)', or None."""
    try:
        info = os.stat(lock_path)
        with open('/proc/locks') as handle:
            lines = handle.read().splitlines()
    except (IOError, OSError):
        return None
    wanted = '%02x:%02x:%d' % (os.major(info.st_dev), os.minor(info.st_dev), info.st_ino)
    held = []
    for line in lines:
        fields = line.split()
        if len(fields) > 5 and fields[1] == 'FLOCK' and fields[5] == wanted and fields[4].isdigit():
            try:
                with open('/proc/%s/cmdline' % fields[4], 'rb') as handle:
                    command = handle.read().replace(b'\0', b' ').decode('utf-8', 'replace').strip()[:120]
            except (IOError, OSError):
                command = ''
            held.append('process %s%s, %s' % (fields[4], ' (%s)' % command if command else '',
                                              'writing' if fields[3] == 'WRITE' else 'reading'))
    return ', and '.join(held) or None


def wait_for_flock(fd, operation, lock_timeout, ledger_path, lock_path, on_wait=None, report_every=10.0):
    """Takes the flock ``operation`` on fd, polling until lock_timeout seconds have passed; tells ``on_wait`` who holds it
    every ``report_every`` seconds meanwhile."""
    started = time.monotonic()
    deadline = started + lock_timeout
    reported = started
    delay = 0.005
    while True:
        try:
            fcntl.flock(fd, operation | fcntl.LOCK_NB)
            return
        except OSError as error:
            if error.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise LedgerError('Cannot lock ledger %s (%s): %s. Put the ledger on a local filesystem that supports flock.'
                                  % (ledger_path, lock_path, describe(error)))
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            holders = flock_holders(lock_path)
            raise LedgerError('Ledger %s is locked by another run: waited %g seconds (lock_timeout) for %s%s. Another '
                              'smsbox.account task against the same main account is still running; wait for it to end and run '
                              'again, or give a longer lock_timeout. The lock is released when its process exits, so if none is '
                              'running, look for a hung ansible process holding it (fuser -v %s).'
                              % (ledger_path, lock_timeout, lock_path, ', held by %s' % holders if holders else '', lock_path))
        if on_wait is not None and time.monotonic() - reported >= report_every:
            reported = time.monotonic()
            on_wait('waiting for the lock of ledger %s, held by %s: %d s of %g' % (
                ledger_path, flock_holders(lock_path) or 'another process', reported - started, lock_timeout))
        time.sleep(min(delay, remaining))
        delay = min(delay * 2, 0.1)
