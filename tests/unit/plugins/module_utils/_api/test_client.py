# -*- coding: utf-8 -*-
# Copyright: (c) 2026, smsbox.account contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The SMSBOX client against a scripted transport: the exact requests, and the retry split at the send boundary.

A fake ``requests`` adapter is mounted on a real ``requests.Session``: it records every prepared
request and answers from a script (a response, or an exception built the way requests and urllib3
build it). Nothing touches the network and nothing sleeps.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import base64
import ssl
from http.client import RemoteDisconnected

try:
    from urllib.parse import quote, quote_plus, urlsplit
except ImportError:  # pragma: no cover
    from urllib import quote, quote_plus  # type: ignore
    from urlparse import urlsplit  # type: ignore

import pytest
import requests
from requests.adapters import BaseAdapter
from urllib3.exceptions import ConnectTimeoutError, MaxRetryError, NewConnectionError, ProtocolError, ReadTimeoutError
from urllib3.exceptions import SSLError as Urllib3SSLError

from ansible_collections.smsbox.account.plugins.module_utils._api import client as client_module
from ansible_collections.smsbox.account.plugins.module_utils._api.client import SmsboxClient
from ansible_collections.smsbox.account.plugins.module_utils._api.errors import (
    SmsboxAnswerError,
    SmsboxApiError,
    SmsboxAuthError,
    SmsboxError,
    SmsboxRefused,
    SmsboxTransportError,
)
from ansible_collections.smsbox.account.plugins.module_utils._inputs import DEFAULT_API_URL, check_api_key, check_api_url
from ansible_collections.smsbox.account.plugins.module_utils._version import COLLECTION_VERSION

KEY = 'Zk8-q4SECRETKEY-77f1a9'
PASSWORD = 'Pa55-w0rd!SECRET'
TEXT = 'text/plain; charset=UTF-8'
LOCAL_URL = 'http://127.0.0.1:8080/1.1/api.php'
HTML_502 = ('<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1></center>'
            '<hr><center>nginx</center></body></html>')
FORM = 'application/x-www-form-urlencoded'


# --- the scripted transport --------------------------------------------------------------------

class Call:
    """One request as it left the session."""

    def __init__(self, request, timeout, verify):
        self.method = request.method
        self.url = request.url
        self.headers = dict(request.headers)
        body = request.body
        self.body = body.decode('ascii') if isinstance(body, bytes) else body
        self.timeout = timeout
        self.verify = verify

    def __eq__(self, other):
        return vars(self) == vars(other)

    def __repr__(self):
        return 'Call(%r)' % vars(self)


class ScriptedAdapter(BaseAdapter):
    """Records each PreparedRequest and plays the next scripted answer or exception."""

    def __init__(self, script):
        super(ScriptedAdapter, self).__init__()
        self.script = list(script)
        self.calls = []

    def send(self, request, stream=False, timeout=None, verify=True, cert=None, proxies=None):
        self.calls.append(Call(request, timeout, verify))
        assert self.script, 'unexpected request number %d: %s %s' % (len(self.calls), request.method, request.url)
        step = self.script.pop(0)
        if isinstance(step, BaseException):
            raise step
        status, body, content_type = step[:3]
        response = requests.Response()
        response.status_code = status
        response._content = body.encode('utf-8') if isinstance(body, str) else body
        if content_type:
            response.headers['Content-Type'] = content_type
        response.headers.update(step[3] if len(step) > 3 else {})
        response.url = request.url
        response.request = request
        response.reason = 'OK' if status == 200 else 'Error'
        return response

    def close(self):
        pass


def answer(body, status=200, content_type=TEXT):
    return (status, body, content_type)


class Rig:
    """A client on a session whose transport is scripted, with a recording sleep."""

    def __init__(self, script, api_url=DEFAULT_API_URL, key=KEY, **kwargs):
        self.adapter = ScriptedAdapter(script)
        self.session = requests.Session()
        self.session.mount('https://', self.adapter)
        self.session.mount('http://', self.adapter)
        self.sleeps = []
        self.client = SmsboxClient(api_url, key, session=self.session, sleep=self.sleeps.append, **kwargs)

    @property
    def calls(self):
        return self.adapter.calls

    def fails(self, operation, *args, **kwargs):
        """Run an operation that must raise; check the error is safe to show, return it."""
        with pytest.raises(SmsboxError) as caught:
            getattr(self.client, operation)(*args, **kwargs)
        error = caught.value
        assert_safe(error)
        assert not self.adapter.script, 'scripted answers left unused: %r' % self.adapter.script
        return error


