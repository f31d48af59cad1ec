# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Runs every example of the documentation (doc_blocks.py finds and classifies them) against the SMSBOX emulator.

Plain module of the docs_examples target, run by its runme.sh:

    run_examples.py --root COLLECTION --work WORK_DIR --inputs INPUT_DIR --emulator READY_FILE [--counts FILE]
    run_examples.py --root COLLECTION --list      (what each block is, nothing run)

Each group of blocks (a block and those after it) gets a scratch directory under WORK_DIR/docs/ (its HOME, its /srv,
a copy of examples/, the vault files) and the emulator reset to its starting accounts. The test keys come in
SMSBOX_DOCS_KEY_EU and SMSBOX_DOCS_KEY_US, the mark every test password holds in SMSBOX_DOCS_MARK; what holds a key in
clear (a command with SMSBOX_API_KEY=...) is written under INPUT_DIR, never WORK_DIR, whose files are scanned for
secrets. A block that fails is printed with its adapted text and the end of its output; the run ends in failure.
"""

from __future__ import absolute_import, division, print_function

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.request

import yaml

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import config_checks  # noqa: E402  pylint: disable=wrong-import-position
import doc_blocks  # noqa: E402  pylint: disable=wrong-import-position

__metaclass__ = type  # pylint: disable=invalid-name

# vault_* variables of the examples that hold an API key, and whose key (the emulator's docs accounts); every other
# vault_<name>_password gets a test password. A vault variable that is neither fails the block: add it here.
KEY_VARIABLES = {
    'vault_smsbox_api_key': 'eu',
    'vault_smsbox_eu_key': 'eu',
    'vault_smsbox_api_key_eu': 'eu',
    'vault_smsbox_us_key': 'us',
}
PASSWORD_VARIABLE = re.compile(r'^vault_\w+_password$')
# The variables the harness itself uses (given, group-vars).
HARNESS_VARIABLES = ('vault_given_password', 'vault_docs_shop_password')

NO_HOSTS = ('skipping: no hosts matched', 'Could not match supplied host pattern')


class VaultTolerantLoader(yaml.SafeLoader):  # pylint: disable=too-many-ancestors
    """Reads Ansible YAML for what the harness needs (names, credits): a vaulted value reads as a placeholder."""


VaultTolerantLoader.add_constructor('!vault', lambda loader, node: '<vaulted>')
VaultTolerantLoader.add_constructor('!unsafe', lambda loader, node: loader.construct_scalar(node))


def load_yaml(text):
    return yaml.load(text, Loader=VaultTolerantLoader)  # nosec: the safe loader, with two tags


def vault_values(ciphertext):
    """The two vault stand-ins of the doc, replaced by a real vaulted value (ciphertext, a str of lines)."""
    lines = ciphertext.strip().split('\n')

    def block(match):
        return '!vault |%s\n%s' % (match.group('comment'), '\n'.join(match.group('indent') + line for line in lines))
    return {'vault_block': block, 'vault_inline': '!vault "%s"' % '\\n'.join(lines)}


def classify_load(text):
    """For classification: the YAML of a block, adapted with stand-in values."""
    values = dict(vault_values('$ANSIBLE_VAULT;1.1;AES256\n6162'), api_url='http://127.0.0.1/1.1/api.php', srv_dir='/tmp/srv/')
    return load_yaml(doc_blocks.substitute(text, values))


def collection_modules(root):
    """The collection's Ledger and key_fingerprint, imported from the collection under test."""
    sys.path.insert(0, os.path.abspath(os.path.join(root, '..', '..', '..')))
    from ansible_collections.smsbox.account.plugins.module_utils._ledger.ledger import Ledger, key_fingerprint  # pylint: disable=import-outside-toplevel
    return Ledger, key_fingerprint


