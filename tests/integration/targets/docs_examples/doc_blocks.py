# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The fenced examples of the collection's documentation, what each one is, and how it is adapted to run here.

Plain module of the docs_examples target (run_examples.py runs what it finds; docs/testing.md describes both).
Every fenced block in a language below is an example and must be classified: by itself (a shell block is a
command, a YAML list of plays a play, a YAML list of tasks a task list) or by a directive, an HTML comment on the
line before its fence::

    <!-- example: inventory-hosts; id guide-host -->

Clauses, separated by ";" (a kind, then options):

  kinds     play | tasks | command          what the block would be found to be anyway (rarely needed)
            inventory                       a YAML inventory file: provisioned with the role
            inventory-hosts                 the hosts of an inventory group: put under group "shops" of a
                                            scratch inventory, provisioned with the role
            inventory-files                 files of an inventory, each after a "# PATH" line: written, the
                                            inventory of the first provisioned with the role
            group-vars                      the variables of a group: set on the group of a one-shop inventory,
                                            provisioned with the role
            ledger-file                     a ledger file (JSON): written, then read by smsbox_balance_info
            config CHECKER                  YAML for another tool (AWX, CI, ansible-builder...): parsed, and
                                            checked for what the text says of it (config_checks.py)
            not-runnable: REASON            parsed only (YAML, JSON; shell with bash -n); the rest is the reason
  options   id NAME                         names the block, for after and then-rerun
            after NAME                      runs in the scratch directory and on the emulator of NAME, after it
            in DIR                          runs in that directory of the scratch one: examples (a copy of the
                                            examples/ inventories), clone (a copy of the repository, where the
                                            collection is not installed yet)
            -i PATH                         a play or task list runs on that inventory (else on localhost)
            stdin WHAT                      the command reads WHAT on its standard input: key, password
            given unknown-transfer NAME N   before it, NAME is created and a transfer of N credits to it is left
                                            unknown (its answer lost); afterwards, nothing may be left unsettled
            given ledger                    before it, the key's default ledger file exists (one sub-account)
            needs postgresql                runs on the test PostgreSQL; parsed only where there is none
            requires TOOL                   runs where TOOL is on PATH; parsed only elsewhere
            twice                           runs twice; the second run must send no create and no transfer
            then-rerun NAME                 afterwards NAME runs again and must send no create and no transfer
            says TEXT                       the output must hold TEXT
"""

from __future__ import absolute_import, division, print_function

import glob
import os
import re

__metaclass__ = type  # pylint: disable=invalid-name

# The pages whose examples are run, relative to the collection root. The developer pages (architecture,
# performance, testing) are included: their commands are classified too (most are not runnable here).
DOC_GLOBS = ('README.md', 'docs/*.md', 'roles/*/README.md', 'extensions/*/README.md', 'examples/README.md')

LANGUAGES = {'yaml': 'yaml', 'yml': 'yaml', 'sh': 'shell', 'bash': 'shell', 'shell': 'shell', 'console': 'shell',
             'json': 'json', 'cron': 'cron'}
# A fence without a language holds output (a summary line, an error message, a diagram): nothing to run.

KINDS = ('play', 'tasks', 'command', 'inventory', 'inventory-hosts', 'inventory-files', 'group-vars', 'ledger-file',
         'config', 'not-runnable')

FENCE = re.compile(r'^(?P<indent>[ \t]*)(?P<fence>```+|~~~+)[ \t]*(?P<lang>[\w+.-]*)[ \t]*$')
DIRECTIVE = re.compile(r'^[ \t]*<!--[ \t]*example:(?P<body>.*?)-->[ \t]*$')

# The doc's example values that stand for the operator's own, and what each becomes here: the whole adaptation.
# (pattern, name of the value in the run's values; a value that is None leaves the text as it is)
SUBSTITUTIONS = (
    (r'https://api\.smsbox\.pro/1\.1/api\.php', 'api_url'),                 # the API: the emulator
    (r'(?<=\bSMSBOX_API_KEY=)\.\.\.', 'api_key'),                            # export SMSBOX_API_KEY=...: a key of it
    (r'(?<![\w.~-])/srv/', 'srv_dir'),                                       # /srv/smsbox/...: under the scratch dir
    (r'--ask-vault-pass\b', 'vault_password_option'),                       # a vault password file instead,
    (r'(?<=ansible-vault encrypt_string)(?![^\n]*--vault-password-file)', 'vault_password_option_added'),  # as asked
    (r'!vault \|(?P<comment>[ \t]*(?:#[^\n]*)?)\n(?P<indent>[ \t]+)\$ANSIBLE_VAULT;1\.1;AES256\n(?P=indent)\.\.\.[^\n]*',
     'vault_block'),                                                          # a vaulted password: a real one
    (r'!vault \| \.\.\.', 'vault_inline'),                                   # the same, on one line
    (r'postgresql://smsbox@db\.example\.net/smsbox\?sslmode=verify-full', 'postgresql_uri'),
    (r'\btx-4be1c2a09d3f\b', 'unknown_transfer_id'),                        # the transfer "given" left unknown
    (r'\b3f2a9c01b7de\b|<old>', 'key_fingerprint'),                         # the key's fingerprint
    (r'<new>', 'rotated_key_fingerprint'),                                  # a rotated key's fingerprint
)
# Besides the text, the environment (run_examples.py): every command runs with HOME a scratch directory (so ~/.ansible
# is under it), SMSBOX_API_URL the emulator's, SMSBOX_API_KEY a key of it and no SMSBOX_LEDGER; vault_* variables get
# test values (KEY_VARIABLES), in a vaulted vault.yml beside the commands, which the plays and task lists run here get
# as extra vars with smsbox_api_url, the emulator's.


class Block:
    """One fenced block of a page: where it is, its language and text, and its directive (clauses)."""

    def __init__(self, path, line, lang, text, directive):
        self.path, self.line, self.lang, self.text = path, line, lang, text
        self.directive = directive  # the directive's text, or None
        self.options = {}
        self.kind = None
        self.kind_arg = None

    @property
    def id(self):
        """The block's name: its id option, else PATH:LINE."""
        return self.options.get('id') or '%s:%d' % (self.path, self.line)

    @property
    def where(self):
        return '%s:%d' % (self.path, self.line)

    @property
    def language(self):
        return LANGUAGES.get(self.lang)


