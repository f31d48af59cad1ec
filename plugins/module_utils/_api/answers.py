# -*- coding: utf-8 -*-
# Copyright: (c) 2026, smsbox.account contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Strict reading of SMSBOX answer bodies.

The API always answers HTTP 200 with a short text; anything that is not exactly one of the
documented answers is an error that quotes the start of the body, so a proxy page or a PHP
warning is never mistaken for success.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import re

from ansible_collections.smsbox.account.plugins.module_utils._api.errors import (
    API_ERROR_MEANINGS,
    SmsboxAnswerError,
    SmsboxApiError,
    SmsboxAuthError,
    SmsboxRefused,
)
from ansible_collections.smsbox.account.plugins.module_utils._secrets import mask

OK = 'OK'
ERREUR = 'ERREUR'
_CREDIT = re.compile(r'^CREDIT\s+(-?[0-9]+)(?:[.,]([0-9]+))?$')
_ERROR = re.compile(r'^ERROR(?:\s+([0-9]{2}))?$')
QUOTE_LENGTH = 60
MAX_MASKED = 64 * 1024  # SMSBOX answers are a few bytes; a proxy page longer than this is quoted from its start only


def quote_body(body, secrets=()):
    """The first bytes of a body, printable, with every secret masked in every form a proxy could echo it.

    Masked before it is cut, so a secret that straddles the cut cannot show in part.
    """
    text = mask(body[:MAX_MASKED], secrets)
    suffix = '...' if len(text) > QUOTE_LENGTH or len(body) > MAX_MASKED else ''
    text = text[:QUOTE_LENGTH]
    return repr(text + suffix) if text else 'an empty body'


def parse_balance(value):
    """``22`` -> 22, ``22.5`` and ``22,5`` -> 22.5 (some SMS cost a fraction of a credit)."""
    match = _CREDIT.match(value)
    if match is None:
        return None
    whole, fraction = match.groups()
    if fraction is None or not fraction.strip('0'):
        return int(whole)
    return float(whole + '.' + fraction)


def read_answer(body, expected, status=200, content_type=None, secrets=()):
    """Return the answer for ``expected`` (``'OK'`` or ``'CREDIT'``) or raise a typed error.

    ``OK`` returns True; ``CREDIT n`` returns the balance as int, or float when fractional.
    """
    if status != 200:
        raise SmsboxAnswerError(
            'SMSBOX answered HTTP %s (it always answers 200 itself, so a proxy or load balancer is in the way); body starts with %s'
            % (status, quote_body(body, secrets)), status=status)
    if content_type and 'html' in content_type.lower():
        raise SmsboxAnswerError('SMSBOX answered an HTML page instead of its text protocol; body starts with %s'
                                % quote_body(body, secrets))
    text = body.strip()
    if text == ERREUR:
        raise SmsboxRefused('SMSBOX answered ERREUR')
    error = _ERROR.match(text)
    if error:
        code = error.group(1)
        meaning = API_ERROR_MEANINGS.get(code, 'unspecified error')
        label = 'ERROR %s' % code if code else 'ERROR'
        error_class = SmsboxAuthError if code == '02' else SmsboxApiError
        raise error_class('SMSBOX answered %s: %s' % (label, meaning), code=code)
    if expected == 'CREDIT':
        balance = parse_balance(text)
        if balance is not None:
            return balance
    elif text == expected:
        return True
    raise SmsboxAnswerError('SMSBOX answered something that is not %s: %s'
                            % ('a balance (CREDIT n)' if expected == 'CREDIT' else expected, quote_body(body, secrets)))
