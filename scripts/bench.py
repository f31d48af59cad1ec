# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""make bench: speed and memory figures of the role smsbox.account.subaccounts on the local SMSBOX emulator, printed as
one table with the targets of docs/performance.md. Figures, not a pass/fail test: it exits non-zero only when a run it
needs failed.

  1  first run, N sub-accounts + credits over 2 main accounts, vs an ansible.builtin.uri loop (a sample, extrapolated)
  2  re-run with nothing to do and its --check, vs an empty play (one run_once debug) on the same inventories; the
     POST requests the emulator received meanwhile
  3  first runs at each scale point (500 sub-accounts per main account, one inventory each); peak memory of the
     largest: the summed RSS (and PSS) of ansible-playbook and all its children, sampled every 50 ms
  4  TLS with latency, concurrency 1, 4, 8, with and without keep-alive, vs requests x latency / concurrency + the
     same run at 0 ms
  5  the PostgreSQL ledger vs the file ledger, first run and re-run
then a second table, every inventory shape (BENCH_SHAPES) at every size (BENCH_SHAPE_SCALE): first run, re-run, --check,
empty play, a play that only reads every host's sub-accounts (the floor), the ratios, peak memory

Usage: bash scripts/env.sh python scripts/bench.py [N] [URI_SAMPLE]   (what make bench runs: the line's venv first on
PATH, the collection staged). Environment (all optional):
  BENCH_QUICK=1            a smaller run: N=100, uri sample 10, scale 250 and 500 (one main account), concurrency 1 and 8
  BENCH_N=500              sub-accounts of rows 1, 2, 4 and 5 (over 2 main accounts)
  BENCH_URI_SAMPLE=40      sub-accounts the uri loop runs (2 requests each); its time is extrapolated per sub-account
  BENCH_SCALE="500 1000 2000 5000"   the scale points (500 sub-accounts per main account)
  BENCH_REPEAT=3           rounds of the short runs (re-run, --check, empty play, side by side), and row 1's first runs
                           and uri samples: the median counts
  BENCH_LATENCY_MS=20      the emulator's latency per request in row 4
  BENCH_CONCURRENCY="1 4 8"
  BENCH_SHAPES="templated naming-rule host-vars lists"   the inventory shapes (SHAPES below) of the shapes table; the
                           first one is that of rows 1 to 5
  BENCH_SHAPE_SCALE="500 5000"   the sizes of the shapes table (BENCH_QUICK=1: 100)
  BENCH_POSTGRESQL=0       skip row 5 (by default a throwaway PostgreSQL cluster, or SMSBOX_TEST_POSTGRESQL_URI)
  BENCH_PROFILE=1          also print where the time goes in each run (start-up, each task, exit; wall and CPU)
  BENCH_KEEP=1             keep the work directory (inventories, logs, results) and print its path
  CORE=2.21                the ansible-core line (default: that of make demo)

The runs are data (``runs``: one entry per measured run), and so are the rows of the table (``rows``); an inventory
shape is one entry of SHAPES. ansible-playbook loads this same file, through a link in the work directory, as the
callback smsbox_bench_timing, which records when each task starts and each loop item ends. Not part of the
collection: the standard library, and ansible-core (the vault, the callback) from the line's venv.
"""

from __future__ import absolute_import, division, print_function

import collections
import json
import os
import platform
import shutil
import signal
import ssl
import subprocess
import sys
import tempfile
import threading
import time
from urllib.request import HTTPSHandler, ProxyHandler, Request, build_opener

try:
    from ansible.plugins.callback import CallbackBase
except ImportError:  # not in the line's venv: main() says how to run it
    CallbackBase = object

__metaclass__ = type  # pylint: disable=invalid-name

ROOT = os.path.dirname(os.path.dirname(os.path.realpath(__file__)))
EMULATOR = os.path.join(ROOT, 'tests', 'emulator', 'smsbox_emulator.py')
VAULT_PASSWORD = 'bench-vault-password'
PER_ACCOUNT = 500  # sub-accounts per main account at the scale points: the SMSBOX limit
SAMPLE_SECONDS = 0.05
EMPTY_PLAY = """- name: An empty play over the same inventories
  hosts: all
  gather_facts: false
  tasks:
    - name: One task, once
      ansible.builtin.debug:
        msg: nothing
      run_once: true
"""
# What ansible-core itself costs to read every host's sub-accounts once, as the role's plan must: the floor of a re-run.
# to_json renders each value whole: from 2.19 a value is lazy, and the templates in it (a naming rule's) are rendered
# only when read. Counting the values alone left them unrendered: 2.0 s instead of 4.0 s over 2,000 such hosts.
READ_PLAY = """- name: One task that reads the sub-accounts of every host of the play once
  hosts: all
  gather_facts: false
  tasks:
    - name: Read them
      ansible.builtin.debug:
        msg: "{{ ansible_play_batch | map('extract', hostvars, '%(variable)s') | select('defined') | map('to_json') | list | length }}"
      run_once: true
"""
URI_PLAY = """- name: Baseline, one uri task iteration per request
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Create
      ansible.builtin.uri:
        url: "%(url)s?action=utilisateur"
        method: POST
        headers: {Authorization: App bench-uri-key}
        body_format: form-urlencoded
        body: {do: add, pseudo: "%(prefix)s-{{ item }}", mdp: "pw-{{ item }}-secret", nolimit: "no"}
        return_content: true
      loop: "{{ range(%(sample)d) | list }}"
    - name: Credit
      ansible.builtin.uri:
        url: "%(url)s?action=credit"
        method: POST
        headers: {Authorization: App bench-uri-key}
        body_format: form-urlencoded
        body: {to: "%(prefix)s-{{ item }}", credit: "10"}
        return_content: true
      loop: "{{ range(%(sample)d) | list }}"