def doc_paths(root):
    """The pages whose examples are run, relative to root, in a stable order."""
    found = []
    for pattern in DOC_GLOBS:
        found.extend(sorted(os.path.relpath(path, root) for path in glob.glob(os.path.join(root, pattern))))
    return found


def read_blocks(root, path):
    """Every fenced block of one page, with the directive before it; raises ValueError on a stray directive."""
    with open(os.path.join(root, path), encoding='utf-8') as handle:
        lines = handle.read().split('\n')
    blocks, directive, directive_line, index = [], None, None, 0
    while index < len(lines):
        line = lines[index]
        match = FENCE.match(line)
        if not match:
            found = DIRECTIVE.match(line)
            if found:
                if directive is not None:
                    raise ValueError('%s:%s: a directive not followed by a fenced block' % (path, directive_line))
                directive, directive_line = found.group('body').strip(), index + 1
            elif line.strip() and directive is not None:
                raise ValueError('%s:%s: a directive not followed by a fenced block' % (path, directive_line))
            index += 1
            continue
        indent, fence = match.group('indent'), match.group('fence')
        body, end = [], index + 1
        while end < len(lines):
            closing = lines[end].strip()
            if closing.startswith(fence[0] * len(fence)) and not closing.strip(fence[0]):
                break
            body.append(lines[end][len(indent):] if lines[end].startswith(indent) else lines[end].lstrip())
            end += 1
        else:
            raise ValueError('%s:%d: a fenced block that is never closed' % (path, index + 1))
        blocks.append(Block(path, index + 1, match.group('lang').lower(), '\n'.join(body) + '\n', directive))
        directive = None
        index = end + 1
    if directive is not None:
        raise ValueError('%s:%d: a directive not followed by a fenced block' % (path, directive_line))
    return blocks


def parse_directive(block):
    """Sets block.kind, kind_arg and options from its directive; raises ValueError naming the block."""
    if block.directive is None:
        return
    body = block.directive
    head, sep, reason = body.partition('not-runnable:')
    if sep:
        if not reason.strip():
            raise ValueError('%s: not-runnable needs a reason' % block.where)
        block.kind, block.kind_arg = 'not-runnable', reason.strip()
        body = head.rstrip().rstrip(';')
    for clause in (part.strip() for part in body.split(';')):
        if not clause:
            continue
        word, _sep, rest = clause.partition(' ')
        rest = rest.strip()
        if word in KINDS:
            if block.kind is not None:
                raise ValueError('%s: two kinds in one directive (%s, %s)' % (block.where, block.kind, word))
            if (word == 'config') != bool(rest):
                raise ValueError('%s: %s' % (block.where, 'config needs a checker' if word == 'config'
                                             else 'the kind %s takes no argument' % word))
            block.kind, block.kind_arg = word, rest or None
        elif word in ('id', 'after', 'in', '-i', 'stdin', 'requires', 'then-rerun', 'says') and rest:
            block.options[word] = rest
        elif word == 'needs' and rest == 'postgresql':
            block.options['needs'] = rest
        elif word == 'twice' and not rest:
            block.options['twice'] = True
        elif word == 'given' and (re.match(r'^unknown-transfer [\w.@-]+ [1-9][0-9]*$', rest) or rest == 'ledger'):
            block.options['given'] = rest.split()
        else:
            raise ValueError('%s: unknown directive clause %r' % (block.where, clause))
    if block.options.get('stdin') not in (None, 'key', 'password'):
        raise ValueError('%s: stdin takes key or password' % block.where)
    if block.options.get('in') not in (None, 'examples', 'clone'):
        raise ValueError('%s: in takes examples or clone' % block.where)


