# -*- coding: utf-8 -*-
# Copyright: (c) 2026, smsbox.account contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Input checks made before any request, each naming the item and the reason.

The API documents lengths but not characters, and reads parameters as ISO-8859-1; names are
therefore limited to a conservative ASCII set, and passwords to printable ASCII. Messages
never quote a password.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import re

MAX_SUBACCOUNTS = 500
MAX_NAME = 50
MAX_PASSWORD = 50
NAME_CHARACTERS = re.compile(r'^[A-Za-z0-9._@-]+\Z')  # \Z: '$' would let a final newline through
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
        value = int(value)
    elif isinstance(value, str):
        if not re.match(r'^\s*[+-]?\d+\s*$', value):
            raise InputError('%s: %s must be an integer, got %r' % (where, what, value))
        value = int(value)
    elif not isinstance(value, int):
        raise InputError('%s: %s must be an integer, got a %s' % (where, what, type(value).__name__))
    if value == 0 and not allow_zero:
        raise InputError('%s: %s is 0; a transfer of 0 credits does nothing (leave the item out)' % (where, what))
    if value < 0 and not allow_negative:
        raise InputError('%s: %s is %d; it must be 0 or more' % (where, what, value))
    return value


def check_unique(names, form):
    seen = {}
    for index, name in enumerate(names):
        if name in seen:
            raise InputError('%s[%d] %r: the same name is already %s[%d]; list each sub-account once'
                             % (form, index, name, form, seen[name]))
        seen[name] = index


def check_bulk_size(items, form):
    if len(items) > MAX_SUBACCOUNTS:
        raise InputError('%s has %d items; a main account holds at most %d sub-accounts' % (form, len(items), MAX_SUBACCOUNTS))
