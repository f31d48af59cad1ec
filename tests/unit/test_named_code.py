# -*- coding: utf-8 -*-
# Copyright: (c) 2026, smsbox.account contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the pages and the code's own text name exists.

A file named in README.md, docs/*.md, the READMEs of the role, the extensions and the examples, or in the comments,
docstrings and messages of plugins/ and extensions/, is a file of the repository; a private module, class or function
they name in backticks (``_inputs.check_name``, ``Ledger.unrecorded``, ``_open_writers``) is one of the code. A file
renamed or a function moved fails here until the text that names it follows. So does a test that the rule table of
docs/architecture.md names ("Where each rule lives": one test per rule), renamed or moved.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import ast
import fnmatch
import io
import os
import re
import tokenize

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
SKIPPED_DIRS = frozenset(('.git', '.venv', '.build', '.cache', '__pycache__', 'output'))
CODE_DIRS = ('plugins', 'extensions')
# A file name: a path ending in .py, .sh or .md, possibly with ../ or .../ before it, <placeholders> or * in it.
FILE_NAME = re.compile(r'(?<![\w./-])((?:\.{2,3}/)*[\w<>{}*][\w./<>{}*-]*\.(?:py|sh|md))(?![\w/])')
# What a page or a docstring names in backticks: a dotted name, perhaps called.
CODE_NAME = re.compile(r'`([A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*)(?:\(\))?`')
# The files a page shows how to add (docs/architecture.md, "Adding an operation"): named before they exist.
EXAMPLES_OF_NEW_FILES = frozenset(('plugins/modules/smsbox_rename.py', '_converge/renames.py'))
# The test a row of the rule table names: a unit test as `file::function`, or an integration test as `its file`, "the
# scenario it prints".
UNIT_TEST = re.compile(r'^`(tests/[\w./-]+\.py)::(\w+)`$')
INTEGRATION_TEST = re.compile(r'^`(tests/integration/targets/[\w./-]+)`, "([^"]+)"$')
# Private names of ansible-core the pages explain (how 2.22 masks a module's secrets): not ours to check.
ANSIBLE_CORE_NAMES = frozenset(('_ansible_new_secrets',))


def repository_files():
    found = []
    for directory, dirs, files in os.walk(ROOT):
        dirs[:] = [name for name in dirs if name not in SKIPPED_DIRS]
        found.extend(os.path.relpath(os.path.join(directory, name), ROOT).replace(os.sep, '/') for name in files)
    return found


FILES = repository_files()


def pages():
    """(path, text) of README.md, docs/*.md and the READMEs of the role, the extensions and the examples."""
    names = ['README.md', 'examples/README.md'] + sorted(
        name for name in FILES if fnmatch.fnmatchcase(name, 'docs/*.md') and name.count('/') == 1
        or fnmatch.fnmatchcase(name, 'roles/*/README.md') or fnmatch.fnmatchcase(name, 'extensions/*/README.md'))
    for name in names:
        with open(os.path.join(ROOT, name), encoding='utf-8') as handle:
            yield name, handle.read()


def code_text():
    """(path, text) of each Python file of plugins/ and extensions/: its comments and strings (docstrings, messages)."""
    for name in FILES:
        if name.split('/')[0] in CODE_DIRS and name.endswith('.py'):
            with open(os.path.join(ROOT, name), encoding='utf-8') as handle:
                tokens = tokenize.generate_tokens(io.StringIO(handle.read()).readline)
                yield name, '\n'.join(token.string for token in tokens if token.type in (tokenize.COMMENT, tokenize.STRING))


def file_exists(name, named_in):
    """Whether the file ``name``, as the text at ``named_in`` writes it, is one of the repository's."""
    if name.startswith('../'):
        resolved = os.path.normpath(os.path.join(os.path.dirname(named_in), name)).replace(os.sep, '/')
        return resolved in FILES
    pattern = re.sub(r'<[^>]*>|\{[^}]*\}', '*', re.sub(r'^\.\.\./', '*/', name))
    return any(fnmatch.fnmatchcase(path, pattern) or fnmatch.fnmatchcase(path, '*/' + pattern) for path in FILES)


