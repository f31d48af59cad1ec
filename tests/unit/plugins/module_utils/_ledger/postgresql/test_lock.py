# -*- coding: utf-8 -*-
# Copyright: (c) 2026, smsbox.account contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The run lock of a PostgreSQL ledger (_ledger/postgresql/lock.py): a second run waits and names who holds it; the lock
dies with the run's process; a waiting run takes it as soon as it is released.

Against the real server of tests/unit/postgresql.py, each test in a fresh schema; nothing is mocked."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import signal
import threading
import time

import pytest

from ansible_collections.smsbox.account.plugins.module_utils._ledger.ledger import Ledger, LedgerError
from ansible_collections.smsbox.account.plugins.module_utils._ledger.location import printable_location
from ansible_collections.smsbox.account.tests.unit.helpers.accounts import FP_A
from ansible_collections.smsbox.account.tests.unit.helpers.ledger_stores import assert_no_secret
from ansible_collections.smsbox.account.tests.unit.helpers.workers import start_child


def test_a_second_run_waits_then_names_the_holder(pg_location):
    holder = Ledger(pg_location, FP_A)
    with holder.session():
        for exclusive in (True, False):
            started = time.monotonic()
            with pytest.raises(LedgerError) as info:
                with Ledger(pg_location, FP_A, lock_timeout=0.5).session(exclusive=exclusive):
                    pass
            assert time.monotonic() - started >= 0.5
            message = str(info.value)
            assert 'locked by another run' in message and 'held by' in message
            assert "'smsbox.account %d on " % os.getpid() in message and 'writing' in message and 'since 20' in message
            assert 'from 127.0.0.1' in message and 'pg_terminate_backend' in message
            assert printable_location(pg_location) in message
            assert_no_secret([message], pg_location)
    with Ledger(pg_location, FP_A, lock_timeout=0).session(exclusive=False):
        with pytest.raises(LedgerError) as info:
            with Ledger(pg_location, FP_A, lock_timeout=0.2).session():
                pass
        assert 'reading' in str(info.value)


def test_a_killed_run_frees_the_lock_at_once(pg_location):
    child = start_child('''
        import sys, time
        from ansible_collections.smsbox.account.plugins.module_utils._ledger.ledger import Ledger
        with Ledger(sys.argv[1], sys.argv[2]).session() as book:
            tx = book.begin_transfer('shop', 30)
            print(tx['id'], flush=True)
            time.sleep(600)
    ''', pg_location, FP_A)
    try:
        txid = child.stdout.readline().strip()
        assert txid.startswith('tx-'), child.stderr.read() if child.poll() is not None else txid
        with pytest.raises(LedgerError):
            with Ledger(pg_location, FP_A, lock_timeout=0.2).session():
                pass
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(30)
        child.stdout.close()
        child.stderr.close()
    started = time.monotonic()
    with Ledger(pg_location, FP_A, lock_timeout=30).session() as book:
        waited = time.monotonic() - started
        assert book.transfer(txid)['state'] == 'unknown'
        assert any(txid in warning and 'interrupted' in warning for warning in book.warnings)
    assert waited < 3, 'the lock of a killed run was held %.1f s' % waited


def test_a_waiting_run_takes_the_lock_as_soon_as_the_holder_releases_it(pg_location):
    entered = []
    errors = []

    def second_run():
        try:
            with Ledger(pg_location, FP_A, lock_timeout=30).session() as book:
                entered.append(time.monotonic())
                book.record_subaccount('second', 'created')
        except Exception as error:  # pylint: disable=broad-except
            errors.append(error)
    with Ledger(pg_location, FP_A).session() as book:
        book.record_subaccount('first', 'created')
        waiter = threading.Thread(target=second_run)
        waiter.start()
        time.sleep(1.0)
        assert entered == [] and errors == []  # it waits while the first run holds the lock
        released = time.monotonic()
    waiter.join(30)
    assert errors == [] and len(entered) == 1
    assert entered[0] - released < 2, 'the lock was taken %.1f s after it was released' % (entered[0] - released)
    with Ledger(pg_location, FP_A).session(exclusive=False) as book:
        assert sorted(book.subaccounts()) == ['first', 'second']  # each recorded under the lock, in turn
