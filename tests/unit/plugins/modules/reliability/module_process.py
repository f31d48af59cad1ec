# -*- coding: utf-8 -*-
# Copyright: (c) 2026, smsbox.account contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Runs one module in its own process, as Ansible runs it, optionally stopping at a point for a crash test.

    python module_process.py MODULE ARGS_JSON_FILE PAUSE MARKER_FILE

PAUSE is ``none``, ``after_pending`` (the transfer is recorded pending, not yet sent),
``before_record`` (SMSBOX answered, the outcome is not yet recorded), ``after_announce`` (a create is
recorded unknown, not yet sent) or ``before_record_create`` (SMSBOX answered a create, the answer is
not yet recorded). At the point, the process
writes MARKER_FILE and sleeps until the test kills it. The pause is installed here by monkeypatching;
the production code has no hook for it. Not a test module: test_crash.py starts it.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import importlib
import json
import os
import sys
import time


def stop_here(marker):
    with open(marker + '.tmp', 'w') as handle:
        handle.write(str(os.getpid()))
    os.rename(marker + '.tmp', marker)
    time.sleep(600)
    sys.exit(3)  # never reached in a test: the test kills the process first


# pause -> (the Ledger method, whether the process stops after it ran or instead of running it, when it stops)
PAUSES = {
    'after_pending': ('begin_transfer', 'after', lambda kwargs: True),
    'before_record': ('settle_transfer', 'before', lambda kwargs: True),
    'after_announce': ('announce_create', 'after', lambda kwargs: True),
    'before_record_create': ('record_subaccount', 'before', lambda kwargs: kwargs.get('answered')),
}


def install_pause(pause, marker):
    from ansible_collections.smsbox.account.plugins.module_utils._ledger import ledger  # pylint: disable=import-outside-toplevel
    if pause == 'none':
        return
    if pause not in PAUSES:
        raise ValueError('unknown pause %r' % pause)
    name, when, applies = PAUSES[pause]
    original = getattr(ledger.Ledger, name)

    def paused(self, *args, **kwargs):
        if when == 'before' and applies(kwargs):
            stop_here(marker)
        recorded = original(self, *args, **kwargs)
        if when == 'after' and applies(kwargs):
            stop_here(marker)
        return recorded
    setattr(ledger.Ledger, name, paused)


def main(argv):
    module_name, args_file, pause, marker = argv
    with open(args_file) as handle:
        args = json.load(handle)
    install_pause(pause, marker)
    module = importlib.import_module('ansible_collections.smsbox.account.plugins.modules.%s' % module_name)
    try:
        from ansible.module_utils.testing import patch_module_args  # pylint: disable=import-outside-toplevel
    except ImportError:  # ansible-core before 2.19 reads the arguments from this global
        from ansible.module_utils import basic  # pylint: disable=import-outside-toplevel
        basic._ANSIBLE_ARGS = json.dumps(dict(ANSIBLE_MODULE_ARGS=args)).encode('utf-8')  # pylint: disable=protected-access
        module.main()
        return
    with patch_module_args(args):
        module.main()


if __name__ == '__main__':
    main(sys.argv[1:])
