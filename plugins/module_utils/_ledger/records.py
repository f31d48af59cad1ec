# -*- coding: utf-8 -*-
# Copyright: (c) 2026, smsbox.account contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The records a ledger holds, whatever stores them: their constants, checks, upgrades and fingerprints.

Every store reads its records through ``checked_subaccount`` and ``checked_transfer``, so a record
means the same in a JSON file and in a PostgreSQL row. The formats are in docs/ledger-format.md.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import datetime
import hashlib
import hmac

# Format 2 adds the sub-account's "baseline". A format-1 record reads as: created -> 0, adopted -> unknown (None).
# Format 3 adds the transfer's "kind" (a format-2 transfer with a transfer_id was a one-off top-up, "amount"; one
# without, "allocated"), the "run" that made a record (None before format 3), the sub-account state "retired", and
# the account's "moved_to" (the key fingerprint its records were copied to after a key rotation).
FORMAT_VERSION = 3
KIND = 'smsbox.account ledger'
TRANSFER_STATES = ('pending', 'applied', 'rejected', 'unknown')
SUBACCOUNT_ORIGINS = ('created', 'adopted')
SUBACCOUNT_STATES = ('present', 'unknown', 'retired')
# What made a transfer: "allocated" counts toward the declared allocation that allocated compares with; "amount" is
# a one-off transfer (a top-up, an invoice) on top of it, never reversed by a later allocated; "retire" takes back
# what a retired sub-account received; "period" is a per-period allowance (the role's credit_per_period).
TRANSFER_KINDS = ('allocated', 'amount', 'retire', 'period')

# pending -> anything but pending; unknown -> applied|rejected only (an operator's resolve).
ALLOWED_SETTLES = {
    'pending': ('applied', 'rejected', 'unknown'),
    'unknown': ('applied', 'rejected'),
}

INTERRUPTED_DETAIL = 'interrupted before its answer was recorded'
MAX_DETAIL = 500
MAX_FINGERPRINT_HISTORY = 20

SUBACCOUNT_FIELDS = ('name', 'origin', 'state', 'nolimit', 'password_fp', 'baseline', 'recorded', 'run')
TRANSFER_FIELDS = ('id', 'subaccount', 'amount', 'transfer_id', 'state', 'created', 'settled', 'detail', 'kind', 'run')


class LedgerError(Exception):
    """Corrupt ledger, newer format, lock timeout, bad location, lost database. str(e) is a full sentence naming the ledger and what to do."""


class LockLostError(LedgerError):
    """This run no longer holds the lock of its main account: nothing new may be recorded, nor sent to SMSBOX."""


class NoSuchRecord(LedgerError):
    """A settlement found no record to settle: the transfer never reached the store."""


class LedgerDependencyError(LedgerError):
    """A Python library the chosen store needs is missing; ``library`` names it for missing_required_lib()."""

    def __init__(self, message, library, traceback=None):
        super(LedgerDependencyError, self).__init__(message)
        self.library = library
        self.traceback = traceback


class RecordError(ValueError):
    """A record that is not what a ledger holds; str(e) says why, the store says where."""


def key_fingerprint(api_key):
    """First 12 hex chars of sha256 over a prefixed key: names the key without revealing it."""
    if isinstance(api_key, bytes):
        api_key = api_key.decode('utf-8')
    return hashlib.sha256(b'smsbox.account:' + api_key.encode('utf-8')).hexdigest()[:12]


def password_fingerprint(api_key, password):
    """HMAC-SHA256 of the password keyed with the API key, first 16 hex chars.

    Without the key (not in the ledger) it cannot be brute-forced from the ledger alone.
    """
    if isinstance(api_key, bytes):
        api_key = api_key.decode('utf-8')
    if isinstance(password, bytes):
        password = password.decode('utf-8')
    return hmac.new(api_key.encode('utf-8'), password.encode('utf-8'), hashlib.sha256).hexdigest()[:16]


def now():
    return datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ')


def is_count(value):
    return isinstance(value, int) and not isinstance(value, bool)


def default_kind(transfer_id):
    """The kind of a transfer recorded before format 3: one with an idempotency key was a one-off (an invoice's top-up)."""
    return 'amount' if transfer_id is not None else 'allocated'


def checked_run(value):
    """The run that made a record: a JSON object of strings (job, CI run, controller, playbook, label), or None."""
    if value is None:
        return None
    if not isinstance(value, dict) or not all(isinstance(key, str) for key in value):
        raise RecordError('has a "run" that is not an object or null')
    return dict(value)


def default_baseline(origin):
    """What a sub-account had received before the ledger knew it: none when we created it, unknown when adopted."""
    return 0 if origin == 'created' else None


