# -*- coding: utf-8 -*-
# Copyright: (c) 2026, smsbox.account contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""HTTP client for the SMSBOX Account API.

One pooled keep-alive ``requests`` session per module run. The retry policy is split at the
send boundary: a balance read is retried on faults that may be passing; a create or a transfer
is retried only when the request cannot have reached SMSBOX, because the API has no
idempotency key and a resent transfer pays twice.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import random
import ssl
import time
import traceback

try:
    from urllib.parse import urlsplit
except ImportError:  # pragma: no cover - Python 2 is not supported, this only keeps imports clean
    from urlparse import urlsplit  # type: ignore

REQUESTS_IMPORT_ERROR = None
try:
    import requests
    from requests.adapters import HTTPAdapter
    from urllib3.exceptions import ConnectTimeoutError
except ImportError:
    REQUESTS_IMPORT_ERROR = traceback.format_exc()

try:
    from urllib3.util.ssl_match_hostname import CertificateError as _Urllib3CertificateError
except ImportError:
    _Urllib3CertificateError = ssl.CertificateError
# A failed certificate check ends the TLS handshake, before any byte of the request is sent.
CERTIFICATE_ERRORS = (ssl.CertificateError, _Urllib3CertificateError)

from ansible_collections.smsbox.account.plugins.module_utils._api.answers import read_answer
from ansible_collections.smsbox.account.plugins.module_utils._api.errors import SmsboxError, SmsboxTransportError
from ansible_collections.smsbox.account.plugins.module_utils._inputs import DEFAULT_RETRIES, is_loopback
from ansible_collections.smsbox.account.plugins.module_utils._version import COLLECTION_VERSION
from ansible_collections.smsbox.account.plugins.module_utils._vocabulary import MODULE_VOCABULARY

USER_AGENT = 'smsbox.account/%s (Ansible collection)' % COLLECTION_VERSION
CONNECT_TIMEOUT_CAP = 3.0
ATTEMPTS = 1 + DEFAULT_RETRIES  # the retries option's default
BACKOFF = 0.5
BACKOFF_CAP = 4.0


def _transport_error(exc, api_url, words=MODULE_VOCABULARY):
    """Map a requests exception to an error that knows whether the request may have been sent."""
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        sent = False
    elif isinstance(exc, requests.exceptions.SSLError):
        # Other TLS faults (a bad record, an alert) can come while the answer is read, after sending.
        sent = not isinstance(_root_cause(exc), CERTIFICATE_ERRORS)
    elif isinstance(exc, requests.exceptions.ConnectionError):
        reason = exc.args[0] if exc.args else None
        reason = getattr(reason, 'reason', reason)  # urllib3 wraps the cause in MaxRetryError
        sent = not isinstance(reason, ConnectTimeoutError)  # NewConnectionError and name resolution derive from it
    else:
        sent = True  # read timeout, connection reset after sending, anything unforeseen: assume it arrived
    if isinstance(exc, requests.exceptions.SSLError) and not sent:
        return SmsboxTransportError(_untrusted_certificate(_root_cause(exc), api_url, words), sent=False)
    what = 'the request may have reached SMSBOX but its answer was lost' if sent else 'the request was not sent'
    return SmsboxTransportError('%s (%s): %s' % (what, host_of(api_url), exc.__class__.__name__), sent=sent)


def _untrusted_certificate(cause, api_url, words):
    # ssl's verify_message says why ("self-signed certificate", "Hostname mismatch, ..."); it holds no secret.
    reason = getattr(cause, 'verify_message', None) or getattr(cause, 'reason', None) or cause.__class__.__name__
    return words.say('the request was not sent: the TLS certificate of %s is not trusted (%s). If the server is the right one, set '
                     '{ca_path} to the PEM file of the certificate authority that signed its certificate; {validate_certs}: false is '
                     'for a test server only', host_of(api_url), str(reason)[:200])


def _root_cause(exc):
    """requests wraps urllib3's MaxRetryError, whose ``reason`` wraps the ssl error."""
    for _depth in range(5):
        cause = getattr(exc, 'reason', None)  # ssl errors have a string reason: not followed
        if not isinstance(cause, BaseException):
            cause = exc.args[0] if exc.args else None
        if not isinstance(cause, BaseException):
            break
        exc = cause
    return exc


def host_of(url):
    return urlsplit(url).netloc


class SmsboxClient:
    """The three Account API operations over one keep-alive session."""

    def __init__(self, api_url, api_key, timeout=10, validate_certs=True, ca_path=None, pool_size=1,
                 attempts=ATTEMPTS, backoff=BACKOFF, sleep=time.sleep, session=None, words=MODULE_VOCABULARY):
        self.api_url = api_url
        self.words = words  # the caller's option names, for the advice in its messages
        self._api_key = api_key
        self.timeout = (min(CONNECT_TIMEOUT_CAP, timeout), timeout)
        self.attempts = max(1, attempts)
        self.backoff = backoff
        self._sleep = sleep
        self.session = session or requests.Session()
        if session is None:
            adapter = HTTPAdapter(pool_connections=1, pool_maxsize=max(1, pool_size), max_retries=0)
            self.session.mount('https://', adapter)
            self.session.mount('http://', adapter)
        if session is None and is_loopback(urlsplit(api_url).hostname or ''):
            self.session.trust_env = False  # an HTTP(S)_PROXY from the environment must not carry loopback traffic
        # Passed with each request: a session-level value loses to REQUESTS_CA_BUNDLE in requests.
        self.verify = ca_path if (validate_certs and ca_path) else bool(validate_certs)
        self.session.headers.update({
            'Authorization': 'App %s' % api_key,
            'User-Agent': USER_AGENT,
            'Accept': 'text/plain',
        })

    def close(self):
        self.session.close()

    def balance(self):
        """The main account's balance: int, or float when fractional."""
        return self._call('GET', 'credit', None, 'CREDIT', retry_read=True)

    def transfer(self, to, amount):
        """Move ``amount`` credits (negative takes back) between the main account and ``to``."""
        return self._call('POST', 'credit', {'to': to, 'credit': str(int(amount))}, 'OK')

    def create(self, name, password, nolimit=False):
        data = {'do': 'add', 'pseudo': name, 'mdp': password, 'nolimit': 'yes' if nolimit else 'no'}
        return self._call('POST', 'utilisateur', data, 'OK', secrets=(password,))

    def _call(self, method, action, data, expected, retry_read=False, secrets=()):
        secrets = (self._api_key,) + tuple(secrets)
        attempt = 0
        while True:
            attempt += 1
            try:
                return self._send(method, action, data, expected, secrets)
            except SmsboxError as error:
                # A write is resent only when it cannot have arrived; a read whenever the fault may pass.
                retryable = error.read_retryable if retry_read else getattr(error, 'sent', True) is False
                if not retryable or attempt >= self.attempts:
                    raise
            self._sleep(min(BACKOFF_CAP, self.backoff * 2 ** (attempt - 1)) * random.uniform(0.5, 1.0))

    def _send(self, method, action, data, expected, secrets):
        try:
            response = self.session.request(method, self.api_url, params={'action': action}, data=data,
                                            timeout=self.timeout, verify=self.verify, allow_redirects=False)
        except requests.exceptions.RequestException as exc:
            raise _transport_error(exc, self.api_url, self.words)
        body = response.content.decode('utf-8', 'replace')  # SMSBOX sends ASCII; never let requests guess
        return read_answer(body, expected, status=response.status_code,
                           content_type=response.headers.get('Content-Type'), secrets=secrets)
