# -*- coding: utf-8 -*-
# Copyright: (c) 2026, smsbox.account contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Statements: what a ledger says each sub-account received, and when, for a period; read-only, no API key needed.

SMSBOX cannot list sub-accounts nor their credits, so the ledger is the only place that can answer "who received
what, when, moved by which run" and "how much did we hand out this month". A transfer counts in the period in
which it was recorded (``created``: just before it was sent); totals count applied transfers only.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import csv
import datetime
import io

PERIODS = ('day', 'week', 'month')
CSV_FIELDS = ('created', 'subaccount', 'amount', 'kind', 'state', 'transfer_id', 'id', 'settled', 'detail', 'run')


def period_of(timestamp, period):
    """The period a ``YYYY-MM-DDTHH:MM:SSZ`` time falls in: ``2026-11-07``, ``2026-W45`` (ISO week) or ``2026-11``."""
    day = datetime.datetime.strptime(timestamp[:10], '%Y-%m-%d').date()
    if period == 'day':
        return day.isoformat()
    if period == 'week':
        year, week, _weekday = day.isocalendar()
        return '%d-W%02d' % (year, week)
    return day.strftime('%Y-%m')


def _totals(transfers):
    applied = [tx['amount'] for tx in transfers if tx['state'] == 'applied']
    given = sum(amount for amount in applied if amount > 0)
    taken_back = -sum(amount for amount in applied if amount < 0)
    return dict(given=given, taken_back=taken_back, net=given - taken_back, transfers=len(applied))


def _in_range(tx, since, until):
    created = tx.get('created') or ''
    return (since is None or created[:len(since)] >= since) and (until is None or created[:len(until)] <= until)


def statement(ledger, names=None, since=None, until=None, period=None):
    """Per sub-account (all, or ``names``): its record, its credits (baseline, declared allocation, top-ups, received in
    all) and its transfers recorded between ``since`` and ``until`` (dates or times, inclusive, compared as text);
    totals over them, and per ``period`` when one is given."""
    subaccounts = {}
    selected = []
    known = ledger.subaccounts()
    credits = ledger.credits_of_all()
    # a name may have transfers and no record: one SMSBOX refused, to a sub-account made elsewhere
    for name in sorted(set(known) | set(credits) | set(tx['subaccount'] for tx in ledger.transfers())):
        if names and name not in names:
            continue
        record = known.get(name) or {}
        transfers = [tx for tx in ledger.transfers(name) if _in_range(tx, since, until)]
        selected.extend(transfers)
        subaccounts[name] = dict(
            origin=record.get('origin'), state=record.get('state'), retired=record.get('state') == 'retired',
            recorded=record.get('recorded'), run=record.get('run'),
            credits=credits.get(name, ledger.credits(name)), totals=_totals(transfers), transfers=transfers)
    selected.sort(key=lambda tx: tx.get('created') or '')
    result = dict(subaccounts=subaccounts, totals=_totals(selected), transfers=len(selected))
    if period:
        by_period = {}
        for tx in selected:
            by_period.setdefault(period_of(tx['created'], period), []).append(tx)
        result['periods'] = [dict(_totals(by_period[key]), period=key) for key in sorted(by_period)]
    return result


def csv_text(result):
    """The statement's transfers, one row each in time order, as a CSV a spreadsheet opens (UTF-8, a header row)."""
    # A stable sort on the time alone: each sub-account's transfers are in the order they were recorded.
    rows = sorted(((name, tx) for name, entry in sorted(result['subaccounts'].items()) for tx in entry['transfers']),
                  key=lambda pair: pair[1].get('created') or '')
    out = io.StringIO()
    writer = csv.writer(out, lineterminator='\r\n')
    writer.writerow(CSV_FIELDS)
    for _name, tx in rows:
        run = tx.get('run') or {}
        writer.writerow([tx.get('created') or '', tx['subaccount'], tx['amount'], tx['kind'], tx['state'], tx.get('transfer_id') or '',
                         tx['id'], tx.get('settled') or '', tx.get('detail') or '', run.get('summary') or ''])
    return out.getvalue()