def classify(block, load_yaml):
    """The block's kind, found from its text when its directive gives none; raises ValueError if it cannot be.

    load_yaml(text) parses adapted YAML (vault tags allowed)."""
    if block.kind is not None:
        return block.kind
    if block.language == 'shell':
        block.kind = 'command'
    elif block.language == 'yaml':
        data = load_yaml(block.text)
        if isinstance(data, list) and data and all(isinstance(item, dict) for item in data):
            if all('hosts' in item or 'ansible.builtin.import_playbook' in item or 'import_playbook' in item
                   for item in data):
                block.kind = 'play'
            elif not any('hosts' in item for item in data) and all(_is_task(item) for item in data):
                block.kind = 'tasks'
    if block.kind is None:
        raise ValueError('%s: a %s example that is not a command, a play or a task list: give it a directive '
                         '(<!-- example: KIND ... -->, see %s)' % (block.where, block.lang, __file__.rsplit('/', 1)[-1]))
    return block.kind


def _is_task(item):
    # A task names a module by its fully qualified name (or is a block).
    return any('.' in key for key in item) or 'block' in item


def substitute(text, values):
    """The text with the doc's stand-ins replaced by the values of this run (SUBSTITUTIONS)."""
    for pattern, name in SUBSTITUTIONS:
        value = values.get(name)
        if value is None:
            continue
        text = re.sub(pattern, value if callable(value) else (lambda _match, value=value: value), text)
    return text


def shell_commands(lang, text):
    """The shell text to run: a console block keeps only its "$ " lines."""
    if lang != 'console':
        return text
    return ''.join(line[2:] + '\n' for line in text.splitlines() if line.startswith('$ '))


def split_files(text):
    """An inventory-files block: [(path, content)], each file after a "# PATH" line."""
    files, current = [], None
    for line in text.splitlines(True):
        match = re.match(r'^# (\S+\.ya?ml)\b', line)
        if match:
            current = [match.group(1), '']
            files.append(current)
        elif current is not None:
            current[1] += line
        elif line.strip():
            raise ValueError('text before the first "# PATH" line')
    if not files:
        raise ValueError('no "# PATH" line')
    return [tuple(item) for item in files]


def collect(root, load_yaml):
    """Every block of every page, classified: (blocks, errors). Output samples (no language) come with kind None."""
    blocks, errors = [], []
    for path in doc_paths(root):
        try:
            found = read_blocks(root, path)
        except ValueError as exc:
            errors.append(str(exc))
            continue
        for block in found:
            if block.lang and block.lang not in LANGUAGES:
                errors.append('%s: fenced block in an unknown language %r (one of %s, or none for output)'
                              % (block.where, block.lang, ', '.join(sorted(LANGUAGES))))
                continue
            try:
                parse_directive(block)
                if block.lang:
                    classify(block, load_yaml)
                elif block.directive is not None:
                    raise ValueError('%s: a directive on a block without a language (output)' % block.where)
            except ValueError as exc:
                errors.append(str(exc))
                continue
            blocks.append(block)
    errors.extend(_check_links(blocks))
    return blocks, errors


def _check_links(blocks):
    errors, ids = [], {}
    for block in blocks:
        if 'id' in block.options:
            if block.options['id'] in ids:
                errors.append('%s: id %s is also %s' % (block.where, block.options['id'], ids[block.options['id']].where))
            ids[block.options['id']] = block
    for block in blocks:
        for option in ('after', 'then-rerun'):
            if option in block.options and block.options[option] not in ids:
                errors.append('%s: %s names no block: %s' % (block.where, option, block.options[option]))
        if block.kind in ('config', 'not-runnable') and set(block.options) - {'id', 'after', 'in', 'requires'}:
            errors.append('%s: a %s block takes no run options' % (block.where, block.kind))
    return errors


def groups(blocks):
    """The runnable and checked blocks in groups: each group shares a scratch directory and the emulator, its blocks
    in order (a block after the one its after names; otherwise in the order of the pages)."""
    leaders, followers = [], {}
    for block in blocks:
        if block.kind is None:
            continue
        after = block.options.get('after')
        if after:
            followers.setdefault(after, []).append(block)
        else:
            leaders.append(block)
    result = []
    for leader in leaders:
        group, queue = [], [leader]
        while queue:
            block = queue.pop(0)
            group.append(block)
            queue = followers.get(block.id, []) + queue
        result.append(group)
    grouped = set(id(block) for group in result for block in group)
    missing = [block.where for block in blocks if block.kind is not None and id(block) not in grouped]
    if missing:
        raise ValueError('blocks in a cycle of after: %s' % ', '.join(missing))
    return result


def describe(block):
    """One line for the listing: where, id, kind, options."""
    options = ' '.join('%s=%s' % (name, ' '.join(value) if isinstance(value, list) else value)
                       for name, value in sorted(block.options.items()) if name != 'id')
    kind = block.kind or 'output'
    if block.kind_arg:
        kind += ' (%s)' % block.kind_arg
    return '%-36s %-18s %s %s' % (block.where, block.options.get('id', ''), kind, options)
