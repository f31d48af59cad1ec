# -*- coding: utf-8 -*-
# Copyright: (c) 2026, smsbox.account contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The converge engine the write modules share.

A converger turns each input item into a Step: the result it predicts from the ledger and, when
something must change, one write. The engine runs the writes (never in check mode), a bounded
number at once over the one keep-alive session, and reports every item the same way, so check
mode and diff are the plan itself and cannot drift from what a real run does.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor

from ansible_collections.smsbox.account.plugins.module_utils._api.errors import ModuleFailure
from ansible_collections.smsbox.account.plugins.module_utils._ledger.records import LedgerError

FAILURES_SHOWN = 10


class Step:
    """One item: its predicted ``result`` (a dict), and the ``write`` that makes it so, if any.

    ``write(step)`` sends the request, records the outcome in the ledger and updates
    ``step.result``; it must not raise for an SMSBOX fault, only set ``error`` (a sentence that starts with
    ``where``, how messages name the item). It raises LedgerError when the ledger cannot record.
    Item results carry no ``failed`` key: Ansible would read one inside a returned list as the task's.
    """

    def __init__(self, result, write=None, before=None, after=None, where=None):
        self.result = result
        self.write = write
        self.before = before
        self.after = after
        self.where = where

    @property
    def failed(self):
        return 'error' in self.result


def run_writes(steps, run):
    """Run the writes of ``steps``, never in check mode, where each step's result is what its write would make; at most
    the run's ``concurrency`` requests are in flight at once.

    When the ledger cannot record (a lost lock, a database or disk failure), that item fails and no further write
    starts, since nothing may be sent without its record; the items written so far keep their results, so the
    run reports what really happened."""
    if run.check_mode:
        return
    concurrency = run.params['concurrency']
    pending = [step for step in steps if step.write is not None and not step.failed]
    stopped = []

    def write(step):
        if stopped:
            step.result.update(action='failed', changed=False,
                               error='%s: not sent, because the ledger could not record an earlier item: %s' % (step.where, stopped[0]))
            return
        try:
            step.write(step)
        except LedgerError as error:
            stopped.append(str(error))
            step.result.update(action='failed', error='%s: %s' % (step.where, error))
    if concurrency <= 1 or len(pending) <= 1:
        for step in pending:
            write(step)
        return
    with ThreadPoolExecutor(max_workers=min(concurrency, len(pending))) as pool:
        for _done in pool.map(write, pending):
            pass


def diff_of(steps):
    before = dict((key, value) for step in steps if step.result.get('changed') for key, value in (step.before or {}).items())
    after = dict((key, value) for step in steps if step.result.get('changed') for key, value in (step.after or {}).items())
    return dict(before=before, after=after)


def result_of(run, steps, form, what, item_key, **returned):
    """The run's result with the per-item results under ``form`` (the bulk option), the single form's item at the top,
    and the diff; a ModuleFailure naming every failed item when one failed."""
    results = [step.result for step in steps]
    returned[form] = results
    returned['changed'] = any(result.get('changed') for result in results)
    if run.diff:
        returned['diff'] = diff_of(steps)
    if run.params.get(form) is None:  # the single form: its item is the task
        returned.update({item_key: results[0][item_key], 'action': results[0]['action']})
    failures = [result['error'] for result in results if 'error' in result]
    if failures:
        raise ModuleFailure('%d of %d %s failed. %s' % (len(failures), len(results), what, grouped(failures)), **returned)
    return returned


def grouped(failures):
    """Item errors (``<item>: <reason>``) with the items that share a reason listed once."""
    reasons = OrderedDict()
    for failure in failures:
        where, _sep, reason = failure.partition(': ')
        reasons.setdefault(reason, []).append(where)
    parts = []
    for reason, items in reasons.items():
        more = len(items) - FAILURES_SHOWN
        parts.append('%s%s: %s' % (', '.join(items[:FAILURES_SHOWN]), ' and %d more' % more if more > 0 else '', reason))
    return ' | '.join(parts)


def names_text(names, shown=FAILURES_SHOWN):
    text = ', '.join(repr(name) for name in names[:shown])
    return text + (' and %d more' % (len(names) - shown) if len(names) > shown else '')
