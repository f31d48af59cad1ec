# -*- coding: utf-8 -*-
# Copyright: (c) 2026, smsbox.account contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The strict reading of SMSBOX answer bodies: every documented answer, and everything else refused."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import pytest

from ansible_collections.smsbox.account.plugins.module_utils._api.answers import QUOTE_LENGTH, parse_balance, quote_body, read_answer
from ansible_collections.smsbox.account.plugins.module_utils._api.errors import (
    SmsboxAnswerError,
    SmsboxApiError,
    SmsboxAuthError,
    SmsboxError,
    SmsboxRefused,
)

TEXT = 'text/plain; charset=utf-8'
HTML_502 = ('<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1>'
            '</center>\r\n<hr><center>nginx/1.24.0</center>\r\n</body>\r\n</html>\r\n')
KEY = 'k3y-7f9c2e-SECRET-d41d8c'
PASSWORD = 'Pw!d-93xQ'


# --- success answers ---------------------------------------------------------------------------

@pytest.mark.parametrize('body', ['OK', 'OK\n', '  OK  ', '\r\nOK\r\n', '\tOK\n\n'])
def test_ok_is_true_whitespace_trimmed(body):
    assert read_answer(body, 'OK', content_type=TEXT) is True


def test_ok_without_content_type():
    assert read_answer('OK', 'OK') is True


@pytest.mark.parametrize('body, expected', [
    ('CREDIT 22', 22),
    ('CREDIT 0', 0),
    ('CREDIT 1500000', 1500000),
    ('CREDIT 22.0', 22),
    ('CREDIT 22.000', 22),
    ('CREDIT 22,0', 22),
    ('\nCREDIT 22\r\n', 22),
    ('  CREDIT 22  ', 22),
])
def test_whole_balance_is_int(body, expected):
    value = read_answer(body, 'CREDIT', content_type=TEXT)
    assert value == expected
    assert value.__class__ is int


@pytest.mark.parametrize('body, expected', [
    ('CREDIT 22.5', 22.5),
    ('CREDIT 22,5', 22.5),
    ('CREDIT 22.50', 22.5),
    ('CREDIT 0.05', 0.05),
    ('CREDIT 0,05', 0.05),
    ('CREDIT 22.5\n', 22.5),
])
def test_fractional_balance_is_float(body, expected):
    value = read_answer(body, 'CREDIT', content_type=TEXT)
    assert value.__class__ is float
    assert value == pytest.approx(expected)


@pytest.mark.parametrize('text, expected', [('CREDIT 7', 7), ('CREDIT 7,25', 7.25), ('CREDIT 7.0', 7), ('CREDIT', None),
                                            ('CREDIT x', None), ('7', None), ('CREDIT 7.', None), ('CREDIT .5', None)])
def test_parse_balance(text, expected):
    assert parse_balance(text) == expected


# --- documented failures -----------------------------------------------------------------------

@pytest.mark.parametrize('body', ['ERREUR', 'ERREUR\n', '  ERREUR\r\n'])
@pytest.mark.parametrize('expected', ['OK', 'CREDIT'])
def test_erreur_is_refused(body, expected):
    with pytest.raises(SmsboxRefused) as caught:
        read_answer(body, expected, content_type=TEXT)
    assert caught.value.write_outcome == 'rejected'
    assert caught.value.read_retryable is False
    assert 'ERREUR' in str(caught.value)


def test_error_02_is_auth_error():
    with pytest.raises(SmsboxAuthError) as caught:
        read_answer('ERROR 02\n', 'CREDIT', content_type=TEXT)
    error = caught.value
    assert error.code == '02'
    assert error.write_outcome == 'rejected'
    assert error.read_retryable is False
    assert 'ERROR 02' in str(error)
    assert 'credentials' in str(error)


