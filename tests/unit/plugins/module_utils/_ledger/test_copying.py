# -*- coding: utf-8 -*-
# Copyright: (c) 2026, smsbox.account contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Moving a ledger between stores: a file into PostgreSQL, PostgreSQL out to a JSON snapshot, a key's ledger to a new key."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os

import pytest

from ansible_collections.smsbox.account.plugins.module_utils._ledger.ledger import Ledger, LedgerError, key_fingerprint
from ansible_collections.smsbox.account.plugins.module_utils._ledger.copying import copy_ledger
from ansible_collections.smsbox.account.plugins.module_utils._ledger.store import open_store
from ansible_collections.smsbox.account.tests.unit.helpers.accounts import FP_A, FP_B
from ansible_collections.smsbox.account.tests.unit.helpers.ledger_stores import Probe
from ansible_collections.smsbox.account.tests.unit.postgresql import connect, table_rows

FIGURES = dict(subaccounts=3, subaccounts_baseline_unknown=1,
               transfers=dict(pending=1, applied=3, rejected=1, unknown=1),
               credits=dict(baseline=250, applied=85, allocated=250, received=335, unsettled=37, rejected=50))


def fill(location, fingerprint=FP_A):
    """A ledger with every kind of record: both origins, a known and an unknown baseline, every transfer state."""
    with Ledger(location, fingerprint, api_url='https://api.example/1.1/api.php').session() as book:
        book.record_subaccount('made', 'created', nolimit=False, password_fp='%s:%s' % (fingerprint, '1' * 16))
        book.record_subaccount('found', 'adopted')
        book.record_subaccount('told', 'adopted', baseline=250)
        for n, (name, amount, state) in enumerate([('made', 100, 'applied'), ('made', -20, 'applied'), ('found', 50, 'rejected'),
                                                   ('told', 30, 'unknown'), ('found', 5, 'applied')]):
            tx = book.begin_transfer(name, amount, transfer_id='order-%d' % n)
            book.settle_transfer(tx['id'], state, detail='detail %d' % n)
        book.begin_transfer('made', 7)  # never settled, as by a run killed before its answer: copied as it is


def figures(side):
    return dict((key, value) for key, value in side.items() if key not in ('location', 'fingerprint'))


def contents_of(location, fingerprint=FP_A):
    """The records as the store holds them (a read-only session would show the pending transfer as unknown)."""
    store = open_store(location, fingerprint)
    store.lock(exclusive=False)
    try:
        contents = store.read()
    finally:
        store.close()
    return contents.subaccounts, list(contents.transfers.values())


def test_file_into_postgresql_then_out_to_a_json_snapshot(tmp_path, pg_location):
    source = str(tmp_path / 'ledger.json')
    fill(source)
    held = contents_of(source)

    preview = copy_ledger(source, pg_location, FP_A, check_mode=True)
    assert preview['changed'] is True
    assert figures(preview['source']) == figures(preview['dest']) == FIGURES
    assert table_rows(pg_location) == {}  # check mode creates nothing, not even the tables

    moved = copy_ledger(source, pg_location, FP_A)
    assert moved['changed'] is True
    assert figures(moved['source']) == figures(moved['dest']) == FIGURES
    assert moved['source']['location'] == source and moved['dest']['location'] == Ledger(pg_location, FP_A).path
    assert '********' in moved['dest']['location']
    assert contents_of(pg_location) == held
    rows = table_rows(pg_location)
    assert len(rows['smsbox_ledger_subaccounts']) == 3 and len(rows['smsbox_ledger_transfers']) == 6
    with Ledger(pg_location, FP_A).session(exclusive=False) as book:
        assert [tx['amount'] for tx in book.transfers()] == [100, -20, 50, 30, 5, 7]
        assert book.allocated('told') == 250 and book.baseline('found') is None and book.received('made') == 80
        assert len(book.warnings) == 1 and 'interrupted' in book.warnings[0]  # the pending one still counts as unknown

    again = copy_ledger(source, pg_location, FP_A)
    assert again['changed'] is False and figures(again['dest']) == FIGURES

    export = str(tmp_path / 'export' / 'eu.json')
    exported = copy_ledger(pg_location, export, FP_A)
    assert exported['changed'] is True and figures(exported['dest']) == FIGURES
    with open(export) as handle:
        snapshot = json.load(handle)
    assert snapshot['format'] == 3 and snapshot['key_fingerprints'] == [FP_A]
    assert snapshot['api_url'] == 'https://api.example/1.1/api.php'
    assert sorted(snapshot['subaccounts']) == ['found', 'made', 'told'] and len(snapshot['transfers']) == 6
    assert not os.path.exists(export + '.journal')
    assert contents_of(export) == held


