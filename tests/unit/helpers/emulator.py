# -*- coding: utf-8 -*-
# Copyright: (c) 2026, smsbox.account contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the SMSBOX emulator received and applied, read from its state: what the tests assert on."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible_collections.smsbox.account.tests.unit.helpers.accounts import KEY


def requests_log(emulator):
    return emulator.state()['requests']


def posts(emulator, action=None, since=0):
    """POST requests logged by the emulator (optionally of one action), from index ``since`` of the log."""
    return [entry for entry in requests_log(emulator)[since:]
            if entry['method'] == 'POST' and (action is None or entry['action'] == action)]


def transfer_posts(emulator, to=None, since=0):
    return [entry for entry in posts(emulator, 'credit', since) if to is None or entry['params'].get('to') == to]


def applied_transfers(emulator, key=KEY, to=None):
    return [tx for tx in emulator.state()['accounts'][key]['transfers'] if to is None or tx['to'] == to]


def applied_creates(emulator, key=KEY):
    return emulator.state()['accounts'][key]['creates']