def assert_safe(error, secrets=(KEY, PASSWORD)):
    text = '%s %r' % (error, error.args)
    for secret in secrets:
        assert secret not in text
        assert quote_plus(secret) not in text


def assert_backoff(sleeps):
    """Each delay n (1-based) is jittered within [0.5, 1] x 0.5 * 2**(n-1), and at most 4 s."""
    for number, delay in enumerate(sleeps, 1):
        nominal = min(4.0, 0.5 * 2 ** (number - 1))
        assert 0.5 * nominal <= delay <= nominal, (number, delay)
        assert delay <= 4.0


@pytest.fixture(autouse=True)
def no_ca_bundle_from_environment(monkeypatch):
    """The recorded ``verify`` must not depend on the machine the tests run on."""
    monkeypatch.delenv('REQUESTS_CA_BUNDLE', raising=False)
    monkeypatch.delenv('CURL_CA_BUNDLE', raising=False)


# Exceptions as requests 2.x / urllib3 raise them.

def max_retry(reason):
    return MaxRetryError(None, '/1.1/api.php?action=credit', reason)


def connect_timeout():
    return requests.exceptions.ConnectTimeout(
        max_retry(ConnectTimeoutError(None, 'Connection to api.smsbox.pro timed out. (connect timeout=3.0)')))


def refused_connection():
    return requests.exceptions.ConnectionError(
        max_retry(NewConnectionError(None, 'Failed to establish a new connection: [Errno 111] Connection refused')))


def name_not_resolved():
    try:
        from urllib3.exceptions import NameResolutionError
    except ImportError:  # urllib3 1.x
        return refused_connection()
    return requests.exceptions.ConnectionError(max_retry(NameResolutionError('api.smsbox.pro', None, OSError(-2, 'unknown'))))


def read_timeout():
    return requests.exceptions.ReadTimeout(
        ReadTimeoutError(None, DEFAULT_API_URL, 'Read timed out. (read timeout=10)'))


def remote_disconnected():
    return requests.exceptions.ConnectionError(
        ProtocolError('Connection aborted.', RemoteDisconnected('Remote end closed connection without response')))


def connection_reset():
    return requests.exceptions.ConnectionError(
        ProtocolError('Connection aborted.', ConnectionResetError(104, 'Connection reset by peer')))


def certificate_refused():
    cause = ssl.SSLCertVerificationError(1, '[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed')
    return requests.exceptions.SSLError(max_retry(Urllib3SSLError(cause)))


def tls_record_broken():
    cause = ssl.SSLError(1, '[SSL: DECRYPTION_FAILED_OR_BAD_RECORD_MAC] decryption failed or bad record mac')
    return requests.exceptions.SSLError(max_retry(Urllib3SSLError(cause)))


def fault_naming_the_key():
    """A transport fault whose own message holds the key (as a header dump would)."""
    return requests.exceptions.ConnectionError(
        ProtocolError('Connection aborted.', RemoteDisconnected('Authorization: App %s' % KEY)))


PRE_SEND = [connect_timeout, refused_connection, name_not_resolved, certificate_refused]
POST_SEND = [read_timeout, remote_disconnected, connection_reset, tls_record_broken, fault_naming_the_key]


def balance_call(api_url=DEFAULT_API_URL, timeout=(3.0, 10), verify=True):
    return {'method': 'GET', 'url': api_url + '?action=credit', 'body': None, 'timeout': timeout, 'verify': verify}


def summary(call):
    return {'method': call.method, 'url': call.url, 'body': call.body, 'timeout': call.timeout, 'verify': call.verify}


TRANSFER = {'method': 'POST', 'url': DEFAULT_API_URL + '?action=credit', 'body': 'to=shop-lyon&credit=5',
            'timeout': (3.0, 10), 'verify': True}
