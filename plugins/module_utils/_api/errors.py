# -*- coding: utf-8 -*-
# Copyright: (c) 2026, smsbox.account contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Typed errors for SMSBOX answers and transport faults.

Each error says what a write that met it became, so the modules record money movements the
same way whatever failed: ``rejected`` when SMSBOX certainly did nothing, ``unknown`` when the
request may have been applied and must not be sent again blindly.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

APPLIED = 'applied'
REJECTED = 'rejected'
UNKNOWN = 'unknown'

# From the SMS API reference; the Account API shares the family's error codes.
API_ERROR_MEANINGS = {
    '01': 'missing or invalid parameters',
    '02': 'invalid credentials: the API key is wrong or suspended, or this machine\'s source IP is not allowed',
    '03': 'insufficient balance',
    '04': 'bad destination',
    '05': 'internal error at SMSBOX',
}


class SmsboxError(Exception):
    """Base class. ``str(error)`` is safe to show: it never holds the API key or a password."""

    #: what a create or a transfer that ended with this error became
    write_outcome = UNKNOWN
    #: whether a read (balance) may be sent again
    read_retryable = False


class SmsboxTransportError(SmsboxError):
    """No HTTP answer. ``sent`` tells whether the request may have reached SMSBOX."""

    def __init__(self, message, sent):
        super(SmsboxTransportError, self).__init__(message)
        self.sent = sent
        self.read_retryable = True
        self.write_outcome = UNKNOWN if sent else REJECTED


class SmsboxAnswerError(SmsboxError):
    """An answer that is not the SMSBOX protocol: HTML from a proxy, an empty body, an HTTP error."""

    def __init__(self, message, status=None):
        super(SmsboxAnswerError, self).__init__(message)
        self.status = status
        self.read_retryable = status is not None and status >= 500


class SmsboxApiError(SmsboxError):
    """``ERROR 0x`` (or a bare ``ERROR``) from the API."""

    def __init__(self, message, code=None):
        super(SmsboxApiError, self).__init__(message)
        self.code = code
        # ERROR 05 is documented as retryable; what a write that met it did is not documented.
        self.read_retryable = code == '05'
        self.write_outcome = UNKNOWN if code in ('05', None) else REJECTED


class SmsboxAuthError(SmsboxApiError):
    """The key or the source IP was refused."""

    write_outcome = REJECTED


class SmsboxRefused(SmsboxError):
    """``ERREUR``: SMSBOX refused the operation and applied nothing."""

    write_outcome = REJECTED


class ModuleFailure(Exception):
    """A failed run: ``str()`` is its message (safe to show), ``result`` what the run returns with it so far.

    The converge code raises it; the module base turns it into ``fail_json`` in one place.
    """

    def __init__(self, message, **result):
        super(ModuleFailure, self).__init__(message)
        self.result = result
