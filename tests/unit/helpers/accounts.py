# -*- coding: utf-8 -*-
# Copyright: (c) 2026, smsbox.account contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The main accounts the unit tests use: the emulator's (their API keys and starting balance) and, for the tests of the
ledger alone, two keys and their fingerprints."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible_collections.smsbox.account.plugins.module_utils._ledger.records import key_fingerprint

# The emulator's main accounts: KEY funded with START_BALANCE credits, OTHER_KEY another account, BAD_KEY one it refuses.
KEY = 'k3y-MAIN-7f3a9c2e11d0'
OTHER_KEY = 'k3y-OTHER-0b1d22c4'
BAD_KEY = 'k3y-WRONG-55aa01ee'
START_BALANCE = 10000

# Two ledgers' accounts, for the tests of the ledger alone (no emulator).
KEY_A = 'key-of-account-A-0123456789'
KEY_B = 'key-of-account-B-9876543210'
FP_A = key_fingerprint(KEY_A)
FP_B = key_fingerprint(KEY_B)
