# -*- coding: utf-8 -*-
# Copyright: (c) 2026, smsbox.account contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Property tests: the answer parser and every input check, on arbitrary text and values.

Whatever they are given: no traceback, either a value or the collection's own error naming the item,
and a secret given as a password or a key never shows in a message, in any form a proxy could echo
it. Bounded and derandomized by default; SMSBOX_HYPOTHESIS_PROFILE=long runs 20 times more examples
(docs/testing.md).
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import base64

try:
    from urllib.parse import quote, quote_plus
except ImportError:  # pragma: no cover
    from urllib import quote, quote_plus  # type: ignore

import re

import pytest

from ansible_collections.smsbox.account.plugins.module_utils import _inputs as validation
from ansible_collections.smsbox.account.plugins.module_utils._api.answers import parse_balance, quote_body, read_answer
from ansible_collections.smsbox.account.plugins.module_utils._api.errors import SmsboxError
from ansible_collections.smsbox.account.plugins.module_utils._inputs import InputError
from ansible_collections.smsbox.account.plugins.module_utils._ledger.location import check_location
from ansible_collections.smsbox.account.tests.unit.suite_counts import count, examples

hypothesis = pytest.importorskip('hypothesis')
from hypothesis import example, given, settings, strategies as st  # noqa: E402 pylint: disable=wrong-import-position

PRINTABLE = ''.join(chr(code) for code in range(32, 127))
MARK = 'Zq9'  # every generated secret starts with it, so no fixed text of a message can contain one by chance
JSON_SCALARS = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=30))
JSON_VALUES = st.recursive(JSON_SCALARS, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                                 st.dictionaries(st.text(max_size=8), inner, max_size=4)), max_leaves=8)
ANY_TEXT = st.text(max_size=200)


def secrets(no_space=False):
    alphabet = PRINTABLE.replace(' ', '') if no_space else PRINTABLE
    return st.text(alphabet=alphabet, min_size=5, max_size=47).map(lambda tail: MARK + tail.strip()).filter(lambda s: len(s) >= 8)


def forms(secret):
    """Every form the secret may take (written independently of _secrets.secret_forms)."""
    found = set([secret])
    for encoded in (quote(secret, safe=''), quote(secret), quote_plus(secret)):
        found.update([encoded, re.sub(r'%[0-9A-F]{2}', lambda match: match.group(0).lower(), encoded)])
    for encoded in (base64.b64encode(secret.encode()), base64.urlsafe_b64encode(secret.encode())):
        found.update([encoded.decode(), encoded.decode().rstrip('=')])
    return found


def assert_hidden(text, *hidden):
    for secret in hidden:
        for form in forms(secret):
            assert form not in text, 'a form of a secret shows: %r in %r' % (form, text)


def echoed(secret, form_index, before, after):
    """A body that echoes one form of the secret, as a proxy page or a debug dump could."""
    chosen = sorted(forms(secret))
    return before + chosen[form_index % len(chosen)] + after


# --- answers ------------------------------------------------------------------------------------------------

@settings(max_examples=examples(300))
@given(body=ANY_TEXT, expected=st.sampled_from(['OK', 'CREDIT']), status=st.sampled_from([200, 200, 200, 301, 404, 500, 502, 503]),
       content_type=st.sampled_from([None, 'text/plain', 'text/plain; charset=utf-8', 'text/html', 'TEXT/HTML; charset=x', 'application/json']),
       key=secrets(no_space=True), password=secrets(), form_index=st.integers(0, 20), echo=st.booleans())
@example(body='CREDIT 12,50', expected='CREDIT', status=200, content_type=None, key='Zq9key-1234', password='Zq9pw-1234', form_index=0,
         echo=False)
