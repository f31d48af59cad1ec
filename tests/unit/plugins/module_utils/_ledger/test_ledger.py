# -*- coding: utf-8 -*-
# Copyright: (c) 2026, smsbox.account contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import errno
import json
import os
import stat
import subprocess
import sys
import textwrap
import threading
import time

import pytest

from ansible_collections.smsbox.account.plugins.module_utils._ledger import ledger as ledger_mod
from ansible_collections.smsbox.account.plugins.module_utils._ledger.file import journal as journal_mod
from ansible_collections.smsbox.account.plugins.module_utils._ledger.file import store as file_store_mod
from ansible_collections.smsbox.account.plugins.module_utils._ledger.ledger import (
    FORMAT_VERSION,
    TRANSFER_STATES,
    Ledger,
    LedgerError,
    key_fingerprint,
    password_fingerprint,
)
from ansible_collections.smsbox.account.plugins.module_utils._ledger.location import default_ledger_path

KEY_A = 'key-of-account-A-0123456789'
KEY_B = 'key-of-account-B-9876543210'
FP_A = key_fingerprint(KEY_A)
FP_B = key_fingerprint(KEY_B)


@pytest.fixture
def path(tmp_path):
    return str(tmp_path / 'ledgers' / 'ledger.json')


def read_bytes(name):
    with open(name, 'rb') as handle:
        return handle.read()


def snapshot_of(path):
    with open(path) as handle:
        return json.load(handle)


def files_in(directory):
    return sorted(os.listdir(directory)) if os.path.isdir(directory) else []


