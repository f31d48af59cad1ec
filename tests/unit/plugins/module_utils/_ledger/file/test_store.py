# -*- coding: utf-8 -*-
# Copyright: (c) 2026, smsbox.account contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What only the file store does (_ledger/file/store.py): each record synced to the journal before it returns, one
snapshot per run, a run killed between the two replayed, torn journal lines cut, a symlinked ledger kept, the
ledger of a rotated key pointed at."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import errno
import json
import os
import time

import pytest

from ansible_collections.smsbox.account.plugins.module_utils._ledger.file import journal as journal_mod
from ansible_collections.smsbox.account.plugins.module_utils._ledger.file import store as file_store_mod
from ansible_collections.smsbox.account.plugins.module_utils._ledger.ledger import Ledger, LedgerError
from ansible_collections.smsbox.account.plugins.module_utils._ledger.location import default_ledger_path
from ansible_collections.smsbox.account.tests.unit.helpers.accounts import FP_A, FP_B, KEY_A, KEY_B
from ansible_collections.smsbox.account.tests.unit.helpers.ledger_files import read_bytes, snapshot_of
from ansible_collections.smsbox.account.tests.unit.helpers.workers import run_child


# -- durability --

def test_begin_and_settle_are_synced_before_they_return(path, monkeypatch):
    synced = []
    real_sync = journal_mod.fdatasync

    def recording_sync(fd):
        real_sync(fd)
        synced.append(read_bytes(path + '.journal'))
    monkeypatch.setattr(journal_mod, 'fdatasync', recording_sync)
    with Ledger(path, FP_A).session() as book:
        tx = book.begin_transfer('shop', 10)
        assert synced and tx['id'].encode() in synced[-1] and b'"pending"' in synced[-1]
        count = len(synced)
        book.settle_transfer(tx['id'], 'applied', detail='OK')
        assert len(synced) > count and b'"applied"' in synced[-1]
        count = len(synced)
        book.record_subaccount('shop', 'created')
        assert len(synced) > count and b'"shop"' in synced[-1]


def test_replay_after_crash_between_snapshot_and_truncation(path, monkeypatch):
    ledger = Ledger(path, FP_A)
    with ledger.session() as book:
        book.record_subaccount('old', 'adopted')
    with ledger.session() as book:
        book.record_subaccount('shop', 'created')
        tx = book.begin_transfer('shop', 100)
        book.settle_transfer(tx['id'], 'applied', detail='OK')
        other = book.begin_transfer('shop', -20)
        book.settle_transfer(other['id'], 'rejected', detail='ERREUR')
        # the crash: the snapshot is written, the journal is never emptied
        monkeypatch.setattr(file_store_mod.os, 'ftruncate', lambda fd, size: None)
    monkeypatch.undo()
    assert read_bytes(path + '.journal').count(b'\n') == 5
    assert len(snapshot_of(path)['transfers']) == 2

    with ledger.session() as book:
        assert [t['id'] for t in book.transfers()] == [tx['id'], other['id']]
        assert book.transfer(tx['id'])['state'] == 'applied'
        assert book.transfer(other['id'])['state'] == 'rejected'
        assert book.allocated('shop') == 100
        assert set(book.subaccounts()) == {'old', 'shop'}
        third = book.begin_transfer('shop', 1)
        book.settle_transfer(third['id'], 'applied')
    assert read_bytes(path + '.journal') == b''
    data = snapshot_of(path)
    assert [t['id'] for t in data['transfers']] == [tx['id'], other['id'], third['id']]
    with ledger.session(exclusive=False) as book:
        assert book.allocated('shop') == 101


def test_torn_last_journal_line_is_ignored_with_a_warning(path):
    ledger = Ledger(path, FP_A)
    with ledger.session() as book:
        tx = book.begin_transfer('shop', 10)
        book.settle_transfer(tx['id'], 'applied')
    partial = b'{"transfer":{"id":"tx-abcdef012345","subaccount":"shop","amo'
    with open(path + '.journal', 'ab') as handle:
        handle.write(partial)
    with ledger.session(exclusive=False) as book:
        assert len(book.transfers()) == 1
        assert len(book.warnings) == 1 and 'incomplete record' in book.warnings[0]
    assert read_bytes(path + '.journal') == partial  # read-only: untouched
    with ledger.session() as book:
        assert len(book.warnings) == 1
        # the torn bytes must be cut before anything is appended after them
        assert read_bytes(path + '.journal') == b''
        second = book.begin_transfer('shop', 20)
        assert read_bytes(path + '.journal').startswith(b'{"transfer"')
        book.settle_transfer(second['id'], 'applied')
    with ledger.session() as book:
        assert book.warnings == []
        assert book.allocated('shop') == 30


