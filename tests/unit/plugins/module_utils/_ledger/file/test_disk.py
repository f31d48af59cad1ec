# -*- coding: utf-8 -*-
# Copyright: (c) 2026, smsbox.account contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The file store's files and directories (_ledger/file/disk.py): private modes whatever the umask, directories
made by runs at once, a path that cannot be a ledger refused with a sentence."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import stat
import threading
import time

import pytest

from ansible_collections.smsbox.account.plugins.module_utils._ledger.ledger import Ledger, LedgerError
from ansible_collections.smsbox.account.tests.unit.helpers.accounts import FP_A
from ansible_collections.smsbox.account.tests.unit.helpers.workers import run_in_threads, start_child


@pytest.mark.parametrize('umask', [0o000, 0o022, 0o277])
def test_file_and_directory_modes_ignore_the_umask(tmp_path, umask):
    path = str(tmp_path / 'a' / 'b' / 'ledger.json')
    old = os.umask(umask)
    try:
        with Ledger(path, FP_A).session() as book:
            book.record_subaccount('a', 'created')
            book.begin_transfer('a', 1)
    finally:
        os.umask(old)
    for directory in (tmp_path / 'a', tmp_path / 'a' / 'b'):
        assert stat.S_IMODE(os.stat(str(directory)).st_mode) == 0o700
    for name in (path, path + '.journal', path + '.lock'):
        assert stat.S_IMODE(os.stat(name).st_mode) == 0o600, name
    assert sorted(os.listdir(os.path.dirname(path))) == ['ledger.json', 'ledger.json.journal', 'ledger.json.lock']


def test_existing_directory_mode_is_left_alone(tmp_path):
    directory = tmp_path / 'shared'
    directory.mkdir()
    os.chmod(str(directory), 0o755)
    with Ledger(str(directory / 'l.json'), FP_A).session() as book:
        book.record_subaccount('a', 'created')
    assert stat.S_IMODE(os.stat(str(directory)).st_mode) == 0o755


def test_bad_paths_give_a_sentence(tmp_path):
    (tmp_path / 'afile').write_text('x')
    with pytest.raises(LedgerError) as info:
        with Ledger(str(tmp_path / 'afile' / 'ledger.json'), FP_A).session():
            pass
    assert 'not a directory' in str(info.value)
    with pytest.raises(LedgerError) as info:
        with Ledger(str(tmp_path), FP_A).session():
            pass
    assert 'is a directory' in str(info.value)
    with pytest.raises(LedgerError):
        Ledger('', FP_A)


def test_directories_made_by_several_runs_at_once(tmp_path):
    # Two runs that start together both find the directory missing; the one that creates it second must not fail.
    code = '''
        import sys, time
        from ansible_collections.smsbox.account.plugins.module_utils._ledger.file.disk import make_dirs
        root, start = sys.argv[1], float(sys.argv[2])
        while time.time() < start:
            pass
        for round_ in range(40):
            make_dirs('%s/r%d/a/b/c' % (root, round_), '%s/r%d/a/b/c/ledger.json' % (root, round_))
    '''
    start = time.time() + 1.0
    children = [start_child(code, tmp_path, start) for dummy in range(4)]
    barrier = threading.Barrier(8)

    def thread_work(worker):
        for round_ in range(40):
            barrier.wait(10)
            directory = str(tmp_path / ('t%d' % round_) / 'a' / 'b' / 'c')
            with Ledger(os.path.join(directory, 'ledger-%d.json' % worker), FP_A, lock_timeout=10).session() as book:
                book.record_subaccount('w%d' % worker, 'created')
    errors = run_in_threads(thread_work, 8)
    for child in children:
        dummy, err = child.communicate(timeout=120)
        assert child.returncode == 0, err
    assert errors == []
    for round_ in range(40):
        assert os.path.isdir(str(tmp_path / ('r%d' % round_) / 'a' / 'b' / 'c'))
        assert len(os.listdir(str(tmp_path / ('t%d' % round_) / 'a' / 'b' / 'c'))) == 8 * 3  # each ledger, journal emptied, lock
        assert stat.S_IMODE(os.stat(str(tmp_path / ('t%d' % round_) / 'a')).st_mode) == 0o700