def test_read_answer_returns_a_value_or_raises_its_own_error(body, expected, status, content_type, key, password, form_index, echo):
    count('hypothesis examples')
    if echo:
        body = echoed(password if form_index % 2 else key, form_index, body[:30], body[30:])
    try:
        value = read_answer(body, expected, status=status, content_type=content_type, secrets=(key, password))
    except SmsboxError as error:
        assert_hidden(str(error), key, password)
        assert str(error).startswith('SMSBOX answered')
        return
    assert status == 200 and not (content_type and 'html' in content_type.lower())
    if expected == 'OK':
        assert value is True and body.strip() == 'OK'
    else:
        assert isinstance(value, (int, float)) and not isinstance(value, bool)


@settings(max_examples=examples(300))
@given(text=ANY_TEXT)
def test_parse_balance_never_raises(text):
    count('hypothesis examples')
    value = parse_balance(text)
    assert value is None or (isinstance(value, (int, float)) and not isinstance(value, bool))
    if value is not None:
        assert text.startswith('CREDIT')


@settings(max_examples=examples(200))
@given(whole=st.integers(-10 ** 12, 10 ** 12), cents=st.integers(0, 99), comma=st.booleans())
def test_parse_balance_reads_what_smsbox_writes(whole, cents, comma):
    count('hypothesis examples')
    assert parse_balance('CREDIT %d' % whole) == whole
    text = 'CREDIT %d%s%02d' % (whole, ',' if comma else '.', cents)
    expected = whole if cents == 0 else float('%d.%02d' % (whole, cents))
    assert parse_balance(text) == expected


@settings(max_examples=examples(300))
@given(body=st.text(max_size=400), secret=secrets(), other=secrets(no_space=True), form_index=st.integers(0, 20), at=st.integers(0, 400))
def test_quote_body_is_short_and_hides_every_form_of_a_secret(body, secret, other, form_index, at):
    count('hypothesis examples')
    body = echoed(secret, form_index, body[:at], body[at:])
    quoted = quote_body(body, (secret, other))
    assert_hidden(quoted, secret, other)
    assert quoted == 'an empty body' or quoted.startswith(("'", '"'))
    assert len(quoted) <= 2 + 10 * (validation_quote_length() + 3)


def validation_quote_length():
    from ansible_collections.smsbox.account.plugins.module_utils._api.answers import QUOTE_LENGTH  # pylint: disable=import-outside-toplevel
    return QUOTE_LENGTH


# --- input checks ----------------------------------------------------------------------------------------------

WHERE = st.sampled_from(["'shop-a'", "subaccounts[3] 'shop-b'", 'allocations[0] (no name)'])


@settings(max_examples=examples(300))
@given(name=JSON_VALUES, where=WHERE)
def test_check_name_accepts_or_names_the_item(name, where):
    count('hypothesis examples')
    try:
        assert validation.check_name(name, where) == name
    except InputError as error:
        assert str(error).startswith(where + ': ')
        return
    assert isinstance(name, str) and 0 < len(name) <= validation.MAX_NAME and validation.NAME_CHARACTERS.match(name)


@settings(max_examples=examples(300))
@given(password=st.one_of(st.none(), secrets(), st.text(max_size=80).map(lambda text: MARK + text)), where=WHERE)
def test_check_password_accepts_or_names_the_item_and_never_quotes_it(password, where):
    count('hypothesis examples')
    try:
        assert validation.check_password(password, where) == password
    except InputError as error:
        assert str(error).startswith(where + ': ')
        assert_hidden(str(error), password)
        return
    assert password is None or (len(password) <= validation.MAX_PASSWORD and password == password.strip()
                                and all(' ' <= char <= '~' for char in password))


@settings(max_examples=examples(400))
@given(value=st.one_of(JSON_VALUES, st.text(alphabet='0123456789+- ', max_size=30), st.integers(), st.floats()),
       where=WHERE, allow_zero=st.booleans(), allow_negative=st.booleans())
