# -*- coding: utf-8 -*-
# Copyright: (c) 2026, smsbox.account contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The store interface (_ledger/store.py), which each store keeps: runs on one main account take turns for up to
lock_timeout seconds, readers share, a waiting run is told who holds the lock, every record is made only while the run
holds its lock, a created sub-account never becomes adopted."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import threading
import time

import pytest

from ansible_collections.smsbox.account.plugins.module_utils._ledger.ledger import Ledger, LedgerError
from ansible_collections.smsbox.account.plugins.module_utils._ledger.postgresql import lock as pg_lock
from ansible_collections.smsbox.account.plugins.module_utils._ledger.records import LockLostError
from ansible_collections.smsbox.account.tests.unit.helpers.accounts import FP_A
from ansible_collections.smsbox.account.tests.unit.helpers.ledger_stores import lose_lock


def test_lock_timeout_names_the_path(location):
    holder = Ledger(location, FP_A)
    with holder.session():
        waiting = Ledger(location, FP_A, lock_timeout=0.3)
        started = time.monotonic()
        for exclusive in (True, False):
            with pytest.raises(LedgerError) as info:
                with waiting.session(exclusive=exclusive):
                    pass
            assert waiting.path in str(info.value) and 'another run' in str(info.value)
        assert time.monotonic() - started >= 0.6
    with Ledger(location, FP_A, lock_timeout=0).session():
        pass


def test_readers_share_and_a_writer_waits_for_them(location):
    with Ledger(location, FP_A).session() as book:
        book.record_subaccount('a', 'created')
    first = Ledger(location, FP_A, lock_timeout=0)
    second = Ledger(location, FP_A, lock_timeout=0)
    with first.session(exclusive=False):
        with second.session(exclusive=False) as book:
            assert book.subaccount('a')
        with pytest.raises(LedgerError):
            with Ledger(location, FP_A, lock_timeout=0.1).session():
                pass
    holding = threading.Event()
    released = threading.Event()

    def reader():
        with Ledger(location, FP_A).session(exclusive=False):
            holding.set()
            time.sleep(0.3)
            released.set()
    thread = threading.Thread(target=reader)
    thread.start()
    assert holding.wait(10)
    with Ledger(location, FP_A, lock_timeout=10).session():
        assert released.is_set()
    thread.join()
    # and a reader waits for a writer
    with Ledger(location, FP_A).session():
        with pytest.raises(LedgerError):
            with Ledger(location, FP_A, lock_timeout=0.1).session(exclusive=False):
                pass


def test_a_run_that_lost_its_lock_records_and_sends_nothing_new(location, store):
    with Ledger(location, FP_A).session() as book:
        sent = book.begin_transfer('shop', 10)
        announced = book.announce_create('shop-2', False, None)
        lose_lock(book)
        for attempt in (lambda: book.begin_transfer('shop', 20),
                        lambda: book.announce_create('shop-3', False, None),
                        lambda: book.record_subaccount('shop-4', 'adopted', baseline=5)):
            with pytest.raises(LockLostError) as info:
                attempt()
            assert 'no longer holds the lock' in str(info.value) and 'sent' in str(info.value)
        assert [tx['id'] for tx in book.transfers()] == [sent['id']]
        assert sorted(book.subaccounts()) == ['shop-2']
        if store == 'postgresql':
            # the answers to requests already sent are still recorded: the lock is taken again for them (nobody holds it)
            book.settle_transfer(sent['id'], 'applied', detail='OK')
            book.record_subaccount('shop-2', 'created', state='present', answered=True)
            # but nothing new, ever, in this run
            with pytest.raises(LockLostError):
                book.begin_transfer('shop', 30)
        else:
            # a file ledger whose lock file went may be another run's now: not even answers are written into it
            with pytest.raises(LockLostError):
                book.settle_transfer(sent['id'], 'applied', detail='OK')
            assert any(sent['id'] in line and 'answered OK' in line for line in book.unrecorded)
    with Ledger(location, FP_A).session(exclusive=False) as book:
        if store == 'postgresql':
            assert [(tx['amount'], tx['state']) for tx in book.transfers()] == [(10, 'applied')]
            assert book.subaccount('shop-2')['state'] == 'present'
        else:
            assert book.subaccount('shop-2')['state'] == announced['state'] == 'unknown'


def test_a_created_sub_account_never_becomes_adopted(location, store):
    with Ledger(location, FP_A).session() as book:
        book.record_subaccount('ours', 'created', nolimit=False)
    with Ledger(location, FP_A).session() as book:
        with pytest.raises(LedgerError) as info:
            book.record_subaccount('ours', 'adopted', baseline=None)
        assert 'created by this collection: it cannot become adopted' in str(info.value)
    with Ledger(location, FP_A).session(exclusive=False) as book:
        assert book.subaccount('ours')['origin'] == 'created' and book.baseline('ours') == 0


def test_a_waiting_run_says_who_holds_the_lock_at_an_interval(location, store, monkeypatch):
    monkeypatch.setattr(pg_lock, 'LOCK_REPORT_EVERY', 0.3)
    from ansible_collections.smsbox.account.plugins.module_utils._ledger.file import disk
    defaults = list(disk.wait_for_flock.__defaults__)
    defaults[-1] = 0.3
    monkeypatch.setattr(disk.wait_for_flock, '__defaults__', tuple(defaults))
    heard = []
    with Ledger(location, FP_A).session():
        with pytest.raises(LedgerError) as info:
            with Ledger(location, FP_A, lock_timeout=1.2, on_wait=heard.append).session():
                pass
    assert 2 <= len(heard) <= 4, heard
    holder = "'smsbox.account %d on " % os.getpid() if store == 'postgresql' else 'process %d' % os.getpid()
    assert all(holder in line and 'waiting for the lock' in line and 'of 1.2' in line for line in heard), heard
    assert holder in str(info.value) and 'lock_timeout' in str(info.value)


def test_lock_timeout_zero_does_not_wait(location, store):
    with Ledger(location, FP_A).session():
        started = time.monotonic()
        with pytest.raises(LedgerError):
            with Ledger(location, FP_A, lock_timeout=0).session():
                pass
        assert time.monotonic() - started < 1
