# -*- coding: utf-8 -*-
# Copyright: (c) 2026, smsbox.account contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Input checks made before any request, each naming the item and the reason.

The API documents lengths but not characters, and reads parameters as ISO-8859-1; names are
therefore limited to a conservative ASCII set, and passwords to printable ASCII. Messages
never quote a password or a key (_secrets.py masks what could hold one).
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import datetime
import ipaddress
import os
import re

try:
    from urllib.parse import urlsplit
except ImportError:  # pragma: no cover - Python 2 is not supported, this only keeps imports clean
    from urlparse import urlsplit  # type: ignore

from ansible_collections.smsbox.account.plugins.module_utils._ledger.location import check_location

DEFAULT_API_URL = 'https://api.smsbox.pro/1.1/api.php'
MAX_SUBACCOUNTS = 500
MAX_NAME = 50
MAX_PASSWORD = 50
MAX_CONCURRENCY = 16
DEFAULT_RETRIES = 2
MAX_RETRIES = 10
MAX_LOCK_TIMEOUT = 86400
MAX_LEDGER_CONNECTIONS = MAX_CONCURRENCY + 1
# No SMSBOX account holds a billion credits; a larger number is a typo or a unit mistake.
MAX_CREDITS = 10 ** 9
NAME_CHARACTERS = re.compile(r'^[A-Za-z0-9._@-]+\Z')  # \Z: '$' would let a final newline through
TRANSFER_ID = re.compile(r'^tx-[0-9a-f]{12}\Z')  # the ids the ledger gives transfers
NAME_HINT = "letters A-Z a-z, digits, '.', '_', '-' and '@'"


class InputError(Exception):
    """A refused input; the message names the item."""


def label(form, index, name):
    """How an item is named in messages: ``subaccounts[2] 'shop-lyon'`` in bulk, ``'shop-lyon'`` alone."""
    shown = repr(name) if isinstance(name, str) and name else '(no name)'
    return '%s[%d] %s' % (form, index, shown) if form else shown


def check_name(name, where, what='name'):
    if not isinstance(name, str) or not name.strip():
        raise InputError('%s: %s is empty' % (where, what))
    if len(name) > MAX_NAME:
        raise InputError('%s: %s is %d characters long; SMSBOX accepts at most %d' % (where, what, len(name), MAX_NAME))
    if not NAME_CHARACTERS.match(name):
        bad = sorted(set(char for char in name if not NAME_CHARACTERS.match(char)))
        raise InputError('%s: %s contains %s; use only %s (the API does not document other characters and reads ISO-8859-1)'
                         % (where, what, ', '.join(repr(char) for char in bad), NAME_HINT))
    return name


def check_password(password, where):
    if password is None:
        return None
    if not password:
        raise InputError('%s: password is empty' % where)
    if len(password) > MAX_PASSWORD:
        raise InputError('%s: password is %d characters long; SMSBOX accepts at most %d' % (where, len(password), MAX_PASSWORD))
    if any(not (' ' <= char <= '~') for char in password):
        raise InputError('%s: password contains a character outside printable ASCII (accented letters and control characters '
                         'are not safe through this ISO-8859-1 API)' % where)
    if password != password.strip():
        raise InputError('%s: password starts or ends with a space, which SMSBOX may trim' % where)
    return password


def check_count(value, where, what, allow_zero, allow_negative):
    """An integer credit count: 10 or '10'; never 10.5, '1e3', true or 0 where zero makes no sense."""
    if isinstance(value, bool) or value is None:
        raise InputError('%s: %s must be an integer, got %r' % (where, what, value))
    if isinstance(value, float):
        if not value.is_integer():
            raise InputError('%s: %s must be a whole number of credits, got %r' % (where, what, value))
        if abs(value) > MAX_CREDITS:
            raise InputError('%s: %s is %r; at most %d credits can be moved or allocated at once' % (where, what, value, MAX_CREDITS))
        value = int(value)
    elif isinstance(value, str):
        if not re.match(r'^\s*[+-]?\d+\s*$', value):
            raise InputError('%s: %s must be an integer, got %r' % (where, what, value))
        if len(value.strip().lstrip('+-').lstrip('0')) > len(str(MAX_CREDITS)):
            # Also keeps int() from refusing (with a traceback) a string of more than 4300 digits.
            raise InputError('%s: %s is %s; at most %d credits can be moved or allocated at once'
                             % (where, what, _shown_count(value.strip()), MAX_CREDITS))
        value = int(value)
    elif not isinstance(value, int):
        raise InputError('%s: %s must be an integer, got a %s' % (where, what, type(value).__name__))
    if abs(value) > MAX_CREDITS:
        raise InputError('%s: %s is %s; at most %d credits can be moved or allocated at once' % (where, what, _shown_count(value), MAX_CREDITS))
    if value == 0 and not allow_zero:
        raise InputError('%s: %s is 0; a transfer of 0 credits does nothing (leave the item out)' % (where, what))
    if value < 0 and not allow_negative:
        raise InputError('%s: %s is %d; it must be 0 or more' % (where, what, value))
    return value


