# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Python half of scripts/bench.sh: inventories, measured runs, emulator counts and the table.

Subcommands (each run with the Python of the bench's ansible-core venv):

    inventories DIR ...   write one inventory per main account, as an operator writes them (hosts.yml, templated
                          group_vars, the key from a file lookup or from a vaulted variable), and add the main
                          accounts to the emulator
    run RESULT LOG -- CMD run CMD under /usr/bin/time, sampling the RSS of its whole process tree every 50 ms;
                          write RESULT (JSON: wall and CPU seconds, peaks, the task timings of the bench callback,
                          and with --ready what the emulator received meanwhile: requests by method, connections)
    table RESULTS_DIR     the one table of the bench, from the results the runs wrote
    profile RESULTS_DIR   where the time goes in each run: start-up, each task, exit (for docs/performance.md)

Not part of the collection: Python standard library, and ansible (for the vault) where ansible-core is installed.
"""

from __future__ import absolute_import, division, print_function

import argparse
import glob
import json
import os
import platform
import signal
import ssl
import subprocess
import sys
import threading
import time
from urllib.request import HTTPSHandler, ProxyHandler, Request, build_opener

__metaclass__ = type  # pylint: disable=invalid-name

SAMPLE_INTERVAL = 0.05
PAGE_KB = os.sysconf('SC_PAGE_SIZE') // 1024
VAULT_PASSWORD = 'bench-vault-password'


# --- inventories ---------------------------------------------------------------------------------

def _control(ready, path, data=None):
    handlers = [ProxyHandler({})]
    if ready.get('ca_cert'):
        handlers.append(HTTPSHandler(context=ssl.create_default_context(cafile=ready['ca_cert'])))
    body = None if data is None else json.dumps(data).encode('utf-8')
    request = Request(ready['control_url'] + path, data=body, method='GET' if body is None else 'POST',
                      headers={'Content-Type': 'application/json'})
    with build_opener(*handlers).open(request, timeout=30) as response:
        return json.loads(response.read().decode('utf-8'))


def _read_json(path):
    with open(path, encoding='utf-8') as handle:
        return json.load(handle)


def _write(path, text, mode=0o644):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, 'w', encoding='utf-8') as handle:
        handle.write(text)
    os.chmod(path, mode)


def _vault(text):
    # pylint: disable=import-outside-toplevel
    from ansible.parsing.vault import VaultLib, VaultSecret
    vault = VaultLib([('default', VaultSecret(VAULT_PASSWORD.encode('utf-8')))])
    return vault.encrypt(text).decode('ascii')


def inventories(args):
    """One inventory directory per main account; the paths of their hosts.yml, one a line, on stdout."""
    ready = _read_json(args.ready)
    accounts = {}
    paths = []
    for index in range(args.regions):
        region = 'r%02d' % index
        key = 'bench-%s-%s-key' % (args.prefix, region)
        accounts[key] = args.balance
        top = os.path.join(args.dir, '%s-%s' % (args.prefix, region))
        group_vars = os.path.join(top, 'group_vars', region)
        lines = ['---',
                 '# The main account of every host of group %s, as an operator writes it.' % region,
                 'smsbox_account_label: %s-%s' % (args.prefix, region),
                 'smsbox_api_url: %s' % ready['url']]
        if args.ledger_uri:
            # One PostgreSQL database shared by the main accounts: each one's rows are keyed by its key fingerprint.
            lines.append('smsbox_ledger: "%s"' % args.ledger_uri)
        else:
            # Beside the inventory, not in it: every file under an inventory directory is read as inventory.
            lines.append('smsbox_ledger: "{{ inventory_dir }}/../ledgers/%s-%s.json"' % (args.prefix, region))
            os.makedirs(os.path.join(args.dir, 'ledgers'), exist_ok=True)
        if ready.get('ca_cert'):
            lines.append('smsbox_ca_path: %s' % ready['ca_cert'])
        if args.literal:
            # Every value written out: nothing for Ansible to template per host.
            lines[-1] = 'smsbox_ledger: %s' % (lines[-1].split(': ', 1)[1].strip('"') if args.ledger_uri
                                               else os.path.join(args.dir, 'ledgers', '%s-%s.json' % (args.prefix, region)))
            lines.append('smsbox_api_key: %s' % key)
        elif index % 2 == 0:
            # The key in a file next to the inventory, read by a lookup.
            _write(os.path.join(top, 'secrets', 'api_key'), key + '\n', 0o600)
            lines.append("smsbox_api_key: \"{{ lookup('ansible.builtin.file', inventory_dir ~ '/secrets/api_key') }}\"")
        else:
            # The key in a vaulted variable, named by a plain one: ansible-vault's usual layout.
            _write(os.path.join(group_vars, 'vault.yml'), _vault('---\nvault_smsbox_api_key: %s\n' % key), 0o600)
            lines.append('smsbox_api_key: "{{ vault_smsbox_api_key }}"')
        _write(os.path.join(group_vars, 'main.yml'), '\n'.join(lines) + '\n')
        hosts = ['---', '%s:' % region, '  hosts:']
        if args.lists:
            # One host for the whole main account, its sub-accounts in a list.
            hosts.append('    %s-%s-all:' % (args.prefix, region))
            hosts.append('      smsbox_subaccounts:')
        for number in range(args.per_region):
            entry = '{name: %s-%s-%04d, password: pw-%04d-%s, credit: %d}' % (args.prefix, region, number, number, region, 10 + number % 7)
            if args.lists:
                hosts.append('        - %s' % entry)
            else:
                hosts.append('    shop-%s-%s-%04d:' % (args.prefix, region, number))
                hosts.append('      smsbox_subaccount: %s' % entry)
        _write(os.path.join(top, 'hosts.yml'), '\n'.join(hosts) + '\n')
        # The inventory file, not its directory: given a directory, ansible-playbook would also read the key
        # file kept there as an inventory source.
        paths.append(os.path.join(top, 'hosts.yml'))
    _write(os.path.join(args.dir, 'vault-password'), VAULT_PASSWORD + '\n', 0o600)
    _control(ready, '/accounts', accounts)
    print('\n'.join(paths))
    return 0


# --- measured runs -------------------------------------------------------------------------------

def _children_map():
    children = {}
    for entry in os.listdir('/proc'):
        if not entry.isdigit():
            continue
        try:
            with open('/proc/%s/stat' % entry, 'rb') as handle:
                stat = handle.read()
        except OSError:
            continue
        fields = stat[stat.rfind(b')') + 2:].split()
        children.setdefault(int(fields[1]), []).append(int(entry))
    return children


def _tree(root, known):
    """root and its descendants, plus processes seen in the tree before (reparented once their parent ended)."""
    children = _children_map()
    found = set()
    todo = [root] + [pid for pid in known if os.path.exists('/proc/%d' % pid)]
    while todo:
        pid = todo.pop()
        if pid in found:
            continue
        found.add(pid)
        todo.extend(children.get(pid, ()))
    return found


def _rss_kb(pid):
    try:
        with open('/proc/%d/statm' % pid, 'rb') as handle:
            return int(handle.read().split()[1]) * PAGE_KB
    except (OSError, IndexError, ValueError):
        return 0


def _pss_kb(pid):
    try:
        with open('/proc/%d/smaps_rollup' % pid, 'rb') as handle:
            for line in handle:
                if line.startswith(b'Pss:'):
                    return int(line.split()[1])
    except (OSError, IndexError, ValueError):
        pass
    return 0


class Sampler:
    """Samples the process tree of one pid until stopped: the peak of the summed RSS (and PSS)."""

    def __init__(self, root, pss):
        self.root = root
        self.pss = pss
        self.peak_rss = 0
        self.peak_pss = 0
        self.peak_processes = 0
        self.samples = 0
        self.known = set()
        self.done = threading.Event()
        self.thread = threading.Thread(target=self.loop, daemon=True)

    def loop(self):
        while not self.done.is_set():
            pids = _tree(self.root, self.known)
            pids.discard(self.root)  # /usr/bin/time itself
            self.known = pids
            self.peak_rss = max(self.peak_rss, sum(_rss_kb(pid) for pid in pids))
            if self.pss:
                self.peak_pss = max(self.peak_pss, sum(_pss_kb(pid) for pid in pids))
            self.peak_processes = max(self.peak_processes, len(pids))
            self.samples += 1
            self.done.wait(SAMPLE_INTERVAL)


def _timing(path, started, ended, cpu_total):
    """The run split into start-up, each task and exit, from the bench callback's record (wall and CPU seconds)."""
    try:
        record = _read_json(path)
    except (OSError, ValueError):
        return None
    tasks = record.get('tasks') or []
    stats = record.get('stats') or ended
    stats_cpu = record.get('stats_cpu') or cpu_total
    parts = []
    for index, task in enumerate(tasks):
        following = tasks[index + 1] if index + 1 < len(tasks) else {'start': stats, 'cpu': stats_cpu}
        items = []
        previous = task['start']
        for item_end in task['item_ends']:
            items.append(round(item_end - previous, 3))
            previous = item_end
        parts.append({'name': task['name'], 'seconds': round(following['start'] - task['start'], 3),
                      'cpu': round(following['cpu'] - task['cpu'], 3), 'items': items,
                      'result': round(task['result'] - task['start'], 3) if task.get('result') else None})
    first = tasks[0] if tasks else {'start': stats, 'cpu': stats_cpu}
    return {'startup': round(first['start'] - started, 3), 'startup_cpu': round(first['cpu'], 3),
            'to_playbook_start': round((record.get('playbook_start') or first['start']) - started, 3),
            'tasks': parts, 'exit': round(ended - stats, 3), 'exit_cpu': round(cpu_total - stats_cpu, 3)}


def run(args):
    """Run the command, measured; its exit code is ours."""
    command = args.command[1:] if args.command[:1] == ['--'] else args.command
    time_file = args.result + '.time'
    timing_file = args.result + '.timing'
    env = dict(os.environ, SMSBOX_BENCH_TIMING=timing_file)
    ready = _read_json(args.ready) if args.ready else None
    start = _mark(ready) if ready else None
    with open(args.log, 'wb') as log:
        started = time.time()
        process = subprocess.Popen(  # pylint: disable=consider-using-with
            ['/usr/bin/time', '-f', '%e %U %S %M', '-o', time_file] + command, stdout=log, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, env=env)
        sampler = Sampler(process.pid, args.pss)
        sampler.thread.start()
        try:
            code = process.wait()
        except KeyboardInterrupt:
            process.send_signal(signal.SIGINT)
            code = process.wait()
        ended = time.time()
        sampler.done.set()
        sampler.thread.join()
    try:
        with open(time_file, encoding='utf-8') as handle:
            wall, user, system, maxrss = handle.read().split('\n')[-2].split()
    except (OSError, ValueError, IndexError):
        wall, user, system, maxrss = ended - started, 0, 0, 0
    result = {'label': args.label, 'started': started, 'exit_code': code, 'wall': float(wall), 'elapsed': round(ended - started, 3),
              'cpu': round(float(user) + float(system), 2), 'largest_process_rss_kb': int(maxrss),
              'tree_rss_peak_kb': sampler.peak_rss, 'tree_pss_peak_kb': sampler.peak_pss if args.pss else None,
              'peak_processes': sampler.peak_processes, 'samples': sampler.samples,
              'timing': _timing(timing_file, started, ended, float(user) + float(system))}
    if ready:
        result['emulator'] = _since(ready, start)
    result['log'] = args.log
    result.update(json.loads(args.extra or '{}'))
    with open(args.result, 'w', encoding='utf-8') as handle:
        json.dump(result, handle, indent=1, sort_keys=True)
    for path in (time_file, timing_file):
        if os.path.exists(path):
            os.unlink(path)
    return code


# --- the emulator's counts -----------------------------------------------------------------------

def _mark(ready):
    state = _control(ready, '/state')
    requests = state.get('requests') or []
    return {'seq': requests[-1]['seq'] if requests else 0, 'connections': state['connections']}


def _since(ready, start):
    """What the emulator received since the mark: requests (by method while its log holds them all), connections."""
    state = _control(ready, '/state')
    logged = [entry for entry in state.get('requests') or [] if entry['seq'] > start['seq']]
    last = state['requests'][-1]['seq'] if state.get('requests') else start['seq']
    complete = not logged or logged[0]['seq'] == start['seq'] + 1
    methods = {}
    for entry in logged:
        methods[entry['method']] = methods.get(entry['method'], 0) + 1
    return {'requests': last - start['seq'], 'by_method': methods if complete else None,
            'connections': state['connections'] - start['connections']}


# --- the table -----------------------------------------------------------------------------------

def _load_results(directory):
    """label -> result; a label run several times (label#1, label#2...) keeps its fastest run, with them all in ``runs``."""
    runs = {}
    for path in sorted(glob.glob(os.path.join(directory, '*.json'))):
        try:
            result = _read_json(path)
        except (OSError, ValueError):
            continue
        if isinstance(result, dict) and 'label' in result:
            runs.setdefault(result['label'].split('#')[0], []).append(result)
    results = {}
    for label, group in runs.items():
        done = [result for result in group if not result.get('exit_code')]
        best = dict(min(done, key=lambda result: result['wall']) if done else group[0])
        best['runs'] = group
        results[label] = best
    return results


def _verdict(ok):
    return 'met' if ok else '**NOT met**'


def _seconds(result):
    runs = len(result.get('runs') or ())
    return '%.2f s (cpu %.1f s)%s' % (result['wall'], result['cpu'], ', best of %d runs' % runs if runs > 1 else '')


def _mb(kb):
    return kb / 1024.0


class Table:
    """Rows of: section, measure, figures, target, verdict."""

    def __init__(self, results, config):
        self.results = results
        self.config = config
        self.rows = []

    def add(self, section, measure, figures, target='', verdict=''):
        self.rows.append((section, measure, figures, target, verdict))

    def get(self, label):
        result = self.results.get(label)
        if result is None or result.get('exit_code'):
            return None
        return result

    def missing(self, section, measure, label):
        result = self.results.get(label)
        why = 'not run' if result is None else 'failed (exit code %s, log %s)' % (result['exit_code'], result.get('log', '?'))
        self.add(section, measure, why, '', '**NOT met** (no figure)')

    def render(self):
        lines = ['| # | measure | figures | target | result |', '|---|---|---|---|---|']
        for row in self.rows:
            lines.append('| %s |' % ' | '.join(str(cell) for cell in row))
        return '\n'.join(lines)

    def first_run(self):
        n = self.config['n']
        role, uri = self.get('first-file'), self.get('uri')
        if role is None:
            self.missing(1, 'first run, role', 'first-file')
            return
        per_role = role['wall'] / n
        self.add(1, 'first run, role: %d sub-accounts + credits, 2 main accounts' % n,
                 '%s = **%.1f ms per sub-account**; %s' % (_seconds(role), per_role * 1000, _requests(role)))
        if uri is None:
            self.missing(1, 'ansible.builtin.uri loop', 'uri')
            return
        sample = self.config['uri_sample']
        per_uri = uri['wall'] / sample
        self.add(1, 'ansible.builtin.uri loop, same 2 requests per sub-account (a sample of %d, extrapolated)' % sample,
                 '%s for %d = **%.0f ms per sub-account**' % (_seconds(uri), sample, per_uri * 1000))
        ratio = per_uri / per_role
        self.add(1, 'uri loop ÷ role, per sub-account', '**%.0f×**' % ratio, '≥ 100×', _verdict(ratio >= 100))

    def rerun(self):
        rerun, check, empty = self.get('rerun-file'), self.get('check-file'), self.get('empty')
        for label, result, what in (('rerun-file', rerun, 're-run, nothing to do'), ('check-file', check, '--check of the re-run'),
                                    ('empty', empty, 'empty play: one run_once ansible.builtin.debug')):
            if result is None:
                self.missing(2, what, label)
        if rerun is None or check is None or empty is None:
            return
        n = self.config['n']
        self.add(2, 're-run with nothing to do, %d sub-accounts (same inventories)' % n, '%s; %s' % (_seconds(rerun), _requests(rerun)))
        self.add(2, '--check of the re-run', '%s; %s' % (_seconds(check), _requests(check)))
        self.add(2, 'empty play, one run_once ansible.builtin.debug, same inventories', _seconds(empty))
        for result, what in ((rerun, 're-run'), (check, '--check')):
            ratio = result['wall'] / empty['wall']
            self.add(2, '%s ÷ empty play' % what, '**%.2f×** (%.2f s over the empty play)' % (ratio, result['wall'] - empty['wall']),
                     '≤ 2×', _verdict(ratio <= 2))
        posts = [[run.get('emulator', {}).get('by_method') for run in result['runs']] for result in (rerun, check)]
        if None in posts[0] + posts[1]:
            self.add(2, 'write requests (POST) in the re-runs and the --checks', 'unknown (the emulator log was cut)', '0',
                     '**NOT met** (unknown)')
        else:
            count = [sum(methods.get(method, 0) for methods in counts) for counts in posts for method in ('POST', 'GET')]
            self.add(2, 'write requests (POST) in the re-runs and the --checks (all runs)',
                     '**%d** POST (re-runs %d, --checks %d; GET: %d and %d)' % (count[0] + count[2], count[0], count[2], count[1], count[3]),
                     '0', _verdict(count[0] + count[2] == 0))

    def scale(self):
        points = self.config['scale']
        base = None
        largest = None
        for n in points:
            label = 'scale-%d' % n
            result = self.get(label)
            accounts = max(1, (n + self.config['per_account'] - 1) // self.config['per_account'])
            if result is None:
                self.missing(3, 'scale: %d sub-accounts' % n, label)
                continue
            per = result['wall'] / n
            measure = 'scale: first run, %d sub-accounts, %d main account%s in %d inventor%s' % (
                n, accounts, 's' if accounts > 1 else '', accounts, 'ies' if accounts > 1 else 'y')
            if base is None:
                base = per
                self.add(3, measure, '%s = **%.1f ms per sub-account** (the reference)' % (_seconds(result), per * 1000))
            else:
                ratio = per / base
                self.add(3, measure, '%s = **%.1f ms per sub-account**, %.2f× the per-sub-account time at %d' % (
                    _seconds(result), per * 1000, ratio, points[0]),
                    '≤ 1.10× (linear; 10% for noise)', _verdict(ratio <= 1.10))
            largest = (n, result)
        if largest is not None:
            n, result = largest
            tree = _mb(result['tree_rss_peak_kb'])
            pss = result.get('tree_pss_peak_kb')
            self.add(3, 'peak memory of the %d run, ansible-playbook and all its children' % n,
                     '**%.0f MB** summed RSS of the tree (%s%d processes at most; sampled every 50 ms); '
                     'largest single process %.0f MB (/usr/bin/time %%M)' % (
                         tree, 'PSS %.0f MB, ' % _mb(pss) if pss else '', result['peak_processes'],
                         _mb(result['largest_process_rss_kb'])),
                     '< 300 MB', _verdict(tree < 300))

    def latency(self):
        latency = self.config['latency_ms']
        n = self.config['latency_n']
        for concurrency in self.config['concurrency']:
            fixed = self.get('fixed-c%d' % concurrency)
            if fixed is None:
                self.missing(4, 'TLS, 0 ms, concurrency %d (the fixed cost)' % concurrency, 'fixed-c%d' % concurrency)
                continue
            for keep_alive in ('keep-alive', 'no-keep-alive'):
                label = 'latency-%s-c%d' % (keep_alive, concurrency)
                result = self.get(label)
                what = 'TLS, %d ms a request, concurrency %d, %s' % (
                    latency, concurrency, 'keep-alive' if keep_alive == 'keep-alive' else 'no keep-alive (a TCP+TLS handshake per request)')
                if result is None:
                    self.missing(4, what, label)
                    continue
                requests = result.get('emulator', {}).get('requests') or 0
                bound = requests * latency / 1000.0 / concurrency + fixed['wall']
                ratio = result['wall'] / bound
                self.add(4, 'first run, %d sub-accounts, %s' % (n, what),
                         '%s; bound %d requests × %d ms ÷ %d + %.2f s fixed (same run at 0 ms) = %.2f s: **%.2f×**; %d connections' % (
                             _seconds(result), requests, latency, concurrency, fixed['wall'], bound, ratio,
                             result.get('emulator', {}).get('connections', 0)),
                         '≤ 1.5× the bound', _verdict(ratio <= 1.5))

    def stores(self):
        for kind, what in (('first', 'first run'), ('rerun', 're-run')):
            file_, pg = self.get('%s-file' % kind), self.get('%s-postgresql' % kind)
            if pg is None:
                self.missing(5, 'PostgreSQL ledger, %s' % what, '%s-postgresql' % kind)
                continue
            if file_ is None:
                continue
            ratio = pg['wall'] / file_['wall']
            self.add(5, 'PostgreSQL ledger ÷ file ledger, %s, %d sub-accounts' % (what, self.config['n']),
                     'PostgreSQL %s, file %s: **%.2f×**' % (_seconds(pg), _seconds(file_), ratio), '≤ 1.25×', _verdict(ratio <= 1.25))


def _requests(result):
    emulator = result.get('emulator')
    if not emulator:
        return ''
    methods = emulator.get('by_method') or {}
    return '%d requests (%s)' % (emulator['requests'], ', '.join('%s %d' % item for item in sorted(methods.items())))


def table(args):
    config = json.loads(args.config)
    results = _load_results(args.results)
    body = Table(results, config)
    body.first_run()
    body.rerun()
    body.scale()
    body.latency()
    if config.get('postgresql'):
        body.stores()
    else:
        body.add(5, 'PostgreSQL ledger ÷ file ledger', 'not run (BENCH_POSTGRESQL=0)', '≤ 1.25×', '')
    load = os.getloadavg()
    print('SMSBOX benchmark: %s; %d cores (%s), load average %.1f at the end; ansible-core %s, Python %s; %s%s' % (
        config.get('started', ''), os.cpu_count() or 0, platform.machine(), load[0], config.get('ansible_core', '?'),
        platform.python_version(), 'quick run (BENCH_QUICK=1); ' if config.get('quick') else '',
        'load average %.1f at the start' % config['load_start'] if 'load_start' in config else ''))
    print()
    print(body.render())
    missing = sum(1 for row in body.rows if 'no figure' in str(row[4]))
    return 1 if missing else 0


def profile(args):
    """The per-task breakdown of runs, as Markdown: wall / CPU seconds of start-up, each task (and loop item), exit."""
    results = sorted(_load_results(args.results).values(), key=lambda result: result['runs'][0].get('started', 0))
    print('| run | total | start-up | tasks | exit |')
    print('|---|---|---|---|---|')
    for result in results:
        timing = result.get('timing') or {}
        tasks = []
        for task in timing.get('tasks') or []:
            name = task['name'].split(' : ', 1)[-1]
            items = ' [%s]' % ' + '.join('%.2f' % item for item in task['items']) if len(task['items']) > 1 else ''
            result_at = ' (result at %.2f)' % task['result'] if task.get('result') is not None else ''
            tasks.append('%s %.2f / %.2f%s%s' % (name, task['seconds'], task['cpu'], items, result_at))
        print('| %s | %.2f / %.1f | %.2f / %.2f | %s | %.2f / %.2f |' % (
            result['label'], result['wall'], result['cpu'], timing.get('startup', 0), timing.get('startup_cpu', 0),
            '<br>'.join(tasks), timing.get('exit', 0), timing.get('exit_cpu', 0)))
    return 0


def main(argv=None):
    parser = argparse.ArgumentParser(prog='bench_helper.py', allow_abbrev=False)
    sub = parser.add_subparsers(dest='command_name')
    sub.required = True
    cmd = sub.add_parser('inventories', allow_abbrev=False)
    cmd.add_argument('dir')
    cmd.add_argument('--ready', required=True, help="the emulator's ready file")
    cmd.add_argument('--prefix', required=True, help='distinguishes the names, keys and ledgers of one scenario')
    cmd.add_argument('--regions', type=int, required=True, help='main accounts, one inventory each')
    cmd.add_argument('--per-region', type=int, required=True, help='sub-accounts (hosts) per main account')
    cmd.add_argument('--ledger-uri', help='a PostgreSQL ledger instead of a file next to each inventory')
    cmd.add_argument('--balance', type=int, default=10000000)
    cmd.add_argument('--literal', action='store_true', help='group_vars written out, no template, no lookup, no vault')
    cmd.add_argument('--lists', action='store_true', help='one host per main account with a smsbox_subaccounts list')
    cmd.set_defaults(func=inventories)
    cmd = sub.add_parser('run', allow_abbrev=False)
    cmd.add_argument('result')
    cmd.add_argument('log')
    cmd.add_argument('--label', required=True)
    cmd.add_argument('--pss', action='store_true', help='also sample PSS (smaps_rollup; costlier)')
    cmd.add_argument('--extra', help='JSON merged into the result')
    cmd.add_argument('--ready', help="the emulator's ready file: count what it receives during the run")
    cmd.add_argument('command', nargs=argparse.REMAINDER)
    cmd.set_defaults(func=run)
    cmd = sub.add_parser('table', allow_abbrev=False)
    cmd.add_argument('results')
    cmd.add_argument('--config', required=True, help='JSON: n, uri_sample, scale, per_account, latency_ms, latency_n, concurrency, ...')
    cmd.set_defaults(func=table)
    cmd = sub.add_parser('profile', allow_abbrev=False)
    cmd.add_argument('results')
    cmd.set_defaults(func=profile)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == '__main__':
    sys.exit(main())