class Emulator:
    """The emulator runme.sh started: reset between groups, its state read for the checks."""

    def __init__(self, ready_file):
        with open(ready_file, encoding='utf-8') as handle:
            ready = json.load(handle)
        self.url, self.control = ready['url'], ready['control_url']
        self.opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    def _call(self, method, path, body=None):
        data = json.dumps(body).encode('utf-8') if body is not None else None
        request = urllib.request.Request(self.control + path, data=data, method=method,
                                         headers={'Content-Type': 'application/json'})
        with self.opener.open(request, timeout=10) as response:
            return json.loads(response.read().decode('utf-8'))

    def reset(self):
        self._call('POST', '/reset', {})

    def add_fault(self, fault):
        self._call('POST', '/faults', fault)

    def state(self):
        return self._call('GET', '/state')

    def writes(self):
        """Creates and transfers sent so far (whatever their answer)."""
        return sum(1 for request in self.state()['requests']
                   if request['action'] == 'utilisateur' or (request['action'] == 'credit' and 'to' in request['params']))

    def credits(self):
        """{sub-account: credits} over every main account."""
        return dict((name, sub['credits']) for account in self.state()['accounts'].values()
                    for name, sub in account['subaccounts'].items())


class Failure(Exception):
    """A block did not do what the page says."""


class Outcome:
    """What became of one block: run, checked (config), parsed (with the reason), or failed."""

    def __init__(self, block, status, detail='', seconds=0.0):
        self.block, self.status, self.detail, self.seconds = block, status, detail, seconds


class Runner:
    """Runs the groups of blocks, one scratch directory each, and keeps their outcomes."""

    def __init__(self, args):
        self.root, self.work, self.inputs = args.root, args.work, args.inputs
        self.emulator = Emulator(args.emulator)
        self.postgresql = args.postgresql
        self.keys = {'eu': os.environ['SMSBOX_DOCS_KEY_EU'], 'us': os.environ['SMSBOX_DOCS_KEY_US']}
        self.mark = os.environ['SMSBOX_DOCS_MARK']
        self.ledger_class, self.fingerprint = collection_modules(self.root)
        with open(os.path.join(self.root, 'examples', 'demo-vault-password.txt'), encoding='utf-8') as handle:
            self.vault_password = handle.read().strip()
        from ansible.parsing.vault import VaultLib, VaultSecret  # pylint: disable=import-outside-toplevel
        self.vault = VaultLib([('default', VaultSecret(self.vault_password.encode('utf-8')))])
        self.outcomes = []
        self.seen = {}
        self.schemas = 0

    def password(self, name):
        return 'pw-%s-%s' % (name.replace('_', '-'), self.mark)

    def vault_variables(self, blocks):
        """Every vault_* variable the blocks name, with its test value; Failure for one without a value."""
        found = dict((name, self.password(name)) for name in HARNESS_VARIABLES)
        for block in blocks:
            for name in re.findall(r'\bvault_\w+', block.text):
                if name in KEY_VARIABLES:
                    found[name] = self.keys[KEY_VARIABLES[name]]
                elif PASSWORD_VARIABLE.match(name):
                    found[name] = self.password(name[len('vault_'):-len('_password')])
                else:
                    raise Failure('%s: the vault variable %s has no test value: add it to KEY_VARIABLES in %s'
                                  % (block.where, name, os.path.basename(__file__)))
        return found

    def encrypt(self, text):
        return self.vault.encrypt(text.encode('utf-8')).decode('ascii')

    def postgresql_uri(self):
        """A ledger URI in a new schema of the test PostgreSQL (itest_ schemas are scanned for secrets by runme.sh)."""
        import psycopg  # pylint: disable=import-outside-toplevel
        self.schemas += 1
        schema = 'itest_docs_%d_%d' % (self.schemas, os.getpid())
        with psycopg.connect(self.postgresql, autocommit=True) as conn:
            conn.execute('DROP SCHEMA IF EXISTS %s CASCADE' % schema)
            conn.execute('CREATE SCHEMA %s' % schema)
        return self.postgresql + ('&' if '?' in self.postgresql else '?') + 'options=-csearch_path%3D' + schema

    def same_as(self, group):
        """The block an alone block repeats (same text, kind and options, so the same run), or None."""
        block = group[0]
        if len(group) != 1 or block.kind not in ('command', 'play', 'tasks') or set(block.options) - {'in', 'stdin', '-i'}:
            return None
        first = self.seen.setdefault((block.kind, block.lang, tuple(sorted(block.options.items())), block.text), block)
        return first if first is not block else None

    def run_group(self, number, group):
        first = self.same_as(group)
        if first is not None:
            status = [outcome.status for outcome in self.outcomes if outcome.block is first][0]
            self.outcomes.append(Outcome(group[0], status, 'the same as %s, run once' % first.where))
            print('--- %s %s: %s, as %s' % (group[0].where, group[0].kind, status, first.where), flush=True)
            return
        self.emulator.reset()
        failed = None
        try:
            scratch = Scratch(self, 'group-%02d' % number, group)
        except Failure as exc:
            self.outcomes.extend(Outcome(block, 'failed', str(exc)) for block in group)
            print('--- %s: failed: %s' % (group[0].where, exc), flush=True)
            return
        for block in group:
            if failed is not None:
                self.outcomes.append(Outcome(block, 'failed', 'not run: %s, which it runs after, failed' % failed))
                continue
            started = time.monotonic()
            try:
                status, detail = scratch.run(block)
            except Failure as exc:
                status, detail = 'failed', str(exc)
                failed = block.where
            outcome = Outcome(block, status, detail, time.monotonic() - started)
            self.outcomes.append(outcome)
            summary = ': ' + detail.split('\n')[0] if detail else ''
            print('--- %s %s: %s%s (%.1f s)' % (block.where, block.kind, status, summary, outcome.seconds), flush=True)
        # Every password SMSBOX received (the examples' vaulted ones too), for runme.sh to look for in the output.
        with open(os.path.join(self.inputs, 'passwords.txt'), 'a', encoding='utf-8') as handle:
            for account in self.emulator.state()['accounts'].values():
                handle.write(''.join(sub['password'] + '\n' for sub in account['subaccounts'].values() if sub['password']))


