# -*- coding: utf-8 -*-
# Copyright: (c) 2026, smsbox.account contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Every emulator fault on every write path, in every ledger store: generated from FAULTS x PATHS.

For each case the write under test meets the fault once, then the test checks what a user would:

* nothing applied twice: the emulator applied each create at most once, and the faulted write was
  sent exactly once, never resent;
* nothing lost: every transfer the emulator applied is in the ledger as applied or unknown, and
  every transfer the ledger says applied was applied by the emulator;
* the outcome reported as the ledger recorded it: ``unknown`` with the transfer id and the
  ``resolve`` form in the message, ``rejected`` with ``ERREUR``, a refused key before any write and
  nothing recorded;
* consistent after settling: each unknown transfer is settled with ``resolve`` from the emulator's
  truth (no request sent), the same task runs again and sends exactly the writes it should, and
  the ledger's totals then equal the emulator's credits for every sub-account.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import collections

import pytest

from ansible_collections.smsbox.account.plugins.modules import smsbox_credit, smsbox_subaccount
from ansible_collections.smsbox.account.tests.unit.helpers.accounts import BAD_KEY, KEY, START_BALANCE
from ansible_collections.smsbox.account.tests.unit.helpers.ledger_files import ledger_files_bytes
from ansible_collections.smsbox.account.tests.unit.suite_counts import count

UNKNOWN, REJECTED, REFUSED_KEY = 'unknown', 'rejected', 'refused key'
TIMEOUT = 1.0  # every run of the matrix; the slow fault answers long after it

Fault = collections.namedtuple('Fault', 'name spec applied outcome')
# name, the emulator fault (None: the key is refused), whether SMSBOX applies the write, what the module records.
FAULTS = (
    Fault('lost_answer', dict(fault='lost_answer'), True, UNKNOWN),        # applied, then the connection is reset
    Fault('drop_before', dict(fault='drop_before'), False, UNKNOWN),       # reset after the request was sent, nothing applied
    Fault('slow', dict(fault='slow', delay=60), True, UNKNOWN),            # applied, answered after the timeout
    Fault('html_502', dict(fault='html_502'), False, UNKNOWN),             # a proxy's error page
    Fault('error_05', dict(fault='error_05'), False, UNKNOWN),             # ERROR 05: what a write did is not documented
    Fault('garbage', dict(fault='garbage'), False, UNKNOWN),               # a PHP warning instead of the protocol
    Fault('empty', dict(fault='empty'), False, UNKNOWN),                   # HTTP 200, no body
    Fault('erreur', dict(fault='erreur'), False, REJECTED),                # ERREUR: nothing applied
    Fault('refused_key', None, False, REFUSED_KEY),                        # the balance read fails, nothing is written
)

TARGET = 'shop-target'    # the sub-account whose write meets the fault
OTHER = 'shop-other'      # served normally in the bulk forms
THIRD = 'shop-third'
AMOUNT = 70


def password(name):
    return 'Pw+/&= %%-%s' % name


class Case:
    """One cell of the matrix: the emulator, the ledger store, and the module runs."""

    def __init__(self, run_module, emulator, store):
        self.run_module = run_module
        self.emulator = emulator
        self.store = store
        self.base = dict(api_key=KEY, api_url=emulator.url, ledger=store.location, timeout=TIMEOUT)

    def run(self, module, args, key=KEY):
        return self.run_module(module, dict(self.base, api_key=key, **args))

    def mark(self):
        return len(self.emulator.state()['requests'])

    def posts(self, since, what, name):
        """The write requests logged since ``since`` for sub-account ``name`` (create: pseudo, transfer: to)."""
        param = 'pseudo' if what == 'create' else 'to'
        return [entry for entry in self.emulator.state()['requests'][since:]
                if entry['method'] == 'POST' and entry['params'].get(param) == name]

    def account(self):
        return self.emulator.state()['accounts'][KEY]

    def inject(self, fault, what):
        if fault.spec is not None:
            self.emulator.add_fault(operation=what, match={'pseudo' if what == 'create' else 'to': TARGET}, **fault.spec)


