# -*- coding: utf-8 -*-
# Copyright: (c) 2026, smsbox.account contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Crash tests: the module process SIGKILLed at the three points of a transfer, and a damaged file store.

After each kill, the next run (a fresh process) sends no transfer to that sub-account, turns the
pending transfer into unknown with a warning naming it, and fails with a message that names it and
the resolve form; settling it from the emulator's truth then makes the ledger match SMSBOX. A torn
journal loses nothing that was flushed; a damaged snapshot is refused before any request, never
reset to empty.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import re
import signal
import subprocess
import sys
import time

import pytest

from ansible_collections.smsbox.account.plugins.module_utils._ledger.ledger import INTERRUPTED_DETAIL, Ledger, key_fingerprint
from ansible_collections.smsbox.account.plugins.modules import smsbox_balance_info, smsbox_credit, smsbox_subaccount
from ansible_collections.smsbox.account.tests.unit.helpers.accounts import KEY, START_BALANCE
from ansible_collections.smsbox.account.tests.unit.helpers.ledger_files import ledger_files_bytes
from ansible_collections.smsbox.account.tests.unit.suite_counts import count

RUNNER = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'module_process.py')
TARGET = 'shop-crash'
AMOUNT = 40
WAIT = 30


STARTED = []


@pytest.fixture(autouse=True)
def no_process_left():
    """Every module process a test started is gone when it ends, whatever happened."""
    yield
    while STARTED:
        STARTED.pop().kill()