CREATE_BODY = 'do=add&pseudo=shop-lyon&mdp=%s&nolimit=no' % quote_plus(PASSWORD)
CREATE = {'method': 'POST', 'url': DEFAULT_API_URL + '?action=utilisateur', 'body': CREATE_BODY,
          'timeout': (3.0, 10), 'verify': True}


def write(rig, operation):
    if operation == 'transfer':
        return rig.client.transfer('shop-lyon', 5)
    return rig.client.create('shop-lyon', PASSWORD)


def write_fails(rig, operation):
    if operation == 'transfer':
        return rig.fails('transfer', 'shop-lyon', 5)
    return rig.fails('create', 'shop-lyon', PASSWORD)


EXPECTED_WRITE = {'transfer': TRANSFER, 'create': CREATE}


# --- the requests sent -------------------------------------------------------------------------

def test_balance_request():
    rig = Rig([answer('CREDIT 22\n')])
    assert rig.client.balance() == 22
    assert [summary(call) for call in rig.calls] == [balance_call()]
    headers = rig.calls[0].headers
    assert headers['Authorization'] == 'App %s' % KEY
    assert headers['User-Agent'].startswith('smsbox.account/%s ' % COLLECTION_VERSION)
    assert headers['Accept'] == 'text/plain'
    assert 'Content-Type' not in headers
    assert rig.sleeps == []


def test_fractional_balance():
    rig = Rig([answer('CREDIT 22,5')])
    assert rig.client.balance() == 22.5


def test_transfer_request():
    rig = Rig([answer('OK')])
    assert rig.client.transfer('shop-lyon', 5) is True
    assert [summary(call) for call in rig.calls] == [TRANSFER]
    headers = rig.calls[0].headers
    assert headers['Content-Type'] == FORM
    assert headers['Authorization'] == 'App %s' % KEY
    assert headers['User-Agent'].startswith('smsbox.account/%s ' % COLLECTION_VERSION)


def test_negative_transfer_takes_back():
    rig = Rig([answer('OK')])
    assert rig.client.transfer('shop-lyon', -5) is True
    assert [call.body for call in rig.calls] == ['to=shop-lyon&credit=-5']


def test_transfer_amount_sent_as_integer():
    rig = Rig([answer('OK'), answer('OK')])
    rig.client.transfer('a.b@c', 10.0)
    rig.client.transfer('a.b@c', '7')
    assert [call.body for call in rig.calls] == ['to=a.b%40c&credit=10', 'to=a.b%40c&credit=7']


def test_create_request():
    rig = Rig([answer('OK')])
    assert rig.client.create('shop-lyon', PASSWORD) is True
    assert [summary(call) for call in rig.calls] == [CREATE]
    assert rig.calls[0].headers['Content-Type'] == FORM
    assert rig.calls[0].headers['Authorization'] == 'App %s' % KEY


def test_create_nolimit_yes():
    rig = Rig([answer('OK')])
    rig.client.create('shop-lyon', 'pw', nolimit=True)
    assert rig.calls[0].body == 'do=add&pseudo=shop-lyon&mdp=pw&nolimit=yes'
    assert rig.calls[0].url == DEFAULT_API_URL + '?action=utilisateur'


def test_key_only_in_authorization_header():
    rig = Rig([answer('CREDIT 1'), answer('OK'), answer('OK')])
    rig.client.balance()
    rig.client.transfer('shop', 1)
    rig.client.create('shop', 'pw')
    assert len(rig.calls) == 3
    for call in rig.calls:
        for text in (call.url, call.body or ''):
            assert KEY not in text
            assert quote_plus(KEY) not in text
        assert [name for name, value in call.headers.items() if KEY in value] == ['Authorization']


def test_local_emulator_url_and_short_timeout():
    rig = Rig([answer('CREDIT 3')], api_url=LOCAL_URL, timeout=2)
    assert rig.client.balance() == 3
    assert [summary(call) for call in rig.calls] == [balance_call(LOCAL_URL, timeout=(2, 2))]


@pytest.mark.parametrize('timeout, expected', [(10, (3.0, 10)), (30.0, (3.0, 30.0)), (3, (3, 3)), (0.5, (0.5, 0.5))])
def test_timeouts_connect_capped_at_3(timeout, expected):
    rig = Rig([answer('OK')], timeout=timeout)
    rig.client.transfer('shop', 1)
    assert rig.calls[0].timeout == expected


