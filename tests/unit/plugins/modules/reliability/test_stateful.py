# -*- coding: utf-8 -*-
# Copyright: (c) 2026, smsbox.account contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A stateful property test: random sequences of creates, transfers, allocations, balance reads, resolves
and faults, through the real modules against the emulator.

After every step: credits are conserved (main balance + what the sub-accounts hold is constant), at
most 500 sub-accounts exist and none was created twice, and for every settled sub-account (no
unknown transfer) the ledger's total equals the emulator's credits.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import collections

import pytest

from ansible_collections.smsbox.account.plugins.modules import smsbox_balance_info, smsbox_credit, smsbox_subaccount
from ansible_collections.smsbox.account.tests.emulator.smsbox_emulator import Emulator
from ansible_collections.smsbox.account.tests.unit.helpers.accounts import KEY
from ansible_collections.smsbox.account.tests.unit.helpers.ledger_stores import STORES
from ansible_collections.smsbox.account.tests.unit.suite_counts import count, examples

hypothesis = pytest.importorskip('hypothesis')
from hypothesis import settings, strategies as st  # noqa: E402 pylint: disable=wrong-import-position
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule, run_state_machine_as_test  # noqa: E402 pylint: disable=wrong-import-position

NAMES = ['st-%d' % index for index in range(6)]
START = 5000
# slow is left to the fault matrix: it costs a timeout per step
FAULTS = ('lost_answer', 'drop_before', 'html_502', 'error_05', 'garbage', 'empty', 'erreur')


def machine_class(run_module, store_factory, tmp_path_factory):

    class Ledgered(RuleBasedStateMachine):
        """The model: what SMSBOX applied for each transfer the modules left unknown."""

        def __init__(self):
            super(Ledgered, self).__init__()
            self.emulator = Emulator(accounts={KEY: START}).start()
            self._store_scope = store_factory(tmp_path_factory.mktemp('stateful'))
            self.store = self._store_scope.__enter__()  # pylint: disable=unnecessary-dunder-call  # left in teardown
            self.base = dict(api_key=KEY, api_url=self.emulator.url, ledger=self.store.location, timeout=5)
            self.truth = {}  # unknown transfer id -> 'applied' | 'rejected'
            count('hypothesis examples')

        def teardown(self):
            self.emulator.stop()
            self._store_scope.__exit__(None, None, None)

        def run(self, module, **args):
            count('stateful steps')
            return run_module(module, dict(self.base, **args))

        def fault(self, name, fault, operation):
            self.emulator.add_fault(operation=operation, fault=fault, match={'pseudo' if operation == 'create' else 'to': name})

        def learn(self, result, since):
            """Records, for each transfer this run left unknown, whether the emulator applied it (its logged result)."""
            logged = [entry for entry in self.emulator.state()['requests'][since:] if entry['method'] == 'POST']
            for tx in result.get('transfers', []):
                if tx.get('state') == 'unknown':
                    faulted = [entry for entry in logged if entry['params'].get('to') == tx['subaccount'] and entry['answer'].startswith('fault:')]
                    assert len(faulted) == 1
                    self.truth[tx['id']] = 'applied' if faulted[0]['result'] == 'OK' else 'rejected'
                    count('stateful unknown transfers')

        def mark(self):
            return len(self.emulator.state()['requests'])

        @initialize(existing=st.integers(0, len(NAMES)))
        def some_exist(self, existing):
            """Most runs start with some sub-accounts created, so transfers have somewhere to go."""
            if existing:
                assert not self.run(smsbox_subaccount, subaccounts=[dict(name=name, password='Pw-%s-1' % name) for name in NAMES[:existing]]).failed

        @rule(names=st.lists(st.sampled_from(NAMES), min_size=1, max_size=3, unique=True),
              fault=st.one_of(st.none(), st.sampled_from(FAULTS)))
        def create(self, names, fault):
            if fault:
                self.fault(names[0], fault, 'create')
            self.run(smsbox_subaccount, subaccounts=[dict(name=name, password='Pw+/&= %%-%s' % name) for name in names])
            self.emulator.clear_faults()

        @rule(name=st.sampled_from(NAMES), amount=st.integers(-30, 300).filter(bool), fault=st.one_of(st.none(), st.sampled_from(FAULTS)))
        def transfer(self, name, amount, fault):
            if fault:
                self.fault(name, fault, 'transfer')
            since = self.mark()
            self.learn(self.run(smsbox_credit, subaccount=name, amount=amount), since)
            self.emulator.clear_faults()

        @rule(allocations=st.dictionaries(st.sampled_from(NAMES), st.integers(0, 400), min_size=1, max_size=4),
              fault=st.one_of(st.none(), st.sampled_from(FAULTS)))
        def allocate(self, allocations, fault):
            if fault:
                self.fault(sorted(allocations)[0], fault, 'transfer')
            since = self.mark()
            result = self.run(smsbox_credit, allocations=[dict(subaccount=name, allocated=total) for name, total in sorted(allocations.items())])
            self.learn(result, since)
            self.emulator.clear_faults()

        @rule()
        def balance(self):
            result = self.run(smsbox_balance_info)
            assert not result.failed
            assert result['balance'] == self.emulator.state()['accounts'][KEY]['balance']

        @rule(data=st.data())
        def resolve(self, data):
            unsettled = [tx for tx in self.store.read().transfers if tx['state'] in ('pending', 'unknown')]
            if not unsettled:
                return
            tx = data.draw(st.sampled_from(unsettled))
            result = self.run(smsbox_credit, subaccount=tx['subaccount'], resolve={tx['id']: self.truth[tx['id']]})
            assert not result.failed, result.msg

        @rule()
        def resolve_all(self):
            for tx in self.store.read().transfers:
                if tx['state'] in ('pending', 'unknown'):
                    result = self.run(smsbox_credit, subaccount=tx['subaccount'], resolve={tx['id']: self.truth[tx['id']]})
                    assert not result.failed, result.msg

        @invariant()
        def credits_are_conserved(self):
            account = self.emulator.state()['accounts'][KEY]
            assert account['balance'] + sum(sub['credits'] for sub in account['subaccounts'].values()) == START

        @invariant()
        def at_most_500_sub_accounts_each_created_once(self):
            account = self.emulator.state()['accounts'][KEY]
            assert len(account['subaccounts']) <= 500 and len(self.store.read().subaccounts) <= 500
            assert all(times == 1 for times in collections.Counter(account['creates']).values())

        @invariant()
        def settled_sub_accounts_match(self):
            view = self.store.read()
            unsettled = set(tx['subaccount'] for tx in view.transfers if tx['state'] in ('pending', 'unknown'))
            allocated = self.store.allocated()
            for name, sub in self.emulator.state()['accounts'][KEY]['subaccounts'].items():
                if name not in unsettled:
                    assert allocated.get(name, 0) == sub['credits'], '%s: ledger %s, SMSBOX %s' % (name, allocated.get(name, 0), sub['credits'])

    return Ledgered


@pytest.mark.parametrize('store', list(STORES))
def test_random_sequences_keep_the_ledger_and_smsbox_in_step(run_module, tmp_path_factory, store):
    machine = machine_class(run_module, STORES[store], tmp_path_factory)
    run_state_machine_as_test(machine, settings=settings(max_examples=examples(30), stateful_step_count=20))