"""


# --- /proc, read in this one place: by the sampler of each run, and by the callback inside ansible-playbook -------------

def processes():
    """pid -> (parent pid, CPU ticks of it and of its waited-for children, resident pages), from /proc/PID/stat."""
    table = {}
    for entry in os.listdir('/proc'):
        if entry.isdigit():
            try:
                with open('/proc/%s/stat' % entry, 'rb') as handle:
                    data = handle.read()
            except OSError:
                continue
            fields = data[data.rfind(b')') + 2:].split()  # after the command name, which may hold spaces
            table[int(entry)] = (int(fields[1]), sum(int(value) for value in fields[11:15]), int(fields[21]))
    return table


def tree(table, roots):
    """The pids of roots and all their descendants in table (found by parent pid: the workers call setsid, so a
    process group would miss them)."""
    children = collections.defaultdict(list)
    for pid, (parent, _cpu, _rss) in table.items():
        children[parent].append(pid)
    found, todo = set(), [pid for pid in roots if pid in table]
    while todo:
        pid = todo.pop()
        if pid not in found:
            found.add(pid)
            todo.extend(children[pid])
    return found


def tree_cpu(root):
    """CPU seconds used so far by root and all its descendants, ended (waited for) or running."""
    table = processes()
    return sum(table[pid][1] for pid in tree(table, [root])) / float(os.sysconf('SC_CLK_TCK'))


def pss_kb(pid):
    try:
        with open('/proc/%d/smaps_rollup' % pid, 'rb') as handle:
            return sum(int(line.split()[1]) for line in handle if line.startswith(b'Pss:'))
    except (OSError, IndexError, ValueError):
        return 0


class Sampler(threading.Thread):
    """Every 50 ms until stopped, the process tree of one pid (a process seen in it stays in it once reparented):
    the peaks of its summed RSS (and PSS, dearer to sample) and of its number of processes."""

    def __init__(self, root, pss):
        super(Sampler, self).__init__(daemon=True)
        self.root, self.pss, self.known = root, pss, set()
        self.peak_rss_kb = self.peak_pss_kb = self.peak_processes = 0
        self.done = threading.Event()

    def run(self):
        page_kb = os.sysconf('SC_PAGE_SIZE') // 1024
        while not self.done.is_set():
            table = processes()
            self.known = tree(table, [self.root] + list(self.known))
            self.peak_rss_kb = max(self.peak_rss_kb, sum(table[pid][2] for pid in self.known) * page_kb)
            if self.pss:
                self.peak_pss_kb = max(self.peak_pss_kb, sum(pss_kb(pid) for pid in self.known))
            self.peak_processes = max(self.peak_processes, len(self.known))
            self.done.wait(SAMPLE_SECONDS)


class CallbackModule(CallbackBase):
    """The callback smsbox_bench_timing: when each task starts (and the CPU of the tree then), when its last result
    came, when each loop item ended, and when the recap came; written to SMSBOX_BENCH_TIMING at the end."""

    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = 'aggregate'
    CALLBACK_NAME = 'smsbox_bench_timing'
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, *args, **kwargs):
        super(CallbackModule, self).__init__(*args, **kwargs)
        self.tasks = []

    def v2_playbook_on_task_start(self, task, is_conditional):
        self.tasks.append({'name': task.get_name(), 'start': time.time(), 'cpu': tree_cpu(os.getpid()), 'item_ends': []})

    def v2_playbook_on_handler_task_start(self, task):
        self.v2_playbook_on_task_start(task, False)

    def v2_runner_on_ok(self, result, **_kwargs):  # on_failed also has ignore_errors
        if self.tasks:
            self.tasks[-1]['result'] = time.time()

    v2_runner_on_failed = v2_runner_on_skipped = v2_runner_on_unreachable = v2_runner_on_ok

    def v2_runner_item_on_ok(self, result):
        if self.tasks:
            self.tasks[-1]['item_ends'].append(time.time())

    v2_runner_item_on_failed = v2_runner_item_on_skipped = v2_runner_item_on_ok

    def v2_playbook_on_stats(self, stats):
        with open(os.environ['SMSBOX_BENCH_TIMING'], 'w', encoding='utf-8') as handle:
            json.dump({'tasks': self.tasks, 'stats': time.time(), 'stats_cpu': tree_cpu(os.getpid())}, handle)


# --- the emulators and the inventories ----------------------------------------------------------------------------------

def control(ready, path, data=None):
    """A call to an emulator's control API (GET, or POST of data)."""
    handlers = [ProxyHandler({})]
    if ready.get('ca_cert'):
        handlers.append(HTTPSHandler(context=ssl.create_default_context(cafile=ready['ca_cert'])))
    body = None if data is None else json.dumps(data).encode('utf-8')
    request = Request(ready['control_url'] + path, data=body, headers={'Content-Type': 'application/json'})
    with build_opener(*handlers).open(request, timeout=30) as response:
        return json.loads(response.read().decode('utf-8'))


def write(path, text, mode=0o644):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, 'w', encoding='utf-8') as handle:
        handle.write(text)
    os.chmod(path, mode)


def vaulted(text):
    from ansible.parsing.vault import VaultLib, VaultSecret  # pylint: disable=import-outside-toplevel
    return VaultLib([('default', VaultSecret(VAULT_PASSWORD.encode('utf-8')))]).encrypt(text).decode('ascii')


def host_per_subaccount(_top, prefix, region, entries):
    return [], ['    shop-%s-%s-%04d:\n      smsbox_subaccount: %s' % (prefix, region, number, entry) for number, entry in entries]


def host_per_account(_top, prefix, region, entries):
    return [], ['    %s-%s-all:\n      smsbox_subaccounts:' % (prefix, region)] + ['        - %s' % entry for _number, entry in entries]


def naming_rule(_top, prefix, region, entries):
    """A naming rule in group_vars: every host's sub-account is named after the host, its password made from its name."""
    rule = ['smsbox_subaccount:', '  name: "{{ inventory_hostname }}"', '  password: "pw-{{ inventory_hostname }}-secret"', '  credit: 10']
    return rule, ['    %s-%s-%04d:' % (prefix, region, number) for number, _entry in entries]