@pytest.mark.parametrize('kwargs, verify', [
    ({}, True),
    ({'validate_certs': False}, False),
    ({'validate_certs': False, 'ca_path': '/etc/pki/smsbox-ca.pem'}, False),
    ({'ca_path': '/etc/pki/smsbox-ca.pem'}, '/etc/pki/smsbox-ca.pem'),
])
def test_certificate_validation_survives_a_ca_bundle_in_the_environment(monkeypatch, kwargs, verify):
    """requests lets REQUESTS_CA_BUNDLE replace a session's verify; the client's own choice must win."""
    rig = Rig([answer('CREDIT 1'), answer('CREDIT 1')], **kwargs)
    rig.client.balance()
    monkeypatch.setenv('REQUESTS_CA_BUNDLE', '/etc/ssl/certs/ca-certificates.crt')
    rig.client.balance()
    expected_with_env = '/etc/ssl/certs/ca-certificates.crt' if verify is True else verify
    assert [call.verify for call in rig.calls] == [verify, expected_with_env]


@pytest.mark.parametrize('status', [301, 302, 307, 308])
def test_redirect_not_followed(status):
    rig = Rig([(status, 'moved', TEXT, {'Location': 'http://api.smsbox.pro/1.1/api.php?action=credit'})])
    error = rig.fails('transfer', 'shop', 5)
    assert isinstance(error, SmsboxAnswerError)
    assert error.status == status
    assert error.write_outcome == 'unknown'
    assert [summary(call) for call in rig.calls] == [dict(TRANSFER, body='to=shop&credit=5')]


def test_default_session_has_no_hidden_retries():
    client = SmsboxClient(DEFAULT_API_URL, KEY, pool_size=4)
    try:
        for scheme in ('https://', 'http://'):
            adapter = client.session.get_adapter(scheme + 'example.test/')
            assert isinstance(adapter, requests.adapters.HTTPAdapter)
            assert adapter.max_retries.total == 0
            assert adapter._pool_maxsize == 4
        assert client.session.headers['Authorization'] == 'App %s' % KEY
    finally:
        client.close()


# --- reads: retried while the fault may pass ---------------------------------------------------

@pytest.mark.parametrize('fault', PRE_SEND + POST_SEND + [lambda: answer('ERROR 05'), lambda: answer(HTML_502, 502, 'text/html'),
                                                          lambda: answer('', 503, None)])
def test_read_retried_then_succeeds(fault):
    rig = Rig([fault(), fault(), answer('CREDIT 40')])
    assert rig.client.balance() == 40
    assert [summary(call) for call in rig.calls] == [balance_call()] * 3
    assert len(rig.sleeps) == 2
    assert_backoff(rig.sleeps)


@pytest.mark.parametrize('fault, error_class', [
    (refused_connection, SmsboxTransportError),
    (read_timeout, SmsboxTransportError),
    (remote_disconnected, SmsboxTransportError),
    (lambda: answer('ERROR 05'), SmsboxApiError),
    (lambda: answer(HTML_502, 502, 'text/html'), SmsboxAnswerError),
])
def test_read_gives_up_after_3_attempts(fault, error_class):
    rig = Rig([fault(), fault(), fault()])
    error = rig.fails('balance')
    assert error.__class__ is error_class
    assert [summary(call) for call in rig.calls] == [balance_call()] * 3
    assert len(rig.sleeps) == 2
    assert_backoff(rig.sleeps)


@pytest.mark.parametrize('body, error_class', [('ERREUR', SmsboxRefused), ('ERROR 02', SmsboxAuthError),
                                               ('ERROR 01', SmsboxApiError), ('ERROR', SmsboxApiError),
                                               ('OK', SmsboxAnswerError), ('', SmsboxAnswerError)])
def test_read_not_retried_on_a_final_answer(body, error_class):
    rig = Rig([answer(body)])
    error = rig.fails('balance')
    assert error.__class__ is error_class
    assert len(rig.calls) == 1
    assert rig.sleeps == []


def test_read_html_page_with_status_200_not_retried():
    rig = Rig([answer('<html>Login</html>', 200, 'text/html')])
    error = rig.fails('balance')
    assert isinstance(error, SmsboxAnswerError)
    assert len(rig.calls) == 1


