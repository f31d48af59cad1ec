# -*- coding: utf-8 -*-
# Copyright: (c) 2026, smsbox.account contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Same-named groups of several inventories that set a main account's variables differently.

Ansible merges groups of the same name across inventory sources (``-i eu -i us``), and for such a group
every source's ``group_vars/<group>.yml`` applies to every host of the group, the last source winning.
A second region copied from the first keeps its group names: its shops would then be created and paid
under the other region's main account, and sub-accounts cannot be deleted through the API. This reads,
for each group that holds hosts of the play, where each inventory source defines the main account's
variables (its ``group_vars`` files, or the ``vars`` of the group in a YAML inventory), and reports a
group that two sources define differently. It names the group, the variables and the sources, never a
value. INI inventories' ``[group:vars]`` are not read (documented).
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os

GROUP_VARS_SUFFIXES = ('', '.yml', '.yaml', '.json')
INVENTORY_SUFFIXES = ('.yml', '.yaml')


def _plain(value):
    """A comparable form: vaulted strings compare by what they decrypt to, not by their ciphertext."""
    if isinstance(value, dict):
        return dict((str(key), _plain(item)) for key, item in value.items())
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    if value is None or isinstance(value, (bool, int, float)):
        return value
    return str(value)


def _group_vars_files(directory, group):
    """The files Ansible's host_group_vars plugin reads for ``group`` beside an inventory source."""
    base = os.path.join(directory, 'group_vars', group)
    found = []
    for suffix in GROUP_VARS_SUFFIXES:
        path = base + suffix
        if suffix == '' and os.path.isdir(path):
            for root, _dirs, files in os.walk(path):
                found.extend(os.path.join(root, name) for name in sorted(files) if not name.startswith('.'))
        elif suffix and os.path.isfile(path):
            found.append(path)
    return found


def _yaml_inventory_files(source):
    if os.path.isfile(source):
        return [source] if source.endswith(INVENTORY_SUFFIXES) else []
    if not os.path.isdir(source):
        return []
    return [os.path.join(source, name) for name in sorted(os.listdir(source))
            if name.endswith(INVENTORY_SUFFIXES) and os.path.isfile(os.path.join(source, name))]


def _inline_group_vars(data, groups, found):
    """Walks a YAML inventory ({group: {vars, hosts, children}}), collecting the vars of the groups asked for."""
    if not isinstance(data, dict):
        return
    for group, body in data.items():
        if not isinstance(body, dict):
            continue
        if group in groups and isinstance(body.get('vars'), dict):
            found.setdefault(group, {}).update(body['vars'])
        _inline_group_vars(body.get('children'), groups, found)


class SourceReader:
    """What each inventory source defines for a group, read once per file; ``load(path)`` reads YAML (vault included)."""

    def __init__(self, load, variables):
        self.load = load
        self.variables = frozenset(variables)
        self._inline = {}

    def defined(self, source, group, groups):
        """{variable: value} of the main account's variables that ``source`` sets on ``group``."""
        directory = source if os.path.isdir(source) else os.path.dirname(source)
        values = {}
        for path in _group_vars_files(directory, group):
            data = self.load(path)
            if isinstance(data, dict):
                values.update((name, value) for name, value in data.items() if name in self.variables)
        if source not in self._inline:
            inline = {}
            for path in _yaml_inventory_files(source):
                if self._may_set_variables(path):
                    _inline_group_vars(self.load(path), groups, inline)
            self._inline[source] = inline
        values.update((name, value) for name, value in self._inline[source].get(group, {}).items() if name in self.variables)
        return values

    def _may_set_variables(self, path):
        # Parsing a large inventory costs more than the rest of the check: a file whose text names none of the
        # variables (and is not vault-encrypted as a whole) sets none of them, so it is not parsed.
        with open(path, 'rb') as handle:
            text = handle.read()
        return text.lstrip().startswith(b'$ANSIBLE_VAULT') or any(name.encode() in text for name in self.variables)


def group_clashes(sources, groups, load, variables):
    """Sentences, one per group that two inventory sources define differently.

    ``sources``: the inventory sources of the run (``ansible_inventory_sources``); ``groups``: the groups
    holding hosts of the play; ``load``: reads a YAML or JSON file (the play's DataLoader, which decrypts vault);
    ``variables``: the main account's variables.
    """
    sources = [source for source in sources or () if isinstance(source, str) and os.path.exists(source)]
    if len(sources) < 2:
        return []
    reader = SourceReader(load, variables)
    problems = []
    for group in sorted(groups):
        defined = [(source, reader.defined(source, group, groups)) for source in sources]
        defined = [(source, values) for source, values in defined if values]
        differing = sorted(set(name for _source, values in defined for name in values
                               if len(set(repr(_plain(other.get(name))) for _other_source, other in defined)) > 1))
        if len(defined) > 1 and differing and group == 'all':
            problems.append(
                'inventories %s each set %s for all their hosts (group_vars/all.yml or the vars of all), differently; with '
                'several inventories every all group applies to every host, the last inventory winning, so every shop would '
                'get one main account (created and paid there, and sub-accounts cannot be deleted). Nothing was sent. Set the '
                'main account\'s variables on a group of each inventory (e.g. eu, us) instead'
                % (' and '.join(source for source, _values in defined), ', '.join(differing)))
        elif len(defined) > 1 and differing:
            problems.append(
                'group %r is defined by inventories %s, which set %s differently; Ansible merges groups of the same name '
                'across inventories, so every host of %r would get the last inventory\'s main account (its shops created '
                'and paid there, and sub-accounts cannot be deleted). Nothing was sent. Give the group a name of its own in '
                'each inventory (e.g. eu_shops, us_shops), and set the main account\'s variables on it'
                % (group, ' and '.join(source for source, _values in defined), ', '.join(differing), group))
    return problems
