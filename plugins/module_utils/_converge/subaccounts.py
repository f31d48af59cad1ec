# -*- coding: utf-8 -*-
# Copyright: (c) 2026, smsbox.account contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What smsbox_subaccount does: each sub-account the ledger does not know is created once, or adopted.

The API cannot tell whether a name exists, so the ledger decides: a name it knows is left alone, any
other is created. ``ERREUR`` cannot be told apart (the name exists, 500 reached, a parameter refused);
``adopt`` records the name as made elsewhere, with the credits it already received (its baseline).
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible_collections.smsbox.account.plugins.module_utils._converge.engine import Step, result_of, run_writes
from ansible_collections.smsbox.account.plugins.module_utils._api.errors import UNKNOWN, ModuleFailure, SmsboxError, SmsboxRefused
from ansible_collections.smsbox.account.plugins.module_utils._inputs import MAX_SUBACCOUNTS, over_the_cap, read_subaccount_items
from ansible_collections.smsbox.account.plugins.module_utils._converge.retirement import Retirement
from ansible_collections.smsbox.account.plugins.module_utils._ledger.records import key_fingerprint, password_fingerprint

# Messages that name an option are said in the caller's words (run.words.say): {adopt} is smsbox_adopt in the role.
REFUSED_CAUSES = ('the name may already exist (made elsewhere: to record it, set {adopt}: true and {baseline}: the credits it had '
                  'received before, never what the dashboard shows now), the main account may have reached %d sub-accounts, or a '
                  'parameter was refused' % MAX_SUBACCOUNTS)


def converge_subaccounts(run):
    """smsbox_subaccount: the items checked before any request, then planned from the ledger and created."""
    _form, items = read_subaccount_items(run.params)
    returned = dict(ledger_path=run.ledger_path)
    with run.main_account(returned, 'balance') as (client, book):
        converger = SubaccountConverger(run, client, book)
        steps = [converger.plan(item) for item in items]
        new = sum(1 for step in steps if step.result['action'] == 'created' and not step.before)
        # A retired sub-account still counts: the API cannot delete it.
        known = sum(1 for record in book.subaccounts().values() if record['state'] in ('present', 'retired'))
        if new and over_the_cap(new, held=known):
            raise ModuleFailure('Nothing was sent: the ledger knows %d sub-accounts and %d more would exceed the %d that '
                                'SMSBOX allows per main account' % (known, new, MAX_SUBACCOUNTS), **returned)
        run_writes(steps, run)
        returned['unsettled'] = book.unsettled()
    for action, listed in (('created', 'created'), ('adopted', 'adopted'), ('retired', 'retired'), ('acknowledged', 'acknowledged'),
                           ('unchanged', 'unchanged'), ('failed', 'failed_names')):
        returned[listed] = [step.result['name'] for step in steps if step.result['action'] == action]
    returned['reclaimed'] = sum(step.result.get('reclaimed', 0) for step in steps)
    return result_of(run, steps, 'subaccounts', 'sub-accounts', 'name', **returned)