def missing_files(texts):
    missing = []
    for named_in, text in texts:
        for name in sorted(set(FILE_NAME.findall(text))):
            if name not in EXAMPLES_OF_NEW_FILES and not file_exists(name, named_in):
                missing.append('%s names %s' % (named_in, name))
    return missing


class CodeIndex:
    """The modules, classes and names of plugins/ and extensions/, read with ast (nothing is imported)."""

    def __init__(self):
        self.modules = {}  # '_inputs' -> [top-level names of each file so named]
        self.packages = {}  # '_ledger' -> [what it holds: module and package names]
        self.classes = {}  # 'Ledger' -> set of its members (methods, class attributes, self.attributes)
        self.names = set()  # every function, method, class and attribute name
        for name in FILES:
            if name.split('/')[0] not in CODE_DIRS or not name.endswith('.py'):
                continue
            parts = name[:-3].split('/')
            for package, inside in zip(parts[:-1], parts[1:]):
                self.packages.setdefault(package, set()).add(inside)
            with open(os.path.join(ROOT, name), encoding='utf-8') as handle:
                tree = ast.parse(handle.read())
            self.modules.setdefault(parts[-1], []).append(self.read_module(tree))

    def read_module(self, tree):
        top = set()
        for node in tree.body:
            if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
                top.add(node.name)
            elif isinstance(node, ast.Assign):
                top.update(target.id for target in node.targets if isinstance(target, ast.Name))
            elif isinstance(node, ast.ImportFrom):
                top.update(alias.asname or alias.name for alias in node.names)
            if isinstance(node, ast.ClassDef):
                self.classes.setdefault(node.name, set()).update(self.members(node))
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
                self.names.add(node.name)
            elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
                self.names.add(node.attr)
        return top

    @staticmethod
    def members(class_node):
        found = set()
        for node in ast.walk(class_node):
            if isinstance(node, ast.FunctionDef):
                found.add(node.name)
            elif isinstance(node, ast.Assign):
                found.update(target.id for target in node.targets if isinstance(target, ast.Name))
            elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store) and getattr(node.value, 'id', None) == 'self':
                found.add(node.attr)
        return found

    def in_class(self, cls, rest):
        return not rest or rest[0] in self.classes[cls]

    def exists(self, dotted):
        """Whether a name a page writes is code of the collection; None when it is not this collection's to say (a public
        name, another library's class)."""
        parts = dotted.split('.')
        first, rest = parts[0], parts[1:]
        if first in self.classes:
            return self.in_class(first, rest)
        if not first.startswith('_') or first.startswith('__'):
            return None
        while first in self.packages and first not in self.modules and rest:
            if rest[0] not in self.packages[first]:
                return False
            first, rest = rest[0], rest[1:]
        if first in self.modules:
            if not rest:
                return True
            for top in self.modules[first]:
                if rest[0] in top:
                    return rest[0] not in self.classes or self.in_class(rest[0], rest[1:])
            return False
        return not rest and (first in self.names or first in self.packages)


def rule_table(text):
    """(rule, where, test) of each row of the table under "## Where each rule lives" in ``text``."""
    section = text.split('\n## Where each rule lives\n', 1)[1].split('\n## ', 1)[0]
    rows = [[cell.strip() for cell in line.strip()[1:-1].split(' | ')] for line in section.splitlines() if line.startswith('| ')]
    assert rows and rows[0] == ['rule', 'where', 'test'], 'the rule table has no rule, where and test columns: %r' % rows[:1]
    return [tuple(row) for row in rows[1:]]


def top_level_functions(path):
    with open(os.path.join(ROOT, path), encoding='utf-8') as handle:
        tree = ast.parse(handle.read())
    return set(node.name for node in tree.body if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)))


