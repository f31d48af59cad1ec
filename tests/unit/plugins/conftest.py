# -*- coding: utf-8 -*-
# Copyright: (c) 2026, smsbox.account contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fixtures that run a module in-process, against an in-process SMSBOX emulator: for the module tests (modules/,
where every test runs ``isolated``), the tests of a converger's rules run through a module (module_utils/, which use
``isolated`` themselves) and the role's in-process converge, compared with them (plugin_utils/).

How a module is run and what the user sees of it: tests/unit/helpers/module_runs.py.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os

import pytest

try:
    from ansible.module_utils import _internal as ansible_module_internal  # 2.18+
except ImportError:
    ansible_module_internal = None

try:
    from ansible.module_utils import secrets as ansible_secrets  # 2.22+
    from ansible.module_utils._internal._secrets import SecretMasker
except ImportError:
    ansible_secrets = None

from ansible_collections.smsbox.account.tests.emulator.smsbox_emulator import Emulator
from ansible_collections.smsbox.account.tests.unit.helpers.accounts import KEY, OTHER_KEY, START_BALANCE
from ansible_collections.smsbox.account.tests.unit.helpers.module_runs import ModuleRun, clear_ansible_globals, module_args


@pytest.fixture
def isolated(monkeypatch, tmp_path):
    """No SMSBOX_* variable from the caller's environment, a private ANSIBLE_HOME, and a target-side module_utils."""
    for name in list(os.environ):
        if name.startswith('SMSBOX_'):
            monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv('ANSIBLE_HOME', str(tmp_path / 'ansible-home'))
    # Once any controller code is imported in this process (the filter tests import ansible.errors), module_utils
    # believes it runs on the controller and sends AnsibleModule.warn() to Display instead of the module result.
    # A module always runs as a target process: say so, whatever ran before. (Before 2.19 there is no such
    # switch: module_utils always reports into the module result.)
    if hasattr(ansible_module_internal, 'is_controller'):
        monkeypatch.setattr(ansible_module_internal, 'is_controller', False)
    clear_ansible_globals()
    yield
    clear_ansible_globals()


@pytest.fixture
def emulator():
    """An emulator with one funded main account (KEY) and one other (OTHER_KEY)."""
    with Emulator(accounts={KEY: START_BALANCE, OTHER_KEY: 500}) as emu:
        yield emu


@pytest.fixture
def run_module(capsys, monkeypatch):
    """run_module(module, args) -> ModuleRun; ``check=True`` and ``diff=True`` set the Ansible modes."""
    def run(module, args, check=False, diff=False):
        args = dict(args)
        if check:
            args['_ansible_check_mode'] = True
        if diff:
            args['_ansible_diff'] = True
        capsys.readouterr()  # drop anything printed earlier
        clear_ansible_globals()
        if ansible_secrets:
            # A module process starts with an empty masker and reports the secrets it registers as new: so must each
            # run here, or a secret an earlier run registered in this process would not be reported again.
            monkeypatch.setattr(ansible_secrets, '_secret_masker', SecretMasker())
        rc = None
        with module_args(args):
            try:
                module.main()
            except SystemExit as exit_:
                rc = exit_.code
        out = capsys.readouterr().out
        assert rc is not None, 'the module returned without exit_json/fail_json: %r' % out
        run_ = ModuleRun(rc, out)
        assert (rc != 0) == run_.failed, 'exit code %r does not match failed=%r' % (rc, run_.failed)
        return run_
    return run


@pytest.fixture
def ledger_path(tmp_path):
    """The ledger of a module test: a file under ``tmp_path``, never ``~/.ansible``."""
    return str(tmp_path / 'ledgers' / 'main.json')


@pytest.fixture
def base(emulator, ledger_path):
    """The connection options every module call of a test shares."""
    return dict(api_key=KEY, api_url=emulator.url, ledger=ledger_path)
