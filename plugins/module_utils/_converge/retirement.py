# -*- coding: utf-8 -*-
# Copyright: (c) 2026, smsbox.account contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Retiring a sub-account (a shop closes): the credits the ledger knows it received are taken back once, and it is
marked retired and left alone. The API cannot delete it: it still counts toward the 500 of its main account.

The take-back is recorded like any transfer (kind ``retire``), pending before it is sent. A run killed between the
take-back and its record leaves it unsettled, so the next run sends nothing until it is resolved, and then only marks
the sub-account retired. When SMSBOX refuses the take-back (the shop spent some credits), the sub-account is retired
anyway, with a warning, once, saying how to take back what it still holds: resending would be refused again.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible_collections.smsbox.account.plugins.module_utils._api.errors import APPLIED, UNKNOWN, SmsboxError, SmsboxRefused
from ansible_collections.smsbox.account.plugins.module_utils._converge.credits import unsettled_message
from ansible_collections.smsbox.account.plugins.module_utils._converge.engine import Step


class Retirement:
    """Plans the retirement of one item (``state: retired``) from the ledger; its write takes back and records."""

    def __init__(self, run, client, ledger):
        self.run = run
        self.client = client
        self.ledger = ledger

    def plan(self, item, record):
        name, where = item['subaccount'], item['where']
        result = dict(name=name, changed=False, reclaimed=0)
        if record is not None and record['state'] == 'retired':
            result['action'] = 'unchanged'
            return Step(result, where=where)
        problem = self.problem(item, record)
        if problem:
            result.update(action='failed', error=problem)
            return Step(result, where=where)
        credits = self.ledger.credits(name)
        amount = max(credits['received'], 0)
        if record['baseline'] is None:
            result['note'] = ('its baseline is unknown: the credits it had before it was adopted are not taken back, only the %d '
                              'this ledger gave it' % amount)
        result.update(action='retired', changed=True, reclaimed=-amount)
        step = Step(result, where=where, before={name: dict(state=record['state'], received=credits['received'])},
                    after={name: dict(state='retired', received=credits['received'] - amount)})
        step.write = self.retire(item, record, amount)
        return step

    def problem(self, item, record):
        """Why the item cannot be retired now (nothing is sent then), or None."""
        name, where = item['subaccount'], item['where']
        if record is None:
            return ('%s: cannot retire it: the ledger does not know it (it was not created or adopted through %s), so it knows '
                    'no credits to take back. If it exists, adopt it first with its baseline' % (where, self.run.ledger_path))
        if record['state'] == 'unknown':
            return ('%s: cannot retire it yet: its create lost its answer; describe it as present with its password once, '
                    'which settles the create, then retire it' % where)
        unsettled = self.ledger.unsettled(name)
        if unsettled:
            return unsettled_message(where, name, unsettled)
        return None

    def retire(self, item, record, amount):
        def write(step):
            name = item['subaccount']
            if amount:
                tx = self.ledger.begin_transfer(name, -amount, kind='retire')
                try:
                    self.client.transfer(name, -amount)
                except SmsboxError as error:
                    tx = self.ledger.settle_transfer(tx['id'], error.write_outcome, detail=str(error)[:300])
                    step.result['transfer'] = tx
                    if not self.refused(step, error, tx, amount):
                        return  # not retired: the take-back may have moved credits, or was never sent
                else:
                    step.result['transfer'] = self.ledger.settle_transfer(tx['id'], APPLIED, detail='OK')
            self.ledger.record_subaccount(name, origin=record['origin'], state='retired', nolimit=record['nolimit'],
                                          password_fp=record['password_fp'], baseline=record['baseline'])
        return write

    def refused(self, step, error, tx, amount):
        """True when the sub-account is to be retired all the same: SMSBOX refused the take-back (ERREUR)."""
        name, where = step.result['name'], step.where
        if isinstance(error, SmsboxRefused):
            step.result['reclaimed'] = 0
            self.run.warn('%s: retired, but SMSBOX refused to take back its %d credits (ERREUR), most likely because it spent some. '
                          'It is left alone from now on and this take-back is not sent again. To take back what it still holds, '
                          'read it in the SMSBOX dashboard (H) and run smsbox.account.smsbox_credit with subaccount: %s, '
                          'amount: -H and transfer_id: retire-%s.' % (where, amount, name, name))
            return True
        step.result.update(action='failed', changed=error.write_outcome == UNKNOWN, reclaimed=0)
        if error.write_outcome == UNKNOWN:
            step.result.update(unsettled=[tx['id']], error=(
                '%s: %s. The take-back %s of %d credits may have been applied; it is recorded as unknown and the sub-account is '
                'not marked retired until it is settled: check the SMSBOX dashboard, then run smsbox.account.smsbox_credit with '
                'subaccount: %s and resolve: {%s: applied} (or rejected), and retire it again' % (where, error, tx['id'], amount,
                                                                                                  name, tx['id'])))
        else:
            step.result['error'] = '%s: the take-back of %d credits failed, nothing moved and it is not retired: %s' % (where, amount, error)
        return False
