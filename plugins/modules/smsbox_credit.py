#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, smsbox.account contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
module: smsbox_credit
short_description: Move SMSBOX credits to sub-accounts, never twice
version_added: 0.1.0
description:
  - Transfers credits between an SMSBOX main account and its sub-accounts, for one sub-account or many in one call
    (O(allocations)).
  - Declarative, with O(allocated=N) the module makes the total of the transfers it recorded for the sub-account equal
    N by transferring the difference, in either direction, and does nothing when it is equal already.
  - Imperative, with O(amount=N) the module makes one transfer of N credits (negative takes credits back) each run,
    unless O(transfer_id) names a transfer the ledger already applied.
  - The SMSBOX API cannot read a sub-account's credits; the totals come from the ledger (see O(ledger)), where every
    transfer is recorded as C(pending) before it is sent, then C(applied), C(rejected), or C(unknown) when its answer
    was lost. A transfer is never sent again on its own; while a sub-account has an C(unknown) transfer, the module
    refuses to move its credits until the transfer is settled with O(resolve).
  - Before sending anything the main balance is read, and must cover the total of the positive transfers.
  - Credits taken back (negative transfers) are moved before credits given.
extends_documentation_fragment:
  - smsbox.account.connection
  - smsbox.account.connection.attributes
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details: Predicts from the ledger and the balance exactly which transfers a real run would send, and sends none.
  diff_mode:
    support: full
    details: Shows the credits allocated to each sub-account before and after.
  idempotent:
    support: partial
    details:
      - With O(allocated), or O(amount) with O(transfer_id), a second run changes nothing.
      - O(amount) without O(transfer_id) transfers again on every run, as asked.