def test_a_destination_with_other_records_is_refused_untouched(tmp_path, pg_location):
    with Ledger(pg_location, FP_A).session() as book:
        book.record_subaccount('already-there', 'created')
    before = table_rows(pg_location)
    source = str(tmp_path / 'ledger.json')
    fill(source)
    for check_mode in (True, False):
        with pytest.raises(LedgerError) as info:
            copy_ledger(source, pg_location, FP_A, check_mode=check_mode)
        assert 'already holds records' in str(info.value) and '1 sub-accounts' in str(info.value)
    assert table_rows(pg_location) == before
    # another account of the same database is another destination
    assert copy_ledger(source, pg_location, FP_B, source_fingerprint=FP_A)['changed'] is True
    # a file destination likewise
    other = str(tmp_path / 'other.json')
    fill(other, FP_B)
    content = open(other, 'rb').read()
    with pytest.raises(LedgerError):
        copy_ledger(source, other, FP_A)
    assert open(other, 'rb').read() == content


def test_the_key_must_be_the_source_ledgers_and_a_rotation_names_the_old_one(tmp_path, pg_location):
    source = str(tmp_path / 'ledger.json')
    fill(source)
    with pytest.raises(LedgerError) as info:
        copy_ledger(source, pg_location, FP_B)
    assert 'never used with' in str(info.value) and FP_A in str(info.value)
    assert not table_rows(pg_location)
    # after a rotation: the old key's ledger becomes the new key's
    moved = copy_ledger(source, pg_location, FP_B, source_fingerprint=FP_A)
    assert moved['source']['fingerprint'] == FP_A and moved['dest']['fingerprint'] == FP_B
    assert figures(moved['dest']) == FIGURES
    with Ledger(pg_location, FP_B).session(exclusive=False) as book:
        assert book.received('made') == 80
    with Ledger(pg_location, FP_B).session() as book:
        assert len(book.warnings) == 1 and 'interrupted' in book.warnings[0]  # no other-key warning: nothing rotated away
    # within one database: the rotation warning says how, and the copy does it
    third = key_fingerprint('a third key')
    with pytest.raises(LedgerError) as info:
        copy_ledger(pg_location, str(tmp_path / 'third.json'), third)
    assert 'holds no record' in str(info.value) and 'source_fingerprint' in str(info.value) and FP_B in str(info.value)
    copied = copy_ledger(pg_location, pg_location, third, source_fingerprint=FP_B)
    assert copied['changed'] is True and figures(copied['dest'])['transfers'] == dict(pending=0, applied=3, rejected=1, unknown=2)
    with Ledger(pg_location, third).session(exclusive=False) as book:
        assert book.warnings == []


def test_nothing_to_copy_and_a_copy_onto_itself_are_refused(tmp_path, pg_location):
    with pytest.raises(LedgerError) as info:
        copy_ledger(str(tmp_path / 'none.json'), pg_location, FP_A)
    assert 'holds no record' in str(info.value)
    with pytest.raises(LedgerError) as info:
        copy_ledger(pg_location, str(tmp_path / 'out.json'), FP_A)
    assert 'holds no record' in str(info.value)
    assert not os.path.exists(str(tmp_path / 'out.json'))
    source = str(tmp_path / 'ledger.json')
    fill(source)
    link = tmp_path / 'link.json'
    link.symlink_to(source)
    for dest in (source, str(link)):
        with pytest.raises(LedgerError) as info:
            copy_ledger(source, dest, FP_A)
        assert 'is the source ledger itself' in str(info.value)
    fill(pg_location)
    with pytest.raises(LedgerError) as info:
        copy_ledger(pg_location, pg_location, FP_A)
    assert 'is the source ledger itself' in str(info.value)