# --- the write paths -----------------------------------------------------------------------------------------

class CreatePath:
    what = 'create'

    def __init__(self, name, task, exists=False):
        self.name = name
        self.task = task          # the module arguments of the task under test
        self.exists = exists      # TARGET exists at SMSBOX already, made elsewhere

    def setup(self, case):
        if self.exists:
            case.emulator.set_accounts({KEY: {'balance': START_BALANCE, 'subaccounts': {TARGET: {'password': 'elsewhere'}}}})


class TransferPath:
    what = 'transfer'

    def __init__(self, name, task, settled_by_rerun, prior_unknown=False):
        self.name = name
        self.task = task
        self.settled_by_rerun = settled_by_rerun  # run again after an applied transfer, the task sends nothing more
        self.prior_unknown = prior_unknown        # an earlier transfer to TARGET is unknown and the task resolves it
        self.prior = None

    def setup(self, case):
        created = case.run(smsbox_subaccount, dict(subaccounts=[dict(name=name, password=password(name)) for name in (TARGET, OTHER)]))
        assert created['created'] == [TARGET, OTHER]
        if self.prior_unknown:
            case.emulator.add_fault(operation='transfer', fault='drop_before', match={'to': TARGET})
            lost = case.run(smsbox_credit, dict(subaccount=TARGET, amount=5))
            self.prior = lost['transfers'][0]['id']
            assert lost.failed and lost['transfers'][0]['state'] == UNKNOWN

    def args(self):
        task = dict(self.task)
        if self.prior_unknown:
            task['resolve'] = {self.prior: 'rejected'}  # checked in the dashboard: it never arrived
        return task


PATHS = (
    CreatePath('single create', dict(name=TARGET, password=password(TARGET))),
    CreatePath('bulk create', dict(subaccounts=[dict(name=name, password=password(name)) for name in (OTHER, TARGET, THIRD)])),
    # TARGET is declared existing (its baseline given), so SMSBOX's ERREUR adopts it; OTHER is new.
    CreatePath('create with adopt', dict(adopt=True, subaccounts=[dict(name=TARGET, password=password(TARGET), baseline=0),
                                                                  dict(name=OTHER, password=password(OTHER))]), exists=True),
    TransferPath('amount', dict(subaccount=TARGET, amount=AMOUNT), settled_by_rerun=False),
    TransferPath('amount with transfer_id', dict(subaccount=TARGET, amount=AMOUNT, transfer_id='invoice-0042'), settled_by_rerun=True),
    TransferPath('allocated', dict(allocations=[dict(subaccount=TARGET, allocated=AMOUNT), dict(subaccount=OTHER, allocated=30)]),
                 settled_by_rerun=True),
    TransferPath('resolve then transfer', dict(subaccount=TARGET, allocated=AMOUNT), settled_by_rerun=True, prior_unknown=True),
)

CASES = [pytest.param(fault, path, id='%s-%s' % (fault.name, path.name.replace(' ', '_'))) for path in PATHS for fault in FAULTS]


@pytest.mark.parametrize('fault, path', CASES)
def test_fault_on_write_path(run_module, fresh_emulator, ledger_store, fault, path):
    case = Case(run_module, fresh_emulator, ledger_store)
    path.setup(case)
    if path.what == 'create':
        check_create(case, fault, path)
    else:
        check_transfer(case, fault, path)
    check_conservation(case)
    count('fault-matrix cases')


# --- creates ---------------------------------------------------------------------------------------------------

def module_of(path):
    return smsbox_subaccount if path.what == 'create' else smsbox_credit


