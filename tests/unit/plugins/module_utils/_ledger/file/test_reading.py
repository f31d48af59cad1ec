# -*- coding: utf-8 -*-
# Copyright: (c) 2026, smsbox.account contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Reading a file-store ledger (_ledger/file/reading.py): the journal replayed over the snapshot, a torn last line
ignored, anything else damaged refused untouched with a sentence, older formats read and upgraded."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os

import pytest

from ansible_collections.smsbox.account.plugins.module_utils._ledger.ledger import FORMAT_VERSION, Ledger, LedgerError
from ansible_collections.smsbox.account.tests.unit.helpers.accounts import FP_A
from ansible_collections.smsbox.account.tests.unit.helpers.ledger_files import read_bytes, snapshot_of


# -- the journal --

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


# -- the snapshot --

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


# -- older formats --

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