def test_error_05_is_retryable_api_error_with_unknown_outcome():
    with pytest.raises(SmsboxApiError) as caught:
        read_answer('ERROR 05', 'OK', content_type=TEXT)
    error = caught.value
    assert not isinstance(error, SmsboxAuthError)
    assert error.code == '05'
    assert error.read_retryable is True
    assert error.write_outcome == 'unknown'
    assert 'ERROR 05' in str(error)
    assert 'internal error' in str(error)


def test_bare_error():
    with pytest.raises(SmsboxApiError) as caught:
        read_answer(' ERROR\n', 'OK', content_type=TEXT)
    error = caught.value
    assert not isinstance(error, SmsboxAuthError)
    assert error.code is None
    assert error.read_retryable is False
    assert error.write_outcome == 'unknown'
    assert str(error) == 'SMSBOX answered ERROR: unspecified error'


@pytest.mark.parametrize('code, meaning', [('01', 'missing or invalid parameters'), ('03', 'insufficient balance'),
                                           ('04', 'bad destination')])
def test_other_error_codes_rejected_with_meaning(code, meaning):
    with pytest.raises(SmsboxApiError) as caught:
        read_answer('ERROR %s' % code, 'OK', content_type=TEXT)
    error = caught.value
    assert not isinstance(error, SmsboxAuthError)
    assert error.code == code
    assert error.write_outcome == 'rejected'
    assert error.read_retryable is False
    assert str(error) == 'SMSBOX answered ERROR %s: %s' % (code, meaning)


# --- answers that are not the protocol ---------------------------------------------------------

def test_http_502_html_page():
    with pytest.raises(SmsboxAnswerError) as caught:
        read_answer(HTML_502, 'CREDIT', status=502, content_type='text/html')
    error = caught.value
    message = str(error)
    assert 'HTTP 502' in message
    assert repr(HTML_502[:QUOTE_LENGTH] + '...') in message  # the start of the body, quoted
    assert 'nginx' not in message  # ... and only the start
    assert error.status == 502
    assert error.read_retryable is True
    assert error.write_outcome == 'unknown'


@pytest.mark.parametrize('status', [500, 503, 504])
def test_http_5xx_retryable_for_reads(status):
    with pytest.raises(SmsboxAnswerError) as caught:
        read_answer('Service Unavailable', 'CREDIT', status=status, content_type=TEXT)
    assert caught.value.read_retryable is True
    assert 'HTTP %d' % status in str(caught.value)


@pytest.mark.parametrize('status', [301, 302, 400, 403, 404])
def test_other_http_status_not_retryable(status):
    with pytest.raises(SmsboxAnswerError) as caught:
        read_answer('', 'CREDIT', status=status)
    assert caught.value.read_retryable is False
    assert caught.value.write_outcome == 'unknown'
    assert 'HTTP %d' % status in str(caught.value)


@pytest.mark.parametrize('body, expected', [('OK', 'OK'), ('CREDIT 22', 'CREDIT'), ('ERREUR', 'OK')])
def test_non_200_status_wins_over_a_protocol_body(body, expected):
    with pytest.raises(SmsboxAnswerError) as caught:
        read_answer(body, expected, status=500, content_type=TEXT)
    assert 'HTTP 500' in str(caught.value)


@pytest.mark.parametrize('content_type', ['text/html', 'text/html; charset=UTF-8', 'TEXT/HTML', 'application/xhtml+xml'])
def test_html_content_type_with_status_200_is_an_error_even_if_body_says_ok(content_type):
    with pytest.raises(SmsboxAnswerError) as caught:
        read_answer('OK', 'OK', status=200, content_type=content_type)
    message = str(caught.value)
    assert 'HTML' in message
    assert "'OK'" in message
    assert caught.value.read_retryable is False
    assert caught.value.write_outcome == 'unknown'


@pytest.mark.parametrize('body', ['', '   ', '\r\n'])
@pytest.mark.parametrize('expected', ['OK', 'CREDIT'])
def test_empty_body(body, expected):
    with pytest.raises(SmsboxAnswerError) as caught:
        read_answer(body, expected, content_type=TEXT)
    assert caught.value.write_outcome == 'unknown'
    if not body:
        assert 'an empty body' in str(caught.value)