def check_refused_key(case, path, args):
    files = ledger_files_bytes(case.store.location)
    since = case.mark()

    result = case.run(module_of(path), args, key=BAD_KEY)

    assert result.failed and 'ERROR 02' in result.msg and 'Check the key' in result.msg
    assert [entry['method'] for entry in case.emulator.state()['requests'][since:]] == ['GET']  # the balance read only
    assert ledger_files_bytes(case.store.location) == files, 'a run with a refused key changed the ledger'
    assert BAD_KEY not in result.out
    return result


def check_create(case, fault, path):
    since = case.mark()
    existed = TARGET in case.account()['subaccounts']
    case.inject(fault, 'create')
    if fault.outcome == REFUSED_KEY:
        check_refused_key(case, path, path.task)
        assert TARGET not in case.store.read().subaccounts
    else:
        result = case.run(smsbox_subaccount, path.task)
        assert len(case.posts(since, 'create', TARGET)) == 1, 'the create was resent'
        record = case.store.read().subaccounts.get(TARGET)
        item = [entry for entry in result['subaccounts'] if entry['name'] == TARGET][0]
        if fault.outcome == UNKNOWN:
            assert result.failed and item['action'] == 'failed'
            assert 'It may have been created: run the task again' in item['error'] and TARGET in result.msg
            assert (record['state'], record['origin']) == ('unknown', 'created')
        elif path.exists:  # ERREUR with adopt: recorded as made elsewhere, as the API cannot tell
            assert not result.failed and item['action'] == 'adopted'
            assert (record['state'], record['origin']) == ('present', 'adopted')
        else:
            assert result.failed and 'SMSBOX refused to create it (ERREUR)' in result.msg
            assert record is None
        assert (TARGET in case.account()['subaccounts']) == (existed or fault.applied)
        check_others_served(case, path)
    check_creates_once(case)

    # Settling: the same task again sends the create once more at most, and OK or ERREUR settles it.
    since = case.mark()
    again = case.run(smsbox_subaccount, path.task)
    assert not again.failed, again.msg
    assert not [warning for warning in again.warnings if 'another API key' in warning]
    record = case.store.read().subaccounts[TARGET]
    assert record['state'] == 'present'
    resent = len(case.posts(since, 'create', TARGET))
    settled_already = fault.outcome == REJECTED and path.exists
    assert resent == (0 if settled_already else 1)
    assert TARGET in case.account()['subaccounts']
    check_creates_once(case)

    since = case.mark()
    third = case.run(smsbox_subaccount, path.task)
    assert not third.failed and third['changed'] is False
    assert [entry for entry in case.emulator.state()['requests'][since:] if entry['method'] == 'POST'] == []


def check_others_served(case, path):
    names = [item['name'] for item in path.task.get('subaccounts', ())]
    for name in names:
        if name != TARGET:
            assert name in case.account()['subaccounts'] and case.store.read().subaccounts[name]['state'] == 'present'


def check_creates_once(case):
    repeated = [name for name, times in collections.Counter(case.account()['creates']).items() if times > 1]
    assert repeated == [], 'created twice: %s' % repeated


# --- transfers -------------------------------------------------------------------------------------------------

def emulator_amounts(case):
    amounts = collections.defaultdict(list)
    for tx in case.account()['transfers']:
        amounts[tx['to']].append(tx['credit'])
    return amounts


def check_nothing_lost(case):
    """Every applied transfer at SMSBOX is in the ledger (applied or unknown); every applied one in the ledger happened."""
    applied = emulator_amounts(case)
    ledger = collections.defaultdict(lambda: collections.defaultdict(list))
    for tx in case.store.read().transfers:
        ledger[tx['subaccount']][tx['state']].append(tx['amount'])
    for name in set(applied) | set(ledger):
        at_smsbox = collections.Counter(applied.get(name, []))
        recorded = collections.Counter(ledger[name]['applied'] + ledger[name]['unknown'])
        assert not at_smsbox - recorded, '%s: applied at SMSBOX but not in the ledger: %s' % (name, at_smsbox - recorded)
        assert not collections.Counter(ledger[name]['applied']) - at_smsbox, '%s: applied in the ledger only' % name