def checked_subaccount(record, name=None):
    """The sub-account record in its current form; a record without "baseline" (format 1) gets the one its origin implies."""
    if not isinstance(record, dict) or not isinstance(record.get('name', name), str) or (name is not None and record.get('name', name) != name):
        raise RecordError('is not a sub-account record')
    if record.get('origin') not in SUBACCOUNT_ORIGINS or record.get('state') not in SUBACCOUNT_STATES:
        raise RecordError('has an unknown origin or state')
    nolimit = record.get('nolimit')
    if nolimit is not None and not isinstance(nolimit, bool):
        raise RecordError('has a "nolimit" that is not true, false or null')
    if 'baseline' in record:
        baseline = record['baseline']
        if baseline is not None and (not is_count(baseline) or baseline < 0):
            raise RecordError('has a "baseline" that is not a count of credits (an integer, 0 or more) or null')
    else:
        baseline = default_baseline(record['origin'])
    password_fp = record.get('password_fp')
    if password_fp is not None and not isinstance(password_fp, str):
        raise RecordError('has a "password_fp" that is not a string or null')
    return dict(name=record.get('name', name), origin=record['origin'], state=record['state'], nolimit=nolimit,
                password_fp=password_fp, baseline=baseline, recorded=record.get('recorded'), run=checked_run(record.get('run')))


def checked_transfer(record):
    if not isinstance(record, dict) or not isinstance(record.get('id'), str) or not isinstance(record.get('subaccount'), str):
        raise RecordError('is not a transfer record')
    amount = record.get('amount')
    if not is_count(amount):
        raise RecordError('has an amount that is not an integer')
    if record.get('state') not in TRANSFER_STATES:
        raise RecordError('has an unknown state')
    transfer_id = record.get('transfer_id')
    if transfer_id is not None and not isinstance(transfer_id, str):
        raise RecordError('has a "transfer_id" that is not a string or null')
    kind = record.get('kind') or default_kind(transfer_id)
    if kind not in TRANSFER_KINDS:
        raise RecordError('has an unknown "kind"')
    return dict(id=record['id'], subaccount=record['subaccount'], amount=amount, transfer_id=transfer_id,
                state=record['state'], created=record.get('created'), settled=record.get('settled'), detail=record.get('detail'),
                kind=kind, run=checked_run(record.get('run')))


def checked_fingerprints(value):
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise RecordError('is not a list of strings')
    return list(value)


class Contents:
    """Everything a store holds for one main account, as records in their current form.

    ``subaccounts``: name -> record; ``transfers``: id -> record, in creation order; ``fingerprints``:
    the key fingerprints the account's ledger was used with, oldest first; ``api_url``: informational;
    ``exists``: whether the store holds anything for the account; ``moved_to``: the key fingerprint its
    records were copied to (a rotated key), or None; ``warnings``: what the store noticed while reading (a
    torn journal line), each a sentence.
    """

    def __init__(self, exists=False, fingerprints=None, api_url=None, subaccounts=None, transfers=None, warnings=None, moved_to=None):
        self.exists = exists
        self.fingerprints = list(fingerprints or [])
        self.api_url = api_url
        self.moved_to = moved_to
        self.subaccounts = dict(subaccounts or {})
        self.transfers = dict(transfers or {})
        self.warnings = list(warnings or [])

    @property
    def empty(self):
        return not self.subaccounts and not self.transfers

    def same_records(self, other):
        """Whether ``other`` holds the same sub-accounts and transfers, in the same order (a copy that already happened)."""
        same_order = list(self.transfers) == list(other.transfers)
        return self.subaccounts == other.subaccounts and same_order and self.transfers == other.transfers


def summary(contents):
    """Counts and credit totals of a ledger's records: what a copy must carry over unchanged."""
    by_state = dict((state, 0) for state in TRANSFER_STATES)
    amounts = dict((state, 0) for state in TRANSFER_STATES)
    declared = 0
    for tx in contents.transfers.values():
        by_state[tx['state']] += 1
        amounts[tx['state']] += tx['amount']
        if tx['state'] == 'applied' and tx['kind'] == 'allocated':
            declared += tx['amount']
    baselines = [record['baseline'] for record in contents.subaccounts.values()]
    known = sum(value for value in baselines if value is not None)
    return dict(
        subaccounts=len(contents.subaccounts),
        subaccounts_baseline_unknown=sum(1 for value in baselines if value is None),
        transfers=by_state,
        credits=dict(baseline=known, applied=amounts['applied'], allocated=known + declared, received=known + amounts['applied'],
                     unsettled=amounts['pending'] + amounts['unknown'], rejected=amounts['rejected']),
    )