def test_attempts_setting():
    rig = Rig([read_timeout()], attempts=1)
    rig.fails('balance')
    assert len(rig.calls) == 1
    assert rig.sleeps == []


def test_backoff_grows_and_is_capped_at_4_seconds():
    rig = Rig([refused_connection()] * 8, attempts=8)
    rig.fails('balance')
    assert len(rig.calls) == 8
    assert len(rig.sleeps) == 7
    assert_backoff(rig.sleeps)
    assert max(rig.sleeps) <= 4.0
    assert rig.sleeps[-1] >= 2.0  # nominal 32 s, capped to 4 s, jittered down to half at most


def test_backoff_is_jittered():
    first_delays = set()
    for _run in range(20):
        rig = Rig([read_timeout(), answer('CREDIT 1')])
        rig.client.balance()
        assert_backoff(rig.sleeps)
        first_delays.update(rig.sleeps)
    assert len(first_delays) > 1


# --- writes: resent only when they cannot have arrived -----------------------------------------

@pytest.mark.parametrize('operation', ['transfer', 'create'])
@pytest.mark.parametrize('fault', PRE_SEND)
def test_write_retried_when_not_sent(operation, fault):
    rig = Rig([fault(), answer('OK')])
    assert write(rig, operation) is True
    assert [summary(call) for call in rig.calls] == [EXPECTED_WRITE[operation]] * 2
    assert len(rig.sleeps) == 1
    assert_backoff(rig.sleeps)


@pytest.mark.parametrize('operation', ['transfer', 'create'])
@pytest.mark.parametrize('fault', PRE_SEND)
def test_write_not_sent_after_3_attempts_is_rejected(operation, fault):
    rig = Rig([fault(), fault(), fault()])
    error = write_fails(rig, operation)
    assert isinstance(error, SmsboxTransportError)
    assert error.sent is False
    assert error.write_outcome == 'rejected'
    assert 'not sent' in str(error)
    assert [summary(call) for call in rig.calls] == [EXPECTED_WRITE[operation]] * 3
    assert len(rig.sleeps) == 2
    assert_backoff(rig.sleeps)


@pytest.mark.parametrize('operation', ['transfer', 'create'])
@pytest.mark.parametrize('fault', POST_SEND)
def test_write_not_retried_after_sending(operation, fault):
    rig = Rig([fault()])
    error = write_fails(rig, operation)
    assert isinstance(error, SmsboxTransportError)
    assert error.sent is True
    assert error.write_outcome == 'unknown'
    assert 'may have reached SMSBOX' in str(error)
    assert [summary(call) for call in rig.calls] == [EXPECTED_WRITE[operation]]
    assert rig.sleeps == []


@pytest.mark.parametrize('operation', ['transfer', 'create'])
def test_write_not_retried_on_error_05(operation):
    rig = Rig([answer('ERROR 05')])
    error = write_fails(rig, operation)
    assert error.__class__ is SmsboxApiError
    assert error.write_outcome == 'unknown'
    assert len(rig.calls) == 1
    assert rig.sleeps == []


@pytest.mark.parametrize('operation', ['transfer', 'create'])
def test_write_not_retried_on_html_502(operation):
    rig = Rig([answer(HTML_502, 502, 'text/html')])
    error = write_fails(rig, operation)
    assert isinstance(error, SmsboxAnswerError)
    assert error.write_outcome == 'unknown'
    assert 'HTTP 502' in str(error)
    assert '502 Bad Gateway' in str(error)
    assert len(rig.calls) == 1
    assert rig.sleeps == []


@pytest.mark.parametrize('operation', ['transfer', 'create'])
@pytest.mark.parametrize('body, error_class', [('ERREUR', SmsboxRefused), ('ERROR 02', SmsboxAuthError),
                                               ('ERROR 03', SmsboxApiError)])
def test_write_refused_is_rejected_and_not_retried(operation, body, error_class):
    rig = Rig([answer(body)])
    error = write_fails(rig, operation)
    assert error.__class__ is error_class
    assert error.write_outcome == 'rejected'
    assert len(rig.calls) == 1
    assert rig.sleeps == []