def test_crash_mid_write_then_next_run_appends_cleanly(path):
    child = run_child('''
        import os, sys
        from ansible_collections.smsbox.account.plugins.module_utils._ledger.ledger import Ledger
        with Ledger(sys.argv[1], sys.argv[2]).session() as book:
            tx = book.begin_transfer('shop', 10)
            os.write(book._store._journal.fd, b'{"transfer": {"id": "tx-')  # killed in the middle of the next record
            print(tx['id'])
            sys.stdout.flush()
            os._exit(1)
    ''', path, FP_A)
    assert child.returncode == 1, child.stderr
    txid = child.stdout.strip()
    with Ledger(path, FP_A).session() as book:
        assert any('incomplete record' in w for w in book.warnings)
        assert any(txid in w for w in book.warnings)
        assert [t['id'] for t in book.unsettled('shop')] == [txid]
        book.begin_transfer('other', 5)
        lines = read_bytes(path + '.journal').splitlines()
        assert len(lines) == 4  # the key's fingerprint, the pending one, its unknown settle, the new one
        for line in lines:
            json.loads(line.decode())
    with Ledger(path, FP_A).session(exclusive=False) as book:
        assert book.warnings and 'interrupted' in book.warnings[0]  # 'other' was left pending by this test
        assert book.transfer(txid)['state'] == 'unknown'


def test_write_failure_leaves_no_half_line(path, monkeypatch):
    ledger = Ledger(path, FP_A)
    real_write_all = journal_mod.write_all
    with ledger.session() as book:
        book.begin_transfer('shop', 1)

        def half_then_full(fd, data):
            os.write(fd, data[:len(data) // 2])
            raise OSError(errno.ENOSPC, 'No space left on device')
        monkeypatch.setattr(journal_mod, 'write_all', half_then_full)
        with pytest.raises(LedgerError) as info:
            book.begin_transfer('shop', 2)
        assert 'space' in str(info.value)
        monkeypatch.setattr(journal_mod, 'write_all', real_write_all)
        assert [t['amount'] for t in book.transfers()] == [1]
        book.begin_transfer('shop', 3)
        for line in read_bytes(path + '.journal').splitlines():
            json.loads(line.decode())
    with ledger.session(exclusive=False) as book:
        assert [t['amount'] for t in book.transfers()] == [1, 3]


# -- files --

def test_default_path_after_a_key_rotation_warns(monkeypatch, tmp_path):
    monkeypatch.setenv('ANSIBLE_HOME', str(tmp_path))
    with Ledger(default_ledger_path(KEY_A), FP_A).session() as book:
        assert book.warnings == []
        book.record_subaccount('a', 'created')
    with Ledger(default_ledger_path(KEY_B), FP_B).session(exclusive=False) as book:
        assert len(book.warnings) == 1
        assert 'ledger-%s.json' % FP_A in book.warnings[0] and 'rotated' in book.warnings[0]
    with Ledger(default_ledger_path(KEY_A), FP_A).session(exclusive=False) as book:
        assert book.warnings == []
    # an explicit path is the operator's choice: no guess about siblings
    with Ledger(str(tmp_path / 'smsbox' / 'mine.json'), FP_B).session(exclusive=False) as book:
        assert book.warnings == []


def test_symlinked_ledger_stays_a_symlink(tmp_path):
    real = tmp_path / 'real' / 'ledger.json'
    with Ledger(str(real), FP_A).session() as book:
        book.record_subaccount('a', 'created')
    link = tmp_path / 'link.json'
    link.symlink_to(real)
    with Ledger(str(link), FP_A).session() as book:
        book.record_subaccount('b', 'created')
    assert link.is_symlink()
    assert set(snapshot_of(str(real))['subaccounts']) == {'a', 'b'}


# -- performance --

def test_bulk_run_writes_the_snapshot_once(path, monkeypatch):
    replaced = []
    real_replace = os.replace

    def counting_replace(src, dst):
        replaced.append(dst)
        return real_replace(src, dst)
    monkeypatch.setattr(file_store_mod.os, 'replace', counting_replace)
    ledger = Ledger(path, FP_A)
    started = time.monotonic()
    with ledger.session() as book:
        for n in range(500):
            book.record_subaccount('shop-%03d' % n, 'created', nolimit=False, password_fp='%s:%s' % (FP_A, '0' * 16))
        for n in range(500):
            tx = book.begin_transfer('shop-%03d' % n, 100, transfer_id='t-%d' % n)
            book.settle_transfer(tx['id'], 'applied', detail='OK')
        assert replaced == []
        assert os.path.getsize(path + '.journal') < 1024 * 1024
    elapsed = time.monotonic() - started
    assert replaced == [os.path.realpath(path)]
    assert read_bytes(path + '.journal') == b''
    started = time.monotonic()
    with ledger.session(exclusive=False) as book:
        assert len(book.subaccounts()) == 500 and sum(book.receipts().values()) == 50000
    load = time.monotonic() - started
    print('\nledger: 500 sub-accounts + 500 transfers (begin+settle) in %.3f s, reload %.3f s, snapshot %d bytes'
          % (elapsed, load, os.path.getsize(path)))
