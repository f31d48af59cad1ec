# -*- coding: utf-8 -*-
# Copyright: (c) 2026, smsbox.account contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The argument spec of every module, and the connection options they share: one home.

The modules build their AnsibleModule from these, and the role's in-process converge
(plugin_utils/_converge_accounts.py) validates its parameters with the same ones, so the two cannot
drift. The options are documented in each module's DOCUMENTATION, the connection options once in
the ``smsbox.account.connection`` doc fragment. Environment variables are fallbacks used only when
an option is unset.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible.module_utils.basic import env_fallback

from ansible_collections.smsbox.account.plugins.module_utils._inputs import DEFAULT_API_URL, DEFAULT_RETRIES
from ansible_collections.smsbox.account.plugins.module_utils._ledger.statements import PERIODS
from ansible_collections.smsbox.account.plugins.module_utils._ledger.store import DEFAULT_CONNECTIONS, DEFAULT_LOCK_TIMEOUT

DEFAULT_CONCURRENCY = 4

CONNECTION_SPEC = dict(
    # Not required=True: a missing key must be reported with the SMSBOX_API_KEY variable it can come from.
    api_key=dict(type='str', no_log=True, fallback=(env_fallback, ['SMSBOX_API_KEY'])),
    api_url=dict(type='str', default=DEFAULT_API_URL, fallback=(env_fallback, ['SMSBOX_API_URL'])),
    validate_certs=dict(type='bool', default=True),
    ca_path=dict(type='path'),
    timeout=dict(type='float', default=10.0),
    # Reads only, and writes that never left: a create or a transfer that may have arrived is never sent again.
    retries=dict(type='int', default=DEFAULT_RETRIES, fallback=(env_fallback, ['SMSBOX_RETRIES'])),
    # str, not path: a path's expandvars would mangle a URI, or a '$' in its password; ~ is expanded for files when used.
    ledger=dict(type='str', fallback=(env_fallback, ['SMSBOX_LEDGER'])),
    lock_timeout=dict(type='float', default=DEFAULT_LOCK_TIMEOUT, fallback=(env_fallback, ['SMSBOX_LOCK_TIMEOUT'])),
    ledger_connections=dict(type='int', default=DEFAULT_CONNECTIONS, fallback=(env_fallback, ['SMSBOX_LEDGER_CONNECTIONS'])),
    run_label=dict(type='str', fallback=(env_fallback, ['SMSBOX_RUN_LABEL'])),
)


def with_connection(spec):
    """``spec`` with the connection options, as the modules that talk to SMSBOX take them."""
    return dict(CONNECTION_SPEC, **spec)


# smsbox_subaccount: an item of its bulk form, whose options the single form takes at the top.
SUBACCOUNT_ITEM = dict(
    name=dict(type='str', required=True),
    password=dict(type='str', no_log=True),
    nolimit=dict(type='bool'),
    adopt=dict(type='bool'),
    baseline=dict(type='raw'),
    state=dict(type='str', choices=['present', 'retired']),
    acknowledge=dict(type='bool'),
)
SUBACCOUNT_SPEC = dict(
    name=dict(type='str'),
    password=dict(type='str', no_log=True),
    nolimit=dict(type='bool', default=False),
    adopt=dict(type='bool', default=False),
    baseline=dict(type='raw'),
    state=dict(type='str', default='present', choices=['present', 'retired']),
    acknowledge=dict(type='bool', default=False),
    subaccounts=dict(type='list', elements='dict', options=SUBACCOUNT_ITEM),
    concurrency=dict(type='int', default=DEFAULT_CONCURRENCY),
)
SUBACCOUNT_RULES = dict(mutually_exclusive=[('name', 'subaccounts'), ('password', 'subaccounts'), ('baseline', 'subaccounts')],
                        required_one_of=[('name', 'subaccounts')])

# smsbox_credit: allocated, amount and resolve are raw, checked per item in messages that name the sub-account.
CREDIT_ITEM = dict(
    subaccount=dict(type='str', required=True),
    allocated=dict(type='raw'),
    amount=dict(type='raw'),
    transfer_id=dict(type='str'),
    resolve=dict(type='raw'),
    period=dict(type='str'),
)
CREDIT_SPEC = dict(
    allocations=dict(type='list', elements='dict', options=CREDIT_ITEM),
    concurrency=dict(type='int', default=DEFAULT_CONCURRENCY),
    **dict(CREDIT_ITEM, subaccount=dict(type='str'))
)
CREDIT_RULES = dict(mutually_exclusive=[('subaccount', 'allocations')], required_one_of=[('subaccount', 'allocations')])

BALANCE_INFO_SPEC = {}

LEDGER_COPY_SPEC = dict(
    dest=dict(type='str', required=True),
    source_fingerprint=dict(type='str'),
    move_aside=dict(type='bool', default=False),
)

# smsbox_ledger_info sends nothing to SMSBOX, but takes the connection options too, so that one module_defaults group
# serves every module: it uses the ledger's, and the key for its fingerprint (SmsboxModule adds them, as to the others).
LEDGER_INFO_SPEC = dict(
    key_fingerprint=dict(type='str', no_log=False),
    subaccounts=dict(type='list', elements='str'),
    since=dict(type='str'),
    until=dict(type='str'),
    period=dict(type='str', choices=list(PERIODS)),
    csv=dict(type='path'),
)