@pytest.mark.parametrize('body', ['ok', 'Ok', 'OK!', 'OK OK', 'OKAY', 'NOT OK', 'ERREUR: x', 'erreur', 'ERROR 5',
                                  'ERROR 005', 'ERROR XX', 'ERROR02', 'CREDIT 22', '<b>Warning</b>: mysql_connect()'])
def test_garbage_when_ok_expected(body):
    with pytest.raises(SmsboxAnswerError) as caught:
        read_answer(body, 'OK', content_type=TEXT)
    assert repr(body) in str(caught.value)
    assert 'not OK' in str(caught.value)


@pytest.mark.parametrize('body', ['OK', 'CREDIT', 'CREDIT ', 'CREDIT x', 'CREDIT 22 credits', 'CREDIT 22.5.1', 'CREDIT22',
                                  'credit 22', 'BALANCE 22', '22', 'CREDIT 1e3', 'CREDIT 22.'])
def test_not_a_balance_when_balance_expected(body):
    with pytest.raises(SmsboxAnswerError) as caught:
        read_answer(body, 'CREDIT', content_type=TEXT)
    assert 'CREDIT n' in str(caught.value)
    assert caught.value.read_retryable is False


def test_all_errors_are_smsbox_errors():
    for body, status in (('ERREUR', 200), ('ERROR 02', 200), ('ERROR 05', 200), ('x', 200), ('x', 502)):
        with pytest.raises(SmsboxError):
            read_answer(body, 'OK', status=status)


# --- quoting: masked and bounded ---------------------------------------------------------------

def test_secret_in_body_is_masked():
    body = '<html>Authorization: App %s mdp=%s</html>' % (KEY, PASSWORD)
    with pytest.raises(SmsboxAnswerError) as caught:
        read_answer(body, 'OK', status=502, secrets=(KEY, PASSWORD))
    message = str(caught.value)
    assert KEY not in message
    assert PASSWORD not in message
    assert 'App ********' in message
    assert 'mdp=********' in message


def test_secret_masked_in_garbage_with_status_200():
    with pytest.raises(SmsboxAnswerError) as caught:
        read_answer('invalid key %s' % KEY, 'CREDIT', secrets=(KEY,))
    assert KEY not in str(caught.value)
    assert "'invalid key ********'" in str(caught.value)


def test_secret_across_the_quote_boundary_is_not_partly_shown():
    body = 'x' * (QUOTE_LENGTH - 5) + KEY + 'y' * 100
    with pytest.raises(SmsboxAnswerError) as caught:
        read_answer(body, 'OK', secrets=(KEY,))
    message = str(caught.value)
    assert KEY[:5] not in message
    assert 'x' * (QUOTE_LENGTH - 5) + '*****' in message


def test_empty_secret_is_ignored():
    assert quote_body('OK then', secrets=('', None)) == repr('OK then')


def test_quote_is_bounded():
    body = 'A' * 10000
    with pytest.raises(SmsboxAnswerError) as caught:
        read_answer(body, 'OK', status=502)
    message = str(caught.value)
    assert repr('A' * QUOTE_LENGTH + '...') in message
    assert 'A' * (QUOTE_LENGTH + 1) not in message
    assert len(message) < 250
    assert QUOTE_LENGTH == 60


def test_short_body_quoted_whole_without_ellipsis():
    assert quote_body('x' * QUOTE_LENGTH) == repr('x' * QUOTE_LENGTH)
    assert quote_body('x' * (QUOTE_LENGTH + 1)) == repr('x' * QUOTE_LENGTH + '...')
    assert quote_body('') == 'an empty body'


def test_control_characters_are_quoted_printable():
    quoted = quote_body('bad\r\nbody\x00')
    assert '\n' not in quoted and '\r' not in quoted and '\x00' not in quoted
    assert quoted == repr('bad\r\nbody\x00')