def test_a_copy_can_move_the_destination_records_aside(location, store, tmp_path):
    source = str(tmp_path / 'source.json')
    with Ledger(source, FP_A).session() as book:
        book.record_subaccount('from-source', 'created')
    with Ledger(location, FP_A).session() as book:
        book.record_subaccount('in-the-way', 'adopted', baseline=5)
    with pytest.raises(LedgerError) as info:
        copy_ledger(source, location, FP_A)
    assert 'move_aside: true' in str(info.value)
    result = copy_ledger(source, location, FP_A, move_aside=True)
    assert result['changed'] and result['moved_aside']
    with Ledger(location, FP_A).session(exclusive=False) as book:
        assert sorted(book.subaccounts()) == ['from-source'] and book.warnings == []
    if store == 'postgresql':
        assert result['moved_aside'].startswith(FP_A + '@aside-')
        with connect(location) as conn:
            assert conn.execute('SELECT account, name FROM smsbox_ledger_subaccounts WHERE name = %s',
                                ('in-the-way',)).fetchone() == (result['moved_aside'], 'in-the-way')
    else:
        with open(result['moved_aside']) as handle:
            assert list(json.load(handle)['subaccounts']) == ['in-the-way']
    # and another key sees no "other keys' ledgers" warning for the records moved aside
    with Ledger(location, FP_B).session(exclusive=False) as other:
        if store == 'postgresql':
            assert all(result['moved_aside'] not in warning for warning in other.warnings)


def test_the_copy_to_a_rotated_key_marks_the_old_ledger_moved_and_the_old_key_writes_nothing(location, store, tmp_path):
    with Ledger(location, FP_A).session() as book:
        book.record_subaccount('shop', 'created')
        tx = book.begin_transfer('shop', 45)
        book.settle_transfer(tx['id'], 'applied', detail='OK')
    before = Probe(store, location).stored() if store == 'file' else None
    dest = location if store == 'postgresql' else str(tmp_path / 'ledgers' / 'new-key.json')
    assert copy_ledger(location, dest, FP_B, source_fingerprint=FP_A, check_mode=True)['source']['moved_to'] == FP_B
    with Ledger(location, FP_A).session():
        pass  # check mode marked nothing
    result = copy_ledger(location, dest, FP_B, source_fingerprint=FP_A)
    assert result['changed'] and result['source']['moved_to'] == FP_B
    # a job still on the old key: refused before anything is sent, naming the new key
    with pytest.raises(LedgerError) as info:
        with Ledger(location, FP_A).session():
            raise AssertionError('a run with the old key opened its ledger for writing')
    assert 'moved to the key with fingerprint %s' % FP_B in str(info.value) and 'Nothing was sent' in str(info.value)
    with Ledger(location, FP_A).session(exclusive=False) as old:
        assert any('moved to the key with fingerprint %s' % FP_B in warning for warning in old.warnings)
        assert old.received('shop') == 45  # kept as it was
    # the same copy again changes nothing; a copy of the old ledger to a third key is refused
    assert copy_ledger(location, dest, FP_B, source_fingerprint=FP_A)['changed'] is False
    with Ledger(dest, FP_B).session() as new:
        assert new.received('shop') == 45 and new.moved_to is None
        new.record_subaccount('shop-2', 'created')
    with pytest.raises(LedgerError) as info:
        copy_ledger(location, str(tmp_path / 'third.json'), key_fingerprint('a third key 000000000'), source_fingerprint=FP_A)
    assert 'moved to key fingerprint %s already' % FP_B in str(info.value)
    if before is not None:
        assert Probe(store, location).stored() != before  # the old file records where it went
