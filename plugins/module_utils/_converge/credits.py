# -*- coding: utf-8 -*-
# Copyright: (c) 2026, smsbox.account contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What smsbox_credit does: move credits to sub-accounts, declaratively or once, and never twice.

Every transfer is recorded pending in the ledger before it is sent, then applied, rejected, or
unknown when its answer was lost; a sub-account with an unknown transfer gets nothing more until an
operator settles it by id (``resolve``). ``allocated`` is compared with what the ledger says the
sub-account received, so it needs a sub-account whose baseline the ledger knows.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible_collections.smsbox.account.plugins.module_utils._converge.engine import Step, names_text, result_of, run_writes
from ansible_collections.smsbox.account.plugins.module_utils._api.errors import APPLIED, REJECTED, SmsboxError, SmsboxRefused
from ansible_collections.smsbox.account.plugins.module_utils._inputs import InputError, read_credit_items


def converge_credits(run):
    """smsbox_credit: the items checked before any request, planned from the ledger and the balance, then sent."""
    _form, items = read_credit_items(run.params)
    returned = dict(ledger_path=run.ledger_path)
    # The balance is read under the ledger lock, so a run that waited for another sees the balance that run left.
    with run.main_account(returned, 'balance_before') as (client, book):
        balance = returned['balance_before']
        converger = CreditConverger(run, client, book)
        steps = [converger.plan(item) for item in items]
        if converger.unknown_names:
            several = len(converger.unknown_names) > 1
            run.warn(run.words.say('Predicted from an empty record: the ledger does not know the credits %s already received (not '
                                   'created, or adopted without a baseline), so a real run refuses {allocated} on %s unless an earlier '
                                   'task records %s first.', names_text(converger.unknown_names), 'them' if several else 'it',
                                   'them' if several else 'it'))
        # Taking back first frees credits for the transfers that give, which the balance then covers or none is sent.
        takebacks = [step for step in steps if step.result['amount'] < 0]
        run_writes(takebacks, run)
        gifts = [step for step in steps if step.result['amount'] > 0 and not step.failed]
        available = balance_for_gifts(run, client, converger, balance) if takebacks and gifts else balance
        refuse_uncovered(gifts, available, balance)
        run_writes(gifts, run)
        returned.update(balance_after(run, client, converger, balance))
        returned['unsettled'] = book.unsettled()
    return result_of(run, steps, 'allocations', 'allocations', 'subaccount', **returned)


def balance_for_gifts(run, client, converger, balance):
    """The main balance once this run's take-backs are in: predicted in check mode, read again after a real one."""
    freed = -sum(tx['amount'] for tx in converger.sent if tx['amount'] < 0 and tx['state'] in (APPLIED, 'planned'))
    if run.check_mode or not freed:
        return balance + freed
    try:
        return client.balance()
    except SmsboxError:
        return balance + freed  # what SMSBOX answered OK to: the main balance went up by as much


def refuse_uncovered(gifts, available, balance):
    """When the balance cannot cover every transfer that gives, none of them is sent: each item fails with the figures."""
    total = sum(step.result['amount'] for step in gifts)
    if total <= available:
        return
    listed = ', '.join('%s %+d' % (step.result['subaccount'], step.result['amount']) for step in gifts[:20])
    after = '' if available == balance else ' after the take-backs of this run'
    for step in gifts:
        step.result.update(action='failed', changed=False, allocated_after=step.result['allocated_before'],
                           received_after=step.result['received_before'], amount=0,
                           error='%s: not sent: the main balance is %s credits%s and the transfers that give need %d (%s); '
                                 'no transfer that gives was sent' % (step.where, available, after, total, listed))


def balance_after(run, client, converger, balance):
    moved = sum(tx['amount'] for tx in converger.sent if tx['state'] in (APPLIED, 'planned'))
    after = dict(transfers=converger.settled + converger.sent, moved=moved)
    if run.check_mode:
        after['balance_after'] = balance - moved
    elif any(tx['state'] != REJECTED for tx in converger.sent):
        try:
            after['balance_after'] = client.balance()
        except SmsboxError as error:
            run.warn('The transfers are recorded, but the balance could not be read afterwards: %s' % error)
    else:
        after['balance_after'] = balance
    return after