def run_child(code, *args):
    """Runs code in a fresh interpreter that can import the collection; returns the CompletedProcess."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    return subprocess.run([sys.executable, '-c', textwrap.dedent(code)] + [str(a) for a in args],
                          env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, timeout=120, check=False)


# -- fingerprints and paths --

def test_key_fingerprint_is_short_stable_and_one_way():
    assert FP_A == key_fingerprint(KEY_A)
    assert len(FP_A) == 12 and int(FP_A, 16) >= 0
    assert FP_A != FP_B
    import hashlib
    assert FP_A == hashlib.sha256(b'smsbox.account:' + KEY_A.encode('utf-8')).hexdigest()[:12]
    assert KEY_A not in FP_A


def test_password_fingerprint_depends_on_key_and_password():
    fp = password_fingerprint(KEY_A, 'hunter2')
    assert len(fp) == 16
    assert fp == password_fingerprint(KEY_A, 'hunter2')
    assert fp != password_fingerprint(KEY_A, 'hunter3')
    assert fp != password_fingerprint(KEY_B, 'hunter2')
    import hashlib
    import hmac
    assert fp == hmac.new(KEY_A.encode(), b'hunter2', hashlib.sha256).hexdigest()[:16]


def test_default_ledger_path_honours_ansible_home(monkeypatch, tmp_path):
    monkeypatch.setenv('ANSIBLE_HOME', str(tmp_path / 'ah'))
    assert default_ledger_path(KEY_A) == os.path.join(str(tmp_path / 'ah'), 'smsbox', 'ledger-%s.json' % FP_A)
    monkeypatch.delenv('ANSIBLE_HOME')
    monkeypatch.setenv('HOME', str(tmp_path / 'home'))
    assert default_ledger_path(KEY_A) == os.path.join(str(tmp_path / 'home'), '.ansible', 'smsbox', 'ledger-%s.json' % FP_A)
    assert default_ledger_path(KEY_A) != default_ledger_path(KEY_B)
    monkeypatch.setenv('ANSIBLE_HOME', '~/elsewhere')
    assert default_ledger_path(KEY_A).startswith(str(tmp_path / 'home' / 'elsewhere'))


# -- basic behaviour --

def test_fresh_ledger_reads_empty_and_creates_nothing(location, probe):
    ledger = Ledger(location, FP_A)
    with ledger.session(exclusive=False) as book:
        assert book.exists is False
        assert book.subaccounts() == {} and book.transfers() == [] and book.receipts() == {}
        assert book.warnings == []
    assert probe.stored() == {}  # a read-only session creates nothing: no directory, no table
    with ledger.session() as book:
        assert book.exists is False
    # an exclusive session that changed nothing writes no ledger
    assert not probe.holds_records()
    if probe.kind == 'file':
        assert not os.path.exists(location)
        assert not os.path.exists(location + '.journal')


def test_record_and_query_survive_reopening(location, probe):
    ledger = Ledger(location, FP_A, api_url='https://api.example/1.1/api.php')
    with ledger.session() as book:
        rec = book.record_subaccount('shop-paris', 'created', nolimit=False, password_fp='fp:1')
        assert rec['name'] == 'shop-paris' and rec['origin'] == 'created' and rec['state'] == 'present'
        assert rec['recorded'].endswith('Z')
        book.record_subaccount('shop-lyon', 'adopted')
        book.record_subaccount('shop-nice', 'created', state='unknown', nolimit=True)
        rec['state'] = 'tampered'  # a returned copy must not change the ledger
        assert book.subaccount('shop-paris')['state'] == 'present'
    assert probe.holds_records()
    with Ledger(location, FP_A).session(exclusive=False) as book:
        assert book.exists is True
        assert set(book.subaccounts()) == {'shop-paris', 'shop-lyon', 'shop-nice'}
        assert book.subaccount('shop-lyon') == dict(name='shop-lyon', origin='adopted', state='present', nolimit=None,
                                                    password_fp=None, baseline=None, recorded=book.subaccount('shop-lyon')['recorded'],
                                                    run=None)
        assert book.subaccount('shop-paris')['password_fp'] == 'fp:1'
        assert book.subaccount('shop-nice')['state'] == 'unknown'
        assert book.subaccount('shop-nice')['nolimit'] is True
        assert book.subaccount('nope') is None
    assert probe.account(FP_A) == ([FP_A], 'https://api.example/1.1/api.php')
    if probe.kind == 'file':
        data = snapshot_of(location)
        assert data['format'] == FORMAT_VERSION and data['kind'] == 'smsbox.account ledger'
    # upsert: the last record wins, no duplicate
    with ledger.session() as book:
        book.record_subaccount('shop-nice', 'created', state='present', nolimit=True)
    with ledger.session(exclusive=False) as book:
        assert book.subaccount('shop-nice')['state'] == 'present'
        assert len(book.subaccounts()) == 3


def test_record_subaccount_refuses_bad_values(location):
    with Ledger(location, FP_A).session() as book:
        for args, kwargs in [(('', 'created'), {}), (('x', 'made'), {}), (('x', 'created'), {'state': 'gone'}),
                             (('x', 'created'), {'nolimit': 'yes'}), ((None, 'created'), {}),
                             (('x', 'adopted'), {'baseline': -1}), (('x', 'adopted'), {'baseline': 1.5}),
                             (('x', 'adopted'), {'baseline': True}), (('x', 'adopted'), {'baseline': '10'})]:
            with pytest.raises(LedgerError):
                book.record_subaccount(*args, **kwargs)
        assert book.subaccounts() == {}


def test_identical_upsert_writes_nothing(location, probe):
    ledger = Ledger(location, FP_A)
    with ledger.session() as book:
        book.record_subaccount('a', 'created', nolimit=False)
        book.record_subaccount('b', 'adopted', baseline=70)
    before = probe.stored()
    with ledger.session() as book:
        book.record_subaccount('a', 'created', nolimit=False)
        book.record_subaccount('b', 'adopted')  # the known baseline is kept, so nothing changes
        book.record_subaccount('b', 'adopted', baseline=70)
        if probe.kind == 'file':
            assert read_bytes(location + '.journal') == b''
    assert probe.stored() == before


def test_allocated_sums_only_applied_transfers(location):
    with Ledger(location, FP_A).session() as book:
        for amount, state in [(100, 'applied'), (50, 'applied'), (-30, 'applied'), (1000, 'rejected'), (7, 'unknown')]:
            tx = book.begin_transfer('shop', amount)
            book.settle_transfer(tx['id'], state)
        book.begin_transfer('shop', 9)  # still pending
        other = book.begin_transfer('other', 5)
        book.settle_transfer(other['id'], 'applied')
        assert book.allocated('shop') == 120
        assert book.allocated('other') == 5
        assert book.allocated('nobody') == 0
        assert book.receipts() == {'shop': 120, 'other': 5}
        assert [tx['amount'] for tx in book.unsettled('shop')] == [7, 9]
        assert [tx['amount'] for tx in book.transfers('shop', states=('rejected',))] == [1000]
        assert [tx['subaccount'] for tx in book.transfers()] == ['shop'] * 6 + ['other']


def test_transfer_lifecycle_and_illegal_transitions(location):
    ledger = Ledger(location, FP_A)
    with ledger.session() as book:
        tx = book.begin_transfer('shop', 100, transfer_id='order-1')
        assert tx['id'].startswith('tx-') and len(tx['id']) == 15 and int(tx['id'][3:], 16) >= 0
        assert tx['state'] == 'pending' and tx['settled'] is None and tx['detail'] is None
        assert tx['amount'] == 100 and tx['transfer_id'] == 'order-1' and tx['created'].endswith('Z')
        with pytest.raises(LedgerError):
            book.settle_transfer(tx['id'], 'pending')
        with pytest.raises(LedgerError):
            book.settle_transfer(tx['id'], 'lost')
        done = book.settle_transfer(tx['id'], 'unknown', detail='answer lost: ReadTimeout')
        assert done['state'] == 'unknown' and done['settled'] and done['detail'] == 'answer lost: ReadTimeout'
        with pytest.raises(LedgerError):
            book.settle_transfer(tx['id'], 'unknown')
        with pytest.raises(LedgerError):
            book.settle_transfer(tx['id'], 'pending')
        book.settle_transfer(tx['id'], 'applied', detail='resolved by operator')
        for state in TRANSFER_STATES:
            with pytest.raises(LedgerError) as info:
                book.settle_transfer(tx['id'], state)
            assert book.path in str(info.value)
        rejected = book.begin_transfer('shop', -5)
        book.settle_transfer(rejected['id'], 'rejected', detail='ERREUR')
        for state in TRANSFER_STATES:
            with pytest.raises(LedgerError):
                book.settle_transfer(rejected['id'], state)
        with pytest.raises(LedgerError):
            book.settle_transfer('tx-000000000000', 'applied')
        for amount in (0, 1.5, '10', True, None):
            with pytest.raises(LedgerError):
                book.begin_transfer('shop', amount)
        with pytest.raises(LedgerError):
            book.begin_transfer('', 10)
        second = book.begin_transfer('shop', 100, transfer_id='order-1')
        assert book.find_by_transfer_id('order-1')['id'] == second['id']
        assert book.find_by_transfer_id('order-2') is None
        assert book.find_by_transfer_id(None) is None
        assert len(book.transfers()) == 3
    with ledger.session(exclusive=False) as book:
        assert book.transfer(tx['id'])['state'] == 'applied'
        assert book.transfer(tx['id'])['detail'] == 'resolved by operator'
        assert book.transfer('tx-missing') is None
        assert [t['id'] for t in book.transfers()] == [tx['id'], rejected['id'], second['id']]


def test_sessions_cannot_nest_and_mutations_need_a_session(location):
    ledger = Ledger(location, FP_A)
    with pytest.raises(LedgerError):
        ledger.begin_transfer('shop', 1)
    with ledger.session() as book:
        with pytest.raises(LedgerError):
            with ledger.session():
                pass
        book.record_subaccount('a', 'created')
    with pytest.raises(LedgerError):
        ledger.record_subaccount('b', 'created')
    # a failed session still releases its lock
    with ledger.session() as book:
        assert book.subaccount('a')


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


def test_crash_after_begin_transfer_reads_as_unknown(location, probe):
    child = run_child('''
        import os, sys
        from ansible_collections.smsbox.account.plugins.module_utils._ledger.ledger import Ledger
        with Ledger(sys.argv[1], sys.argv[2]).session() as book:
            book.record_subaccount('shop', 'created')
            done = book.begin_transfer('shop', 40)
            book.settle_transfer(done['id'], 'applied', detail='OK')
            tx = book.begin_transfer('shop', 100, transfer_id='t-1')
            print(tx['id'])
            sys.stdout.flush()
            os._exit(1)  # killed before the answer: no session exit, no snapshot, no clean disconnection
    ''', location, FP_A)
    assert child.returncode == 1, child.stderr
    txid = child.stdout.strip()
    if probe.kind == 'file':
        assert not os.path.exists(location)  # only the journal holds it
    stored = probe.stored()

    # a read-only look shows it as unknown but writes nothing
    with Ledger(location, FP_A).session(exclusive=False) as book:
        assert book.exists
        assert book.transfer(txid)['state'] == 'unknown'
        assert any(txid in warning for warning in book.warnings)
    assert probe.stored() == stored

    with Ledger(location, FP_A).session() as book:
        tx = book.transfer(txid)
        assert tx['state'] == 'unknown' and tx['detail'] == ledger_mod.INTERRUPTED_DETAIL
        assert tx['amount'] == 100 and tx['transfer_id'] == 't-1'
        assert [t['id'] for t in book.unsettled('shop')] == [txid]
        assert book.allocated('shop') == 40
        assert book.subaccount('shop')['origin'] == 'created'
        assert len(book.warnings) == 1 and txid in book.warnings[0] and 'resolve' in book.warnings[0]
    if probe.kind == 'file':
        assert [t['state'] for t in snapshot_of(location)['transfers']] == ['applied', 'unknown']
        assert read_bytes(location + '.journal') == b''
    with Ledger(location, FP_A).session() as book:
        assert book.warnings == []  # reported once, now recorded as unknown
        book.settle_transfer(txid, 'rejected', detail='resolved by operator')
        assert book.unsettled() == []


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


def test_journal_without_snapshot_is_replayed_in_order(path):
    os.makedirs(os.path.dirname(path))
    lines = [
        {'subaccount': dict(name='a', origin='created', state='unknown', nolimit=None, password_fp=None, recorded='x')},
        {'transfer': dict(id='tx-1', subaccount='a', amount=5, transfer_id=None, state='pending', created='x', settled=None, detail=None)},
        {'subaccount': dict(name='a', origin='created', state='present', nolimit=None, password_fp=None, recorded='y')},
        {'transfer': dict(id='tx-1', subaccount='a', amount=5, transfer_id=None, state='applied', created='x', settled='y', detail='OK')},
    ]
    with open(path + '.journal', 'w') as handle:
        handle.write(''.join(json.dumps(line) + '\n' for line in lines))
    with Ledger(path, FP_A).session(exclusive=False) as book:
        assert book.exists and book.warnings == []
        assert book.subaccount('a')['state'] == 'present'
        assert book.allocated('a') == 5 and len(book.transfers()) == 1


def test_queries_follow_a_journal_that_moves_a_transfer(path):
    # Never written by the ledger itself, but a hand-edited journal must not leave stale indexes.
    os.makedirs(os.path.dirname(path))
    tx = dict(id='tx-1', subaccount='a', amount=5, transfer_id='k1', state='applied', created='x', settled='y', detail='OK')
    with open(path + '.journal', 'w') as handle:
        handle.write(json.dumps({'transfer': tx}) + '\n')
        handle.write(json.dumps({'transfer': dict(tx, subaccount='b', transfer_id='k2')}) + '\n')
    with Ledger(path, FP_A).session(exclusive=False) as book:
        assert book.received('a') == 0 and book.received('b') == 5
        assert book.transfers('a') == [] and [t['id'] for t in book.transfers('b')] == ['tx-1']
        assert book.find_by_transfer_id('k1') is None and book.find_by_transfer_id('k2')['id'] == 'tx-1'


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


def test_invalid_last_complete_line_is_ignored(path):
    ledger = Ledger(path, FP_A)
    with ledger.session() as book:
        book.record_subaccount('a', 'created')
    with open(path + '.journal', 'ab') as handle:
        handle.write(b'\x00\x00\x00\x00\n')
    with ledger.session(exclusive=False) as book:
        assert set(book.subaccounts()) == {'a'}
        assert book.warnings and 'incomplete record' in book.warnings[0]


def test_invalid_journal_line_before_the_end_is_an_error(path):
    ledger = Ledger(path, FP_A)
    with ledger.session() as book:
        book.record_subaccount('a', 'created')
    good = json.dumps({'subaccount': dict(name='b', origin='created', state='present', nolimit=None, password_fp=None, recorded='x')})
    content = b'{"garbage\n' + good.encode() + b'\n'
    with open(path + '.journal', 'wb') as handle:
        handle.write(content)
    snapshot = read_bytes(path)
    for exclusive in (False, True):
        with pytest.raises(LedgerError) as info:
            with ledger.session(exclusive=exclusive):
                pass
        assert path in str(info.value) and 'line 1' in str(info.value)
    assert read_bytes(path + '.journal') == content
    assert read_bytes(path) == snapshot


@pytest.mark.parametrize('content', [b'{not json', b'', b'[]', b'"text"', b'{"kind": "smsbox.account ledger"}',
                                     b'{"format": "1"}', b'{"format": 1, "transfers": {}}',
                                     b'{"format": 1, "transfers": [{"id": "tx-1"}]}',
                                     b'{"format": 1, "subaccounts": {"a": {"name": "a", "origin": "stolen", "state": "present"}}}',
                                     b'{"format": 1, "transfers": [' + b','.join([json.dumps(dict(
                                         id='tx-1', subaccount='a', amount=1, state='applied')).encode()] * 2) + b']}',
                                     b'\xff\xfe binary'])
def test_corrupt_snapshot_is_an_error_and_left_untouched(path, content):
    os.makedirs(os.path.dirname(path))
    with open(path, 'wb') as handle:
        handle.write(content)
    ledger = Ledger(path, FP_A)
    for exclusive in (True, False):
        with pytest.raises(LedgerError) as info:
            with ledger.session(exclusive=exclusive) as book:
                book.record_subaccount('x', 'created')
        message = str(info.value)
        assert path in message and 'Restore' in message
    assert read_bytes(path) == content
    assert not os.path.exists(path + '.journal')
    assert not os.path.exists(path + '.tmp')


def test_newer_format_is_refused_untouched(path):
    os.makedirs(os.path.dirname(path))
    content = json.dumps({'format': FORMAT_VERSION + 1, 'kind': 'smsbox.account ledger', 'subaccounts': {}, 'transfers': []}).encode()
    with open(path, 'wb') as handle:
        handle.write(content)
    for exclusive in (True, False):
        with pytest.raises(LedgerError) as info:
            with Ledger(path, FP_A).session(exclusive=exclusive):
                pass
        assert path in str(info.value) and 'newer' in str(info.value) and 'Upgrade' in str(info.value)
    assert read_bytes(path) == content


def test_other_kind_of_json_is_refused(path):
    os.makedirs(os.path.dirname(path))
    with open(path, 'w') as handle:
        handle.write('{"format": 1, "kind": "something else"}')
    with pytest.raises(LedgerError) as info:
        with Ledger(path, FP_A).session():
            pass
    assert 'not a smsbox.account ledger' in str(info.value)


def test_fingerprint_mismatch_warns_and_keeps_history(path):
    with Ledger(path, FP_A).session() as book:
        book.record_subaccount('a', 'created')
        assert book.warnings == []
    before = read_bytes(path)
    with Ledger(path, FP_B).session(exclusive=False) as book:
        assert len(book.warnings) == 1
        assert FP_A in book.warnings[0] and FP_B in book.warnings[0] and path in book.warnings[0]
        assert 'rotated' in book.warnings[0]
    assert read_bytes(path) == before  # a read-only session only warns
    with Ledger(path, FP_B).session() as book:
        assert len(book.warnings) == 1
    assert snapshot_of(path)['key_fingerprints'] == [FP_A, FP_B]
    with Ledger(path, FP_B).session() as book:
        assert book.warnings == []
    with Ledger(path, FP_A).session() as book:
        assert len(book.warnings) == 1
    assert snapshot_of(path)['key_fingerprints'] == [FP_A, FP_B, FP_A]


def test_a_run_that_fails_with_another_key_records_no_fingerprint(path):
    """A key SMSBOX refuses (the module fails at the balance read) must not become the ledger's newest key."""
    with Ledger(path, FP_A).session() as book:
        book.record_subaccount('a', 'created')
    before = read_bytes(path)
    with pytest.raises(SystemExit):
        with Ledger(path, FP_B).session() as book:
            assert len(book.warnings) == 1
            raise SystemExit(1)  # what fail_json does when the balance read is refused
    assert read_bytes(path) == before
    with Ledger(path, FP_A).session() as book:
        assert book.warnings == []  # no "last used with another API key" for the right key
    with pytest.raises(SystemExit):
        with Ledger(path, FP_B).session() as book:
            book.record_subaccount('b', 'created')  # a run that recorded something records its key too
            raise SystemExit(1)
    assert snapshot_of(path)['key_fingerprints'] == [FP_A, FP_B]


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