def check_transfer(case, fault, path):
    args = path.args()
    since = case.mark()
    case.inject(fault, 'transfer')
    if fault.outcome == REFUSED_KEY:
        check_refused_key(case, path, args)
        truth = None
    else:
        result = case.run(smsbox_credit, args)
        sent = case.posts(since, 'transfer', TARGET)
        assert len(sent) == 1 and int(sent[0]['params']['credit']) == AMOUNT, 'the transfer was not sent exactly once'
        assert result.failed
        target_item = [item for item in result['allocations'] if item['subaccount'] == TARGET][0]
        tx = target_item['transfer']
        assert tx['amount'] == AMOUNT and tx['state'] == fault.outcome
        assert dict((entry['id'], entry['state']) for entry in result['transfers'])[tx['id']] == fault.outcome
        recorded = dict((entry['id'], entry) for entry in case.store.read().transfers)
        assert recorded[tx['id']]['state'] == fault.outcome
        if fault.outcome == UNKNOWN:
            assert tx['id'] in result.msg and 'resolve: {%s: applied}' % tx['id'] in result.msg
            assert target_item['unsettled'] == [tx['id']]
        else:
            assert 'ERREUR' in result.msg and 'Nothing moved' in result.msg and target_item['unsettled'] == []
        if path.prior_unknown:
            assert recorded[path.prior]['state'] == 'rejected' and target_item['resolved'] == [path.prior]
        assert emulator_amounts(case).get(TARGET, []) == ([AMOUNT] if fault.applied else [])
        if 'allocations' in args:
            assert emulator_amounts(case)[OTHER] == [30] and case.store.allocated()[OTHER] == 30
        truth = ('applied' if fault.applied else 'rejected') if fault.outcome == UNKNOWN else None
        check_nothing_lost(case)
        if truth:
            settle(case, tx['id'], truth)

    # The same task again: after an applied transfer, only a plain amount pays again (as asked).
    since = case.mark()
    again = case.run(smsbox_credit, path.args())
    assert not again.failed, again.msg
    assert not [warning for warning in again.warnings if 'another API key' in warning]
    expected = 0 if truth == 'applied' and path.settled_by_rerun else 1
    assert len(case.posts(since, 'transfer', TARGET)) == expected
    assert case.store.unsettled() == []
    check_nothing_lost(case)
    check_ledger_equals_emulator(case)
    if path.settled_by_rerun:
        since = case.mark()
        third = case.run(smsbox_credit, path.args())
        assert not third.failed and third['changed'] is False
        assert [entry for entry in case.emulator.state()['requests'][since:] if entry['method'] == 'POST'] == []


def settle(case, txid, truth):
    """resolve from the emulator's truth: recorded, nothing sent."""
    since = case.mark()
    resolved = case.run(smsbox_credit, dict(subaccount=TARGET, resolve={txid: truth}))
    assert not resolved.failed and resolved['allocations'][0]['resolved'] == [txid]
    assert [entry for entry in case.emulator.state()['requests'][since:] if entry['method'] == 'POST'] == []
    assert dict((tx['id'], tx['state']) for tx in case.store.read().transfers)[txid] == truth


def check_ledger_equals_emulator(case):
    credits = dict((name, sub['credits']) for name, sub in case.account()['subaccounts'].items())
    allocated = case.store.allocated()
    for name in set(credits) | set(allocated):
        assert allocated.get(name, 0) == credits.get(name, 0), '%s: ledger %s, SMSBOX %s' % (name, allocated.get(name), credits.get(name))


def check_conservation(case):
    account = case.account()
    assert account['balance'] + sum(sub['credits'] for sub in account['subaccounts'].values()) == START_BALANCE
