# -*- coding: utf-8 -*-
# Copyright: (c) 2026, smsbox.account contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Writes docs/refused-inputs.md from the catalogue the tests run (tests/unit/refused_inputs.py).

    python3 scripts/refused_inputs_doc.py           # rewrite the page
    python3 scripts/refused_inputs_doc.py --check   # exit 1 when the page is stale (a unit test does the same)
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import importlib.util
import json
import os
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..'))
TABLE = os.path.join(ROOT, 'tests', 'unit', 'refused_inputs.py')
PAGE = os.path.join(ROOT, 'docs', 'refused-inputs.md')
MODULE_TEST = 'tests/unit/plugins/modules/reliability/test_refused_inputs.py::test_refused_before_any_request'
ROLE_TEST = 'tests/unit/plugins/plugin_utils/test_refused_role_inputs.py::test_role_refuses_before_any_request'
SHOWN = 110  # longer inputs are cut in the page (the tests use them whole)

HEADER = """# Refused inputs

Every input below is refused **before any request is sent** to SMSBOX: the task fails with exactly
the message shown, nothing is created or moved, and no ledger is written. The page is generated
from the table the tests run (`tests/unit/refused_inputs.py`) by `scripts/refused_inputs_doc.py`,
and a unit test fails when it is stale, so each message here is the one a user sees today.

In messages, `{url}`, `{ledger}` and `{tmp}` stand for the emulator's URL, the ledger path and a
temporary directory of the test; `{fingerprint}` for the fingerprint of the main account's key.
Module entries are run through the module named, with the connection options `api_key`, `api_url`
(the emulator) and `ledger` added; role entries are inventory hosts planned by the role
`smsbox.account.subaccounts` (its first task), with `smsbox_api_url` and `smsbox_api_key` set on
every host. The role's messages are joined with ` | ` when there are several.

PostgreSQL ledger URIs will be catalogued with that store.
"""


def load_table():
    spec = importlib.util.spec_from_file_location('refused_inputs', TABLE)
    table = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(table)
    return table


def cell(text):
    return text.replace('|', '\\|').replace('\n', '\\n')


def shown_input(entry):
    if entry['kind'] == 'role':
        value = json.dumps(entry['hosts'], sort_keys=True, ensure_ascii=False)
    else:
        value = json.dumps(entry['args'], sort_keys=True, ensure_ascii=False)
        if entry['unset']:
            value += ' without %s' % ', '.join(entry['unset'])
    if len(value) > SHOWN:
        value = value[:SHOWN] + ' ...'
    return value


def render(entries, context=()):
    lines = [HEADER]
    topics = []
    for entry in entries:
        if entry['topic'] not in topics:
            topics.append(entry['topic'])
    lines.append('%d refused inputs: %s.\n' % (len(entries), ', '.join(
        '%s (%d)' % (topic, sum(1 for entry in entries if entry['topic'] == topic)) for topic in topics)))
    for topic in topics:
        lines.append('## %s\n' % topic)
        lines.append('| id | where | input | message | test |')
        lines.append('|---|---|---|---|---|')
        for entry in entries:
            if entry['topic'] != topic:
                continue
            where = entry['module'] if entry['kind'] == 'module' else 'role'
            test = '%s[%s%s]' % (MODULE_TEST if entry['kind'] == 'module' else ROLE_TEST, 'file-' if entry['kind'] == 'module' else '', entry['id'])
            lines.append('| `%s` | %s | `%s` | %s | `%s` |' % (entry['id'], where, cell(shown_input(entry)), cell(entry['message']), test))
        lines.append('')
    if context:
        lines.append('## Refused from what the run finds\n')
        lines.append('Refused before any request too, from the run\'s ledgers or inventory files rather than one input.\n')
        lines.append('| id | where | when | message (its start) | test |')
        lines.append('|---|---|---|---|---|')
        for entry in context:
            lines.append('| `%s` | %s | %s | %s | `%s` |'
                         % (entry['id'], entry['where'], cell(entry['situation']), cell(entry['message']), entry['test']))
        lines.append('')
    return '\n'.join(lines)


def main(argv):
    table = load_table()
    text = render(table.ENTRIES, table.CONTEXT)
    if '--check' in argv:
        with open(PAGE) as handle:
            if handle.read() != text:
                sys.stderr.write('%s is stale: run python3 scripts/refused_inputs_doc.py\n' % PAGE)
                return 1
        return 0
    with open(PAGE, 'w') as handle:
        handle.write(text)
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