def test_shared_session_is_read_only(location, probe):
    ledger = Ledger(location, FP_A)
    with ledger.session() as book:
        tx = book.begin_transfer('shop', 3)
        book.record_subaccount('shop', 'created')
    before = probe.stored()
    with ledger.session(exclusive=False) as book:
        assert book.transfer(tx['id'])
        with pytest.raises(LedgerError):
            book.record_subaccount('x', 'created')
        with pytest.raises(LedgerError):
            book.begin_transfer('shop', 1)
        with pytest.raises(LedgerError):
            book.settle_transfer(tx['id'], 'applied')
    assert probe.stored() == before


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


# -- concurrency --

def test_two_processes_recording_at_once_lose_nothing(location):
    code = '''
        import sys, time
        from ansible_collections.smsbox.account.plugins.module_utils._ledger.ledger import Ledger
        path, fp, who, start = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
        while time.time() < start:
            time.sleep(0.001)
        ledger = Ledger(path, fp, lock_timeout=60)
        for batch in range(20):
            with ledger.session() as book:
                for n in range(10):
                    tx = book.begin_transfer('%s-%d' % (who, n), 1, transfer_id='%s-%d-%d' % (who, batch, n))
                    book.settle_transfer(tx['id'], 'applied', detail='OK')
                book.record_subaccount('%s-%d' % (who, batch), 'created')
    '''
    start = time.time() + 1.0
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    children = [subprocess.Popen([sys.executable, '-c', textwrap.dedent(code), location, FP_A, who, str(start)], env=env,
                                 stderr=subprocess.PIPE, universal_newlines=True) for who in ('p1', 'p2')]
    for child in children:
        dummy, err = child.communicate(timeout=120)
        assert child.returncode == 0, err
    with Ledger(location, FP_A).session(exclusive=False) as book:
        transfers = book.transfers()
        assert len(transfers) == 400
        assert len(set(tx['id'] for tx in transfers)) == 400
        assert len(set(tx['transfer_id'] for tx in transfers)) == 400
        assert all(tx['state'] == 'applied' for tx in transfers)
        assert sum(book.receipts().values()) == 400
        assert len(book.subaccounts()) == 40
        assert book.warnings == []


