# -*- coding: utf-8 -*-
# Copyright: (c) 2026, smsbox.account contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a file-store ledger holds on disk, read behind the ledger's back."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json


def read_bytes(name):
    with open(name, 'rb') as handle:
        return handle.read()


def snapshot_of(path):
    """The ledger's snapshot (its JSON file), parsed."""
    with open(path) as handle:
        return json.load(handle)


def ledger_files_bytes(path):
    """The bytes of the ledger snapshot and journal (None when absent), to prove a run left them alone."""
    found = {}
    for name in (path, path + '.journal'):
        try:
            with open(name, 'rb') as handle:
                found[name] = handle.read()
        except (IOError, OSError):
            found[name] = None
    return found