@pytest.mark.parametrize('operation', ['transfer', 'create'])
@pytest.mark.parametrize('body', ['', 'OKAY', 'CREDIT 5', '<html>OK</html>'])
def test_write_with_unreadable_answer_is_unknown(operation, body):
    rig = Rig([answer(body)])
    error = write_fails(rig, operation)
    assert isinstance(error, SmsboxAnswerError)
    assert error.write_outcome == 'unknown'
    assert len(rig.calls) == 1


# --- secrets in errors -------------------------------------------------------------------------

@pytest.mark.parametrize('page', ['<pre>mdp=%s&App %s</pre>' % (PASSWORD, KEY), '<pre>App %s&mdp=%s</pre>' % (KEY, PASSWORD)])
def test_echoed_secrets_masked_in_create_error(page):
    rig = Rig([answer(page, 502, 'text/html')])
    error = rig.fails('create', 'shop-lyon', PASSWORD)
    assert str(error).count('********') == 2


@pytest.mark.parametrize('operation', ['balance', 'transfer'])
def test_echoed_key_masked(operation):
    rig = Rig([answer('bad key %s' % KEY)])
    args = ('shop', 1) if operation == 'transfer' else ()
    error = rig.fails(operation, *args)
    assert "'bad key ********'" in str(error)


def test_transport_error_message_names_host_and_fault_only():
    rig = Rig([fault_naming_the_key()])
    error = rig.fails('transfer', 'shop', 5)
    assert str(error) == ('the request may have reached SMSBOX but its answer was lost (api.smsbox.pro): ConnectionError')


# --- API URL and key checks --------------------------------------------------------------------

@pytest.mark.parametrize('url', [
    DEFAULT_API_URL,
    'https://api.smsbox.pro/1.1/api.php',
    'https://10.0.0.1/api.php',
    'https://[2001:db8::1]:8443/api.php',
    'http://127.0.0.1:8080/1.1/api.php',
    'http://127.0.0.2/api.php',
    'http://[::1]:8080/api.php',
    'http://localhost:8080/api.php',
    'http://LOCALHOST/api.php',
])
def test_api_url_accepted(url):
    assert check_api_url(url) is None


@pytest.mark.parametrize('url, host', [('http://example.com/api.php', 'example.com'), ('http://10.0.0.1/api.php', '10.0.0.1'),
                                       ('http://api.smsbox.pro/1.1/api.php', 'api.smsbox.pro'),
                                       ('http://localhost.example.com/', 'localhost.example.com'),
                                       ('http://127.0.0.1.nip.io/', '127.0.0.1.nip.io')])
def test_plain_http_refused_off_loopback(url, host):
    message = check_api_url(url)
    assert message.startswith('api_url uses plain http:// to %s; ' % host)
    assert 'HTTPS' in message
    assert 'loopback' in message


@pytest.mark.parametrize('url', ['https://user:%s@api.smsbox.pro/1.1/api.php' % KEY, 'http://me@127.0.0.1/api.php',
                                 'https://:%s@api.smsbox.pro/' % KEY])
def test_credentials_in_url_refused(url):
    message = check_api_url(url)
    assert message == 'api_url must not carry credentials (user-info before the host); the API key goes in api_key'
    assert KEY not in message


@pytest.mark.parametrize('url', ['https://api.smsbox.pro/1.1/api.php?apikey=%s' % KEY, 'https://api.smsbox.pro/1.1/api.php#%s' % KEY,
                                 'http://127.0.0.1:8080/1.1/api.php?action=credit', 'https://api.smsbox.pro/1.1/api.php?',
                                 'https://api.smsbox.pro/1.1/api.php?key=%s#x' % quote_plus(KEY)])
def test_query_string_or_fragment_in_url_refused_without_quoting_it(url):
    message = check_api_url(url)
    assert 'must not have a query string or a fragment' in message
    assert KEY not in message and quote_plus(KEY) not in message and 'action=' not in message


@pytest.mark.parametrize('url', ['ftp://api.smsbox.pro/api.php', 'api.smsbox.pro/1.1/api.php', 'https:///api.php',
                                 'file:///etc/passwd'])
