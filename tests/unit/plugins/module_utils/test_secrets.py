# -*- coding: utf-8 -*-
# Copyright: (c) 2026, smsbox.account contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one home of masking (_secrets.py): every form of a secret, a URI's passwords, a driver's message, a result."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import base64
import re
from urllib.parse import quote, quote_plus

import hypothesis
import hypothesis.strategies as st
import pytest

from ansible_collections.smsbox.account.plugins.module_utils._secrets import (
    MASK,
    mask,
    masker,
    mask_passwords,
    mask_uri,
    secret_forms,
    uri_passwords,
)


@pytest.mark.parametrize('secret', ['Pw+S3cr/t&x=1 %', 'k3y-MAIN-7f3a9c2e11d0', u'p\u00e4ss w\u00f6rd', '<a href="x">'])
def test_every_form_of_a_secret_is_masked(secret):
    raw = secret.encode('utf-8')
    forms = [secret, quote_plus(secret), quote(secret, safe=''), quote(secret),
             base64.b64encode(raw).decode(), base64.urlsafe_b64encode(raw).decode().rstrip('=')]
    if '%' in quote_plus(secret):
        forms.append(quote_plus(secret).lower())  # a proxy may re-encode with lower-case hex
    text = ' | '.join('before %s after' % form for form in forms)

    masked = mask(text, [secret, None, ''])

    for form in forms:
        assert form not in masked
    assert masked.count(MASK) >= len(forms) and masked.startswith('before ' + MASK)


def test_the_longest_secret_is_masked_first():
    assert mask('pw=key-123-extra', ['key-123', 'key-123-extra']) == 'pw=' + MASK


@pytest.mark.parametrize('uri, printed', [
    ('postgresql://u:s3cr%40t@db.example:5432/ledger', 'postgresql://u:********@db.example:5432/ledger'),
    ('postgres://u:p@ss@db/x?sslmode=require', 'postgres://u:********@db/x?sslmode=require'),
    ('postgresql://u@db/x?password=qwerty&application_name=a', 'postgresql://u@db/x?password=********&application_name=a'),
    ('postgresql://db/x?sslpassword=abc&user=u', 'postgresql://db/x?sslpassword=********&user=u'),
    ('postgresql://u:pw@h1:5432,h2:5433/x?target_session_attrs=read-write', 'postgresql://u:********@h1:5432,h2:5433/x?target_session_attrs=read-write'),
    ('postgresql:///x?service=ledger', 'postgresql:///x?service=ledger'),
    ('postgresql://u@db/x', 'postgresql://u@db/x'),
    # a location the checks refuse is still shown masked in the refusal
    (' postgresql://u:S3cret@db/x', ' postgresql://u:********@db/x'),
    ('/srv/smsbox/ledgers/main.json', '/srv/smsbox/ledgers/main.json'),
])
def test_a_uri_shows_without_its_passwords(uri, printed):
    assert mask_uri(uri) == printed
    for secret in uri_passwords(uri):
        assert secret not in printed


def test_uri_passwords_are_found_as_written_and_decoded_and_never_in_a_path():
    assert sorted(uri_passwords('postgresql://u:s3cr%40t@db/x?password=p%26q')) == sorted(['s3cr%40t', 's3cr@t', 'p%26q', 'p&q'])
    assert uri_passwords(' postgresql://u:S3cret@db/x') == ['S3cret']
    assert uri_passwords('/srv/smsbox/ledger.json') == [] and uri_passwords(None) == [] and uri_passwords('postgresql://u@db/x') == []


def test_a_driver_message_loses_known_secrets_and_password_shapes():
    text = 'failed: password=hunter2 host=db; dsn postgresql://me:tiger@db/x; PW is s3cret, encoded czNjcmV0'
    masked = mask_passwords(text, ['s3cret'])
    assert 'hunter2' not in masked and 'tiger' not in masked and 's3cret' not in masked and 'czNjcmV0' not in masked
    assert 'host=db' in masked and 'postgresql://me:********@db/x' in masked


def _one_pattern(secrets):
    """The masking the scan replaced: one pattern of every form, longest first, percent-encoded forms in any case."""
    forms = set()
    for secret in secrets:
        forms.update(secret_forms(secret))
    pattern = re.compile('|'.join('(?i:%s)' % re.escape(form) if '%' in form else re.escape(form)
                                  for form in sorted(forms, key=len, reverse=True)))
    return lambda text: pattern.sub(MASK, text)


@hypothesis.settings(max_examples=300, deadline=None)
@hypothesis.given(secrets=st.lists(st.text(alphabet='ab+/ %&=<é', min_size=1, max_size=6), min_size=1, max_size=5),
                  pieces=st.lists(st.text(alphabet='ab+/ %&=<é2BF', max_size=8), max_size=6))
def test_the_scan_masks_what_one_pattern_of_every_form_masks(secrets, pieces):
    # Texts made of secrets' forms (in either case) and of noise, so that forms overlap, nest and touch.
    forms = [form for secret in secrets for form in secret_forms(secret)]
    text = ''.join(piece + (forms[index % len(forms)] if index % 2 else forms[index % len(forms)].upper())
                   for index, piece in enumerate(pieces))
    assert masker(secrets)(text) == _one_pattern(secrets)(text)