def test_eight_threads_in_one_session(location, probe):
    ledger = Ledger(location, FP_A, concurrency=8)
    errors = []

    def work(worker):
        try:
            for n in range(50):
                name = 'w%d-%d' % (worker, n)
                book.record_subaccount(name, 'created', nolimit=False)
                tx = book.begin_transfer(name, n + 1)
                book.settle_transfer(tx['id'], 'applied', detail='OK')
        except Exception as error:  # pragma: no cover - reported below
            errors.append(error)

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible to expose races
    try:
        with ledger.session() as book:
            threads = [threading.Thread(target=work, args=(worker,)) for worker in range(8)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            assert errors == []
            held = dict(list(book.subaccounts().items()) + [(tx['id'], tx) for tx in book.transfers()])
            if probe.kind == 'file':
                journal = [json.loads(line.decode()) for line in read_bytes(location + '.journal').splitlines()]
                assert [entry for entry in journal if 'account' in entry] == [{'account': dict(key_fingerprints=[FP_A], api_url=None, moved_to=None)}]
                journal = [entry for entry in journal if 'account' not in entry]
                assert len(journal) == 8 * 50 * 3
                last = {}
                for entry in journal:
                    record = entry.get('transfer') or entry['subaccount']
                    last[record['id'] if 'id' in record else record['name']] = record
                # what a crash now would replay is exactly what the session holds
                assert last == held
            else:
                # what another controller would read now is exactly what the session holds
                rows = probe.stored()
                assert len(rows['smsbox_ledger_subaccounts']) == 400 and len(rows['smsbox_ledger_transfers']) == 400
                assert set(row[6] for row in rows['smsbox_ledger_transfers']) == {'applied'}
    finally:
        sys.setswitchinterval(interval)
    with ledger.session(exclusive=False) as book:
        assert dict(list(book.subaccounts().items()) + [(tx['id'], tx) for tx in book.transfers()]) == held
        assert len(book.subaccounts()) == 400
        assert len(book.transfers(states=('applied',))) == 400
        assert sum(book.receipts().values()) == 8 * sum(range(1, 51))


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


# -- files --

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


def test_no_key_or_password_in_files_or_messages(location, probe):
    key = 'SECRET-api-KEY-7f3e9d'
    password = 'Hunter2-Sub-Password'
    ledger = Ledger(location, key_fingerprint(key), api_url='https://api.example/1.1/api.php')
    seen = []
    with ledger.session() as book:
        book.record_subaccount('shop', 'created', nolimit=False, password_fp=password_fingerprint(key, password))
        tx = book.begin_transfer('shop', 5, transfer_id='order')
        book.settle_transfer(tx['id'], 'applied', detail='OK')
        seen.append(probe.dump())
    with Ledger(location, key_fingerprint('another key')).session() as book:
        seen.extend(warning.encode() for warning in book.warnings)
    seen.append(probe.dump())
    assert b'shop' in seen[0]
    for blob in seen:
        for secret in (key, password):
            assert secret.encode() not in blob
            assert secret.lower().encode() not in blob.lower()


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


def test_baseline_counts_in_allocated_and_is_unknown_for_adopted_names(location):
    ledger = Ledger(location, FP_A)
    with ledger.session() as book:
        assert book.record_subaccount('made', 'created')['baseline'] == 0
        assert book.record_subaccount('found', 'adopted')['baseline'] is None
        assert book.record_subaccount('told', 'adopted', baseline=300)['baseline'] == 300
        for name in ('made', 'found', 'told'):
            tx = book.begin_transfer(name, 10)
            book.settle_transfer(tx['id'], 'applied')
        assert [book.baseline(name) for name in ('made', 'found', 'told', 'nobody')] == [0, None, 300, None]
        assert [book.baseline_known(name) for name in ('made', 'found', 'told', 'nobody')] == [True, False, True, False]
        assert [book.allocated(name) for name in ('made', 'found', 'told', 'nobody')] == [10, 10, 310, 0]
        assert book.receipts() == {'made': 10, 'found': 10, 'told': 310}
        # not given: an unchanged origin keeps its baseline; another origin takes the new origin's
        assert book.record_subaccount('told', 'adopted', state='present', nolimit=False)['baseline'] == 300
        # a sub-account this collection created never becomes adopted: it would lose its origin and its baseline
        with pytest.raises(LedgerError) as info:
            book.record_subaccount('made', 'adopted')
        assert "'made' as created by this collection: it cannot become adopted" in str(info.value)
        assert book.subaccount('made')['origin'] == 'created' and book.baseline('made') == 0
        assert book.record_subaccount('found', 'adopted', baseline=None)['baseline'] is None
        book.record_subaccount('quiet', 'adopted', baseline=25)
    with ledger.session(exclusive=False) as book:
        assert book.baseline('told') == 300 and book.allocated('told') == 310
        assert book.subaccount('made')['origin'] == 'created' and book.baseline_known('made') is True
        assert book.receipts() == {'made': 10, 'found': 10, 'told': 310, 'quiet': 25}


def test_bulk_run_figures(location, store, tmp_path, record_property):
    """500 sub-accounts, then 500 transfers (begin + settle), from one thread, then from 8 threads on another account."""
    def fill(ledger, threads):
        started = time.monotonic()
        with ledger.session() as book:
            for n in range(500):
                book.record_subaccount('shop-%03d' % n, 'created', nolimit=False, password_fp='%s:%s' % (FP_A, '0' * 16))
            created = time.monotonic()

            def work(first):
                for n in range(first, 500, threads):
                    tx = book.begin_transfer('shop-%03d' % n, 100, transfer_id='t-%d' % n)
                    book.settle_transfer(tx['id'], 'applied', detail='OK')
            workers = [threading.Thread(target=work, args=(first,)) for first in range(threads)]
            for worker in workers:
                worker.start()
            for worker in workers:
                worker.join()
            transferred = time.monotonic()
        ended = time.monotonic()
        with ledger.session(exclusive=False) as book:
            assert len(book.subaccounts()) == 500 and sum(book.receipts().values()) == 50000
            assert len(book.transfers(states='applied')) == 500
        return created - started, transferred - created, ended - transferred, time.monotonic() - ended

    one = fill(Ledger(location, FP_A), 1)
    other = str(tmp_path / 'eight' / 'ledger.json') if store == 'file' else location
    eight = fill(Ledger(other, FP_B, concurrency=8), 8)
    figure = ('%-10s 500 sub-accounts %.2f s; 500 transfers (begin+settle) %.2f s with 1 thread, %.2f s with 8; '
              'close %.2f s; reload %.2f s' % (store, one[0], one[1], eight[1], one[2], one[3]))
    record_property('ledger_figure', figure)
    print('\n' + figure)


def test_format_1_file_is_read_and_upgraded_by_the_next_real_run(path):
    os.makedirs(os.path.dirname(path))
    created = dict(name='made', origin='created', state='present', nolimit=False, password_fp=None, recorded='2026-01-01T00:00:00Z')
    adopted = dict(name='found', origin='adopted', state='present', nolimit=None, password_fp=None, recorded='2026-01-01T00:00:00Z')
    tx = dict(id='tx-000000000001', subaccount='found', amount=40, transfer_id=None, state='applied', created='x', settled='y', detail='OK')
    content = json.dumps({'format': 1, 'kind': 'smsbox.account ledger', 'key_fingerprints': [FP_A], 'api_url': None,
                          'updated': 'x', 'subaccounts': {'found': adopted, 'made': created}, 'transfers': [tx]}).encode()
    with open(path, 'wb') as handle:
        handle.write(content)
    # a format-1 journal line (no baseline) after it reads the same way
    late = dict(created, name='late')
    with open(path + '.journal', 'w') as handle:
        handle.write(json.dumps({'subaccount': late}) + '\n')
    journal = read_bytes(path + '.journal')
    with Ledger(path, FP_A).session(exclusive=False) as book:
        assert book.warnings == []
        assert [book.baseline(name) for name in ('made', 'found', 'late')] == [0, None, 0]
        assert book.allocated('found') == 40 and book.baseline_known('found') is False
    assert read_bytes(path) == content and read_bytes(path + '.journal') == journal  # a read-only session upgrades nothing
    with Ledger(path, FP_A).session() as book:
        assert book.warnings == []  # nothing recorded: the upgrade alone rewrites the file
    data = snapshot_of(path)
    assert data['format'] == FORMAT_VERSION == 3
    assert data['subaccounts']['made']['baseline'] == 0 and data['subaccounts']['late']['baseline'] == 0
    assert data['subaccounts']['found']['baseline'] is None and 'baseline' in data['subaccounts']['found']
    # a transfer with no transfer_id was made to reach an allocation: it counts toward the declared allocation
    assert data['transfers'] == [dict(tx, kind='allocated', run=None)] and data['key_fingerprints'] == [FP_A]
    assert read_bytes(path + '.journal') == b''
    with Ledger(path, FP_A).session() as book:
        book.record_subaccount('found', 'adopted', baseline=100)
    with Ledger(path, FP_A).session(exclusive=False) as book:
        assert book.allocated('found') == 140


def test_format_2_file_with_a_bad_baseline_is_an_error(path):
    os.makedirs(os.path.dirname(path))
    record = dict(name='a', origin='adopted', state='present', nolimit=None, password_fp=None, baseline=-5, recorded='x')
    with open(path, 'w') as handle:
        json.dump({'format': 2, 'kind': 'smsbox.account ledger', 'subaccounts': {'a': record}, 'transfers': []}, handle)
    with pytest.raises(LedgerError) as info:
        with Ledger(path, FP_A).session(exclusive=False):
            pass
    assert 'baseline' in str(info.value) and 'unreadable' in str(info.value)


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
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    children = [subprocess.Popen([sys.executable, '-c', textwrap.dedent(code), str(tmp_path), str(start)], env=env,
                                 stderr=subprocess.PIPE, universal_newlines=True) for dummy in range(4)]
    errors = []
    barrier = threading.Barrier(8)

    def thread_work(worker):
        try:
            for round_ in range(40):
                barrier.wait(10)
                directory = str(tmp_path / ('t%d' % round_) / 'a' / 'b' / 'c')
                with Ledger(os.path.join(directory, 'ledger-%d.json' % worker), FP_A, lock_timeout=10).session() as book:
                    book.record_subaccount('w%d' % worker, 'created')
        except Exception as error:  # pragma: no cover - reported below
            errors.append(error)
    threads = [threading.Thread(target=thread_work, args=(worker,)) for worker in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for child in children:
        dummy, err = child.communicate(timeout=120)
        assert child.returncode == 0, err
    assert errors == []
    for round_ in range(40):
        assert os.path.isdir(str(tmp_path / ('r%d' % round_) / 'a' / 'b' / 'c'))
        assert len(os.listdir(str(tmp_path / ('t%d' % round_) / 'a' / 'b' / 'c'))) == 8 * 3  # each ledger, journal emptied, lock
        assert stat.S_IMODE(os.stat(str(tmp_path / ('t%d' % round_) / 'a')).st_mode) == 0o700