class ModuleProcess:
    """One module run in its own process (see module_process.py); always killed or reaped by the test."""

    def __init__(self, tmp_path, module, args, pause='none'):
        self.marker = str(tmp_path / ('marker-%s-%f' % (pause, time.time())))
        args_file = self.marker + '.args.json'
        with open(args_file, 'w') as handle:
            json.dump(args, handle)
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(path for path in sys.path if path))
        self.process = subprocess.Popen([sys.executable, RUNNER, module, args_file, pause, self.marker],  # pylint: disable=consider-using-with
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
        STARTED.append(self)

    def wait_for(self, condition, what):
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:
            if condition():
                return
            if self.process.poll() is not None:
                raise AssertionError('the module ended before %s: %r' % (what, self.process.communicate()))
            time.sleep(0.02)
        self.kill()
        raise AssertionError('timed out waiting for %s' % what)

    def kill(self):
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
        self.process.communicate(timeout=WAIT)
        return self.process.returncode

    def result(self):
        try:
            out, err = self.process.communicate(timeout=WAIT)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError('the module did not end within %d s' % WAIT)
        assert out.strip(), 'no module output; stderr: %r' % err
        return json.loads(out.decode('utf-8').strip().splitlines()[-1])


def transfer_posts(emulator, since=0):
    return [entry for entry in emulator.state()['requests'][since:] if entry['method'] == 'POST' and entry['params'].get('to') == TARGET]


def on_disk_pending(location):
    """(sub-account, amount) of the transfers the store holds as pending, read without the ledger's lock (a paused run holds it)."""
    if location.startswith('postgresql://'):
        import psycopg  # pylint: disable=import-outside-toplevel
        with psycopg.connect(location, autocommit=True) as conn:
            return [tuple(row) for row in conn.execute("SELECT subaccount, amount FROM smsbox_ledger_transfers WHERE state = 'pending'")]
    with open(location + '.journal', 'rb') as handle:
        entries = [json.loads(line) for line in handle.read().splitlines()]
    return [(entry['transfer']['subaccount'], entry['transfer']['amount']) for entry in entries
            if 'transfer' in entry and entry['transfer']['state'] == 'pending']


def warnings_of(result):
    return [warning if isinstance(warning, str) else json.dumps(warning) for warning in result.get('warnings', [])]


TASKS = {
    'amount': dict(subaccount=TARGET, amount=AMOUNT),
    'allocated': dict(allocations=[dict(subaccount=TARGET, allocated=AMOUNT)]),
}
# where the process is killed -> (the pause installed, an emulator fault, whether SMSBOX applied the transfer)
POINTS = {
    'after pending, before sending': ('after_pending', None, False),
    'in flight': ('none', dict(fault='slow', delay=60), True),
    'after the answer, before recording it': ('before_record', None, True),
}


@pytest.mark.parametrize('task', sorted(TASKS))
@pytest.mark.parametrize('point', list(POINTS))
def test_sigkill_during_a_transfer_then_the_next_run_pays_nothing_unknown(run_module, fresh_emulator, ledger_store, tmp_path, point, task):
    base = dict(api_key=KEY, api_url=fresh_emulator.url, ledger=ledger_store.location, timeout=WAIT)
    assert run_module(smsbox_subaccount, dict(base, name=TARGET, password='Pw+/&= %-crash'))['created'] == [TARGET]
    pause, fault, applied = POINTS[point]
    if fault:
        fresh_emulator.add_fault(operation='transfer', match={'to': TARGET}, **fault)

    killed = ModuleProcess(tmp_path, 'smsbox_credit', dict(base, **TASKS[task]), pause)
    if pause == 'none':
        killed.wait_for(lambda: transfer_posts(fresh_emulator), 'the transfer reached the emulator')
    else:
        killed.wait_for(lambda: os.path.exists(killed.marker), 'the pause point')
    if pause == 'after_pending':
        assert transfer_posts(fresh_emulator) == [], 'sent before it was recorded'
        assert on_disk_pending(ledger_store.location) == [(TARGET, AMOUNT)]  # the paused run holds the lock: read the store
    assert killed.kill() == -signal.SIGKILL
    assert len(transfer_posts(fresh_emulator)) == (0 if pause == 'after_pending' else 1)
    assert fresh_emulator.state()['accounts'][KEY]['subaccounts'][TARGET]['credits'] == (AMOUNT if applied else 0)
    since = len(fresh_emulator.state()['requests'])

    after = ModuleProcess(tmp_path, 'smsbox_credit', dict(base, **TASKS[task]))
    result = after.result()

    txid = ledger_store.read().transfers[0]['id']
    assert result['failed'] is True
    assert transfer_posts(fresh_emulator, since) == [], 'the next run sent a transfer to a sub-account with an unknown one'
    assert txid in result['msg'] and 'resolve: {%s: applied}' % txid in result['msg']
    assert any('interrupted run' in warning and txid in warning for warning in warnings_of(result))
    recorded = ledger_store.read().transfers
    assert [(tx['id'], tx['state'], tx['detail']) for tx in recorded] == [(txid, 'unknown', INTERRUPTED_DETAIL)]

    # Settled from the emulator's truth, then the same task: the ledger matches SMSBOX.
    truth = 'applied' if applied else 'rejected'
    assert not run_module(smsbox_credit, dict(base, subaccount=TARGET, resolve={txid: truth})).failed
    since = len(fresh_emulator.state()['requests'])
    again = run_module(smsbox_credit, dict(base, **TASKS[task]))
    assert not again.failed
    expected = 1 if task == 'amount' or not applied else 0
    assert len(transfer_posts(fresh_emulator, since)) == expected
    credits = fresh_emulator.state()['accounts'][KEY]['subaccounts'][TARGET]['credits']
    assert ledger_store.allocated().get(TARGET, 0) == credits
    assert fresh_emulator.state()['accounts'][KEY]['balance'] + credits == START_BALANCE
    count('crash cases')


def create_posts(emulator, since=0):
    return [entry for entry in emulator.state()['requests'][since:] if entry['method'] == 'POST' and entry['params'].get('pseudo') == TARGET]


def on_disk_subaccount(location):
    """(origin, state) of TARGET as the store holds it, read without the ledger's lock (a paused run holds it)."""
    if location.startswith('postgresql://'):
        import psycopg  # pylint: disable=import-outside-toplevel
        with psycopg.connect(location, autocommit=True) as conn:
            row = conn.execute('SELECT origin, state FROM smsbox_ledger_subaccounts WHERE name = %s', (TARGET,)).fetchone()
            return tuple(row) if row else None
    with open(location + '.journal', 'rb') as handle:
        entries = [json.loads(line) for line in handle.read().splitlines()]
    found = [(entry['subaccount']['origin'], entry['subaccount']['state']) for entry in entries
             if entry.get('subaccount', {}).get('name') == TARGET]
    return found[-1] if found else None


# where the process is killed during a create -> (the pause installed, an emulator fault, whether SMSBOX made it)
CREATE_POINTS = {
    'after it is recorded, before sending': ('after_announce', None, False),
    'in flight': ('none', dict(fault='slow', delay=60), True),
    'after the answer, before recording it': ('before_record_create', None, True),
}


@pytest.mark.parametrize('point', list(CREATE_POINTS))
def test_sigkill_during_a_create_then_the_next_run_settles_it_as_created(run_module, fresh_emulator, ledger_store, tmp_path, point):
    base = dict(api_key=KEY, api_url=fresh_emulator.url, ledger=ledger_store.location, timeout=WAIT)
    task = dict(base, subaccounts=[dict(name=TARGET, password='Pw+/&= %-crash')])
    pause, fault, made = CREATE_POINTS[point]
    if fault:
        fresh_emulator.add_fault(operation='create', match={'pseudo': TARGET}, **fault)

    killed = ModuleProcess(tmp_path, 'smsbox_subaccount', task, pause)
    if pause == 'none':
        killed.wait_for(lambda: create_posts(fresh_emulator), 'the create reached the emulator')
    else:
        killed.wait_for(lambda: os.path.exists(killed.marker), 'the pause point')
    # recorded before it was sent, whatever the point: the killed run cannot lose it
    assert on_disk_subaccount(ledger_store.location) == ('created', 'unknown')
    if pause == 'after_announce':
        assert create_posts(fresh_emulator) == [], 'sent before it was recorded'
    assert killed.kill() == -signal.SIGKILL
    assert (TARGET in fresh_emulator.state()['accounts'][KEY]['subaccounts']) is made

    # the next run, with the same task (no adopt): the create is sent again and settled from its answer as ours
    after = ModuleProcess(tmp_path, 'smsbox_subaccount', task).result()
    assert not after.get('failed'), after
    assert after['subaccounts'][0]['action'] == 'created'
    assert fresh_emulator.state()['accounts'][KEY]['creates'] == [TARGET], 'created once at SMSBOX'
    record = ledger_store.read().subaccounts[TARGET]
    assert (record['origin'], record['state'], record['baseline']) == ('created', 'present', 0)
    # and its credits need no adoption and no baseline written by hand
    credited = run_module(smsbox_credit, dict(base, allocations=[dict(subaccount=TARGET, allocated=AMOUNT)]))
    assert not credited.failed
    assert fresh_emulator.state()['accounts'][KEY]['subaccounts'][TARGET]['credits'] == AMOUNT
    count('crash cases')


# --- the file store: a torn journal, a damaged snapshot ------------------------------------------------------------

RECORDER = '''
import os, sys
from ansible_collections.smsbox.account.plugins.module_utils._ledger.ledger import Ledger
book = Ledger(sys.argv[1], sys.argv[2])
with book.session() as opened:
    for name in ('shop-a', 'shop-b'):
        opened.record_subaccount(name, 'created', nolimit=False)
        tx = opened.begin_transfer(name, 10)
        opened.settle_transfer(tx['id'], 'applied', detail='OK')
    opened.begin_transfer('shop-a', 5)
    os._exit(0)  # killed: the journal is left as it is, never folded into a snapshot
'''


def journal_of_a_killed_run(location):
    """Runs a recording process that dies inside its session; returns the journal's lines (bytes, each with its newline)."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(path for path in sys.path if path))
    subprocess.run([sys.executable, '-c', RECORDER, location, key_fingerprint(KEY)], env=env, check=True, timeout=WAIT)
    with open(location + '.journal', 'rb') as handle:
        return handle.read().splitlines(True)


def cuts(lines):
    """(name, offset): at a line end, mid-line in the last and an earlier line, the final newline only, and nothing left."""
    ends = [sum(len(line) for line in lines[:index + 1]) for index in range(len(lines))]
    return [('whole', ends[-1]), ('final newline lost', ends[-1] - 1), ('mid last line', ends[-2] + len(lines[-1]) // 2),
            ('at a line end', ends[3]), ('mid line 3', ends[1] + len(lines[2]) // 3), ('one byte', 1), ('empty', 0)]


CUT_IDS = ['whole', 'final-newline-lost', 'mid-last-line', 'at-a-line-end', 'mid-line-3', 'one-byte', 'empty']


@pytest.mark.parametrize('cut', range(7), ids=CUT_IDS)
def test_a_torn_journal_loses_nothing_that_was_flushed(run_module, fresh_emulator, file_ledger, cut):
    lines = journal_of_a_killed_run(file_ledger.location)
    name, offset = cuts(lines)[cut]
    data = b''.join(lines)[:offset]
    with open(file_ledger.location + '.journal', 'wb') as handle:
        handle.write(data)
    complete = [json.loads(line.decode('utf-8')) for line in data.splitlines(True) if line.endswith(b'\n')]
    expected_transfers = {}
    expected_subaccounts = set()
    for entry in complete:
        if 'transfer' in entry:
            expected_transfers[entry['transfer']['id']] = entry['transfer']['state']
        elif 'subaccount' in entry:
            expected_subaccounts.add(entry['subaccount']['name'])  # the other lines record the account (key fingerprints)
    torn = not data.endswith(b'\n') and data != b''

    result = run_module(smsbox_balance_info, dict(api_key=KEY, api_url=fresh_emulator.url, ledger=file_ledger.location))

    assert not result.failed, result.msg
    assert any('incomplete record' in warning for warning in result.warnings) == torn, name
    view = file_ledger.read()
    assert set(view.subaccounts) == expected_subaccounts
    # Every complete record is there; a pending one counts as unknown (its request may have left).
    expected = dict((txid, 'unknown' if state == 'pending' else state) for txid, state in expected_transfers.items())
    assert dict((tx['id'], tx['state']) for tx in view.transfers) == expected
    # A real run folds the journal in and cuts the torn tail: nothing lost, the warning not repeated.
    if expected_subaccounts:
        real = run_module(smsbox_credit, dict(api_key=KEY, api_url=fresh_emulator.url, ledger=file_ledger.location,
                                              subaccount=sorted(expected_subaccounts)[0], resolve={'tx-000000000000': 'applied'}))
        assert real.failed and 'does not hold' in real.msg
        assert dict((tx['id'], tx['state']) for tx in file_ledger.read().transfers) == expected
    assert not [entry for entry in fresh_emulator.state()['requests'] if entry['method'] == 'POST']
    count('crash cases')


SNAPSHOTS = {
    'truncated': (lambda good: good[:len(good) // 2], 'is unreadable', 'Restore it from a backup'),
    'garbage': (lambda good: b'\x00\xff\xfe garbage \x81' * 20, 'is unreadable', 'Restore it from a backup'),
    'empty file': (lambda good: b'', 'is unreadable', 'Restore it from a backup'),
    'not an object': (lambda good: b'[1, 2, 3]\n', 'is unreadable', 'Restore it from a backup'),
    'wrong kind': (lambda good: good.replace(b'"smsbox.account ledger"', b'"inventory cache"'), 'is not a smsbox.account ledger',
                   'Point the ledger option at another path'),
    'newer format': (lambda good: re.sub(b'"format": [0-9]+', b'"format": 9', good), 'in format 9, written by a newer release',
                     'Upgrade the smsbox.account collection'),
}


@pytest.mark.parametrize('damage', sorted(SNAPSHOTS))
@pytest.mark.parametrize('module', [smsbox_credit, smsbox_subaccount], ids=['smsbox_credit', 'smsbox_subaccount'])
def test_a_damaged_snapshot_is_refused_before_any_request_and_left_as_it_is(run_module, fresh_emulator, file_ledger, damage, module):
    base = dict(api_key=KEY, api_url=fresh_emulator.url, ledger=file_ledger.location)
    assert not run_module(smsbox_subaccount, dict(base, name='shop-a', password='Pw-a-1')).failed
    assert not run_module(smsbox_credit, dict(base, subaccount='shop-a', allocated=10)).failed
    with open(file_ledger.location, 'rb') as handle:
        good = handle.read()
    damaged, says, advice = SNAPSHOTS[damage]
    with open(file_ledger.location, 'wb') as handle:
        handle.write(damaged(good))
    files = ledger_files_bytes(file_ledger.location)
    since = len(fresh_emulator.state()['requests'])
    args = dict(subaccount='shop-a', allocated=20) if module is smsbox_credit else dict(name='shop-b', password='Pw-b-1')

    result = run_module(module, dict(base, **args))

    assert result.failed
    assert file_ledger.location in result.msg and says in result.msg and advice in result.msg
    assert fresh_emulator.state()['requests'][since:] == [], 'a request was sent with an unreadable ledger'
    assert ledger_files_bytes(file_ledger.location) == files, 'the damaged ledger was changed'
    with pytest.raises(Exception):
        Ledger(file_ledger.location, key_fingerprint(KEY)).session(exclusive=False).__enter__()
    count('crash cases')
