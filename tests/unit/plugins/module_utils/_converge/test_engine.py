# -*- coding: utf-8 -*-
# Copyright: (c) 2026, smsbox.account contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The writes of a run (_converge/engine.py ``run_writes``): none in check mode; when the ledger cannot record, no further
write starts.

The second is driven through smsbox_credit's own converge (``Run``, ``run_result``) against the emulator over loopback and a file
ledger, so what is checked is what SMSBOX received and what the ledger holds.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from ansible_collections.smsbox.account.plugins.module_utils._api.client import SmsboxClient
from ansible_collections.smsbox.account.plugins.module_utils._connection import Run, run_result
from ansible_collections.smsbox.account.plugins.module_utils._converge.credits import converge_credits
from ansible_collections.smsbox.account.plugins.module_utils._converge.engine import Step, run_writes
from ansible_collections.smsbox.account.plugins.module_utils._ledger.ledger import Ledger, key_fingerprint
from ansible_collections.smsbox.account.plugins.module_utils._specs import CREDIT_RULES, CREDIT_SPEC, with_connection
from ansible_collections.smsbox.account.tests.emulator.smsbox_emulator import Emulator

KEY = 'k3y-ENGINE-5e1f3a90c2'
SHOPS = ('shop-a', 'shop-b', 'shop-c')


def credit_result(params):
    """smsbox_credit's result for ``params``, from its converge in this process."""
    validated = ArgumentSpecValidator(with_connection(CREDIT_SPEC), **CREDIT_RULES).validate(params)
    assert not validated.error_messages, validated.error_messages
    return run_result(Run(validated.validated_parameters), converge_credits)


def test_no_write_runs_in_check_mode_whatever_the_converger_planned():
    written = []
    steps = [Step(dict(subaccount=name, action='transferred', changed=True), write=written.append, where=name) for name in SHOPS]
    run_writes(steps, Run(dict(concurrency=4), check_mode=True))
    assert written == []
    run_writes(steps, Run(dict(concurrency=4)))
    assert sorted(step.where for step in written) == sorted(SHOPS)


def test_a_ledger_that_cannot_record_stops_every_further_write_and_the_results_so_far_are_kept(tmp_path, monkeypatch):
    ledger = str(tmp_path / 'ledgers' / 'main.json')
    with Ledger(ledger, key_fingerprint(KEY)).session() as book:
        for name in SHOPS:
            book.record_subaccount(name, 'created', nolimit=False)
    answered = []
    transfer = SmsboxClient.transfer

    def transfer_then_lose_the_lock(client, name, amount):
        answer = transfer(client, name, amount)
        answered.append(name)
        if name == 'shop-b':
            # The lock file deleted while the run holds it (a clean-up job): another run may take the ledger now, so
            # shop-b's answer cannot be recorded, and nothing more may be sent.
            os.unlink(ledger + '.lock')
        return answer
    monkeypatch.setattr(SmsboxClient, 'transfer', transfer_then_lose_the_lock)

    with Emulator(accounts={KEY: dict(balance=1000, subaccounts=dict((name, dict(credits=0)) for name in SHOPS))}) as emulator:
        result = credit_result(dict(api_key=KEY, api_url=emulator.url, ledger=ledger, concurrency=1,
                                    allocations=[dict(subaccount=name, allocated=10 * (n + 1)) for n, name in enumerate(SHOPS)]))
        smsbox = emulator.state()

    assert answered == ['shop-a', 'shop-b']
    assert [(tx['to'], tx['credit']) for tx in smsbox['accounts'][KEY]['transfers']] == [('shop-a', 10), ('shop-b', 20)]
    assert [entry['params']['to'] for entry in smsbox['requests'] if entry['method'] == 'POST'] == ['shop-a', 'shop-b']  # never shop-c
    # The results so far are kept: shop-a's transfer is reported done, shop-b's as unrecorded, shop-c's as not sent.
    assert result['failed'] is True
    actions = dict((entry['subaccount'], (entry['action'], entry.get('error', ''))) for entry in result['allocations'])
    assert actions['shop-a'] == ('transferred', '')
    assert actions['shop-b'][0] == 'failed' and 'no longer holds the lock' in actions['shop-b'][1]
    assert actions['shop-c'][0] == 'failed' and 'not sent, because the ledger could not record an earlier item' in actions['shop-c'][1]
    with Ledger(ledger, key_fingerprint(KEY)).session(exclusive=False) as book:
        recorded = [(tx['subaccount'], tx['amount'], tx['state']) for tx in book.transfers()]
    # shop-b's answer never reached the ledger: its transfer reads as unknown, never resent, never forgotten
    assert recorded == [('shop-a', 10, 'applied'), ('shop-b', 20, 'unknown')]