def host_vars_files(top, prefix, region, entries):
    """host_vars/<host>.yml, one file per host with its literal sub-account; the hosts listed bare."""
    hosts = []
    for number, entry in entries:
        host = 'shop-%s-%s-%04d' % (prefix, region, number)
        write(os.path.join(top, 'host_vars', host + '.yml'), '---\nsmsbox_subaccount: %s\n' % entry)
        hosts.append('    %s:' % host)
    return [], hosts


# An inventory shape: whether the group_vars template the main account's settings (the ledger beside the inventory
# through inventory_dir; the key from a file lookup or from a vaulted variable, every other inventory) or write them
# out, and how the sub-accounts are given: hosts(inventory directory, prefix, group, [(number, entry)]) returns more
# lines of the group's group_vars and the hosts of hosts.yml, and may write files of its own (host_vars/...). The first
# of BENCH_SHAPES is that of rows 1 to 5.
Shape = collections.namedtuple('Shape', 'templated hosts variable')
SHAPES = {
    'templated': Shape(True, host_per_subaccount, 'smsbox_subaccount'),      # as an operator writes it: what the table's figures are made on
    'literal': Shape(False, host_per_subaccount, 'smsbox_subaccount'),       # every value written out: nothing for Ansible to template per host
    'lists': Shape(True, host_per_account, 'smsbox_subaccounts'),             # one host per main account, its sub-accounts in a list
    'naming-rule': Shape(True, naming_rule, 'smsbox_subaccount'),            # smsbox_subaccount templated in group_vars from inventory_hostname
    'host-vars': Shape(True, host_vars_files, 'smsbox_subaccount'),          # literal sub-accounts in host_vars/<host>.yml files
}
SHAPES_MEASURED = ('templated', 'naming-rule', 'host-vars', 'lists')  # the default of BENCH_SHAPES: as operators write them


def inventories(work, ready, spec, ledger_uri):
    """One inventory per main account of spec, as an operator writes it; adds the main accounts to the emulator and
    returns the -i options (the file, not its directory: ansible-playbook would read the key file kept there as an
    inventory source)."""
    accounts, options, shape = {}, [], SHAPES[spec.shape]
    for index in range(spec.regions):
        region = 'r%02d' % index
        label, key = '%s-%s' % (spec.prefix, region), 'bench-%s-%s-key' % (spec.prefix, region)
        accounts[key] = 10000000
        top, ledgers = os.path.join(work, 'inventories', label), os.path.join(work, 'inventories', 'ledgers')
        os.makedirs(ledgers, exist_ok=True)
        settings = ['---', '# The main account of every host of group %s, as an operator writes it.' % region,
                    'smsbox_account_label: %s' % label, 'smsbox_api_url: %s' % ready['url']]
        if ready.get('ca_cert'):
            settings.append('smsbox_ca_path: %s' % ready['ca_cert'])
        # One PostgreSQL database shared by the main accounts (each one's rows keyed by its key's fingerprint), or a
        # file beside the inventory, not in it: every file under an inventory directory is read as inventory.
        if ledger_uri:
            settings.append('smsbox_ledger: "%s"' % ledger_uri)
        elif shape.templated:
            settings.append('smsbox_ledger: "{{ inventory_dir }}/../ledgers/%s.json"' % label)
        else:
            settings.append('smsbox_ledger: %s' % os.path.join(ledgers, label + '.json'))
        if not shape.templated:
            settings.append('smsbox_api_key: %s' % key)
        elif index % 2 == 0:
            write(os.path.join(top, 'secrets', 'api_key'), key + '\n', 0o600)
            settings.append("smsbox_api_key: \"{{ lookup('ansible.builtin.file', inventory_dir ~ '/secrets/api_key') }}\"")
        else:  # a vaulted variable named by a plain one: ansible-vault's usual layout
            write(os.path.join(top, 'group_vars', region, 'vault.yml'), vaulted('---\nvault_smsbox_api_key: %s\n' % key), 0o600)
            settings.append('smsbox_api_key: "{{ vault_smsbox_api_key }}"')
        entries = [(number, '{name: %s-%04d, password: pw-%04d-%s, credit: %d}' % (label, number, number, region, 10 + number % 7))
                   for number in range(spec.per_region)]
        more, hosts = shape.hosts(top, spec.prefix, region, entries)
        write(os.path.join(top, 'group_vars', region, 'main.yml'), '\n'.join(settings + more) + '\n')
        write(os.path.join(top, 'hosts.yml'), '\n'.join(['---', '%s:' % region, '  hosts:'] + hosts) + '\n')
        options += ['-i', os.path.join(top, 'hosts.yml')]
    control(ready, '/accounts', accounts)
    return options


# --- the runs, as data --------------------------------------------------------------------------------------------------

# Main accounts (one inventory each) of regions x per_region sub-accounts; the same spec is written once.
Inventory = collections.namedtuple('Inventory', 'prefix regions per_region shape postgresql')
# A measured run: label (label#N: round N of a repeated run), the emulator it talks to, the playbook
# (provision, empty, uri), its inventory (None: localhost), more ansible-playbook options, whether it samples PSS.
Run = collections.namedtuple('Run', 'label emulator playbook inventory options pss')


def run(label, playbook, inventory, options=(), emulator='plain', pss=False):
    return Run(label, emulator, playbook, inventory, list(options), pss)