def test_other_urls_refused(url):
    message = check_api_url(url)
    assert message.startswith('api_url must be an https:// URL such as %s' % DEFAULT_API_URL)


def test_empty_api_url_refused():
    assert check_api_url('').startswith('api_url is empty')


@pytest.mark.parametrize('key', ['', ' ', '   \t', '\n'])
def test_empty_api_key_refused(key):
    message = check_api_key(key)
    assert message.startswith('api_key is empty')


def test_missing_api_key_names_the_environment_variable():
    assert 'SMSBOX_API_KEY' in check_api_key(None) and 'api_key' in check_api_key(None)


@pytest.mark.parametrize('key', ['my key', KEY + ' ', ' ' + KEY, 'App ' + KEY, KEY[:6] + '\u00a0' + KEY[6:]])
def test_api_key_with_a_space_refused_without_quoting_it(key):
    message = check_api_key(key)
    assert 'space' in message
    assert KEY not in message and 'my key' not in message


@pytest.mark.parametrize('key', [KEY + '\n', KEY + '\r\n', 'Zk8\nq4SECRET', KEY + '\x00', KEY + '\x7f', '\t' + KEY])
def test_api_key_with_control_character_refused(key):
    message = check_api_key(key)
    assert 'control character' in message
    assert KEY not in message
    assert 'Zk8' not in message and 'SECRET' not in message


def test_api_key_accepted():
    assert check_api_key(KEY) is None


def test_module_constants():
    assert client_module.ATTEMPTS == 3
    assert client_module.USER_AGENT.startswith('smsbox.account/%s' % COLLECTION_VERSION)


def test_loopback_api_url_never_goes_through_an_environment_proxy(monkeypatch):
    from ansible_collections.smsbox.account.tests.emulator.smsbox_emulator import Emulator
    # A proxy that refuses every connection: a request that used it would fail.
    monkeypatch.setenv('HTTP_PROXY', 'http://127.0.0.1:9')
    monkeypatch.delenv('NO_PROXY', raising=False)
    monkeypatch.delenv('no_proxy', raising=False)
    with Emulator(accounts={'proxy-test-key': 42}) as emulator:
        client = SmsboxClient(emulator.url, 'proxy-test-key', attempts=1)
        assert client.balance() == 42
    assert SmsboxClient('https://api.smsbox.pro/1.1/api.php', 'k').session.trust_env is True


# --- what an echoing proxy sends back never shows a secret --------------------------------------

ECHO_PASSWORD = 'Pw+S3cr/t&x=1 %'


@pytest.mark.parametrize('status, content_type', [(200, TEXT), (502, TEXT), (200, 'text/html')])
def test_a_proxy_echoing_the_request_never_puts_a_secret_in_the_error(status, content_type):
    form = 'do=add&pseudo=shop-lyon&mdp=%s&nolimit=no' % quote_plus(ECHO_PASSWORD)
    for echoed in (form, 'Authorization: App %s\n%s' % (KEY, form), 'mdp=%s' % quote(ECHO_PASSWORD, safe=''),
                   'mdp=%s' % quote_plus(ECHO_PASSWORD).lower(), 'auth=%s' % base64.b64encode(KEY.encode()).decode()):
        rig = Rig([answer(echoed, status=status, content_type=content_type)])
        error = rig.fails('create', 'shop-lyon', ECHO_PASSWORD)
        text = '%s %r' % (error, error.args)
        for secret in (KEY, ECHO_PASSWORD):
            for form_ in (secret, quote_plus(secret), quote(secret, safe=''), quote_plus(secret).lower(),
                          base64.b64encode(secret.encode()).decode()):
                assert form_ not in text, (echoed, form_)
        assert '********' in text


def test_an_untrusted_certificate_says_so_with_the_host_and_what_to_do():
    from ansible_collections.smsbox.account.tests.emulator.smsbox_emulator import Emulator
    with Emulator(accounts={'tls-key': 42}, tls=True) as emulator:
        client = SmsboxClient(emulator.url, 'tls-key', attempts=1)
        with pytest.raises(SmsboxError) as caught:
            client.balance()
    message = str(caught.value)
    assert 'not trusted' in message and urlsplit(emulator.url).netloc in message
    assert 'ca_path' in message and 'was not sent' in message
    assert caught.value.sent is False
