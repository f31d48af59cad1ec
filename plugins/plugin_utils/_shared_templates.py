# -*- coding: utf-8 -*-
# Copyright: (c) 2026, smsbox.account contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The value of a templated host variable, templated once for all the hosts on which it must be the same.

The settings of a main account are written once, in group_vars, often as templates
(``"{{ inventory_dir }}/../ledgers/eu.json"``, ``"{{ lookup('file', ...) }}"``). Reading them through
``hostvars`` templates them again for every host: at 500 hosts, most of the role's plan. A template
gives the same value on two hosts when its text and the raw values of every variable it refers to,
transitively, are the same; such hosts share one templating here. Anything this cannot see through
(variables reached by name at run time, ``vars``, ``hostvars``, values it cannot compare) is templated
per host, as before. A value with no template in it (each host's own ``smsbox_subaccount``, most often)
is read as it is: templating it would give it back unchanged.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import re

from jinja2 import Environment, meta
from jinja2.exceptions import TemplateError

# Variables reached at run time by a computed name: what they refer to cannot be read from the text.
DYNAMIC = re.compile(r'''(?:lookup|query|q)\s*\(\s*['"](?:ansible\.builtin\.)?(?:vars|varnames)['"]|\bvars\s*[\[.]''')
WHOLE_SCOPES = frozenset(('vars', 'hostvars', 'groups', 'play_hosts', 'ansible_play_hosts', 'ansible_play_batch'))
MAX_DEPTH = 5
MAX_SIZE = 4096


def is_template(value):
    return isinstance(value, str) and ('{{' in value or '{%' in value or '{#' in value)


def holds_template(value, depth=0):
    """Whether templating could change ``value``: a template in it, at any depth, or data too deep to tell."""
    if isinstance(value, dict):
        return depth > MAX_DEPTH or any(holds_template(key, depth + 1) or holds_template(item, depth + 1) for key, item in value.items())
    if isinstance(value, (list, tuple)):
        return depth > MAX_DEPTH or any(holds_template(item, depth + 1) for item in value)
    return is_template(value)


class SharedTemplates:
    """``value(host_vars, name)``: ``host_vars[name]``, templated once per distinct template and context, not at all
    when it holds no template."""

    def __init__(self):
        self._environment = Environment()
        self._references = {}
        self._values = {}

    def value(self, host_vars, name):
        raw_vars = getattr(host_vars, '_vars', None)  # the host's variables before templating (HostVarsVars)
        if not isinstance(raw_vars, dict) or name not in raw_vars:
            return host_vars[name]
        if not holds_template(raw_vars[name]):
            return raw_vars[name]  # nothing to template: the value is what the inventory says
        key = self._key(raw_vars, raw_vars[name], 0)
        if key is None:
            return host_vars[name]
        if key not in self._values:
            self._values[key] = host_vars[name]
        return self._values[key]

    def _key(self, raw_vars, text, depth):
        """What the template's value depends on, or None when that cannot be told from the text."""
        if not is_template(text) or depth > MAX_DEPTH or DYNAMIC.search(text):
            return None
        references = self._referenced(text)
        if references is None or references & WHOLE_SCOPES:
            return None
        parts = [(type(text).__name__, str(text))]  # unsafe text is not templated like trusted text
        for reference in sorted(references):
            if reference not in raw_vars:
                continue  # a global (lookup, now, ...) or undefined: the same for every host
            value = raw_vars[reference]
            part = self._key(raw_vars, value, depth + 1) if is_template(value) else _identity(value)
            if part is None:
                return None
            parts.append((reference, part))
        return tuple(parts)

    def _referenced(self, text):
        text = str(text)
        if text not in self._references:
            try:
                self._references[text] = frozenset(meta.find_undeclared_variables(self._environment.parse(text)))
            except TemplateError:
                self._references[text] = None
        return self._references[text]


def _identity(value):
    """A comparable stand-in for a raw value: vaulted text by its ciphertext (never decrypted here), data by its JSON."""
    ciphertext = getattr(value, '_ciphertext', None)
    if ciphertext is not None:
        return ('vault', ciphertext if isinstance(ciphertext, (str, bytes)) else repr(ciphertext))
    if value is None or isinstance(value, (bool, int, float)):
        return json.dumps(value)
    if isinstance(value, str):
        return (type(value).__name__, str(value))
    if isinstance(value, (list, tuple, dict)):
        try:
            dumped = json.dumps(value, sort_keys=True)
        except (TypeError, ValueError):
            return None
        return dumped if len(dumped) <= MAX_SIZE else None
    return None