@example(value='9' * 5000, where="'shop-a'", allow_zero=True, allow_negative=True)
@example(value=10 ** 5000, where="'shop-a'", allow_zero=True, allow_negative=True)
def test_check_count_returns_an_int_in_range_or_names_the_item(value, where, allow_zero, allow_negative):
    count('hypothesis examples')
    try:
        number = validation.check_count(value, where, 'amount', allow_zero, allow_negative)
    except InputError as error:
        assert str(error).startswith(where + ': amount ')
        assert len(str(error)) < 300
        return
    assert isinstance(number, int) and not isinstance(number, bool)
    assert abs(number) <= validation.MAX_CREDITS and (allow_zero or number) and (allow_negative or number >= 0)


@settings(max_examples=examples(200))
@given(names=st.lists(st.text(alphabet='abc', min_size=1, max_size=2), max_size=12), form=st.sampled_from(['subaccounts', 'allocations']))
def test_check_unique_names_the_repeated_item(names, form):
    count('hypothesis examples')
    try:
        validation.check_unique(names, form)
    except InputError as error:
        assert str(error).startswith(form + '[') and 'list each sub-account once' in str(error)
        assert len(set(names)) < len(names)
        return
    assert len(set(names)) == len(names)


@settings(max_examples=examples(300))
@given(key=st.one_of(st.none(), JSON_VALUES, secrets(), st.text(max_size=60).map(lambda text: MARK + text + 'x')))
def test_check_api_key_never_quotes_the_key(key):
    count('hypothesis examples')
    problem = validation.check_api_key(key)
    if problem is None:
        assert isinstance(key, str) and key.strip() and not any(char.isspace() or ord(char) < 32 or ord(char) > 255 for char in key)
        return
    assert problem.startswith(('no API key', 'api_key '))
    if isinstance(key, str) and len(key) >= 8:
        assert_hidden(problem, key)


HOSTS = st.sampled_from(['api.smsbox.pro', '127.0.0.1', 'localhost', '[::1]', 'example.org', ''])


@settings(max_examples=examples(300))
@given(scheme=st.sampled_from(['https', 'http', 'ftp', 'HTTPS', '']), host=HOSTS, port=st.sampled_from(['', ':443', ':8x', ':99999']),
       path=st.text(max_size=20), key=secrets(no_space=True), where_key=st.sampled_from(['none', 'query', 'userinfo', 'fragment', 'path']),
       junk=ANY_TEXT)
def test_check_api_url_refuses_or_accepts_and_never_shows_a_key_in_it(scheme, host, port, path, key, where_key, junk):
    count('hypothesis examples')
    userinfo = 'user:%s@' % quote(key, safe='') if where_key == 'userinfo' else ''
    query = '?apikey=%s' % quote_plus(key) if where_key == 'query' else ''
    fragment = '#%s' % key if where_key == 'fragment' else ''
    url = '%s://%s%s%s/%s%s%s' % (scheme, userinfo, host, port, quote(path), query, fragment) if scheme else junk
    problem = validation.check_api_url(url)
    if problem is None:
        assert url.lower().startswith(('https://', 'http://'))
        return
    assert problem.startswith('api_url ')
    if where_key in ('query', 'userinfo', 'fragment'):
        assert_hidden(problem, key)


@settings(max_examples=examples(200))
@given(value=st.one_of(JSON_VALUES, st.floats(allow_nan=True, allow_infinity=True)))
def test_timeout_and_concurrency_checks_never_raise(value):
    count('hypothesis examples')
    for check in (validation.check_timeout, validation.check_concurrency):
        problem = check(value)
        assert problem is None or problem.startswith(('timeout ', 'concurrency '))


@settings(max_examples=examples(200))
@given(value=st.one_of(st.none(), JSON_SCALARS, st.text(alphabet='/~.ab ', max_size=20), st.sampled_from(['postgresql://x', 'POSTGRES://y'])))
def test_check_ledger_location_and_ca_path_never_raise(value):
    count('hypothesis examples')
    problem = check_location(value)
    assert problem is None or problem.startswith('ledger ')
    if isinstance(value, str) and '\x00' not in value:
        ca_problem = validation.check_ca_path(value)
        assert ca_problem is None or ca_problem.startswith('ca_path ')