class SubaccountConverger:
    """Plans each item from the ledger and, in a real run, creates what is missing."""

    def __init__(self, run, client, ledger):
        self.run = run
        self.client = client
        self.ledger = ledger
        self.api_key = run.params['api_key']
        self.key_fp = key_fingerprint(self.api_key)
        self.retirement = Retirement(run, client, ledger)

    def password_fp(self, password):
        # Prefixed with the key fingerprint: after a key rotation the comparison is skipped, not wrong.
        return '%s:%s' % (self.key_fp, password_fingerprint(self.api_key, password))

    def plan(self, item):
        name = item['subaccount']
        result = dict(name=name, changed=False)
        record = self.ledger.subaccount(name)
        if item['state'] == 'retired':
            return self.retirement.plan(item, record)
        view = dict(nolimit=item['nolimit'], state='present')
        if record and record['state'] == 'retired':
            # Described as present again: it exists at SMSBOX (the API cannot delete it), so it is managed again, nothing sent.
            result.update(action='reactivated', changed=True)
            return Step(result, where=item['where'], write=self.keep(record, state='present'), before={name: dict(state='retired')},
                        after={name: dict(state='present')})
        if record and record['state'] == 'present':
            acknowledged = self.acknowledged(item, record)
            if acknowledged:
                result.update(action='acknowledged', changed=True)
                return Step(result, where=item['where'], write=self.keep(record, **acknowledged),
                            before={name: dict((key, record[key]) for key in acknowledged)}, after={name: acknowledged})
            self.warn_differences(item, record)
            if item['baseline'] is not None and record['origin'] == 'adopted' and record['baseline'] is None:
                # Completes an adoption made without it: from now on allocated counts from what it had received.
                result.update(action='adopted', changed=True)
                return Step(result, where=item['where'], write=self.record_baseline(item, record), before={name: dict(baseline=None)},
                            after={name: dict(baseline=item['baseline'])})
            result['action'] = 'unchanged'
            return Step(result, where=item['where'])
        before = {name: dict(state='unknown', note='an earlier create lost its answer')} if record else {}
        if item['password'] is None:
            if record and item['adopt']:
                # Declared existing, and this collection's earlier create (its answer lost, or its run killed) made it: it stays
                # created by this collection, with its baseline of 0, never adopted.
                result.update(action='adopted', changed=True,
                              note='recorded as created by this collection, sending nothing: its earlier create, whose answer '
                                   'was lost, had made it')
                view.update(origin='created', nolimit=record['nolimit'], baseline=0)
                return Step(result, where=item['where'], write=self.settle_without_create(record), before=before, after={name: view})
            if record:
                result.update(action='failed', error=self.run.words.say(
                    '%s: a password is needed to settle it: an earlier create by this collection did not get its answer, and '
                    'sending it again settles it (or set {adopt}: true if it exists: it is then recorded as created, sending '
                    'nothing)', item['where']))
                return Step(result, where=item['where'])
            if not item['adopt']:
                result.update(action='failed', error=self.run.words.say(
                    '%s: a password is needed to create it (or set {adopt}: true if it exists already)', item['where']))
                return Step(result, where=item['where'])
            result.update(action='adopted', changed=True)
            view.update(origin='adopted', nolimit=None, baseline=item['baseline'])
            return Step(result, where=item['where'], write=self.adopt_without_create(item), before=before, after={name: view})
        result.update(action='created', changed=True)
        view['origin'] = 'created'
        return Step(result, where=item['where'], write=self.create(item, settling=record is not None), before=before, after={name: view})

    def warn_differences(self, item, record):
        name = item['subaccount']
        if record['nolimit'] is not None and record['nolimit'] != item['nolimit']:
            self.run.warn(self.run.words.say(
                'Sub-account %r was created with nolimit=%s; the task asks nolimit=%s. The API cannot change it: change it in '
                'the SMSBOX dashboard (User Management). Nothing was changed. Once it is changed there, run the task once with '
                '{acknowledge}: true to record it, and this warning stops.', name, record['nolimit'], item['nolimit']))
        if item['baseline'] is not None and record['baseline'] is not None and record['baseline'] != item['baseline']:
            self.run.warn('Sub-account %r has a recorded baseline of %d credits (%s); the task gives %d. A baseline is recorded '
                          'once: nothing was changed.' % (name, record['baseline'], 'created by this collection'
                                                          if record['origin'] == 'created' else 'given at adoption', item['baseline']))
        stored = record.get('password_fp')
        if item['password'] is not None and stored and stored.split(':')[0] == self.key_fp \
                and stored != self.password_fp(item['password']):
            self.run.warn(self.run.words.say(
                'Sub-account %r was created with another password than the task gives. The API cannot change it: change it in '
                'the SMSBOX dashboard. Nothing was changed. Once it is changed there, run the task once with {acknowledge}: '
                'true to record it, and this warning stops.', name))

    def acknowledged(self, item, record):
        """With acknowledge, the nolimit and password the task gives, recorded as changed in the dashboard (nothing is sent)."""
        if not item['acknowledge']:
            return None
        changes = {}
        if record['nolimit'] != item['nolimit']:
            changes['nolimit'] = item['nolimit']
        if item['password'] is not None and record.get('password_fp') != self.password_fp(item['password']):
            changes['password_fp'] = self.password_fp(item['password'])
        return changes or None

    def keep(self, record, **changes):
        """A write that records the sub-account with ``changes`` and everything else as it was."""
        def write(step):
            fields = dict((key, record[key]) for key in ('origin', 'state', 'nolimit', 'password_fp', 'baseline'))
            fields.update(changes)
            self.ledger.record_subaccount(record['name'], **fields)
        return write

    def adopt_without_create(self, item):
        def write(step):
            self.ledger.record_subaccount(item['subaccount'], origin='adopted', state='present', baseline=item['baseline'])
        return write

    def settle_without_create(self, record):
        def write(step):
            self.ledger.record_subaccount(record['name'], origin='created', state='present', nolimit=record['nolimit'],
                                          password_fp=record['password_fp'])
        return write

    def record_baseline(self, item, record):
        def write(step):
            self.ledger.record_subaccount(item['subaccount'], origin='adopted', state='present', nolimit=record['nolimit'],
                                          password_fp=record['password_fp'], baseline=item['baseline'])
        return write

    def create(self, item, settling):
        def write(step):
            name = item['subaccount']
            password_fp = self.password_fp(item['password'])
            # Recorded unknown before it is sent, as a transfer is pending: a run killed meanwhile leaves a record that the
            # next run settles by sending the create again. One settling an earlier unknown create is recorded already.
            announced = None if settling else self.ledger.announce_create(name, item['nolimit'], password_fp)
            try:
                self.client.create(name, item['password'], item['nolimit'])
            except SmsboxRefused:
                if settling:
                    # Our own earlier create, whose answer was lost, made it.
                    self.ledger.record_subaccount(name, origin='created', state='present', nolimit=item['nolimit'], password_fp=password_fp,
                                                  answered=True)
                    step.result['note'] = 'an earlier create whose answer was lost had made it'
                    return
                self.ledger.withdraw_create(announced)  # refused: the name is not ours
                if item['adopt'] and item['baseline'] is not None:
                    # Declared existing (its baseline given): SMSBOX's refusal confirms it.
                    self.ledger.record_subaccount(name, origin='adopted', state='present', baseline=item['baseline'])
                    step.result['action'] = 'adopted'
                elif item['adopt']:
                    step.result.update(action='failed', changed=False, error=self.run.words.say(
                        '%s: SMSBOX refused to create it (ERREUR), and it was not adopted: {adopt} records only a sub-account '
                        'declared as existing, with no password or with {baseline} (the credits it had received before), and '
                        'this one was given a password and no {baseline}, so it looks new: ' + REFUSED_CAUSES, item['where']))
                else:
                    step.result.update(action='failed', changed=False, error=self.run.words.say(
                        '%s: SMSBOX refused to create it (ERREUR): ' + REFUSED_CAUSES, item['where']))
            except SmsboxError as error:
                if error.write_outcome == UNKNOWN:
                    self.ledger.record_subaccount(name, origin='created', state='unknown', nolimit=item['nolimit'], password_fp=password_fp,
                                                  answered=True)
                    step.result.update(action='failed', error='%s: %s. It may have been created: run the task again, which sends '
                                                              'the create once more and settles it from the answer.' % (item['where'], error))
                else:
                    if announced is not None:
                        self.ledger.withdraw_create(announced)  # certainly not made
                    step.result.update(action='failed', changed=False, error='%s: %s' % (item['where'], error))
            else:
                self.ledger.record_subaccount(name, origin='created', state='present', nolimit=item['nolimit'], password_fp=password_fp,
                                              answered=True)
                if item['baseline']:
                    step.result['note'] = 'baseline ignored: this collection created it, so it had received nothing before'
        return write