def missing_tests(rows):
    """What is wrong with the test each row names: none, a file or function that does not exist, a scenario its file
    does not print."""
    missing = []
    for row in rows:
        rule, test = row[0], row[-1]
        unit, integration = UNIT_TEST.match(test), INTEGRATION_TEST.match(test)
        if len(row) != 3 or not (unit or integration):
            missing.append('rule %r names no test as `file::function` or `file`, "scenario": %r' % (rule, test))
        elif unit and unit.group(1) not in FILES:
            missing.append('rule %r names %s, which does not exist' % (rule, unit.group(1)))
        elif unit and unit.group(2) not in top_level_functions(unit.group(1)):
            missing.append('rule %r names %s, which defines no %s' % (rule, unit.group(1), unit.group(2)))
        elif integration and integration.group(1) not in FILES:
            missing.append('rule %r names %s, which does not exist' % (rule, integration.group(1)))
        elif integration:
            with open(os.path.join(ROOT, integration.group(1)), encoding='utf-8') as handle:
                if integration.group(2) not in handle.read():
                    missing.append('rule %r names the scenario %r, which %s does not run' % (rule, integration.group(2), integration.group(1)))
    return missing


def test_every_file_a_page_or_the_code_names_exists():
    missing = missing_files(list(pages()) + list(code_text()))
    assert missing == [], 'names of files that do not exist:\n' + '\n'.join(missing)


def test_every_private_module_class_or_function_a_page_or_a_docstring_names_exists():
    index = CodeIndex()
    missing = []
    for named_in, text in list(pages()) + list(code_text()):
        for name in sorted(set(CODE_NAME.findall(text))):
            if not name.endswith(('.py', '.sh', '.md')) and name not in ANSIBLE_CORE_NAMES and index.exists(name) is False:  # a file: checked above
                missing.append('%s names %s' % (named_in, name))
    assert missing == [], 'code names that do not exist:\n' + '\n'.join(missing)


def test_every_rule_names_one_test_that_exists():
    rows = rule_table(dict(pages())['docs/architecture.md'])
    assert len(set(row[0] for row in rows)) == len(rows) > 30, 'a rule is in the table twice, or the table lost its rows'
    missing = missing_tests(rows)
    assert missing == [], 'the rule table names tests that do not exist:\n' + '\n'.join(missing)


def test_a_stale_name_is_found():
    # The checks themselves: what a rename leaves behind is reported, what exists is not.
    assert missing_files([('docs/architecture.md', '`_ledger_store_postgresql.py`, `_api/client.py`, ../README.md, '
                                                   '.../reliability/test_crash.py, tests/integration/targets/<target>/runme.sh')]) == [
        'docs/architecture.md names _ledger_store_postgresql.py']
    index = CodeIndex()
    assert [index.exists(name) for name in ('_client.SmsboxClient', '_api.client.SmsboxClient._call', '_inputs.mask', '_secrets.mask',
                                            'Ledger.unrecorded', 'Ledger.no_such_thing', '_open_writers', 'Run.check',
                                            'ansible.builtin.uri')] == [False, True, False, True, True, False, False, True, None]
    role = '`tests/integration/targets/role_subaccounts/tasks/free_strategy_is_refused.yml`, '
    assert missing_tests([
        ('kept', 'w', '`tests/unit/test_named_code.py::test_a_stale_name_is_found`'),
        ('renamed', 'w', '`tests/unit/test_named_code.py::test_a_stale_name_was_found`'),
        ('moved', 'w', '`tests/unit/plugins/module_utils/test_engine.py::test_a_stale_name_is_found`'),
        ('scenario kept', 'w', role + '"strategy: free is refused before any request"'),
        ('none', 'w', ''), ('two', 'w', '`tests/unit/test_version.py::test_version_is_semantic`, `tests/unit/test_version.py`'),
    ]) == [
        "rule 'renamed' names tests/unit/test_named_code.py, which defines no test_a_stale_name_was_found",
        "rule 'moved' names tests/unit/plugins/module_utils/test_engine.py, which does not exist",
        "rule 'none' names no test as `file::function` or `file`, \"scenario\": ''",
        "rule 'two' names no test as `file::function` or `file`, \"scenario\": "
        "'`tests/unit/test_version.py::test_version_is_semantic`, `tests/unit/test_version.py`'",
    ]
    assert missing_tests([('scenario gone', 'w', role + '"strategy: host_pinned is refused"')]) == [
        "rule 'scenario gone' names the scenario 'strategy: host_pinned is refused', which "
        "tests/integration/targets/role_subaccounts/tasks/free_strategy_is_refused.yml does not run"]