def shape_inventory(shape, count):
    """The inventory of one shape at one size: one main account (and inventory) per 500 sub-accounts, two at least."""
    regions = max(2, -(-count // PER_ACCOUNT))
    return Inventory('%s-%d' % (shape, count), regions, count // regions, shape, False)


def shape_labels(config, shape, count):
    """The labels of one shape's runs at one size: first, rerun, check, empty. Those of the first shape at N are rows 1
    and 2's (first-file, rerun-file, check-file, empty), which the shapes table reads too."""
    if shape == config['shapes'][0] and count == config['n']:
        return dict(first='first-file', rerun='rerun-file', check='check-file', empty='empty', read='read')
    return dict((kind, '%s-%s-%d' % (kind, shape, count)) for kind in ('first', 'rerun', 'check', 'empty', 'read'))


def runs(config):
    """Every measured run, in the order they run: each shape's first runs, then rounds of its re-run, --check and empty
    play side by side (each ratio is within one round), the uri loop, the scale points, row 4's TLS runs."""
    n, pairs = config['n'], [(shape, count) for shape in config['shapes'] for count in config['shape_scale']]
    if (config['shapes'][0], n) not in pairs:
        pairs.insert(0, (config['shapes'][0], n))
    inventory = dict((pair, Inventory('main', 2, n // 2, pair[0], False) if pair == (config['shapes'][0], n) else shape_inventory(*pair))
                     for pair in pairs)
    pg = Inventory('pg', 2, n // 2, config['shapes'][0], True)
    planned = [run(shape_labels(config, *pair)['first'], 'provision', inventory[pair], pss=pair[1] >= 5000) for pair in pairs]
    # Row 1 takes the median of as many first runs as there are rounds: each on sub-accounts and ledgers of its own.
    after = [one.label for one in planned].index('first-file') + 1
    planned[after:after] = [run('first-file#%d' % round_, 'provision', Inventory('main%d' % round_, 2, n // 2, config['shapes'][0], False))
                            for round_ in range(2, config['repeat'] + 1)]
    planned += [run('first-postgresql', 'provision', pg)] if config['postgresql'] else []
    for round_ in range(1, config['repeat'] + 1):
        for pair in pairs:
            labels = shape_labels(config, *pair)
            planned += [run('%s#%d' % (labels['rerun'], round_), 'provision', inventory[pair]),
                        run('%s#%d' % (labels['check'], round_), 'provision', inventory[pair], ['--check']),
                        run('%s#%d' % (labels['empty'], round_), 'empty', inventory[pair]),
                        run('%s#%d' % (labels['read'], round_), 'read', inventory[pair])]
        planned += [run('rerun-postgresql#%d' % round_, 'provision', pg)] if config['postgresql'] else []
    planned += [run('uri#%d' % round_, 'uri', None) for round_ in range(1, config['repeat'] + 1)]
    for point in config['scale']:
        regions = -(-point // PER_ACCOUNT)
        planned.append(run('scale-%d' % point, 'provision', Inventory('s%d' % point, regions, point // regions, config['shapes'][0], False),
                           pss=point == config['scale'][-1]))
    # Per concurrency the same first run over TLS at 0 ms (the fixed cost), then with latency, with and without keep-alive.
    for concurrency in config['concurrency']:
        for emulator, label in (('tls0', 'fixed-c%d'), ('tls-keep-alive', 'latency-keep-alive-c%d'),
                                ('tls-no-keep-alive', 'latency-no-keep-alive-c%d')):
            planned.append(run(label % concurrency, 'provision', Inventory('c%d-%s' % (concurrency, emulator), 2, n // 2, config['shapes'][0], False),
                               ['-e', 'smsbox_concurrency=%d' % concurrency], emulator))
    return planned


def emulators(config):
    """name -> the emulator's serve options: the plain one, and the three TLS ones of row 4."""
    latency = str(config['latency_ms'] / 1000.0)
    return {'plain': [], 'tls0': ['--tls'], 'tls-keep-alive': ['--tls', '--latency', latency],
            'tls-no-keep-alive': ['--tls', '--latency', latency, '--no-keep-alive']}


class Bench:
    """The work directory, the emulators, the inventories written so far, and the results: label -> its runs."""

    def __init__(self, work, config):
        self.work, self.config, self.ready, self.written, self.results = work, config, {}, {}, collections.OrderedDict()
        self.vault = os.path.join(work, 'inventories', 'vault-password')
        # The runs see only the bench's settings: no ansible.cfg of the caller, no retry files; this file as a callback.
        self.env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(work, 'ansible.cfg'), ANSIBLE_CALLBACK_PLUGINS=os.path.join(work, 'callbacks'),
                        ANSIBLE_CALLBACKS_ENABLED='smsbox_bench_timing', ANSIBLE_LOCAL_TEMP=os.path.join(work, 'ansible-local'),
                        ANSIBLE_REMOTE_TEMP=os.path.join(work, 'ansible-remote'), ANSIBLE_FORCE_COLOR='0', ANSIBLE_NOCOLOR='1')
        write(self.env['ANSIBLE_CONFIG'], '[defaults]\nretry_files_enabled = False\n')
        write(self.vault, VAULT_PASSWORD + '\n', 0o600)
        write(os.path.join(work, 'empty.yml'), EMPTY_PLAY)
        os.makedirs(os.path.join(work, 'callbacks'))
        os.symlink(os.path.realpath(__file__), os.path.join(work, 'callbacks', 'smsbox_bench_timing.py'))
        os.makedirs(os.path.join(work, 'logs'))

    def emulator(self, name):
        if name not in self.ready:
            path = os.path.join(self.work, name + '.json')
            options = emulators(self.config)[name] + (['--cert-dir', os.path.join(self.work, 'certs')] if name != 'plain' else [])
            subprocess.run([sys.executable, EMULATOR, 'serve', '--background', '--ready-file', path] + options,
                           check=True, stdout=subprocess.DEVNULL)
            with open(path, encoding='utf-8') as handle:
                self.ready[name] = json.load(handle)
        return self.ready[name]

    def stop(self):
        for name in self.ready:
            subprocess.run([sys.executable, EMULATOR, 'stop', '--ready-file', os.path.join(self.work, name + '.json')],
                           check=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def command(self, planned):
        ready = self.emulator(planned.emulator)
        if planned.playbook == 'uri':
            control(ready, '/accounts', {'bench-uri-key': 10000000})
            # Each round's sample creates sub-accounts of its own (uri1-0, uri2-0...): a name SMSBOX holds is refused.
            prefix = 'uri%s' % (planned.label.partition('#')[2] or '1')
            write(os.path.join(self.work, 'uri.yml'), URI_PLAY % {'url': ready['url'], 'sample': self.config['uri_sample'], 'prefix': prefix})
            return ['ansible-playbook', '-i', 'localhost,', '-c', 'local', '-e', 'ansible_python_interpreter=%s' % sys.executable,
                    os.path.join(self.work, 'uri.yml')]
        key = (planned.inventory, planned.emulator)
        if key not in self.written:
            self.written[key] = inventories(self.work, ready, planned.inventory,
                                            self.config['pg_uri'] if planned.inventory.postgresql else None)
        if planned.playbook == 'read':
            write(os.path.join(self.work, 'read-%s.yml' % planned.inventory.shape), READ_PLAY % {'variable': SHAPES[planned.inventory.shape].variable})
        playbook = {'provision': 'smsbox.account.provision', 'empty': os.path.join(self.work, 'empty.yml'),
                    'read': os.path.join(self.work, 'read-%s.yml' % planned.inventory.shape)}[planned.playbook]
        return ['ansible-playbook', playbook] + self.written[key] + ['--vault-password-file', self.vault] + planned.options

    def measure(self, planned, env=None):
        """One measured run: wall and CPU seconds and the largest process's peak RSS (wait4: what /usr/bin/time reports),
        the tree's peaks, what the emulator received meanwhile, the task timings. A failure stops the bench."""
        command, ready = self.command(planned), self.ready[planned.emulator]
        name = ''.join(char if char.isalnum() or char in '#.-' else '_' for char in planned.label)
        log_path, timing_path = [os.path.join(self.work, 'logs', name + ext) for ext in ('.log', '.timing')]
        sys.stderr.write('  %-28s' % planned.label)
        before = requests_mark(ready)
        with open(log_path, 'wb') as log:
            started = time.time()
            process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,  # pylint: disable=consider-using-with
                                       env=dict(self.env, SMSBOX_BENCH_TIMING=timing_path, **(env or {})))
            sampler = Sampler(process.pid, planned.pss)
            sampler.start()
            try:
                _pid, status, usage = os.wait4(process.pid, 0)
            except BaseException:  # interrupted, terminated: the run does not outlive the bench
                process.terminate()
                process.wait()
                raise
            ended = time.time()
            process.returncode = os.waitstatus_to_exitcode(status)
            sampler.done.set()
            sampler.join()
        result = {'label': planned.label, 'started': started, 'exit_code': process.returncode, 'wall': ended - started,
                  'cpu': usage.ru_utime + usage.ru_stime, 'largest_process_rss_kb': usage.ru_maxrss, 'tree_rss_peak_kb': sampler.peak_rss_kb,
                  'tree_pss_peak_kb': sampler.peak_pss_kb if planned.pss else None, 'peak_processes': sampler.peak_processes,
                  'emulator': requests_since(ready, before), 'log': log_path, 'timing': timing(timing_path, started, ended, result_cpu=usage)}
        self.results.setdefault(planned.label.split('#')[0], []).append(result)
        if process.returncode:
            sys.stderr.write(' FAILED; the end of its log:\n')
            with open(log_path, encoding='utf-8', errors='replace') as handle:
                sys.stderr.write(''.join(handle.readlines()[-25:]))
            raise SystemExit(1)
        sys.stderr.write(' %6.2f s  cpu %6.2f s\n' % (result['wall'], result['cpu']))
        return result


def requests_mark(ready):
    state = control(ready, '/state')
    return {'seq': state['requests'][-1]['seq'] if state.get('requests') else 0, 'connections': state['connections']}


def requests_since(ready, start):
    """What the emulator received since the mark: requests (by method while its log holds them all), connections."""
    state = control(ready, '/state')
    logged = [entry for entry in state.get('requests') or [] if entry['seq'] > start['seq']]
    last = state['requests'][-1]['seq'] if state.get('requests') else start['seq']
    methods = collections.Counter(entry['method'] for entry in logged)
    complete = not logged or logged[0]['seq'] == start['seq'] + 1
    return {'requests': last - start['seq'], 'by_method': dict(methods) if complete else None,
            'connections': state['connections'] - start['connections']}


def timing(path, started, ended, result_cpu):
    """The run split into start-up, each task (its loop items, when its result came) and exit, wall and CPU seconds."""
    try:
        with open(path, encoding='utf-8') as handle:
            record = json.load(handle)
    except (OSError, ValueError):
        return None
    cpu_total = result_cpu.ru_utime + result_cpu.ru_stime
    marks = [(task['start'], task['cpu'], task) for task in record['tasks']] + [(record['stats'], record['stats_cpu'], None)]
    parts = []
    for (start, cpu, task), (end, end_cpu, _next) in zip(marks, marks[1:]):
        ends = [start] + task['item_ends']
        parts.append({'name': task['name'], 'seconds': end - start, 'cpu': end_cpu - cpu, 'items': [b - a for a, b in zip(ends, ends[1:])],
                      'result': task['result'] - start if 'result' in task else None})
    return {'startup': marks[0][0] - started, 'startup_cpu': marks[0][1], 'tasks': parts,
            'exit': ended - record['stats'], 'exit_cpu': cpu_total - record['stats_cpu']}


# --- the table, as data -------------------------------------------------------------------------------------------------

# Which run of a repeated one gives its figure, from its successful runs fastest first, and what the table calls it.
STATISTIC = ('median', lambda ordered: ordered[(len(ordered) - 1) // 2])  # the lower one of an even count: a run
RATIO_TARGET = 1.5  # a converged re-run (and its --check) over an empty play on the same inventories
# A row: its section (#), the labels whose results it reads, and functions of those results: the measure, the
# figures, the target (a text) and whether it is met (None: no target). The labels missing make a row of their own.
Row = collections.namedtuple('Row', 'section labels measure figures target met')


def seconds(result):
    count = len(result['runs'])
    return '%.2f s (cpu %.1f s)%s' % (result['wall'], result['cpu'], ', %s of %d runs' % (STATISTIC[0], count) if count > 1 else '')


def requests(result):
    emulator = result['emulator']
    return '%d requests (%s)' % (emulator['requests'], ', '.join('%s %d' % item for item in sorted((emulator['by_method'] or {}).items())))


def posts(rerun, check):
    methods = [[one['emulator']['by_method'] for one in result['runs']] for result in (rerun, check)]
    if None in methods[0] + methods[1]:
        return None
    return [[sum(counts.get(method, 0) for counts in group) for group in methods] for method in ('POST', 'GET')]


def plural(count, one, many):
    return '%d %s' % (count, one if count == 1 else many)


def per_sub_account(result, count):
    return result['wall'] / count


def ratio(result, empty):
    """The median over the rounds of result's wall time ÷ the empty play's of the same round (a ratio within one round:
    a busy moment slows both)."""
    rounds = [one['wall'] / other['wall'] for one, other in zip(result['runs'], empty['runs']) if not one['exit_code'] and not other['exit_code']]
    return sorted(rounds)[(len(rounds) - 1) // 2] if rounds else float('inf')


def latency_bound(result, fixed, latency_ms, concurrency):
    """Row 4's bound: requests x latency / concurrency, plus the same run at 0 ms."""
    return result['emulator']['requests'] * latency_ms / 1000.0 / concurrency + fixed['wall']


def rows(config):
    """Every row of the table, in order."""
    n, sample, latency = config['n'], config['uri_sample'], config['latency_ms']
    table = [
        Row(1, ['first-file'], lambda r: 'first run, role: %d sub-accounts + credits, 2 main accounts' % n,
            lambda r: '%s = **%.1f ms per sub-account**; %s' % (seconds(r), per_sub_account(r, n) * 1000, requests(r)), '', None),
        Row(1, ['uri'], lambda u: 'ansible.builtin.uri loop, same 2 requests per sub-account (a sample of %d, extrapolated)' % sample,
            lambda u: '%s for %d = **%.0f ms per sub-account**' % (seconds(u), sample, u['wall'] / sample * 1000), '', None),
        Row(1, ['uri', 'first-file'], lambda u, r: 'uri loop ÷ role, per sub-account',
            lambda u, r: '**%.0f×**' % (per_sub_account(u, sample) / per_sub_account(r, n)), '≥ 100×',
            lambda u, r: per_sub_account(u, sample) / per_sub_account(r, n) >= 100)]
    labels = shape_labels(config, config['shapes'][0], n)
    table += [
        Row(2, [labels['rerun']], lambda r: 're-run with nothing to do, %d sub-accounts (same inventories)' % n,
            lambda r: '%s; %s' % (seconds(r), requests(r)), '', None),
        Row(2, [labels['check']], lambda c: '--check of the re-run', lambda c: '%s; %s' % (seconds(c), requests(c)), '', None),
        Row(2, [labels['empty']], lambda e: 'empty play, one run_once ansible.builtin.debug, same inventories', seconds, '', None)]
    for what, kind in (('re-run', 'rerun'), ('--check', 'check')):
        table.append(Row(2, [labels[kind], labels['empty']], lambda r, e, what=what: '%s ÷ empty play (median of the rounds\' ratios)' % what,
                         lambda r, e: '**%.2f×** (%.2f s over the empty play)' % (ratio(r, e), r['wall'] - e['wall']),
                         '≤ %.1f×' % RATIO_TARGET, lambda r, e: ratio(r, e) <= RATIO_TARGET))
    for shape in config['shapes']:
        for count in sorted(set([n] + config['shape_scale'])) if shape == config['shapes'][0] else config['shape_scale']:
            labels = shape_labels(config, shape, count)
            table.append(Row(2, [labels['rerun'], labels['check']],
                             lambda r, c, shape=shape, count=count: 'write requests (POST) in the re-runs and the --checks, shape %s, %d' % (shape, count),
                             lambda r, c: '**%d** POST (re-runs %d, --checks %d; GET: %d and %d)' % ((sum(posts(r, c)[0]),) + tuple(sum(posts(r, c), [])))
                             if posts(r, c) else 'unknown (the emulator log was cut)', '0',
                             lambda r, c: posts(r, c) is not None and sum(posts(r, c)[0]) == 0))
    points = config['scale']
    for point in points:
        accounts = -(-point // PER_ACCOUNT)
        measure = 'scale: first run, %d sub-accounts, %s in %s' % (point, plural(accounts, 'main account', 'main accounts'),
                                                                   plural(accounts, 'inventory', 'inventories'))
        if point == points[0]:
            table.append(Row(3, ['scale-%d' % point], lambda s, measure=measure: measure,
                             lambda s, point=point: '%s = **%.1f ms per sub-account** (the reference)' % (seconds(s), s['wall'] / point * 1000), '', None))
            continue
        table.append(Row(3, ['scale-%d' % point, 'scale-%d' % points[0]], lambda s, b, measure=measure: measure,
                         lambda s, b, point=point: '%s = **%.1f ms per sub-account**, %.2f× the per-sub-account time at %d' % (
                             seconds(s), per_sub_account(s, point) * 1000, per_sub_account(s, point) / per_sub_account(b, points[0]), points[0]),
                         '≤ 1.10× (linear; 10% for noise)', lambda s, b, point=point: per_sub_account(s, point) / per_sub_account(b, points[0]) <= 1.10))
    if points:
        table.append(Row(3, ['scale-%d' % points[-1]], lambda s: 'peak memory of the %d run, ansible-playbook and all its children' % points[-1],
                         lambda s: '**%.0f MB** summed RSS of the tree (%s%d processes at most; sampled every 50 ms); largest single process '
                         '%.0f MB (ru_maxrss: /usr/bin/time %%M)' % (
                             s['tree_rss_peak_kb'] / 1024.0, 'PSS %.0f MB, ' % (s['tree_pss_peak_kb'] / 1024.0) if s['tree_pss_peak_kb'] else '',
                             s['peak_processes'], s['largest_process_rss_kb'] / 1024.0),
                         '< 300 MB', lambda s: s['tree_rss_peak_kb'] / 1024.0 < 300))
    for concurrency in config['concurrency']:
        for keep_alive, how in (('keep-alive', 'keep-alive'), ('no-keep-alive', 'no keep-alive (a TCP+TLS handshake per request)')):
            table.append(Row(4, ['latency-%s-c%d' % (keep_alive, concurrency), 'fixed-c%d' % concurrency],
                             lambda lat, f, concurrency=concurrency, how=how: 'first run, %d sub-accounts, TLS, %d ms a request, concurrency %d, %s' % (
                                 n, latency, concurrency, how),
                             lambda lat, f, concurrency=concurrency: '%s; bound %d requests × %d ms ÷ %d + %.2f s fixed (same run at 0 ms) = '
                             '%.2f s: **%.2f×**; %d connections' % (
                                 seconds(lat), lat['emulator']['requests'], latency, concurrency, f['wall'], latency_bound(lat, f, latency, concurrency),
                                 lat['wall'] / latency_bound(lat, f, latency, concurrency), lat['emulator']['connections']),
                             '≤ 1.5× the bound', lambda lat, f, concurrency=concurrency: lat['wall'] / latency_bound(lat, f, latency, concurrency) <= 1.5))
    if not config['postgresql']:
        return table + [Row(5, [], lambda: 'PostgreSQL ledger ÷ file ledger', lambda: 'not run (BENCH_POSTGRESQL=0)', '≤ 1.25×', None)]
    for kind, what in (('first', 'first run'), ('rerun', 're-run')):
        table.append(Row(5, ['%s-postgresql' % kind, '%s-file' % kind],
                         lambda p, f, what=what: 'PostgreSQL ledger ÷ file ledger, %s, %d sub-accounts' % (what, n),
                         lambda p, f: 'PostgreSQL %s, file %s: **%.2f×**' % (seconds(p), seconds(f), p['wall'] / f['wall']),
                         '≤ 1.25×', lambda p, f: p['wall'] / f['wall'] <= 1.25))
    return table


def figures(results):
    """label -> the figure of its runs (STATISTIC over the successful ones), with them all in ``runs``."""
    chosen = {}
    for label, group in results.items():
        done = sorted((one for one in group if not one['exit_code']), key=lambda one: one['wall'])
        if done:
            chosen[label] = dict(STATISTIC[1](done), runs=group)
    return chosen


def render(config, results):
    """The table (Markdown) and the number of rows without a figure."""
    lines, missing = ['| # | measure | figures | target | result |', '|---|---|---|---|---|'], 0
    chosen = figures(results)
    for row in rows(config):
        absent = [label for label in row.labels if label not in chosen]
        if absent:
            missing += 1
            cells = (row.section, absent[0], 'not run' if absent[0] not in results else 'failed (log %s)' % results[absent[0]][-1]['log'],
                     '', '**NOT met** (no figure)')
        else:
            found = [chosen[label] for label in row.labels]
            met = row.met(*found) if row.met else None
            cells = (row.section, row.measure(*found), row.figures(*found), row.target, '' if met is None else 'met' if met else '**NOT met**')
        lines.append('| %s |' % ' | '.join(str(cell) for cell in cells))
    return '\n'.join(lines), missing


# What each shape writes (the third column of the shapes table).
SHAPE_WORDS = {
    'templated': "host variables inline in hosts.yml; the main account's settings templated in group_vars",
    'literal': 'host variables inline in hosts.yml; every value written out',
    'lists': "one host per main account, its sub-accounts in one smsbox_subaccounts list",
    'naming-rule': 'smsbox_subaccount templated in group_vars from inventory_hostname; hosts listed bare',
    'host-vars': 'a host_vars/<host>.yml file per host with its literal sub-account; hosts listed bare',
}


def shapes_table(config, results):
    """Every shape at every size: median seconds of each kind of run, the ratios within rounds, peak memory (Markdown)."""
    chosen = figures(results)
    lines = ['| shape | sub-accounts | first run | re-run | --check | empty play | reading every host | re-run ÷ empty | --check ÷ empty | '
             'reading ÷ empty | re-run ÷ reading | peak memory | ≤ %.1f× |' % RATIO_TARGET, '|---|---|---|---|---|---|---|---|---|---|---|---|---|']
    for shape in config['shapes']:
        for count in sorted(set(config['shape_scale'] + ([config['n']] if shape == config['shapes'][0] else []))):
            labels = shape_labels(config, shape, count)
            found = dict((kind, chosen.get(label)) for kind, label in labels.items())
            walls = ['%.2f s' % found[kind]['wall'] if found[kind] else 'not run' for kind in ('first', 'rerun', 'check', 'empty', 'read')]
            ratios = [ratio(found[kind], found[base]) if found[kind] and found[base] else None
                      for kind, base in (('rerun', 'empty'), ('check', 'empty'), ('read', 'empty'), ('rerun', 'read'))]
            memory = '%.0f MB' % (found['first']['tree_rss_peak_kb'] / 1024.0) if found['first'] else ''
            met = 'met' if None not in ratios[:2] and max(ratios[:2]) <= RATIO_TARGET else '**NOT met**'
            lines.append('| %s (%s) | %d | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |' % (
                shape, SHAPE_WORDS[shape], count, *walls, *['**%.2f×**' % one if one is not None else '' for one in ratios], memory, met))
    return '\n'.join(lines)


# --- where the time goes (BENCH_PROFILE=1) ------------------------------------------------------------------------------

def profile_table(results):
    """Per run (its figure): wall / CPU seconds of start-up, each task (its loop items, when its result came), exit."""
    lines = ['| run | total | start-up | tasks | exit |', '|---|---|---|---|---|']
    for result in sorted(figures(results).values(), key=lambda result: result['runs'][0]['started']):
        split = result['timing'] or {'startup': 0, 'startup_cpu': 0, 'tasks': [], 'exit': 0, 'exit_cpu': 0}
        tasks = ['%s %.2f / %.2f%s%s' % (
            task['name'].split(' : ', 1)[-1], task['seconds'], task['cpu'],
            ' [%s]' % ' + '.join('%.2f' % item for item in task['items']) if len(task['items']) > 1 else '',
            ' (result at %.2f)' % task['result'] if task['result'] is not None else '') for task in split['tasks']]
        lines.append('| %s | %.2f / %.1f | %.2f / %.2f | %s | %.2f / %.2f |' % (
            result['label'], result['wall'], result['cpu'], split['startup'], split['startup_cpu'], '<br>'.join(tasks), split['exit'], split['exit_cpu']))
    return '\n'.join(lines)


def profile(bench):
    """BENCH_PROFILE=1: the per-task table of every run. The role starts no module process (it converges in its task's
    own worker, when the controller's Python has requests), so a task's time is all there is to split."""
    print('\nWhere the time goes in each run, seconds wall / CPU (CPU: ansible-playbook and all its descendants):\n'
          'start-up (interpreter, CLI, inventory) until the first task; each task until the next one starts [its loop items,\n'
          "wall] (result at: when its result came; after it the strategy's own work: for the last task, the end of the role\n"
          'and of the play, the implicit meta tasks of every host);\nexit after the recap\n')
    print(profile_table(bench.results))
    return 0


# --- the bench ----------------------------------------------------------------------------------------------------------

def settings(argv):
    quick, env = os.environ.get('BENCH_QUICK') == '1', os.environ.get
    config = {'n': int(env('BENCH_N', 100 if quick else 500)), 'uri_sample': int(env('BENCH_URI_SAMPLE', 10 if quick else 40)),
              'scale': [int(n) for n in env('BENCH_SCALE', '250 500' if quick else '500 1000 2000 5000').split()],
              'concurrency': [int(n) for n in env('BENCH_CONCURRENCY', '1 8' if quick else '1 4 8').split()],
              'shapes': env('BENCH_SHAPES', ' '.join(SHAPES_MEASURED)).split(), 'repeat': int(env('BENCH_REPEAT', '3')),
              'shape_scale': [int(n) for n in env('BENCH_SHAPE_SCALE', '100' if quick else '500 5000').split()],
              'latency_ms': int(env('BENCH_LATENCY_MS', '20')), 'quick': quick,
              # SMSBOX_BENCH_STORES, the variable of the previous bench: a store list without postgresql skips row 5.
              'postgresql': env('BENCH_POSTGRESQL', '1') == '1' and 'postgresql' in env('SMSBOX_BENCH_STORES', 'postgresql').split(),
              'load_start': os.getloadavg()[0], 'started': time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())}
    for index, name in enumerate(('n', 'uri_sample')):
        if len(argv) > index:
            config[name] = int(argv[index])
    unknown = [shape for shape in config['shapes'] if shape not in SHAPES]
    if unknown or not config['shapes']:
        raise SystemExit('BENCH_SHAPES: %s is not a shape of scripts/bench.py (%s)' % (' '.join(unknown) or 'empty', ', '.join(SHAPES)))
    return config


def postgresql(work):
    """A throwaway PostgreSQL cluster (scripts/postgresql.sh, its one home) held by a shell that stops it when its stdin
    closes, however this program ends; (holder, URI), or (None, None) when it could not be started."""
    uri_file, log = os.path.join(work, 'postgresql-uri'), os.path.join(work, 'logs', 'postgresql.log')
    with open(log, 'wb') as errors:
        holder = subprocess.Popen(  # pylint: disable=consider-using-with
            ['bash', '-c', 'source "$0" && postgresql_start "$1" && echo started && read -r _', os.path.join(ROOT, 'scripts', 'postgresql.sh'), uri_file],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=errors, env=dict(os.environ, PYTHON=sys.executable), start_new_session=True)
    if holder.stdout.readline().strip() == b'started':
        with open(uri_file, encoding='utf-8') as handle:
            uri = handle.read().strip()
        if uri != 'skip':
            return holder, uri
    holder.stdin.close()
    holder.wait()
    with open(log, encoding='utf-8', errors='replace') as handle:
        sys.stderr.write('  PostgreSQL could not be started: row 5 is skipped (%s)\n' % (handle.read().strip().splitlines() or [''])[-1])
    return None, None


def main(argv):
    if CallbackBase is object or not os.environ.get('ANSIBLE_COLLECTIONS_PATH'):
        sys.stderr.write('run it with the venv of an ansible-core line and the collection staged: make bench, or\n'
                         'bash scripts/env.sh python scripts/bench.py [N] [URI_SAMPLE]\n')
        return 2
    from ansible.release import __version__  # pylint: disable=import-outside-toplevel
    config = settings(argv)
    signal.signal(signal.SIGTERM, lambda _number, _frame: sys.exit(143))  # the emulators and the cluster stopped all the same
    work = tempfile.mkdtemp(prefix='smsbox-bench.', dir=os.environ.get('TMPDIR'))
    bench, holder = Bench(work, config), None
    try:
        sys.stderr.write('SMSBOX benchmark: the runs (progress on stderr; the table follows)\n')
        holder, config['pg_uri'] = postgresql(work) if config['postgresql'] else (None, None)
        config['postgresql'] = bool(config['pg_uri'])
        for planned in runs(config):
            bench.measure(planned)
        sys.stderr.write('\n')
        table, missing = render(config, bench.results)
        print('SMSBOX benchmark: %s; %d cores (%s), load average %.1f at the end; ansible-core %s, Python %s; %sload average %.1f at the start' % (
            config['started'], os.cpu_count() or 0, platform.machine(), os.getloadavg()[0], __version__, platform.python_version(),
            'quick run (BENCH_QUICK=1); ' if config['quick'] else '', config['load_start']))
        print()
        print(table)
        print('\nEvery inventory shape (a main account and its inventory per 500 sub-accounts, two at least; each figure the %s of '
              '%d runs, each ratio the median of the rounds\' ratios; reading every host: one run_once ansible.builtin.debug that '
              'reads each host\'s sub-account variable through hostvars, rendered whole (to_json), what ansible-core costs any task '
              'that needs them all; '
              'peak memory: the first run, ansible-playbook and all its children):\n' % (STATISTIC[0], config['repeat']))
        print(shapes_table(config, bench.results))
        code = 1 if missing else 0
        if os.environ.get('BENCH_PROFILE') == '1':
            code = max(code, profile(bench))
        return code
    finally:
        bench.stop()
        if holder is not None:
            holder.stdin.close()
            holder.wait()
        if os.environ.get('BENCH_KEEP') == '1':
            sys.stderr.write('kept: %s\n' % work)
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