def _shown_count(value):
    """A huge count as messages show it: whole up to 30 digits, then its start (str() of a 5000-digit int raises)."""
    if isinstance(value, int):
        if value.bit_length() > 99:
            return 'a number of more than 30 digits'
        value = str(value)
    return value if len(value) <= 30 else '%s... (%d characters)' % (value[:20], len(value))


def check_unique(names, form):
    seen = {}
    for index, name in enumerate(names):
        if name in seen:
            raise InputError('%s[%d] %r: the same name is already %s[%d]; list each sub-account once'
                             % (form, index, name, form, seen[name]))
        seen[name] = index


def over_the_cap(count, held=0):
    """Whether ``count`` more sub-accounts, with the ``held`` ones a main account has, pass the SMSBOX limit: the one home of
    the 500 cap, which the bulk lists, the role's plan and the create stage (with what the ledger knows) check."""
    return held + count > MAX_SUBACCOUNTS


def check_bulk_size(items, form):
    if over_the_cap(len(items)):
        raise InputError('%s has %d items; a main account holds at most %d sub-accounts' % (form, len(items), MAX_SUBACCOUNTS))


# -- the items of the write modules, single or bulk form --

SUBACCOUNT_ITEM = ('name', 'password', 'nolimit', 'adopt', 'baseline', 'state', 'acknowledge')
SUBACCOUNT_STATES = ('present', 'retired')
CREDIT_ITEM = ('subaccount', 'allocated', 'amount', 'transfer_id', 'resolve', 'period')
PERIOD_NAME = re.compile(r'^(\d{4})-(?:(0[1-9]|1[0-2])|W(0[1-9]|[1-4]\d|5[0-3]))\Z')  # 2026-12, 2026-W50
RESOLVE_EXAMPLE = '{"tx-4be1c2a09d3f": applied}'


def raw_items(params, bulk, keys):
    """(form, items): the list under ``bulk``, or one item made of the single form's options (form None)."""
    if params.get(bulk) is not None:
        check_bulk_size(params[bulk], bulk)
        return bulk, params[bulk]
    return None, [dict((key, params.get(key)) for key in keys)]


def read_subaccount_items(params):
    """smsbox_subaccount's items, each checked and named; task-level nolimit and adopt fill the bulk items."""
    form, raw = raw_items(params, 'subaccounts', SUBACCOUNT_ITEM)
    items = []
    for index, item in enumerate(raw):
        where = label(form, index, item.get('name'))
        items.append(dict(
            where=where,
            subaccount=check_name(item.get('name'), where),
            password=check_password(item.get('password'), where),
            nolimit=params['nolimit'] if item.get('nolimit') is None else item['nolimit'],
            adopt=params['adopt'] if item.get('adopt') is None else item['adopt'],
            baseline=None if item.get('baseline') is None else check_count(item['baseline'], where, 'baseline', True, False),
            state=check_state(params['state'] if item.get('state') is None else item['state'], where),
            acknowledge=bool(params.get('acknowledge') if item.get('acknowledge') is None else item['acknowledge']),
        ))
    check_unique([item['subaccount'] for item in items], form or 'name')
    return form, items


def check_state(state, where):
    if state not in SUBACCOUNT_STATES:
        raise InputError('%s: state is %r; it must be present (the sub-account exists and is managed) or retired (its credits '
                         'are taken back once and it is left alone; the API cannot delete it)' % (where, str(state)[:30]))
    return state


