# -*- coding: utf-8 -*-
# Copyright: (c) 2026, smsbox.account contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Prints, one a line, every form of each secret given: plain, URL-encoded (quote, quote_plus, upper and lower hex), base64.

Used by run_and_check_secrets (emulator.sh) as a grep -F pattern file. Written independently of the
collection's own masking (plugins/module_utils/_inputs.py), so it checks that code, not itself.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import base64
import re
import sys

try:
    from urllib.parse import quote, quote_plus
except ImportError:  # pragma: no cover
    from urllib import quote, quote_plus  # type: ignore


def forms(secret):
    found = set([secret])
    for encoded in (quote(secret, safe=''), quote(secret), quote_plus(secret), quote_plus(secret, safe='')):
        found.add(encoded)
        found.add(re.sub(r'%[0-9A-F]{2}', lambda match: match.group(0).lower(), encoded))
    raw = secret.encode('utf-8')
    for encoded in (base64.b64encode(raw), base64.urlsafe_b64encode(raw)):
        found.update([encoded.decode('ascii'), encoded.decode('ascii').rstrip('=')])
    return sorted(form for form in found if form)


def main(secrets):
    for secret in secrets:
        for form in forms(secret):
            sys.stdout.write(form + '\n')


if __name__ == '__main__':
    main(sys.argv[1:])