def unsettled_message(where, name, transfers):
    described = ', '.join('%s of %+d credits (%s)' % (tx['id'], tx['amount'], tx.get('detail') or tx['state']) for tx in transfers)
    settle = ', '.join('%s: applied' % tx['id'] for tx in transfers)
    return ('%s: nothing was sent, because an earlier transfer has an unknown outcome: %s. It may have been applied. '
            'Check the sub-account in the SMSBOX dashboard, then run smsbox.account.smsbox_credit with subaccount: %s and '
            'resolve: {%s} (the credits arrived), or rejected in place of applied (they did not); ad hoc: -a "subaccount=%s '
            'resolve=%s"' % (where, described, name, settle, name, ','.join('%s=applied' % tx['id'] for tx in transfers)))


class CreditConverger:
    """Plans each item from the ledger and, in a real run, sends the transfers."""

    def __init__(self, run, client, ledger):
        self.run = run
        self.client = client
        self.ledger = ledger
        self.settled = []  # unknown transfers settled by resolve
        self.sent = []     # transfers sent by this run (planned ones in check mode)
        self.unknown_names = []  # allocated on names the ledger does not know, predicted in check mode

    def plan(self, item):
        name = item['subaccount']
        before = self.ledger.credits(name)
        allocated, received = before['allocated'], before['received']
        result = dict(subaccount=name, changed=False, amount=0, allocated_before=allocated, received_before=received,
                      resolved=[], unsettled=[])
        where = item['where']
        if item['resolve']:
            try:
                for tx in self.resolve(item, result):
                    received += tx['amount']
                    allocated += tx['amount'] if tx['kind'] == 'allocated' else 0
            except InputError as error:
                result.update(action='failed', allocated_after=allocated, received_after=received, error=str(error))
                return Step(result, where=where)
        # In check mode the settlements above were not recorded: leave them out by id.
        unsettled = [tx for tx in self.ledger.unsettled(name) if tx['id'] not in result['resolved']]
        refused = None
        if unsettled:
            result['unsettled'] = [tx['id'] for tx in unsettled]
            refused = unsettled_message(where, name, unsettled)
        refused = refused or self.retired(item) or self.reused_transfer_id(item) or self.unknown_to_ledger(item)
        amount = 0 if refused else self.amount_for(item, allocated, result)
        refused = refused or (self.refused_before(item, amount) if amount < 0 else None)
        if refused:
            result.update(action='failed', allocated_after=allocated, received_after=received, error=refused)
            return Step(result, where=where)
        declarative = item['allocated'] is not None
        result.update(allocated_after=allocated + (amount if declarative else 0), received_after=received + amount)
        diff = dict(before={name: dict(allocated=before['allocated'], received=before['received'])},
                    after={name: dict(allocated=result['allocated_after'], received=result['received_after'])})
        if not amount:
            result['action'] = 'resolved' if result['resolved'] else 'unchanged'
            return Step(result, where=where, **diff)
        result.update(action='transferred', changed=True, amount=amount)
        step = Step(result, where=where, **diff)
        kind = 'allocated' if declarative else 'period' if item['period'] else 'amount'
        step.write = self.transfer(item, amount, kind)
        if self.run.check_mode:  # what the write would send, for the balance the run predicts
            self.sent.append(dict(id=None, subaccount=name, amount=amount, state='planned', transfer_id=item['transfer_id'],
                                  kind=kind, detail=None))
        return step

    def refused_before(self, item, amount):
        """An error when the last transfer to the sub-account was this same take-back, refused by SMSBOX: sending it again
        without a change of input would be refused again (the sub-account holds fewer credits than that)."""
        history = self.ledger.transfers(item['subaccount'])
        last = history[-1] if history else None
        if not last or last['state'] != REJECTED or last['amount'] != amount or last['kind'] != ('allocated' if item['allocated'] is not None else 'amount'):
            return None
        if item['transfer_id'] is not None and last['transfer_id'] != item['transfer_id']:
            return None  # another one-off take-back: the operator asks for it again
        return ('%s: not sent: SMSBOX refused this same take-back of %+d credits at %s (%s), most likely because the sub-account '
                'holds fewer than %d credits now (it spent some), and it would be refused again. %s'
                % (item['where'], amount, last['settled'] or last['created'], last['id'], -amount, takeback_advice(item, amount, self.run.words)))

    def resolve(self, item, result):
        """Settles the named transfers, all checked first; returns those settled as applied (their credits count now)."""
        name = item['subaccount']
        found = []
        for txid, outcome in item['resolve'].items():
            tx = self.ledger.transfer(txid)
            if tx is None:
                raise InputError('%s: resolve names %s, which this ledger does not hold (%s); nothing was settled or sent. Copy the '
                                 'id from the message that reported the transfer' % (item['where'], txid, self.run.ledger_path))
            if tx['subaccount'] != name:
                raise InputError('%s: resolve names %s, a transfer to %r, not to this sub-account; nothing was settled or sent'
                                 % (item['where'], txid, tx['subaccount']))
            found.append((tx, outcome))
        added = []
        for tx, outcome in found:
            if tx['state'] not in ('unknown', 'pending'):
                add_note(result, 'resolve names %s, which is settled already (%s); nothing changed' % (tx['id'], tx['state']))
                continue
            settled = self.settle(tx, outcome)
            result['resolved'].append(tx['id'])
            result['changed'] = True
            if outcome == APPLIED:
                added.append(settled)
        return added

    def unknown_to_ledger(self, item):
        """An error when allocated names a sub-account whose credits so far are unknown: never recorded, or adopted blind."""
        if item['allocated'] is None or self.ledger.baseline_known(item['subaccount']):
            return None
        if self.run.check_mode:
            if item['subaccount'] not in self.run.expected_new:
                self.unknown_names.append(item['subaccount'])
            return None
        record = self.ledger.subaccount(item['subaccount'])
        if record is not None:
            return '%s: nothing was sent, because %s' % (item['where'], baseline_needed(record, self.ledger.applied_by_ledger(
                item['subaccount']), item['allocated'], self.run.words))
        return self.run.words.say(
            '%s: nothing was sent, because the ledger does not know this sub-account (it was not created or adopted through %s), so '
            'the credits it already received are unknown and {allocated}: %d could pay them again, as a fresh controller or a lost '
            'ledger would. If it is new, create it first with {subaccount_task}; if it exists, point {ledger} at the ledger of this '
            'main account, or adopt it with {subaccount_task}, {adopt}: true and {baseline}: the credits it has already received. '
            '{amount} with {transfer_id} moves credits without a ledger record.', item['where'], self.run.ledger_path, item['allocated'])

    def retired(self, item):
        """An error when credits are given to a retired sub-account; taking back what it still holds stays possible."""
        record = self.ledger.subaccount(item['subaccount'])
        if record is None or record['state'] != 'retired' or (item['allocated'] is None and (item['amount'] or 0) <= 0):
            return None
        return self.run.words.say('%s: nothing was sent, because it is retired: its credits were taken back and it is left alone. To '
                                  'manage it again, describe it as present with {subaccount_task} ({state}: present); to take back '
                                  'what it still holds, use {amount} with a negative number and a {transfer_id}', item['where'])

    def reused_transfer_id(self, item):
        """An error when the idempotency key already names another transfer: skipping it would silently not pay."""
        earlier = self.ledger.find_by_transfer_id(item['transfer_id']) if item['transfer_id'] is not None else None
        if earlier and item['period'] and earlier['subaccount'] == item['subaccount']:
            return None  # an allowance changed within its period: it was paid (amount_for says so), the new one starts next period
        if earlier and (earlier['subaccount'], earlier['amount']) != (item['subaccount'], item['amount']):
            return ('%s: nothing was sent, because transfer_id %r already names %s, a transfer of %+d credits to %r; '
                    'give each transfer its own transfer_id' % (item['where'], item['transfer_id'], earlier['id'],
                                                                earlier['amount'], earlier['subaccount']))
        return None

    def amount_for(self, item, allocated, result):
        if item['allocated'] is not None:
            return item['allocated'] - allocated
        if item['amount'] is None:
            return 0
        if item['transfer_id'] is not None:
            earlier = self.ledger.find_by_transfer_id(item['transfer_id'])
            if earlier and earlier['state'] == APPLIED and item['period']:
                add_note(result, 'the allowance of %s was paid already (%s, %+d)' % (item['period'], earlier['id'], earlier['amount']))
                return 0
            if earlier and earlier['state'] == APPLIED:
                add_note(result, 'transfer_id %r was applied already (%s)' % (item['transfer_id'], earlier['id']))
                return 0
        return item['amount']

    def settle(self, tx, state):
        if self.run.check_mode:
            settled = dict(tx, state=state, detail='would be resolved by operator')
        else:
            settled = self.ledger.settle_transfer(tx['id'], state, detail='resolved by operator')
        self.settled.append(settled)
        return settled

    def transfer(self, item, amount, kind):
        def write(step):
            name = item['subaccount']
            tx = self.ledger.begin_transfer(name, amount, transfer_id=item['transfer_id'], kind=kind)
            try:
                self.client.transfer(name, amount)
            except SmsboxError as error:
                tx = self.ledger.settle_transfer(tx['id'], error.write_outcome, detail=str(error)[:300])
                step.result.update(action='failed', allocated_after=step.result['allocated_before'],
                                   received_after=step.result['received_before'])
                if isinstance(error, SmsboxRefused) and amount < 0:
                    step.result.update(changed=False, error='%s: SMSBOX refused to take back %d credits (ERREUR), most likely because the '
                                                            'sub-account holds fewer than that now (it spent some); nothing moved, and this '
                                                            'same take-back is not sent again while the task asks for it. %s'
                                                            % (item['where'], -amount, takeback_advice(item, amount, self.run.words)))
                elif isinstance(error, SmsboxRefused):
                    step.result.update(changed=False, error='%s: SMSBOX refused the transfer of %+d credits (ERREUR): the sub-account may not '
                                                            'exist under this main account, or the main balance was insufficient. Nothing moved.'
                                                            % (item['where'], amount))
                elif error.write_outcome == REJECTED:
                    step.result.update(changed=False, error='%s: the transfer of %+d credits failed, nothing moved: %s' % (item['where'], amount, error))
                else:
                    step.result['unsettled'] = [tx['id']]
                    step.result['error'] = ('%s: %s. The transfer %s of %+d credits may have been applied; it is recorded as unknown and '
                                            'no further transfer to this sub-account will be made until it is settled: check the '
                                            'SMSBOX dashboard, then run smsbox.account.smsbox_credit with subaccount: %s and '
                                            'resolve: {%s: applied} (the credits arrived), or rejected in place of applied (they did not); '
                                            'ad hoc: -a "subaccount=%s resolve=%s=applied"'
                                            % (item['where'], error, tx['id'], amount, name, tx['id'], name, tx['id']))
            else:
                tx = self.ledger.settle_transfer(tx['id'], APPLIED, detail='OK')
            step.result['transfer'] = tx
            self.sent.append(tx)
        return write