def read_credit_items(params):
    """smsbox_credit's items, each checked and named; a transfer_id names one transfer only."""
    form, raw = raw_items(params, 'allocations', CREDIT_ITEM)
    items = []
    keyed = {}
    for index, item in enumerate(raw):
        where = label(form, index, item.get('subaccount'))
        name = check_name(item.get('subaccount'), where, 'subaccount')
        if item.get('allocated') is not None and item.get('amount') is not None:
            raise InputError('%s: give allocated (a total) or amount (one transfer), not both' % where)
        if item.get('allocated') is None and item.get('amount') is None and not item.get('resolve'):
            raise InputError('%s: give allocated, amount or resolve' % where)
        transfer_id = item.get('transfer_id')
        period = read_period(item.get('period'), where)
        if period is not None:
            if item.get('allocated') is not None or item.get('amount') is None:
                raise InputError('%s: period pays amount once per period (an allowance); it needs amount, and not allocated' % where)
            # Its idempotency key: one allowance per sub-account and period, whatever the number of runs or controllers.
            transfer_id = transfer_id or 'allowance-%s-%s' % (period, name)
        if transfer_id is not None and item.get('amount') is None:
            raise InputError('%s: transfer_id is the idempotency key of an amount; it needs amount' % where)
        if transfer_id is not None and not transfer_id.strip():
            raise InputError('%s: transfer_id is empty' % where)
        if transfer_id is not None and transfer_id in keyed:
            raise InputError('%s: transfer_id %r is already the key of %s; give each transfer its own transfer_id'
                             % (where, transfer_id, keyed[transfer_id]))
        keyed[transfer_id] = where
        items.append(dict(
            where=where,
            subaccount=name,
            allocated=None if item.get('allocated') is None else check_count(item['allocated'], where, 'allocated', True, False),
            amount=None if item.get('amount') is None else check_count(item['amount'], where, 'amount', False, True),
            transfer_id=transfer_id,
            resolve=read_resolve(item.get('resolve'), where),
            period=period,
        ))
        if period is not None and items[-1]['amount'] <= 0:
            raise InputError('%s: an allowance (period) gives credits: amount must be more than 0, got %d' % (where, items[-1]['amount']))
    check_unique([item['subaccount'] for item in items], form or 'subaccount')
    return form, items


def read_period(value, where, today=None):
    """The period an allowance is for: ``month`` or ``week`` (the current one, UTC), or one named (``2026-12``,
    ``2026-W50``, to pay a period that was missed); None when not given."""
    if value is None:
        return None
    today = today or datetime.datetime.now(datetime.timezone.utc).date()
    if value == 'month':
        return today.strftime('%Y-%m')
    if value == 'week':
        year, week, _day = today.isocalendar()
        return '%d-W%02d' % (year, week)
    if isinstance(value, str) and PERIOD_NAME.match(value):
        return value
    raise InputError('%s: period must be month, week (the current one) or a period such as 2026-12 or 2026-W50, got %r'
                     % (where, str(value)[:30]))


def read_resolve(value, where):
    """``{transfer id: applied|rejected}``: a settlement names what the operator checked, so it never applies to a later one."""
    if value is None or value == {}:
        return None
    if isinstance(value, str) and value in ('applied', 'rejected'):
        raise InputError('%s: resolve must name the transfers you checked, with what you found, e.g. resolve: %s; a bare '
                         'resolve: %s kept in a playbook would also settle a transfer that becomes unknown later, unchecked. '
                         'The ids are in the message that reported each transfer as unknown, and in smsbox_balance_info\'s '
                         'ledger.unsettled' % (where, RESOLVE_EXAMPLE, value))
    if isinstance(value, str):
        value = _resolve_pairs(value, where)
    if not isinstance(value, dict):
        raise InputError('%s: resolve must be a mapping of transfer ids to applied or rejected, e.g. %s' % (where, RESOLVE_EXAMPLE))
    for txid, outcome in value.items():
        if not isinstance(txid, str) or not TRANSFER_ID.match(txid):
            raise InputError('%s: resolve names %r, which is not a transfer id (tx- and 12 hex digits, as in the message that '
                             'reported it)' % (where, str(txid)[:40]))
        if outcome not in ('applied', 'rejected'):
            raise InputError('%s: resolve says %r for %s; say applied (the credits arrived) or rejected (they did not)'
                             % (where, str(outcome)[:20], txid))
    return dict(value)


def _resolve_pairs(text, where):
    """The ad hoc form of resolve, ``-a 'resolve=tx-4be1c2a09d3f=applied'`` (several separated by commas; ``:`` works as ``=``)."""
    pairs = {}
    for part in (piece.strip() for piece in text.split(',')):
        txid, sep, outcome = part.replace(':', '=', 1).partition('=')
        if not sep:
            raise InputError('%s: resolve %r names no outcome; write each transfer as tx-<id>=applied or tx-<id>=rejected, '
                             'e.g. -a "subaccount=<name> resolve=tx-4be1c2a09d3f=applied" ad hoc, or resolve: %s in a task'
                             % (where, part[:40], RESOLVE_EXAMPLE))
        pairs[txid.strip()] = outcome.strip()
    return pairs


# -- connection options --

def is_loopback(host):
    if host == 'localhost':
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _shown_url(parts):
    """A URL as messages may show it: without user-info, query or fragment, which could hold a key."""
    return '%s://%s%s' % (parts.scheme, parts.hostname or '', parts.path) if parts.scheme else '(not a URL)'