class Scratch:
    """The scratch directory of one group: HOME, /srv, a copy of examples/ and a clone (on demand), the vault files."""

    def __init__(self, runner, name, group):
        self.runner, self.group = runner, group
        self.dir = os.path.join(runner.work, 'docs', name)
        self.inputs = os.path.join(runner.inputs, 'docs', name)
        self.home = os.path.join(self.dir, 'home')
        for directory in (self.dir, self.inputs, self.home):
            os.makedirs(directory)
        self.count = 0
        self.reruns = {}
        self.last_output = ''
        ciphertext = runner.encrypt(runner.password('vaulted'))
        self.values = dict(vault_values(ciphertext), api_url=runner.emulator.url, srv_dir=os.path.join(self.dir, 'srv') + '/',
                           key_fingerprint=runner.fingerprint(runner.keys['eu']),
                           rotated_key_fingerprint=runner.fingerprint(runner.keys['eu'] + '-rotated'))
        self.vault_password_file = os.path.join(self.dir, 'vault-password.txt')
        with open(self.vault_password_file, 'w', encoding='utf-8') as handle:
            handle.write(runner.vault_password + '\n')
        self.values['vault_password_option'] = '--vault-password-file ' + self.vault_password_file
        self.values['vault_password_option_added'] = ' --vault-password-file ' + self.vault_password_file
        variables = runner.vault_variables(group)
        with open(os.path.join(self.dir, 'vault.yml'), 'w', encoding='utf-8') as handle:
            handle.write(runner.encrypt(''.join('%s: %s\n' % (name, json.dumps(value)) for name, value in sorted(variables.items()))))
        self._copy_examples()
        self._make_srv_dirs()
        fresh = any(block.options.get('in') == 'clone' for block in group)
        self.env = self._environment(fresh)
        if fresh:
            shutil.copytree(runner.root, os.path.join(self.dir, 'clone'), symlinks=True,
                            ignore=lambda directory, names: [name for name in names if name in ('.git', 'output', '__pycache__')])

    def _environment(self, fresh):
        env = dict(os.environ, HOME=self.home, SMSBOX_API_URL=self.runner.emulator.url, SMSBOX_API_KEY=self.runner.keys['eu'],
                   ANSIBLE_NOCOLOR='1', ANSIBLE_FORCE_COLOR='0',
                   ANSIBLE_LOCAL_TEMP=os.path.join(self.home, '.ansible', 'tmp'))
        for name in ('SMSBOX_LEDGER', 'ANSIBLE_HOME', 'SMSBOX_DOCS_KEY_EU', 'SMSBOX_DOCS_KEY_US'):
            env.pop(name, None)
        if fresh:  # a machine where the collection is not installed yet: ~/.ansible/collections and the system's
            env.pop('ANSIBLE_COLLECTIONS_PATH', None)
            env.pop('ANSIBLE_COLLECTIONS_PATHS', None)
        return env

    def _copy_examples(self):
        """examples/ (its inventories and vault password), the API URL and /srv paths adapted as in the blocks."""
        source, target = os.path.join(self.runner.root, 'examples'), os.path.join(self.dir, 'examples')
        shutil.copytree(os.path.join(source, 'inventories'), os.path.join(target, 'inventories'))
        shutil.copy(os.path.join(source, 'demo-vault-password.txt'), target)
        for directory, _dirs, files in os.walk(target):
            for name in files:
                if name.endswith(('.yml', '.yaml')):
                    path = os.path.join(directory, name)
                    with open(path, encoding='utf-8') as handle:
                        text = handle.read()
                    with open(path, 'w', encoding='utf-8') as handle:
                        handle.write(doc_blocks.substitute(text, self.values))

    def _make_srv_dirs(self):
        # An operator's /srv/smsbox/ledgers (reports, ...) exists: the directory of every /srv path the group names.
        for block in self.group:
            for path in re.findall(r'(?<![\w.~-])/srv/[\w./-]+', block.text):
                os.makedirs(os.path.dirname(os.path.join(self.dir, path.lstrip('/'))), exist_ok=True)

    # --- running ------------------------------------------------------------------------------------------

    def execute(self, label, argv, cwd=None, stdin=None):
        """Runs argv; its whole output goes to a file of the scratch directory. Returns the output; Failure on rc."""
        self.count += 1
        started = time.monotonic()
        log = os.path.join(self.dir, 'output-%02d-%s.txt' % (self.count, re.sub(r'[^\w.-]+', '-', label)[:40]))
        try:
            result = subprocess.run(argv, cwd=cwd or self.dir, env=self.env, input=stdin, stdout=subprocess.PIPE,
                                    stderr=subprocess.STDOUT, text=True, timeout=600, check=False)
        except subprocess.TimeoutExpired as exc:
            raise Failure('%s did not end within %d s' % (label, exc.timeout))
        with open(log, 'w', encoding='utf-8') as handle:
            handle.write(result.stdout)
        print('    %s: rc %d in %.1f s' % (label, result.returncode, time.monotonic() - started), flush=True)
        if result.returncode != 0:
            raise Failure('%s exited with %d; the end of its output (%s):\n%s'
                          % (label, result.returncode, log, _tail(result.stdout, 40)))
        for text in NO_HOSTS:
            if text in result.stdout:
                raise Failure('%s ran on no host ("%s"):\n%s' % (label, text, _tail(result.stdout, 20)))
        return result.stdout

    def cwd(self, block):
        return os.path.join(self.dir, block.options['in']) if 'in' in block.options else self.dir

    def adapted(self, block, key=False):
        values = dict(self.values, api_key=self.runner.keys['eu'] if key else None)
        return doc_blocks.substitute(block.text, values)

    def write(self, relative, text, base=None):
        path = os.path.join(base or self.dir, relative)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, 'w', encoding='utf-8') as handle:
            handle.write(text)
        return path

    def playbook_argv(self, *argv):
        # The vault variables; the emulator's URL comes from SMSBOX_API_URL, as the role's README says it may.
        return ['ansible-playbook'] + list(argv) + ['-e', '@' + os.path.join(self.dir, 'vault.yml'),
                                                    '--vault-password-file', self.vault_password_file]

    def run(self, block):
        """Runs (or checks) one block: (status, detail); Failure when it does not do what the page says."""
        if block.kind in ('config', 'not-runnable'):
            return self.check(block)
        missing = self.missing(block)
        if missing:
            return self.check(block, missing)
        for given in [block.options.get('given')] if block.options.get('given') else []:
            self.given(block, given)
        writes = self.runner.emulator.writes()
        repeat = getattr(self, 'run_' + block.kind.replace('-', '_'))(block)
        self.reruns[block.id] = repeat
        if 'says' in block.options and block.options['says'] not in self.last_output:
            raise Failure('its output does not say %r:\n%s' % (block.options['says'], _tail(self.last_output, 20)))
        if block.options.get('twice'):
            self.unchanged('run again', repeat)
        if 'then-rerun' in block.options:
            name = block.options['then-rerun']
            if name not in self.reruns:
                raise Failure('then-rerun %s: that block has not run before this one, in its group (after)' % name)
            self.unchanged('%s run again' % name, self.reruns[name])
        if block.options.get('given', [''])[0] == 'unknown-transfer':
            unsettled = self.ledger_unsettled()
            if unsettled:
                raise Failure('transfers left unsettled: %s' % unsettled)
        sent = self.runner.emulator.writes() - writes
        return 'run', '%d create(s) or transfer(s) sent' % sent if sent else ''

    def missing(self, block):
        """Why a block cannot run on this line, or None."""
        tool = block.options.get('requires')
        if tool and not shutil.which(tool, path=self.env.get('PATH')):
            return '%s is not installed on this ansible-core line' % tool
        if block.options.get('needs') == 'postgresql':
            if not self.runner.postgresql:
                return 'no test PostgreSQL on this line (the PostgreSQL ledger runs on the newest line)'
            self.values['postgresql_uri'] = self.runner.postgresql_uri()
        return None

    def unchanged(self, label, repeat):
        writes = self.runner.emulator.writes()
        repeat()
        sent = self.runner.emulator.writes() - writes
        if sent:
            raise Failure('%s sent %d create(s) or transfer(s); the page says nothing more is sent' % (label, sent))

    def check(self, block, reason=None):
        """A block that cannot run here: parsed (and checked, for config)."""
        text = doc_blocks.substitute(block.text, self.values)
        if block.language == 'yaml':
            data = load_yaml(text)
        elif block.language == 'json':
            data = json.loads(text)
        elif block.language == 'cron':
            data = text
        else:
            result = subprocess.run(['bash', '-n'], input=doc_blocks.shell_commands(block.lang, text), capture_output=True, text=True, check=False)
            if result.returncode:
                raise Failure('not valid shell: %s' % result.stderr.strip())
            data = None
        if block.kind == 'config':
            checker = config_checks.CHECKERS.get(block.kind_arg)
            if checker is None:
                raise Failure('no checker %r (one of %s)' % (block.kind_arg, ', '.join(sorted(config_checks.CHECKERS))))
            problems = checker(data, self.runner.root)
            if problems:
                raise Failure('; '.join(problems))
            return 'checked', block.kind_arg
        return 'parsed', reason or block.kind_arg

    # --- the kinds -----------------------------------------------------------------------------------------

    def _run(self, label, argv, cwd=None, stdin=None):
        def repeat():
            self.last_output = self.execute(label, argv, cwd, stdin)
            return self.last_output
        repeat()
        return repeat

    def run_command(self, block):
        script = self.write('%s.sh' % _slug(block), 'set -e -o pipefail\n'
                            + doc_blocks.shell_commands(block.lang, self.adapted(block, key=True)), self.inputs)
        stdin = {'key': self.runner.keys['eu'] + '\n', 'password': self.runner.password('typed') + '\n'}.get(block.options.get('stdin'))
        return self._run(block.where, ['bash', script], self.cwd(block), stdin)

    def run_play(self, block, text=None):
        path = self.write('%s.yml' % _slug(block), text or self.adapted(block))
        inventory = ['-i', os.path.join(self.cwd(block), block.options['-i'])] if '-i' in block.options else []
        return self._run(block.where, self.playbook_argv(path, *inventory), self.cwd(block))

    def run_tasks(self, block):
        hosts = 'all' if '-i' in block.options else 'localhost'
        play = ('- name: The tasks of %s\n  hosts: %s\n  gather_facts: false\n  tasks:\n%s'
                % (block.where, hosts, _indent(self.adapted(block), 4)))
        return self.run_play(block, play)

    def provision(self, block, inventory, hosts_text):
        """The role over an inventory (smsbox.account.provision); then SMSBOX holds what each host's credit says."""
        repeat = self._run(block.where, self.playbook_argv('smsbox.account.provision', '-i', inventory), self.cwd(block))
        want = dict(_credits(load_yaml(hosts_text)))
        if not want:
            raise Failure('the inventory describes no sub-account with a credit')
        held = self.runner.emulator.credits()
        wrong = ['%s: %s, not %s' % (name, held.get(name, 'absent'), credit) for name, credit in sorted(want.items())
                 if held.get(name) != credit]
        if wrong:
            raise Failure('after provisioning, SMSBOX holds %s' % '; '.join(wrong))
        return repeat

    def run_inventory(self, block):
        text = self.adapted(block)
        self.write('inventories/docs/hosts.yml', text)
        return self.provision(block, os.path.join(self.dir, 'inventories', 'docs'), text)

    def run_inventory_hosts(self, block):
        text = 'shops:\n  hosts:\n' + _indent(self.adapted(block), 4)
        self.write('inventories/docs/hosts.yml', text)
        return self.provision(block, os.path.join(self.dir, 'inventories', 'docs'), text)

    def run_inventory_files(self, block):
        files = doc_blocks.split_files(self.adapted(block))
        for path, content in files:
            self.write(path, content, self.cwd(block))
        hosts = ''.join(content for path, content in files if '/group_vars/' not in path and '/host_vars/' not in path)
        return self.provision(block, os.path.join(self.cwd(block), os.path.dirname(files[0][0])), hosts)

    def run_group_vars(self, block):
        hosts = ('shops:\n  hosts:\n    docs-shop:\n      smsbox_subaccount: {name: docs-shop, '
                 'password: "{{ vault_docs_shop_password }}", credit: 10}\n')
        self.write('inventories/docs/hosts.yml', hosts)
        self.write('inventories/docs/group_vars/shops.yml', self.adapted(block))
        return self.provision(block, os.path.join(self.dir, 'inventories', 'docs'), hosts)

    def run_ledger_file(self, block):
        path = self.write('srv/smsbox/ledgers/%s.json' % _slug(block), self.adapted(block))
        names = sorted(json.loads(self.adapted(block)).get('subaccounts', {}))
        repeat = self._run(block.where, ['ansible', 'localhost', '-m', 'smsbox.account.smsbox_balance_info', '-a', 'ledger=' + path])
        missing = [name for name in names if '"%s"' % name not in self.last_output]
        if not names or missing:
            raise Failure('smsbox_balance_info does not show the sub-accounts of the file: %s' % (missing or 'none'))
        return repeat

    # --- given ---------------------------------------------------------------------------------------------

    def given(self, block, given):
        if given[0] == 'ledger':
            self.execute('given a ledger', ['ansible', 'localhost', '-m', 'smsbox.account.smsbox_subaccount',
                                            '-a', 'name=docs-rotation adopt=true'])
            return
        name, amount = given[1], given[2]
        # The emulator applies the transfer and loses its answer: the ledger records it unknown.
        self.runner.emulator.add_fault({'operation': 'transfer', 'fault': 'lost_answer', 'match': {'to': name}})
        play = ('- name: Given a transfer to %s whose answer is lost\n  hosts: localhost\n  gather_facts: false\n  tasks:\n'
                '    - name: Create it\n      smsbox.account.smsbox_subaccount:\n        name: %s\n'
                '        password: "{{ vault_given_password }}"\n'
                '    - name: Send the transfer whose answer is lost\n      smsbox.account.smsbox_credit:\n'
                '        subaccount: %s\n        amount: %s\n      register: lost\n      failed_when: lost is not failed\n'
                % (name, name, name, amount))
        self.execute('given an unknown transfer', self.playbook_argv(self.write('given.yml', play)))
        unsettled = self.ledger_unsettled()
        if len(unsettled) != 1:
            raise Failure('given: expected one unknown transfer, the ledger holds %s' % unsettled)
        self.values['unknown_transfer_id'] = unsettled[0]['id']

    def ledger_unsettled(self):
        """The unsettled transfers of the eu key's default ledger (read as the modules read it)."""
        key = self.runner.keys['eu']
        path = os.path.join(self.home, '.ansible', 'smsbox', 'ledger-%s.json' % self.runner.fingerprint(key))
        with self.runner.ledger_class(path, self.runner.fingerprint(key)).session(exclusive=False) as opened:
            return opened.unsettled()