def takeback_advice(item, amount, words):
    """What to set when SMSBOX refused a take-back: take back at most what the sub-account holds now."""
    if item['allocated'] is not None:
        return words.say('Read what it holds now in the SMSBOX dashboard (H), then set {allocated} to at least %d - H (its declared '
                         'allocation less what it holds), or leave {allocated} at its current figure to take nothing back.',
                         item['allocated'] - amount)
    return words.say('Read what it holds now in the SMSBOX dashboard (H), then take back at most H with {amount}: -H and a new '
                     '{transfer_id}.')


def baseline_needed(record, applied, allocated, words):
    """Why a sub-account adopted without a baseline cannot be given ``allocated`` yet, and what to record: the credits it had
    received before this ledger knew it, which the ledger's own transfers are not part of, nor what it has spent."""
    since = ('; the %+d credits this ledger\'s own applied transfers moved to it since are not part of it, they are counted already'
             % applied) if applied else ''
    return words.say('it was adopted (%s) without the credits it had received before this ledger knew it (its baseline), so '
                     '{allocated}: %d could pay them again. Record that figure, the credits it had RECEIVED before adoption, never '
                     'what the SMSBOX dashboard shows now (that is net of what it spent: a shop that received 500 and spent 300 '
                     'shows 200, and 200 would pay 300 again)%s: run {subaccount_task} with {adopt}: true and {baseline}: <credits '
                     'received before>. {amount} with {transfer_id} moves credits meanwhile.',
                     record['recorded'] or 'date unknown', allocated, since)


def add_note(result, note):
    result['note'] = '%s; %s' % (result['note'], note) if result.get('note') else note
