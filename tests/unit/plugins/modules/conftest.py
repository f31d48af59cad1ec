# -*- coding: utf-8 -*-
# Copyright: (c) 2026, smsbox.account contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Shared fixtures for the module tests.

Each module runs in-process: its arguments are injected with ``module_args`` (below, the same on every
ansible-core line from 2.16), its ``main()`` is called, and the JSON it prints is parsed. It talks real HTTP over loopback to an
in-process SMSBOX emulator, so the tests assert on what the emulator applied and logged, and on the
ledger (a file under ``tmp_path``, never ``~/.ansible``).
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import contextlib
import json
import os

import pytest

from ansible.module_utils import basic as ansible_basic
from ansible.module_utils.common import warnings as ansible_warnings

try:
    from ansible.module_utils import _internal as ansible_module_internal  # 2.18+
except ImportError:
    ansible_module_internal = None

try:
    from ansible.module_utils import secrets as ansible_secrets  # 2.22+
    from ansible.module_utils._internal._secrets import SecretMasker
except ImportError:
    ansible_secrets = None

from ansible_collections.smsbox.account.plugins.module_utils._ledger.ledger import Ledger, key_fingerprint
from ansible_collections.smsbox.account.tests.emulator.smsbox_emulator import Emulator

KEY = 'k3y-MAIN-7f3a9c2e11d0'
OTHER_KEY = 'k3y-OTHER-0b1d22c4'
BAD_KEY = 'k3y-WRONG-55aa01ee'
START_BALANCE = 10000


@contextlib.contextmanager
def module_args(args):
    """Expose ``args`` to the AnsibleModule created in this context, as the module's stdin would.

    Works on every ansible-core line: AnsibleModule reads basic._ANSIBLE_ARGS before stdin. From 2.19 it also
    reads basic._ANSIBLE_PROFILE, the serialization profile of those bytes; 'legacy' is plain JSON and what
    2.19's own ansible.module_utils.testing.patch_module_args sets.
    """
    patches = {'_ANSIBLE_ARGS': json.dumps({'ANSIBLE_MODULE_ARGS': args}).encode('utf-8')}
    if hasattr(ansible_basic, '_ANSIBLE_PROFILE'):
        patches['_ANSIBLE_PROFILE'] = 'legacy'
    saved = dict((name, getattr(ansible_basic, name)) for name in patches)
    for name, value in patches.items():
        setattr(ansible_basic, name, value)
    try:
        yield
    finally:
        for name, value in saved.items():
            setattr(ansible_basic, name, value)


def _clear_ansible_globals():
    # AnsibleModule.warn() and deprecate() collect into module-level globals that would leak between tests.
    ansible_warnings._global_warnings.clear()
    ansible_warnings._global_deprecations.clear()


@pytest.fixture(autouse=True)
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
    _clear_ansible_globals()
    yield
    _clear_ansible_globals()


@pytest.fixture
def emulator():
    """An emulator with one funded main account (KEY) and one other (OTHER_KEY)."""
    with Emulator(accounts={KEY: START_BALANCE, OTHER_KEY: 500}) as emu:
        yield emu


@pytest.fixture
def ledger_path(tmp_path):
    return str(tmp_path / 'ledgers' / 'main.json')


@pytest.fixture
def base(emulator, ledger_path):
    """The connection options every module call of a test shares."""
    return dict(api_key=KEY, api_url=emulator.url, ledger=ledger_path)


def controller_view(result, secrets):
    """``result`` as the controller shows it: its JSON with each of ``secrets`` masked, in the forms ansible-core's
    masker looks for (as given, and JSON-escaped with and without ASCII escapes)."""
    text = json.dumps(result, indent=4, sort_keys=True, ensure_ascii=False)
    forms = set()
    for secret in (value.strip() for value in secrets):
        if secret:
            forms.update((secret, json.dumps(secret)[1:-1], json.dumps(secret, ensure_ascii=False)[1:-1]))
    for form in sorted(forms, key=len, reverse=True):
        text = text.replace(form, '$REDACTED$')
    return text


class ModuleRun:
    """What one module run printed and how it exited, and what the user sees of it (``out``).

    Before ansible-core 2.22 a module removes the values of its no_log options (and its ``no_log_values``) from
    its result itself. From 2.22 it prints them, listed under ``_ansible_new_secrets``, and the controller
    registers them and masks them wherever it shows a result. So ``raw`` is what the module printed, ``result``
    what the controller keeps (without that list) and ``out`` what it shows, the same on every line: tests of
    what must never show assert on ``out``.
    """

    def __init__(self, rc, raw):
        self.rc = rc
        self.raw = raw
        self.result = json.loads(raw)
        self.out = controller_view(self.result, self.result.pop('_ansible_new_secrets', []))

    @property
    def failed(self):
        return bool(self.result.get('failed'))

    @property
    def msg(self):
        return self.result.get('msg', '')

    @property
    def warnings(self):
        """Warning texts, whatever shape this ansible-core gives them (str, or WarningSummary dicts)."""
        texts = []
        for warning in self.result.get('warnings', []):
            if isinstance(warning, dict):
                texts.append((warning.get('event') or {}).get('msg') or warning.get('msg') or json.dumps(warning))
            else:
                texts.append(str(warning))
        return texts

    def __getitem__(self, key):
        return self.result[key]

    def get(self, key, default=None):
        return self.result.get(key, default)


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
        _clear_ansible_globals()
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


# --- emulator and ledger views ---------------------------------------------------------------------

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


def ledger_view(path, key=KEY):
    """(sub-accounts, transfers) as the ledger holds them, read through its own read-only session."""
    book = Ledger(path, key_fingerprint(key))
    with book.session(exclusive=False) as opened:
        return opened.subaccounts(), opened.transfers()


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


def fill_ledger(path, names, key=KEY, origin='created'):
    """Record sub-accounts as present through the Ledger API."""
    book = Ledger(path, key_fingerprint(key))
    with book.session() as opened:
        for name in names:
            opened.record_subaccount(name, origin=origin, state='present', nolimit=False if origin == 'created' else None)
