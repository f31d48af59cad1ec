# -*- coding: utf-8 -*-
# Copyright: (c) 2026, smsbox.account contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""How secrets are kept out of what the collection shows: the forms a secret takes, masking a text, a URI's passwords.

The one place that masks: API keys and sub-account passwords in answers quoted in errors, database
passwords in a ledger location and in a driver's messages, every no_log value in the role's results.
Whatever is masked becomes ``MASK``.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import base64
import re

try:
    from urllib.parse import quote, quote_plus, unquote
except ImportError:  # pragma: no cover - Python 2 is not supported, this only keeps imports clean
    from urllib import quote, quote_plus, unquote  # type: ignore

MASK = '********'
# What a password looks like in a libpq message or connection string, whoever's it is.
_PASSWORD_SHAPES = (
    (re.compile(r'(?i)(password\s*=\s*)(\'(?:[^\'\\]|\\.)*\'|"[^"]*"|[^\s&]+)'), r'\1' + MASK),
    (re.compile(r'(://[^:/?#@\s]*:)([^@\s]*)(@)'), r'\1' + MASK + r'\3'),
)


def secret_forms(secret):
    """The forms a secret can take in an echoed request or a log: plain, URL-encoded (form and path), base64, HTML."""
    forms = set([secret, quote_plus(secret), quote(secret, safe=''), quote(secret)])
    raw = secret.encode('utf-8')
    for encoded in (base64.b64encode(raw), base64.urlsafe_b64encode(raw)):
        text = encoded.decode('ascii')
        forms.update([text, text.rstrip('=')])
    forms.add(secret.replace('&', '&amp;').replace('<', '&lt;').replace('>', '&gt;').replace('"', '&quot;').replace("'", '&#x27;'))
    return sorted((form for form in forms if form), key=len, reverse=True)


def masker(secrets):
    """A function that masks every form of every secret in a text: at each place, the longest form found there first,
    as a password may contain the key; percent-encoded forms in either hex case (%2b and %2B decode alike).

    A scan by form length, not one pattern of every form: the role masks each result with the passwords of up to 500
    sub-accounts (some 3,000 forms), and compiling such a pattern costs more than the whole converged run."""
    exact, folded = set(), set()
    for secret in secrets:
        if secret and isinstance(secret, str):
            for form in secret_forms(secret):
                if '%' in form:
                    folded.add(form.lower())
                else:
                    exact.add(form)
    lengths = sorted(set(len(form) for form in exact | folded), reverse=True)
    if not lengths:
        return lambda text: text
    shortest = lengths[-1]

    def found_at(text, start):
        """The length of the longest form that starts at ``start``, or 0."""
        for length in lengths:
            part = text[start:start + length]
            if len(part) == length and (part in exact or (folded and part.lower() in folded)):
                return length
        return 0

    def hide(text):
        if len(text) < shortest:
            return text  # too short to hold any form, as most messages of a run ("OK") are
        pieces, start, kept = [], 0, 0
        while start <= len(text) - shortest:
            length = found_at(text, start)
            if length:
                pieces += [text[kept:start], MASK]
                start = kept = start + length
            else:
                start += 1
        return ''.join(pieces + [text[kept:]]) if pieces else text
    return hide


def mask(text, secrets):
    """``text`` with every form of every secret replaced by ``MASK``."""
    return masker(secrets)(text)


def mask_passwords(text, secrets=()):
    """``text`` (a database driver's message, say) without any form of ``secrets`` nor anything shaped like a password."""
    text = mask(str(text), secrets)
    for pattern, replacement in _PASSWORD_SHAPES:
        text = pattern.sub(replacement, text)
    return text


def hider(secrets):
    """A function that masks every form of every secret in a text, or in every text of a result (nested dicts and lists),
    as a module's no_log values are masked wherever they are in its output."""
    hide_text = masker(secrets)
    seen = {}  # a name is in a result twice (its item, and the list of its action): searched once

    def hide(value):
        if isinstance(value, dict):
            return dict((key, hide(entry)) for key, entry in value.items())
        if isinstance(value, list):
            return [hide(entry) for entry in value]
        if not isinstance(value, str):
            return value
        if value not in seen:
            seen[value] = hide_text(value)
        return seen[value]
    return hide


def _password_parameters(query):
    for item in query.split('&') if query else ():
        key, eq, value = item.partition('=')
        yield item, key, eq, value, bool(eq and 'password' in unquote(key).lower())


def uri_passwords(value):
    """The passwords a URI carries (user part and password query parameters), as written and percent-decoded; none when
    ``value`` is no URI (a file path, None), so that any option value may be given."""
    if not isinstance(value, str) or '://' not in value:
        return []
    rest = value.partition('://')[2]
    found = []
    authority = re.match(r'[^/?#]*', rest).group(0)
    if '@' in authority:
        userinfo = authority.rsplit('@', 1)[0]
        if ':' in userinfo:
            found.append(userinfo.split(':', 1)[1])
    found.extend(value for _item, _key, _eq, value, secret in _password_parameters(rest.partition('?')[2]) if secret)
    return [secret for secret in set(found + [unquote(value) for value in found]) if secret]


def mask_uri(uri):
    """The URI with the password of its user part and any password query parameter replaced by ``MASK``."""
    scheme, sep, rest = uri.partition('://')
    if not sep:
        return uri
    authority, tail = re.match(r'([^/?#]*)(.*)', rest, re.S).groups()
    if '@' in authority:
        userinfo, hosts = authority.rsplit('@', 1)
        if ':' in userinfo:
            userinfo = userinfo.split(':', 1)[0] + ':' + MASK
        authority = userinfo + '@' + hosts
    path, qsep, query = tail.partition('?')
    if qsep:
        query = '&'.join(key + eq + MASK if secret else item for item, key, eq, _value, secret in _password_parameters(query))
    return scheme + sep + authority + path + qsep + query