options:
  subaccount:
    description:
      - Username of the sub-account.
      - With O(allocated) it must be known to the ledger (created or adopted through it). With O(amount) it need not be
        (it may have been made elsewhere); SMSBOX's answer decides.
      - Mutually exclusive with O(allocations).
    type: str
  allocated:
    description:
      - Total of credits the sub-account should have received from this main account, 0 or more (an integer).
      - Needs a sub-account the ledger knows with its baseline, that is created through it, or adopted with
        O(smsbox.account.smsbox_subaccount#module:baseline). On any other name a real run refuses before sending anything,
        since the credits it already received are unknown and a fresh controller would pay the whole allocation again;
        check mode predicts it with a warning, since an earlier task of the same play may record it.
      - Mutually exclusive with O(amount).
    type: raw
  amount:
    description:
      - Credits to transfer in one transfer, an integer other than 0; negative takes credits back from the sub-account.
    type: raw
  transfer_id:
    description:
      - Idempotency key for O(amount). When the ledger holds an applied transfer with this key, nothing is sent.
      - A key names one transfer; giving it with another O(subaccount) or O(amount) is refused before anything is sent.
    type: str
  resolve:
    description:
      - "Settle transfers of the sub-account whose outcome is C(unknown), after checking in the SMSBOX dashboard whether
        they arrived, by naming each one with its id and what you found, for example C({\"tx-4be1c2a09d3f\": applied})."
      - The ids are in the message of the task that lost the answer, and in RV(smsbox.account.smsbox_balance_info#module:ledger.unsettled).
      - C(applied) counts the transfer in the sub-account's total; C(rejected) records that it never moved credits.
      - Naming each transfer makes a settlement single-use, so a task kept in a playbook can never settle a transfer
        that becomes unknown later. An id that is settled already changes nothing and is reported in the C(note) of its item in RV(allocations).
      - May be combined with O(allocated) or O(amount), which are then applied after the settlement.
    type: raw
  allocations:
    description:
      - Bulk form, many sub-accounts of the same main account in one call, each once. Each item takes the options above.
    type: list
    elements: dict
    suboptions:
      subaccount:
        description: Username of the sub-account.
        type: str
        required: true
      allocated:
        description: Total the sub-account should have received.
        type: raw
      amount:
        description: Credits to transfer once, negative to take back.
        type: raw
      transfer_id:
        description: Idempotency key for O(allocations[].amount).
        type: str
      resolve:
        description: Transfers of this sub-account to settle first, by id, each C(applied) or C(rejected); see O(resolve).
        type: raw
  concurrency:
    description:
      - How many transfers may be in flight at once in the bulk form, over one keep-alive connection pool. From 1 to 16.
    type: int
    default: 4
notes:
  - Do not wrap this module in C(until)/C(retries). A transfer whose answer was lost may have been applied, and the
    module already stops rather than pay twice; settle it with O(resolve) instead.
seealso:
  - module: smsbox.account.smsbox_subaccount
  - module: smsbox.account.smsbox_balance_info
author:
  - smsbox.account contributors (@smsbox-account)
'''

EXAMPLES = r'''
- name: Give shop-paris 500 credits in all (transfers only the difference from what it got already)
  smsbox.account.smsbox_credit:
    subaccount: shop-paris
    allocated: 500
  delegate_to: localhost

- name: Top up once per invoice, even if the play runs twice
  smsbox.account.smsbox_credit:
    subaccount: shop-lyon
    amount: 200
    transfer_id: "invoice-2026-11-0042"
  delegate_to: localhost

- name: Take 50 credits back
  smsbox.account.smsbox_credit:
    subaccount: shop-nice
    amount: -50

- name: Allocate to many sub-accounts in one call
  smsbox.account.smsbox_credit:
    api_key: "{{ vault_smsbox_api_key }}"
    allocations:
      - subaccount: shop-paris
        allocated: 500
      - subaccount: shop-lyon
        allocated: 300
  delegate_to: localhost
  run_once: true
  register: credits

- name: After checking the SMSBOX dashboard, record that the lost transfer tx-4be1c2a09d3f did arrive
  smsbox.account.smsbox_credit:
    subaccount: shop-lyon
    resolve:
      tx-4be1c2a09d3f: applied
  delegate_to: localhost
'''

RETURN = r'''
subaccount:
  description: The sub-account, in the single form.
  returned: single form
  type: str
  sample: shop-paris
action:
  description: What happened to it, in the single form; see RV(allocations).
  returned: single form
  type: str
  sample: transferred
allocations:
  description:
    - One entry per item, in input order, with C(subaccount), C(action), C(changed), C(allocated_before),
      C(allocated_after), C(amount) (the transfer made, 0 when none), C(transfer) (its ledger record, when one was
      made), C(resolved) (ids of the transfers settled by O(resolve)), C(unsettled) (ids of its transfers whose outcome
      is still unknown), C(note) when something needs no action but is worth knowing, and C(error) when it failed.
    - C(action) is C(transferred), C(unchanged), C(resolved) or C(failed); in check mode, what a real run would do.
  returned: always
  type: list
  elements: dict
  sample: [{"subaccount": "shop-paris", "action": "transferred", "changed": true, "allocated_before": 300,
            "allocated_after": 500, "amount": 200}]
transfers:
  description:
    - Every transfer this run made or settled, with C(id), C(subaccount), C(amount), C(state)
      (C(applied), C(rejected) or C(unknown)), C(transfer_id) and C(detail). In check mode, the transfers
      a real run would send, with state C(planned).
  returned: always
  type: list
  elements: dict
  sample: [{"id": "tx-4be1c2a09d3f", "subaccount": "shop-paris", "amount": 200, "state": "applied", "transfer_id": null, "detail": "OK"}]
balance_before:
  description: Main balance read before any transfer.
  returned: when the balance could be read
  type: raw
  sample: 1250
balance_after:
  description: Main balance read after the transfers (in check mode, the predicted one).
  returned: when the balance could be read
  type: raw
  sample: 1050
moved:
  description: Net credits moved to sub-accounts by applied transfers (in check mode, by the planned ones).
  returned: always
  type: int
  sample: 200
ledger_path:
  description: Where the ledger of this main account is, its file path or its PostgreSQL URI with the password masked.
  returned: always
  type: str
  sample: /home/ops/.ansible/smsbox/ledger-3f2a9c01b7de.json
'''

from ansible_collections.smsbox.account.plugins.module_utils._connection import SmsboxModule
from ansible_collections.smsbox.account.plugins.module_utils._engine import (
    DEFAULT_CONCURRENCY,
    Step,
    check_concurrency,
    finish,
    run_writes,
)
from ansible_collections.smsbox.account.plugins.module_utils._errors import APPLIED, REJECTED, SmsboxError, SmsboxRefused
from ansible_collections.smsbox.account.plugins.module_utils._inputs import (
    TRANSFER_ID,
    InputError,
    check_bulk_size,
    check_count,
    check_name,
    check_unique,
    label,
)

ITEM_OPTIONS = dict(
    subaccount=dict(type='str', required=True),
    allocated=dict(type='raw'),
    amount=dict(type='raw'),
    transfer_id=dict(type='str'),
    resolve=dict(type='raw'),
)

RESOLVE_EXAMPLE = '{"tx-4be1c2a09d3f": applied}'


def read_items(params):
    form = 'allocations' if params['allocations'] is not None else None
    raw = params['allocations'] if form else [dict((key, params[key]) for key in ITEM_OPTIONS)]
    check_bulk_size(raw, form)
    items = []
    for index, item in enumerate(raw):
        where = label(form, index, item.get('subaccount'))
        name = check_name(item.get('subaccount'), where, 'subaccount')
        if item.get('allocated') is not None and item.get('amount') is not None:
            raise InputError('%s: give allocated (a total) or amount (one transfer), not both' % where)
        if item.get('allocated') is None and item.get('amount') is None and not item.get('resolve'):
            raise InputError('%s: give allocated, amount or resolve' % where)
        if item.get('transfer_id') is not None and item.get('amount') is None:
            raise InputError('%s: transfer_id is the idempotency key of an amount; it needs amount' % where)
        if item.get('transfer_id') is not None and not item['transfer_id'].strip():
            raise InputError('%s: transfer_id is empty' % where)
        items.append(dict(
            where=where,
            name=name,
            allocated=None if item.get('allocated') is None else check_count(item['allocated'], where, 'allocated', True, False),
            amount=None if item.get('amount') is None else check_count(item['amount'], where, 'amount', False, True),
            transfer_id=item.get('transfer_id'),
            resolve=read_resolve(item.get('resolve'), where),
        ))
    check_unique([item['name'] for item in items], form or 'subaccount')
    keyed = {}
    for item in items:
        if item['transfer_id'] in keyed:
            raise InputError('%s: transfer_id %r is already the key of %s; give each transfer its own transfer_id'
                             % (item['where'], item['transfer_id'], keyed[item['transfer_id']]))
        if item['transfer_id'] is not None:
            keyed[item['transfer_id']] = item['where']
    return items


def read_resolve(value, where):
    """``{transfer id: applied|rejected}``: a settlement names what the operator checked, so it can never apply to a later one."""
    if value is None or value == {}:
        return None
    if isinstance(value, str) and value in (APPLIED, REJECTED):
        raise InputError('%s: resolve must name the transfers you checked, with what you found, e.g. resolve: %s; a bare '
                         'resolve: %s kept in a playbook would also settle a transfer that becomes unknown later, unchecked. '
                         'The ids are in the message that reported each transfer as unknown, and in smsbox_balance_info\'s '
                         'ledger.unsettled' % (where, RESOLVE_EXAMPLE, value))
    if not isinstance(value, dict):
        raise InputError('%s: resolve must be a mapping of transfer ids to applied or rejected, e.g. %s' % (where, RESOLVE_EXAMPLE))
    settlements = {}
    for txid, outcome in value.items():
        if not isinstance(txid, str) or not TRANSFER_ID.match(txid):
            raise InputError('%s: resolve names %r, which is not a transfer id (tx- and 12 hex digits, as in the message that '
                             'reported it)' % (where, str(txid)[:40]))
        if outcome not in (APPLIED, REJECTED):
            raise InputError('%s: resolve says %r for %s; say applied (the credits arrived) or rejected (they did not)'
                             % (where, str(outcome)[:20], txid))
        settlements[txid] = outcome
    return settlements


def unsettled_message(where, name, transfers):
    described = ', '.join('%s of %+d credits (%s)' % (tx['id'], tx['amount'], tx.get('detail') or tx['state']) for tx in transfers)
    settle = ', '.join('%s: applied' % tx['id'] for tx in transfers)
    return ('%s: nothing was sent, because an earlier transfer has an unknown outcome: %s. It may have been applied. '
            'Check the sub-account in the SMSBOX dashboard, then run smsbox.account.smsbox_credit with subaccount: %s and '
            'resolve: {%s} (the credits arrived), or rejected in place of applied (they did not).' % (where, described, name, settle))


class Converger:
    """Plans each item from the ledger and, in a real run, sends the transfers."""

    def __init__(self, module, client, ledger):
        self.module = module
        self.client = client
        self.ledger = ledger
        self.settled = []  # unknown transfers settled by resolve
        self.sent = []     # transfers sent by this run (planned ones in check mode)
        self.unknown_names = []  # allocated on names the ledger does not know, predicted in check mode

    def plan(self, item):
        name = item['name']
        allocated = before = self.ledger.allocated(name)
        result = dict(subaccount=name, changed=False, amount=0, allocated_before=before, resolved=[], unsettled=[])
        if item['resolve']:
            try:
                allocated += self.resolve(item, result)
            except InputError as error:
                result.update(action='failed', allocated_after=allocated, error=str(error))
                return Step(result)
        # In check mode the settlements above were not recorded: leave them out by id.
        unsettled = [tx for tx in self.ledger.unsettled(name) if tx['id'] not in result['resolved']]
        if unsettled:
            result.update(action='failed', allocated_after=allocated, unsettled=[tx['id'] for tx in unsettled],
                          error=unsettled_message(item['where'], name, unsettled))
            return Step(result)
        refused = self.reused_transfer_id(item) or self.unknown_to_ledger(item)
        if refused:
            result.update(action='failed', allocated_after=allocated, error=refused)
            return Step(result)
        amount = self.amount_for(item, allocated, result)
        result['allocated_after'] = allocated + amount
        diff = dict(before={name: dict(allocated=before)}, after={name: dict(allocated=allocated + amount)})
        if not amount:
            result['action'] = 'resolved' if result['resolved'] else 'unchanged'
            return Step(result, **diff)
        result.update(action='transferred', changed=True, amount=amount)
        step = Step(result, **diff)
        if self.module.check_mode:
            self.sent.append(dict(id=None, subaccount=name, amount=amount, state='planned', transfer_id=item['transfer_id'], detail=None))
        else:
            step.write = self.transfer(item, amount)
        return step

    def resolve(self, item, result):
        """Settles the named transfers, all checked first; returns the credits they add to the sub-account's total."""
        name = item['name']
        found = []
        for txid, outcome in item['resolve'].items():
            tx = self.ledger.transfer(txid)
            if tx is None:
                raise InputError('%s: resolve names %s, which this ledger does not hold (%s); nothing was settled or sent. Copy the '
                                 'id from the message that reported the transfer' % (item['where'], txid, self.module.ledger_path))
            if tx['subaccount'] != name:
                raise InputError('%s: resolve names %s, a transfer to %r, not to this sub-account; nothing was settled or sent'
                                 % (item['where'], txid, tx['subaccount']))
            found.append((tx, outcome))
        added = 0
        for tx, outcome in found:
            if tx['state'] not in ('unknown', 'pending'):
                add_note(result, 'resolve names %s, which is settled already (%s); nothing changed' % (tx['id'], tx['state']))
                continue
            settled = self.settle(tx, outcome)
            result['resolved'].append(tx['id'])
            result['changed'] = True
            if outcome == APPLIED:
                added += settled['amount']
        return added

    def unknown_to_ledger(self, item):
        """An error when allocated names a sub-account whose credits so far are unknown: never recorded, or adopted blind."""
        if item['allocated'] is None or self.ledger.baseline_known(item['name']):
            return None
        if self.module.check_mode:
            self.unknown_names.append(item['name'])
            return None
        if self.ledger.subaccount(item['name']) is not None:
            return ('%s: nothing was sent, because it was adopted without the credits it had already received (its baseline), so '
                    'allocated: %d could pay them again. Read them in the SMSBOX dashboard and record them with '
                    'smsbox.account.smsbox_subaccount, adopt: true and baseline: <credits>; amount with transfer_id moves credits '
                    'meanwhile.' % (item['where'], item['allocated']))
        return ('%s: nothing was sent, because the ledger does not know this sub-account (it was not created or adopted through '
                '%s), so the credits it already received are unknown and allocated: %d could pay them again, as a fresh controller '
                'or a lost ledger would. If it is new, create it first with smsbox.account.smsbox_subaccount; if it exists, point '
                'ledger at the ledger of this main account, or adopt it with smsbox.account.smsbox_subaccount, adopt: true and '
                'baseline: the credits it has already received. amount with transfer_id moves credits without a ledger record.'
                % (item['where'], self.module.ledger_path, item['allocated']))

    def reused_transfer_id(self, item):
        """An error when the idempotency key already names another transfer: skipping it would silently not pay."""
        earlier = self.ledger.find_by_transfer_id(item['transfer_id']) if item['transfer_id'] is not None else None
        if earlier and (earlier['subaccount'], earlier['amount']) != (item['name'], item['amount']):
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
            if earlier and earlier['state'] == APPLIED:
                add_note(result, 'transfer_id %r was applied already (%s)' % (item['transfer_id'], earlier['id']))
                return 0
        return item['amount']

    def settle(self, tx, state):
        if self.module.check_mode:
            settled = dict(tx, state=state, detail='would be resolved by operator')
        else:
            settled = self.ledger.settle_transfer(tx['id'], state, detail='resolved by operator')
        self.settled.append(settled)
        return settled

    def transfer(self, item, amount):
        def write(step):
            name = item['name']
            tx = self.ledger.begin_transfer(name, amount, transfer_id=item['transfer_id'])
            try:
                self.client.transfer(name, amount)
            except SmsboxError as error:
                tx = self.ledger.settle_transfer(tx['id'], error.write_outcome, detail=str(error)[:300])
                step.result.update(action='failed', allocated_after=step.result['allocated_before'])
                if isinstance(error, SmsboxRefused):
                    step.result.update(changed=False, error='%s: SMSBOX refused the transfer of %+d credits (ERREUR): the sub-account may not '
                                                            'exist under this main account, or a balance was insufficient. Nothing moved.'
                                                            % (item['where'], amount))
                elif error.write_outcome == REJECTED:
                    step.result.update(changed=False, error='%s: the transfer of %+d credits failed, nothing moved: %s' % (item['where'], amount, error))
                else:
                    step.result['unsettled'] = [tx['id']]
                    step.result['error'] = ('%s: %s. The transfer %s of %+d credits may have been applied; it is recorded as unknown and '
                                            'no further transfer to this sub-account will be made until it is settled: check the '
                                            'SMSBOX dashboard, then run smsbox.account.smsbox_credit with subaccount: %s and '
                                            'resolve: {%s: applied} (the credits arrived), or rejected in place of applied (they did not).'
                                            % (item['where'], error, tx['id'], amount, name, tx['id']))
            else:
                tx = self.ledger.settle_transfer(tx['id'], APPLIED, detail='OK')
            step.result['transfer'] = tx
            self.sent.append(tx)
        return write


def converge(module, client, items, concurrency):
    returned = dict(ledger_path=module.ledger_path)
    with module.ledger_session(**returned) as book:
        # Read under the ledger lock, so a run that waited for another sees the balance that run left.
        balance = returned['balance_before'] = module.read_balance(client, **returned)
        converger = Converger(module, client, book)
        steps = [converger.plan(item) for item in items]
        if converger.unknown_names:
            module.warn('Predicted from an empty record: the ledger does not know the credits %s already received (not created, or '
                        'adopted without a baseline), so a real run refuses allocated on %s unless an earlier task records %s first.' % (
                            names_text(converger.unknown_names), 'them' if len(converger.unknown_names) > 1 else 'it',
                            'them' if len(converger.unknown_names) > 1 else 'it'))
        needed = [step.result for step in steps if step.result['amount'] > 0 and 'error' not in step.result]
        total = sum(result['amount'] for result in needed)
        if total > balance:
            module.fail_json(msg='Nothing was sent: the main balance is %s credits and the transfers need %d (%s)' % (
                balance, total, ', '.join('%s %+d' % (result['subaccount'], result['amount']) for result in needed[:20])), **returned)
        # Taking back first frees credits for the transfers that give.
        run_writes([step for step in steps if step.result['amount'] < 0], concurrency)
        run_writes([step for step in steps if step.result['amount'] > 0], concurrency)

    moved = sum(tx['amount'] for tx in converger.sent if tx['state'] in (APPLIED, 'planned'))
    returned.update(transfers=converger.settled + converger.sent, moved=moved)
    if module.check_mode:
        returned['balance_after'] = balance - moved
    elif any(tx['state'] != REJECTED for tx in converger.sent):
        try:
            returned['balance_after'] = client.balance()
        except SmsboxError as error:
            module.warn('The transfers are recorded, but the balance could not be read afterwards: %s' % error)
    else:
        returned['balance_after'] = balance
    return steps, returned


def add_note(result, note):
    result['note'] = '%s; %s' % (result['note'], note) if result.get('note') else note


def names_text(names, shown=10):
    text = ', '.join(repr(name) for name in names[:shown])
    return text + (' and %d more' % (len(names) - shown) if len(names) > shown else '')


def main():
    module = SmsboxModule(
        argument_spec=dict(
            subaccount=dict(type='str'),
            allocations=dict(type='list', elements='dict', options=ITEM_OPTIONS),
            concurrency=dict(type='int', default=DEFAULT_CONCURRENCY),
            **dict((key, value) for key, value in ITEM_OPTIONS.items() if key != 'subaccount')
        ),
        # allocated/amount/transfer_id are checked per item by read_items, whose messages name the sub-account.
        mutually_exclusive=[('subaccount', 'allocations')],
        required_one_of=[('subaccount', 'allocations')],
        supports_check_mode=True,
    )
    concurrency = check_concurrency(module)
    items = module.checked(read_items)
    client = module.client(pool_size=concurrency)
    try:
        steps, returned = converge(module, client, items, concurrency)
    finally:
        client.close()
    if module.params['allocations'] is None:
        returned.update(subaccount=steps[0].result['subaccount'], action=steps[0].result['action'])
    finish(module, steps, 'allocations', 'allocations', **returned)


if __name__ == '__main__':
    main()
