# -*- coding: utf-8 -*-
# Copyright: (c) 2026, smsbox.account contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a record may hold (_ledger/records.py): the fingerprints that stand for a key or a password, and the
checks a record passes before any store sees it."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type


import pytest

from ansible_collections.smsbox.account.plugins.module_utils._ledger.ledger import Ledger, LedgerError, key_fingerprint, password_fingerprint
from ansible_collections.smsbox.account.tests.unit.helpers.accounts import FP_A, FP_B, KEY_A, KEY_B


# -- fingerprints --

def test_key_fingerprint_is_short_stable_and_one_way():
    assert FP_A == key_fingerprint(KEY_A)
    assert len(FP_A) == 12 and int(FP_A, 16) >= 0
    assert FP_A != FP_B
    import hashlib
    assert FP_A == hashlib.sha256(b'smsbox.account:' + KEY_A.encode('utf-8')).hexdigest()[:12]
    assert KEY_A not in FP_A


def test_password_fingerprint_depends_on_key_and_password():
    fp = password_fingerprint(KEY_A, 'hunter2')
    assert len(fp) == 16
    assert fp == password_fingerprint(KEY_A, 'hunter2')
    assert fp != password_fingerprint(KEY_A, 'hunter3')
    assert fp != password_fingerprint(KEY_B, 'hunter2')
    import hashlib
    import hmac
    assert fp == hmac.new(KEY_A.encode(), b'hunter2', hashlib.sha256).hexdigest()[:16]


# -- checks --

def test_record_subaccount_refuses_bad_values(location):
    with Ledger(location, FP_A).session() as book:
        for args, kwargs in [(('', 'created'), {}), (('x', 'made'), {}), (('x', 'created'), {'state': 'gone'}),
                             (('x', 'created'), {'nolimit': 'yes'}), ((None, 'created'), {}),
                             (('x', 'adopted'), {'baseline': -1}), (('x', 'adopted'), {'baseline': 1.5}),
                             (('x', 'adopted'), {'baseline': True}), (('x', 'adopted'), {'baseline': '10'})]:
            with pytest.raises(LedgerError):
                book.record_subaccount(*args, **kwargs)
        assert book.subaccounts() == {}
