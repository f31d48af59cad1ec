# -*- coding: utf-8 -*-
# Copyright: (c) 2026, smsbox.account contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What each fault means for money (_api/errors.py): a write that met it is ``rejected`` (SMSBOX certainly did nothing:
it may be sent again) or ``unknown`` (it may have been applied: never sent again blindly), and whether a read may be
retried. Each error is made as the code makes it: from an answer by ``read_answer``, from a transport fault by the
client against a real socket; none shows the API key.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import socket
import threading

import pytest

from ansible_collections.smsbox.account.plugins.module_utils._api.answers import read_answer
from ansible_collections.smsbox.account.plugins.module_utils._api.client import SmsboxClient
from ansible_collections.smsbox.account.plugins.module_utils._api.errors import (
    REJECTED,
    UNKNOWN,
    SmsboxAnswerError,
    SmsboxApiError,
    SmsboxAuthError,
    SmsboxError,
    SmsboxRefused,
    SmsboxTransportError,
)

KEY = 'k3y-ERRORS-4c1e9b77a0'
TEXT = 'text/plain; charset=utf-8'

# what SMSBOX (or what stands between it and us) answered -> (the error, a write's outcome, a read retried, said)
ANSWERS = {
    'ERREUR': (('ERREUR', 200, TEXT), SmsboxRefused, REJECTED, False, 'SMSBOX answered ERREUR'),
    'ERROR 01': (('ERROR 01', 200, TEXT), SmsboxApiError, REJECTED, False, 'missing or invalid parameters'),
    'ERROR 02': (('ERROR 02', 200, TEXT), SmsboxAuthError, REJECTED, False, 'the API key is wrong or suspended'),
    'ERROR 03': (('ERROR 03', 200, TEXT), SmsboxApiError, REJECTED, False, 'insufficient balance'),
    # Documented as an internal error to retry: what a write that met it did is not documented.
    'ERROR 05': (('ERROR 05', 200, TEXT), SmsboxApiError, UNKNOWN, True, 'internal error at SMSBOX'),
    'bare ERROR': (('ERROR', 200, TEXT), SmsboxApiError, UNKNOWN, False, 'unspecified error'),
    'proxy 502': (('<html><body>502 Bad Gateway</body></html>', 502, 'text/html'), SmsboxAnswerError, UNKNOWN, True,
                  'SMSBOX answered HTTP 502'),
    'proxy 404': (('Not Found', 404, TEXT), SmsboxAnswerError, UNKNOWN, False, 'SMSBOX answered HTTP 404'),
    'HTML 200': (('<html>maintenance</html>', 200, 'text/html'), SmsboxAnswerError, UNKNOWN, False, 'an HTML page'),
    'PHP warning echoing the key': (('Warning: undefined index in api.php, key=%s' % KEY, 200, TEXT), SmsboxAnswerError, UNKNOWN,
                                    False, 'something that is not OK'),
    'empty body': (('', 200, TEXT), SmsboxAnswerError, UNKNOWN, False, 'an empty body'),
}


@pytest.mark.parametrize('answer', sorted(ANSWERS))
def test_each_answer_says_what_a_write_became_and_whether_a_read_is_retried(answer):
    (body, status, content_type), error_class, outcome, read_retried, said = ANSWERS[answer]
    with pytest.raises(SmsboxError) as info:
        read_answer(body, 'OK', status=status, content_type=content_type, secrets=(KEY,))
    error = info.value
    assert type(error) is error_class  # pylint: disable=unidiomatic-typecheck
    assert (error.write_outcome, error.read_retryable) == (outcome, read_retried)
    assert said in str(error) and KEY not in str(error)


def test_only_a_documented_refusal_makes_a_write_rejected():
    # rejected: SMSBOX said it did nothing; every other fault after sending leaves the write unknown
    rejected = sorted(name for name, case in ANSWERS.items() if case[2] == REJECTED)
    assert rejected == ['ERREUR', 'ERROR 01', 'ERROR 02', 'ERROR 03']


@pytest.fixture
def silent_server():
    """A server on loopback that takes each connection and its request, and never answers; counts the requests."""
    server = socket.socket()
    server.bind(('127.0.0.1', 0))
    server.listen(8)
    server.settimeout(0.2)
    taken = []
    stop = threading.Event()

    def serve():
        while not stop.is_set():
            try:
                conn, _address = server.accept()
            except socket.timeout:
                continue
            conn.recv(65536)
            taken.append(conn)  # kept open, unanswered, until the test ends
    thread = threading.Thread(target=serve)
    thread.start()
    try:
        yield 'http://127.0.0.1:%d/1.1/api.php' % server.getsockname()[1], taken
    finally:
        stop.set()
        thread.join()
        for conn in taken:
            conn.close()
        server.close()


def closed_port_url():
    """A loopback URL where nothing listens: the connection is refused before anything is sent."""
    probe = socket.socket()
    probe.bind(('127.0.0.1', 0))
    port = probe.getsockname()[1]
    probe.close()
    return 'http://127.0.0.1:%d/1.1/api.php' % port


def client_for(url):
    return SmsboxClient(url, KEY, timeout=0.3, attempts=3, sleep=lambda seconds: None)


def test_a_request_refused_before_sending_is_rejected_and_a_write_is_sent_again():
    client = client_for(closed_port_url())
    with pytest.raises(SmsboxTransportError) as info:
        client.transfer('shop-a', 40)
    error = info.value
    assert (error.sent, error.write_outcome, error.read_retryable) == (False, REJECTED, True)
    assert 'the request was not sent' in str(error) and KEY not in str(error)


def test_an_answer_lost_after_sending_is_unknown_and_the_write_is_never_sent_again(silent_server):
    url, taken = silent_server
    with pytest.raises(SmsboxTransportError) as info:
        client_for(url).transfer('shop-a', 40)
    error = info.value
    assert (error.sent, error.write_outcome) == (True, UNKNOWN)
    assert 'the request may have reached SMSBOX but its answer was lost' in str(error) and KEY not in str(error)
    assert len(taken) == 1, 'a transfer that may have arrived was sent again'
    # a read that met the same fault is retried: it moves no money
    with pytest.raises(SmsboxTransportError):
        client_for(url).balance()
    assert len(taken) == 1 + 3
