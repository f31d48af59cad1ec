# -*- coding: utf-8 -*-
# Copyright: (c) 2026, smsbox.account contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The modules on a PostgreSQL ledger (a real server, a fresh schema per test), and smsbox_ledger_copy moving one there."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import sys

import pytest

from ansible.module_utils.common.parameters import PASS_VARS

from ansible_collections.smsbox.account.plugins.module_utils._ledger.ledger import Ledger, key_fingerprint
from ansible_collections.smsbox.account.plugins.module_utils._ledger.location import printable_location
from ansible_collections.smsbox.account.plugins.modules import smsbox_balance_info, smsbox_credit, smsbox_ledger_copy, smsbox_subaccount
from ansible_collections.smsbox.account.tests.unit.helpers.accounts import KEY
from ansible_collections.smsbox.account.tests.unit.helpers.emulator import applied_transfers
from ansible_collections.smsbox.account.tests.unit.helpers.ledger_files import ledger_files_bytes
from ansible_collections.smsbox.account.tests.unit.postgresql import fresh_schema, password_of, table_rows


@pytest.fixture
def pg_ledger():
    with fresh_schema() as uri:
        yield uri


def assert_no_password(run, uri):
    password = password_of(uri)
    raw = uri.split('://', 1)[1].split('@', 1)[0].split(':', 1)[1]
    assert password not in run.out and raw not in run.out


def provision(run_module, base):
    run = run_module(smsbox_subaccount, dict(base, subaccounts=[dict(name='shop-%d' % n, password='Pw-%d-secret' % n) for n in range(3)]))
    assert run['created'] == ['shop-0', 'shop-1', 'shop-2'], run.msg
    run = run_module(smsbox_credit, dict(base, allocations=[dict(subaccount='shop-%d' % n, allocated=100 * (n + 1)) for n in range(3)]))
    assert run['moved'] == 600, run.msg
    return run


def test_the_modules_keep_their_ledger_in_postgresql(run_module, emulator, base, pg_ledger):
    base = dict(base, ledger=pg_ledger)
    run = provision(run_module, base)
    assert run['ledger_path'] == printable_location(pg_ledger) and '********' in run['ledger_path']
    assert_no_password(run, pg_ledger)
    assert len(applied_transfers(emulator)) == 3
    rows = table_rows(pg_ledger)
    assert len(rows['smsbox_ledger_subaccounts']) == 3 and [row[6] for row in rows['smsbox_ledger_transfers']] == ['applied'] * 3
    # idempotent on the shared ledger too
    again = run_module(smsbox_credit, dict(base, allocations=[dict(subaccount='shop-%d' % n, allocated=100 * (n + 1)) for n in range(3)]))
    assert again['changed'] is False and len(applied_transfers(emulator)) == 3
    info = run_module(smsbox_balance_info, base, check=True)
    assert info['ledger']['path'] == printable_location(pg_ledger) and info['ledger']['exists'] is True
    assert info['ledger']['allocated_total'] == 600
    assert_no_password(info, pg_ledger)
    # the '$' of the test role's password reached libpq untouched: the option is a str, not a path
    assert '$' in password_of(pg_ledger)


def test_a_postgresql_ledger_without_psycopg_fails_with_what_to_install(run_module, emulator, base, monkeypatch):
    monkeypatch.setitem(sys.modules, 'psycopg', None)
    run = run_module(smsbox_balance_info, dict(base, ledger='postgresql://ops:Sup3r-secret@db.example/smsbox'))
    assert run.failed and 'psycopg[binary]' in run.msg and 'a PostgreSQL ledger' in run.msg
    assert 'Sup3r-secret' not in run.out


def test_copy_a_file_ledger_into_postgresql(run_module, emulator, base, ledger_path, pg_ledger):
    provision(run_module, base)
    files = ledger_files_bytes(ledger_path)

    preview = run_module(smsbox_ledger_copy, dict(base, dest=pg_ledger), check=True)
    assert preview['changed'] is True and not preview.failed
    assert preview['source']['location'] == ledger_path and preview['dest']['location'] == printable_location(pg_ledger)
    assert preview['dest']['transfers'] == dict(pending=0, applied=3, rejected=0, unknown=0)
    assert table_rows(pg_ledger) == {}

    moved = run_module(smsbox_ledger_copy, dict(base, dest=pg_ledger))
    assert moved['changed'] is True, moved.msg
    for side in ('source', 'dest'):
        assert moved[side]['subaccounts'] == 3 and moved[side]['fingerprint'] == key_fingerprint(KEY)
        assert moved[side]['credits'] == dict(baseline=0, applied=600, allocated=600, received=600, unsettled=0, rejected=0)
    assert_no_password(moved, pg_ledger)
    assert ledger_files_bytes(ledger_path) == files, 'the copy changed its source'

    again = run_module(smsbox_ledger_copy, dict(base, dest=pg_ledger))
    assert again['changed'] is False and not again.failed

    # from now on the modules use the database, and find everything there
    on_pg = dict(base, ledger=pg_ledger)
    run = run_module(smsbox_credit, dict(on_pg, subaccount='shop-2', allocated=300))
    assert run['changed'] is False and run['allocations'][0]['allocated_before'] == 300

    # and it exports back to a JSON file, for review
    export = os.path.join(os.path.dirname(ledger_path), 'export.json')
    exported = run_module(smsbox_ledger_copy, dict(on_pg, dest=export))
    assert exported['changed'] is True and exported['dest']['location'] == export
    with open(export) as handle:
        assert sorted(json.load(handle)['subaccounts']) == ['shop-0', 'shop-1', 'shop-2']


def test_copy_refuses_a_destination_holding_other_records_and_a_bad_fingerprint(run_module, emulator, base, ledger_path, pg_ledger):
    provision(run_module, base)
    with Ledger(pg_ledger, key_fingerprint(KEY)).session() as book:
        book.record_subaccount('elsewhere', 'adopted')
    before = table_rows(pg_ledger)
    run = run_module(smsbox_ledger_copy, dict(base, dest=pg_ledger))
    assert run.failed and 'already holds records' in run.msg
    assert run['dest']['location'] == printable_location(pg_ledger)
    assert_no_password(run, pg_ledger)
    assert table_rows(pg_ledger) == before
    run = run_module(smsbox_ledger_copy, dict(base, dest=pg_ledger, source_fingerprint='not-hex'))
    assert run.failed and 'source_fingerprint' in run.msg


# ansible-core reports a task's arguments under `invocation` (always before 2.22; from 2.21 with ANSIBLE_INJECT_INVOCATION,
# shown at -vvv): the ledger URI is an argument, so its password must be masked there on every line.
INJECT_INVOCATION = dict(_ansible_inject_invocation=True) if 'inject_invocation' in PASS_VARS else {}


@pytest.mark.parametrize('module, option', [(smsbox_balance_info, 'ledger'), (smsbox_ledger_copy, 'dest')])
def test_a_uri_password_never_shows_in_the_arguments_ansible_reports(run_module, emulator, base, module, option):
    # A database nothing serves (an address nothing listens on, or an empty source): the module fails, reporting its arguments.
    uri = 'postgresql://ops:Sup3r-secret@127.0.0.1:1/smsbox?sslmode=disable'
    run = run_module(module, dict(base, **dict(INJECT_INVOCATION, **{option: uri})))
    assert run.failed
    assert run['invocation']['module_args'][option].startswith('postgresql://ops:')  # the URI is shown...
    assert 'Sup3r-secret' not in run.out  # ...without its password
