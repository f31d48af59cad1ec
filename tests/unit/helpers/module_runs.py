# -*- coding: utf-8 -*-
# Copyright: (c) 2026, smsbox.account contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A module run in-process as ansible-core would run it, and what the user sees of its result.

Its arguments are injected with ``module_args`` (the same on every ansible-core line from 2.16), its ``main()`` is
called, and the JSON it prints is parsed into a ``ModuleRun``: the ``run_module`` fixture (tests/unit/plugins/conftest.py).
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import contextlib
import json

from ansible.module_utils import basic as ansible_basic
from ansible.module_utils.common import warnings as ansible_warnings


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


def clear_ansible_globals():
    # AnsibleModule.warn() and deprecate() collect into module-level globals that would leak between tests.
    ansible_warnings._global_warnings.clear()
    ansible_warnings._global_deprecations.clear()


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