def _credits(data):
    """(name, credit) of every sub-account an inventory's hosts describe with a credit; a retired one holds 0."""
    if isinstance(data, dict):
        for name, value in data.items():
            items = [value] if name == 'smsbox_subaccount' else value if name == 'smsbox_subaccounts' else None
            if isinstance(items, list):
                for item in items:
                    if isinstance(item, dict) and item.get('state') == 'retired':
                        yield item['name'], 0
                    elif isinstance(item, dict) and 'credit' in item:
                        yield item['name'], item['credit']
            else:
                yield from _credits(value)


def _indent(text, width):
    return ''.join((' ' * width + line) if line.strip() else line for line in text.splitlines(True))


def _slug(block):
    return re.sub(r'[^\w.-]+', '-', '%s-%d' % (block.path, block.line))


def _tail(text, lines):
    return '\n'.join(text.rstrip('\n').split('\n')[-lines:])


def report(runner, blocks, counts_file):
    """Prints every block's outcome and the counts; writes them to counts_file. Returns the number of failures."""
    samples = [block for block in blocks if block.kind is None]
    by_status = {}
    for outcome in runner.outcomes:
        by_status.setdefault(outcome.status, []).append(outcome)
    print('\n=== Documentation examples: %d fenced blocks in %d pages' % (len(blocks), len(set(block.path for block in blocks))))
    kinds = {}
    for outcome in by_status.get('run', []):
        kinds[outcome.block.kind] = kinds.get(outcome.block.kind, 0) + 1
    lines = [
        'docs examples run: %d' % len(by_status.get('run', [])),
        'docs examples parsed and checked: %d' % len(by_status.get('checked', [])),
        'docs examples parsed only: %d' % len(by_status.get('parsed', [])),
        'docs examples output samples: %d' % len(samples),
        'docs examples failed: %d' % len(by_status.get('failed', [])),
    ]
    lines += ['docs examples run, %s: %d' % (kind, count) for kind, count in sorted(kinds.items())]
    lines += ['docs examples parsed and checked, %s: %s' % (outcome.block.where, outcome.detail) for outcome in by_status.get('checked', [])]
    lines += ['docs examples parsed only, %s: %s' % (outcome.block.where, outcome.detail) for outcome in by_status.get('parsed', [])]
    for line in lines:
        print('smsbox.account counts: %s' % line)
    if counts_file:
        with open(counts_file, 'w', encoding='utf-8') as handle:
            handle.write(''.join(line + '\n' for line in lines))
    for outcome in by_status.get('failed', []):
        print('\nFAIL: %s (%s): %s' % (outcome.block.where, outcome.block.kind, outcome.detail))
        print('The block, as run:\n%s' % _indent(outcome.block.text, 4))
    return len(by_status.get('failed', []))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n', maxsplit=1)[0])
    parser.add_argument('--root', required=True)
    parser.add_argument('--work')
    parser.add_argument('--inputs')
    parser.add_argument('--emulator')
    parser.add_argument('--postgresql', help='the test PostgreSQL URI (none: the PostgreSQL examples are parsed only)')
    parser.add_argument('--counts')
    parser.add_argument('--list', action='store_true', help='print what each block is, run nothing')
    args = parser.parse_args(argv)
    blocks, errors = doc_blocks.collect(args.root, classify_load)
    if errors:
        print('FAIL: examples that cannot be run as they are classified:\n  ' + '\n  '.join(errors))
        return 1
    try:
        groups = doc_blocks.groups(blocks)
    except ValueError as exc:
        print('FAIL: %s' % exc)
        return 1
    if args.list:
        for block in blocks:
            print(doc_blocks.describe(block))
        return 0
    runner = Runner(args)
    started = time.monotonic()
    for number, group in enumerate(groups, 1):
        runner.run_group(number, group)
    failures = report(runner, blocks, args.counts)
    print('\n%d groups of examples in %.0f s' % (len(groups), time.monotonic() - started))
    return 1 if failures else 0


if __name__ == '__main__':
    sys.exit(main())