def check_api_url(url, what='api_url', key_option='api_key'):
    """Return an error sentence for an API URL we refuse, or None. ``what`` names the option as the caller wrote it."""
    if not isinstance(url, str) or not url.strip():
        return '%s is empty; leave it unset for %s' % (what, DEFAULT_API_URL)
    try:
        parts = urlsplit(url)
        parts.port  # pylint: disable=pointless-statement  # raises on a port that is not a number
    except ValueError:
        return '%s is not a valid URL; use an https:// URL such as %s' % (what, DEFAULT_API_URL)
    if parts.scheme not in ('https', 'http') or not parts.hostname:
        return '%s must be an https:// URL such as %s, got %s' % (what, DEFAULT_API_URL, _shown_url(parts))
    if parts.username or parts.password or '@' in parts.netloc:
        return '%s must not carry credentials (user-info before the host); the API key goes in %s' % (what, key_option)
    if parts.query or parts.fragment or url.rstrip().endswith(('?', '#')):
        return ('%s %s must not have a query string or a fragment: the collection adds the action itself, and a key '
                'in a URL ends up in logs; the API key goes in %s' % (what, _shown_url(parts), key_option))
    if parts.scheme == 'http' and not is_loopback(parts.hostname):
        return ('%s uses plain http:// to %s; SMSBOX only serves HTTPS and the API key would travel in clear. '
                'Plain http:// is accepted only for a loopback address (a local emulator)' % (what, parts.hostname))
    return None


def check_api_key(key, what='api_key'):
    if key is None:
        return ('no API key: set the %s option (from Ansible Vault) or the SMSBOX_API_KEY environment variable '
                'of the process that runs the module' % what)
    if not isinstance(key, str) or not key.strip():
        return '%s is empty; set it, or leave it unset and set the SMSBOX_API_KEY environment variable' % what
    if any(ord(char) < 32 or ord(char) == 127 for char in key):
        return '%s contains a control character (a pasted newline?); it cannot be sent in an HTTP header' % what
    if any(char.isspace() for char in key):
        return '%s contains a space; an SMSBOX key has none (a pasted label or a split line?)' % what
    if any(ord(char) > 255 for char in key):
        return '%s contains a character outside ISO-8859-1; it cannot be sent in an HTTP header' % what
    return None


def check_timeout(timeout, what='timeout'):
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not 0 < timeout < float('inf'):
        return '%s must be a positive number of seconds, got %s' % (what, timeout)
    return None


def check_retries(value, what='retries'):
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_RETRIES:
        return '%s must be a whole number from 0 to %d (tries after the first), got %s' % (what, MAX_RETRIES, value)
    return None


def check_lock_timeout(value, what='lock_timeout'):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= MAX_LOCK_TIMEOUT:
        return '%s must be a number of seconds from 0 (do not wait) to %d, got %s' % (what, MAX_LOCK_TIMEOUT, value)
    return None


def check_ledger_connections(value, what='ledger_connections'):
    if isinstance(value, bool) or not isinstance(value, int) or not 2 <= value <= MAX_LEDGER_CONNECTIONS:
        return ('%s must be between 2 (one connection holds the lock, one records) and %d, got %s'
                % (what, MAX_LEDGER_CONNECTIONS, value))
    return None


def check_concurrency(value, what='concurrency'):
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_CONCURRENCY:
        return '%s must be between 1 and %d, got %s' % (what, MAX_CONCURRENCY, value)
    return None


def check_ca_path(ca_path, what='ca_path'):
    """Checked whatever the URL: a wrong ca_path is a mistake even where it is not used yet."""
    if ca_path is None:
        return None
    if not os.path.exists(ca_path):
        return ('%s %s does not exist; give the PEM file (or c_rehash directory) of the certificate authorities that '
                'signed the API server\'s certificate, or leave it unset to trust the system ones' % (what, ca_path))
    if not os.access(ca_path, os.R_OK):
        return '%s %s is not readable by this user; check its permissions' % (what, ca_path)
    return None


# The connection options, checked in this order by every run (Run.check) and by the role's plan for each main account
# before any of them sends anything: the first problem is the one reported. Each check is given the name the caller's
# user writes for its option, then for the options its message points to.
CONNECTION_CHECKS = (
    ('api_key', check_api_key, ()),
    ('api_url', check_api_url, ('api_key',)),
    ('timeout', check_timeout, ()),
    ('retries', check_retries, ()),
    ('ca_path', check_ca_path, ()),
    ('ledger', check_location, ()),
    ('concurrency', check_concurrency, ()),
    ('lock_timeout', check_lock_timeout, ()),
    ('ledger_connections', check_ledger_connections, ()),
)


def connection_problem(values, names=None):
    """The first problem of the connection options in ``values`` (option -> value; an option left out is not checked), as a
    sentence, or None. ``names`` maps an option to what the caller calls it (the role: its variables); by default, its own."""
    names = names or {}
    for option, check, pointed_to in CONNECTION_CHECKS:
        if option in values:
            problem = check(values[option], *[names.get(name, name) for name in (option,) + pointed_to])
            if problem:
                return problem
    return None
