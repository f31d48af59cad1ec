# -*- coding: utf-8 -*-
# Copyright: (c) 2026, smsbox.account contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Jobs run as AWX runs them, while the platform fails under them; what SMSBOX received is checked against the ledger.

Every job is ``ansible-runner run`` on a private data dir in AWX's layout: env/envvars as the docs' AWX credential type
injects them (SMSBOX_LEDGER without its password, PGPASSWORD, SMSBOX_API_KEY), env/extravars, inventory/ (two main
accounts: eu's key from the environment, us's in the inventory), project/ (a playbook that imports
smsbox.account.provision). The ledger is a PostgreSQL cluster of this target's own, reached directly or through a real
PgBouncer. The faults:

- cancels: ROUNDS rounds, each cancelling a job at a random point of the create or the credit stage (alternately) by
  AWX's cancel (SIGINT to ansible-runner, which kills the playbook's process group; then the job's container goes, with
  the workers, which ansible-core puts in sessions of their own), a CI runner's SIGTERM to the job's processes, or an
  OOM kill (SIGKILL); then the next job;
- the lock backend of a running job terminated (pg_terminate_backend, as the lock-timeout message suggests) while the
  next job starts, with smsbox_adopt on;
- the PostgreSQL server restarted (about 1 s away) and stopped for 8 s while transfers are in flight;
- PgBouncer in transaction and in session pooling: two jobs at once, and a cancelled job;
- a database that cannot give every job its connections (a connection limit), four jobs at once;
- a job that finds the ledger taken: it says who holds it while it waits, and one with a short lock_timeout gives up;
- a key rotation: after the documented copy, a job still on the old key refuses to write; the new key pays a raise once.

After each, every main account is audited: every sub-account SMSBOX holds is in the ledger as created (0 lost
records, none adopted), none was created twice, no sub-account received more than declared (0 duplicate transfers),
SMSBOX's credits equal the ledger's applied transfers plus at most the one unsettled transfer a killed job may leave,
and, where the database came back within the bound, every transfer SMSBOX answered is recorded as answered (0 left
pending). The counts are printed as ``COUNT name: number`` lines for runme.sh.

Usage: harness.py (settings in the environment: see runme.sh)
"""

from __future__ import absolute_import, division, print_function

import collections
import json
import os
import random
import shlex
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import psycopg

from ansible_collections.smsbox.account.plugins.module_utils._ledger.records import key_fingerprint

ENV = os.environ
WORK = ENV['HARNESS_WORK']      # what jobs write (artifacts): scanned for secrets by runme.sh
INPUTS = ENV['HARNESS_INPUTS']  # what jobs are given (inventories with keys, envvars with the database password)
ROUNDS = int(ENV.get('HARNESS_ROUNDS', '10'))
NAMES = int(ENV.get('HARNESS_NAMES', '12'))  # sub-accounts per main account
SEED = int(ENV.get('HARNESS_SEED') or random.SystemRandom().randrange(1 << 30))
PASSWORD_MARK = ENV['HARNESS_PASSWORD_MARK']
KEY_MARK = ENV['HARNESS_KEY_MARK']
DB_PASSWORD = ENV['HARNESS_DB_PASSWORD']
PG_HOST, PG_PORT = ENV['HARNESS_PG_HOST'], int(ENV['HARNESS_PG_PORT'])
PG_SOCKET = ENV['HARNESS_PG_SOCKET']  # the superuser's way in, for what only a DBA does
PG_CTL = ENV['HARNESS_PG_CTL'].split()  # runuser -u postgres -- .../pg_ctl --pgdata=...
AS_POSTGRES = ENV.get('HARNESS_AS_POSTGRES', '').split()
READY = json.load(open(ENV['HARNESS_EMULATOR']))
JOB_TIMEOUT = 240
COUNTS = collections.OrderedDict((name, 0) for name in (
    'jobs run', 'cancels (SIGINT to ansible-runner, process group killed)', 'cancels (SIGTERM)', 'cancels (SIGKILL)',
    'cancels in the create stage', 'cancels in the credit stage', 'lock backends terminated', 'database restarts',
    'database outages of 8 s', 'PgBouncer transaction-pooling jobs', 'PgBouncer session-pooling jobs',
    'jobs refused for connections before any request', 'lost records', 'duplicate creates', 'duplicate transfers',
    'answered transfers left pending', 'transfers left unknown by a killed job',
    'creates a killed job left unknown, settled by the next job', 'jobs that waited for the lock and said who held it',
    'jobs on a rotated-away key refused before any request'))
ZERO = ('lost records', 'duplicate creates', 'duplicate transfers', 'answered transfers left pending')
random_points = random.Random(SEED)


def say(text):
    print(text, flush=True)


def fail(text):
    say('FAIL: ' + text)
    for job in Job.started:
        job.keep_command()
    sys.exit(1)


# -- the emulator --

def control(path, body=None):
    request = urllib.request.Request(READY['control_url'] + path, data=json.dumps(body).encode() if body is not None else None,
                                     method='POST' if body is not None else 'GET')
    with urllib.request.build_opener(urllib.request.ProxyHandler({})).open(request, timeout=30) as response:
        return json.loads(response.read().decode())


def state():
    return control('/state')


class Account:
    """One main account of a scenario: its key, its label, and what its hosts declare (name -> credit)."""

    def __init__(self, scenario, label, names=NAMES):
        self.label = label
        self.key = '%s-%s-%s%s=' % (scenario, label, KEY_MARK, os.urandom(3).hex())
        self.prefix = '%s%s' % (scenario.replace('-', ''), label)
        self.declared = dict(('%s-%02d' % (self.prefix, n), 5 + n) for n in range(1, names + 1))
        self.fingerprint = key_fingerprint(self.key)

    def rotated(self):
        """The same main account under a new key (SMSBOX may accept both for a while)."""
        other = Account.__new__(Account)
        other.__dict__.update(self.__dict__, key=self.key.replace(KEY_MARK, KEY_MARK + 'n'), declared=dict(self.declared))
        other.fingerprint = key_fingerprint(other.key)
        return other


def fresh_emulator(accounts):
    control('/reset', {'accounts': dict((account.key, 1000000) for account in accounts)})


def posts(accounts, snapshot=None):
    keys = set(account.key for account in accounts)
    return [entry for entry in (snapshot or state())['requests'] if entry['method'] == 'POST' and entry['key'] in keys
            and entry['action'] in ('utilisateur', 'credit') and ('pseudo' in entry['params'] or 'to' in entry['params'])]


# -- PostgreSQL: the target's own cluster, and PgBouncer --

def admin():
    return psycopg.connect(host=PG_SOCKET, port=PG_PORT, user='postgres', dbname='postgres', autocommit=True)


def create_database(name, limit=None):
    with admin() as conn:
        conn.execute('DROP DATABASE IF EXISTS %s' % name)
        conn.execute('CREATE DATABASE %s OWNER smsbox_test' % name)
        if limit is not None:
            conn.execute('ALTER DATABASE %s CONNECTION LIMIT %d' % (name, limit))


def ledger_uri(database, port=PG_PORT):
    return 'postgresql://smsbox_test@%s:%d/%s' % (PG_HOST, port, database)  # the password comes from PGPASSWORD


def ledger_rows(database, account):
    with psycopg.connect(host=PG_HOST, port=PG_PORT, user='smsbox_test', password=DB_PASSWORD, dbname=database, autocommit=True) as conn:
        if not conn.execute("SELECT to_regclass('smsbox_ledger_subaccounts') IS NOT NULL").fetchone()[0]:
            return {}, []
        subaccounts = dict((name, (origin, sub_state)) for name, origin, sub_state in conn.execute(
            'SELECT name, origin, state FROM smsbox_ledger_subaccounts WHERE account = %s', (account.fingerprint,)))
        transfers = [dict(id=txid, subaccount=name, amount=amount, state=tx_state) for txid, name, amount, tx_state in conn.execute(
            'SELECT id, subaccount, amount, state FROM smsbox_ledger_transfers WHERE account = %s ORDER BY seq', (account.fingerprint,))]
    return subaccounts, transfers


def pg_ctl(*args):
    subprocess.run(PG_CTL + list(args), check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=120)


def server_options():
    """The options the server was started with (postmaster.opts), which pg_ctl start would not repeat by itself."""
    data = [arg for arg in PG_CTL if arg.startswith('--pgdata=')][0].split('=', 1)[1]
    with open(os.path.join(data, 'postmaster.opts')) as handle:
        words = shlex.split(handle.read())[1:]
    return ' '.join(shlex.quote(word) for index, word in enumerate(words)
                    if word != '-D' and (index == 0 or words[index - 1] != '-D'))


def free_port():
    sock = socket.socket()
    sock.bind(('127.0.0.1', 0))
    port = sock.getsockname()[1]
    sock.close()
    return port


class Bouncer:
    """A real PgBouncer on loopback in front of the cluster, run as the postgres user, in one pooling mode."""

    def __init__(self, mode, database):
        self.mode = mode
        self.port = free_port()
        self.dir = os.path.join(PG_SOCKET, 'pgbouncer-%s' % mode)  # the cluster's directory: the postgres user's, 0700
        os.makedirs(self.dir, exist_ok=True)
        with open(os.path.join(self.dir, 'userlist.txt'), 'w') as handle:
            handle.write('"smsbox_test" "%s"\n' % DB_PASSWORD.replace('"', '""'))
        with open(os.path.join(self.dir, 'pgbouncer.ini'), 'w') as handle:
            handle.write('\n'.join([
                '[databases]', '%s = host=%s port=%d dbname=%s' % (database, PG_HOST, PG_PORT, database),
                '[pgbouncer]', 'listen_addr = 127.0.0.1', 'listen_port = %d' % self.port, 'unix_socket_dir =',
                'auth_type = scram-sha-256', 'auth_file = %s/userlist.txt' % self.dir, 'pool_mode = %s' % mode,
                'default_pool_size = 8', 'max_client_conn = 200', 'server_reset_query = DISCARD ALL',
                'logfile = %s/pgbouncer.log' % self.dir, 'pidfile = %s/pgbouncer.pid' % self.dir, '']))
        if AS_POSTGRES:
            subprocess.run(['chown', '-R', 'postgres:', self.dir], check=True)
        self.process = subprocess.Popen(AS_POSTGRES + ['pgbouncer', os.path.join(self.dir, 'pgbouncer.ini')],  # pylint: disable=consider-using-with
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                socket.create_connection(('127.0.0.1', self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.1)
        self.stop()
        log = os.path.join(self.dir, 'pgbouncer.log')
        fail('PgBouncer did not start (%s)' % (open(log).read()[-2000:] if os.path.exists(log) else 'no log'))

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(20)


# -- jobs, as AWX runs them --

def marked(job):
    """The live processes whose environment names the job (HARNESS_JOB): its ansible-playbook and workers, wherever they
    are reparented (a zombie's environment reads empty)."""
    needle = ('\0HARNESS_JOB=%s\0' % job).encode()
    found = []
    for entry in os.listdir('/proc'):
        if entry.isdigit():
            try:
                with open('/proc/%s/environ' % entry, 'rb') as handle:
                    if needle in b'\0' + handle.read():
                        found.append(int(entry))
            except (IOError, OSError):
                continue
    return found


def children(pid):
    found = []
    for entry in os.listdir('/proc'):
        if entry.isdigit():
            try:
                with open('/proc/%s/stat' % entry) as handle:
                    fields = handle.read().rsplit(')', 1)[1].split()
            except (IOError, OSError):
                continue
            if int(fields[1]) == pid:
                found.append(int(entry))
    return found


class Job:
    """A private data dir in AWX's layout, run by ansible-runner in a session of its own."""

    number = 0
    started = []

    def __init__(self, accounts, database, port=PG_PORT, adopt=False, extra_env=None, playbook=None, extravars=None):
        Job.number += 1
        self.name = 'job%03d' % Job.number
        self.accounts = accounts
        self.pdd = os.path.join(INPUTS, self.name)
        self.artifacts = os.path.join(WORK, 'artifacts', self.name)
        for folder in ('env', 'inventory', 'project'):
            os.makedirs(os.path.join(self.pdd, folder), exist_ok=True)
        os.makedirs(os.path.join(INPUTS, 'home'), exist_ok=True)
        envvars = {'SMSBOX_LEDGER': ledger_uri(database, port), 'PGPASSWORD': DB_PASSWORD, 'SMSBOX_API_KEY': accounts[0].key,
                   'SMSBOX_LOCK_TIMEOUT': '90', 'ANSIBLE_COLLECTIONS_PATH': ENV['ANSIBLE_COLLECTIONS_PATH'],
                   'ANSIBLE_LOCAL_TEMP': os.path.join(WORK, 'ansible-tmp'), 'HOME': os.path.join(INPUTS, 'home'),
                   'HARNESS_JOB': self.name}  # finds its processes wherever they were reparented (tree())
        envvars.update(extra_env or {})
        with open(os.path.join(self.pdd, 'env', 'envvars'), 'w') as handle:
            json.dump(envvars, handle)  # JSON is YAML: ansible-runner reads either
        with open(os.path.join(self.pdd, 'env', 'extravars'), 'w') as handle:
            json.dump(dict({'smsbox_hosts': 'all'}, **(extravars or {})), handle)
        with open(os.path.join(self.pdd, 'env', 'settings'), 'w') as handle:
            json.dump({'suppress_ansible_output': True}, handle)
        inventory = {'all': {'vars': {'ansible_connection': 'local', 'ansible_python_interpreter': sys.executable},
                             'children': {}}}
        for index, account in enumerate(accounts):
            group = {'vars': {'smsbox_api_url': READY['url'], 'smsbox_account_label': account.label, 'smsbox_concurrency': 2,
                              'smsbox_adopt': adopt}, 'hosts': {}}
            if index:
                group['vars']['smsbox_api_key'] = account.key  # the first account's comes from SMSBOX_API_KEY, as AWX injects it
            for name, credit in account.declared.items():
                group['hosts']['h-' + name] = {'smsbox_subaccount': {'name': name, 'password': 'p %s&=%s' % (PASSWORD_MARK, name),
                                                                     'credit': credit}}
            inventory['all']['children'][account.label] = group
        with open(os.path.join(self.pdd, 'inventory', 'hosts.yml'), 'w') as handle:
            json.dump(inventory, handle)
        with open(os.path.join(self.pdd, 'project', 'site.yml'), 'w') as handle:
            handle.write(playbook or '- name: Provision\n  ansible.builtin.import_playbook: smsbox.account.provision\n')
        self.process = None
        self.rc = None

    def start(self):
        runner = os.path.join(os.path.dirname(sys.executable), 'ansible-runner')
        self.process = subprocess.Popen([runner, 'run', self.pdd, '-p', 'site.yml', '--artifact-dir', self.artifacts,  # pylint: disable=consider-using-with
                                         '--ident', 'run'], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                        start_new_session=True)
        Job.started.append(self)
        COUNTS['jobs run'] += 1
        return self

    def tree(self):
        """ansible-runner and every process below it: ansible-playbook, and its workers (each in a session of its own);
        and every process of the job's environment (HARNESS_JOB) found elsewhere: a worker forked just before its
        ansible-playbook was killed is orphaned, reparented out of the tree, and would go on sending after the cancel."""
        found, todo = [], [self.process.pid]
        while todo:
            pid = todo.pop()
            found.append(pid)
            todo.extend(children(pid))
        return found + [pid for pid in marked(self.name) if pid not in found]

    def signal_all(self, signum, pids=None):
        for pid in pids or self.tree():
            try:
                os.kill(pid, signum)
            except OSError:
                pass

    def cancel(self, how):
        """AWX's cancel (SIGINT to ansible-runner, which kills the playbook's process group, then the job's container goes
        with whatever is left: here every process of the job), a CI runner's SIGTERM to the job's processes, an OOM kill."""
        if not marked(self.name):  # the job is sending: its ansible-playbook is alive, and must carry the mark
            fail('%s: no process carries HARNESS_JOB=%s: a worker orphaned by the cancel could not be found' % (self.name, self.name))
        pids = self.tree()
        if how == 'awx':
            self.process.send_signal(signal.SIGINT)
            time.sleep(0.2)
            self.signal_all(signal.SIGKILL, pids)
        elif how == 'sigterm':
            self.signal_all(signal.SIGTERM, pids)
        else:
            self.signal_all(signal.SIGKILL, pids)
        self.kill_all()
        self.keep_command()

    def kill_all(self):
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and len(self.tree()) > 1:
            time.sleep(0.05)
        self.signal_all(signal.SIGKILL)
        self.process.wait(30)
        # Nothing of the job may still send when the audit reads SMSBOX and then the ledger.
        deadline = time.monotonic() + 10
        left = marked(self.name)
        while left and time.monotonic() < deadline:
            for pid in left:
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
            time.sleep(0.05)
            left = marked(self.name)

    def wait(self):
        try:
            self.rc = self.process.wait(JOB_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.kill_all()
            fail('%s did not end within %d s' % (self.name, JOB_TIMEOUT))
        self.keep_command()
        return self.rc

    def keep_command(self):
        # ansible-runner's own record of the job's command and environment, which holds what the credential injected
        # (PGPASSWORD, SMSBOX_API_KEY): an input of the job, not something the collection wrote. Kept with the inputs.
        command = os.path.join(self.artifacts, 'run', 'command')
        if os.path.exists(command):
            os.rename(command, os.path.join(self.pdd, 'runner-command.json'))

    @property
    def output(self):
        try:
            with open(os.path.join(self.artifacts, 'run', 'stdout'), errors='replace') as handle:
                return handle.read()
        except (IOError, OSError):
            return ''

    def run(self):
        self.start()
        return self.wait()


def wait_for_posts(job, accounts, count, answered=False, kind=None):
    """Until SMSBOX received ``count`` POSTs of the accounts (creates or transfers: ``kind``), answered if asked."""
    deadline = time.monotonic() + JOB_TIMEOUT
    while time.monotonic() < deadline:
        found = [entry for entry in posts(accounts) if (kind is None or (kind == 'transfer') == ('to' in entry['params']))
                 and (not answered or entry['answer'])]
        if len(found) >= count:
            return
        if job.process.poll() is not None:
            fail('%s ended before SMSBOX received %d requests (rc %s): %s' % (job.name, count, job.process.returncode, job.output[-3000:]))
        time.sleep(0.01)
    fail('%s: SMSBOX did not receive %d requests in %d s' % (job.name, count, JOB_TIMEOUT))


# -- the audit --

def audit(what, accounts, database, answered_known=False, settled=False):
    """What SMSBOX holds against what the ledger holds, for each account; counts and fails on what must never happen.

    answered_known: no job was killed, so every answer reached its job: none may be left unrecorded.
    settled: a job ran to its end after the faults: nothing pending, every declared sub-account created (and the
    transfers a killed job left unknown, and the creates it left to settle, were counted before it).
    """
    snapshot = state()
    problems = []
    if settled:
        sent = collections.Counter(entry['params']['pseudo'] for entry in posts(accounts, snapshot) if 'pseudo' in entry['params'])
        COUNTS['creates a killed job left unknown, settled by the next job'] += sum(1 for number in sent.values() if number > 1)
    for account in accounts:
        at_smsbox = snapshot['accounts'][account.key]
        subaccounts, transfers = ledger_rows(database, account)
        creates = at_smsbox['creates']
        duplicates = len(creates) - len(set(creates))
        COUNTS['duplicate creates'] += duplicates
        lost = [name for name in creates if subaccounts.get(name, ('', ''))[0] != 'created']
        COUNTS['lost records'] += len(lost)
        if duplicates or lost:
            problems.append('%s: created twice %d, not recorded as created %s' % (account.label, duplicates, lost[:5]))
        phantom = [name for name, (_origin, sub_state) in subaccounts.items() if sub_state == 'present' and name not in creates]
        if phantom:
            problems.append('%s: recorded present but never created at SMSBOX: %s' % (account.label, phantom[:5]))
        for name, declared in account.declared.items():
            credits = int(float(at_smsbox['subaccounts'].get(name, {}).get('credits', 0)))
            mine = [tx for tx in transfers if tx['subaccount'] == name]
            applied = sum(tx['amount'] for tx in mine if tx['state'] == 'applied')
            unsettled = [tx for tx in mine if tx['state'] in ('pending', 'unknown')]
            if credits > declared:
                COUNTS['duplicate transfers'] += 1
                problems.append('%s: %s received %d credits, %d declared' % (account.label, name, credits, declared))
            if credits == applied:
                continue
            if len(unsettled) == 1 and credits == applied + unsettled[0]['amount'] and not answered_known:
                COUNTS['transfers left unknown by a killed job'] += 0 if settled else 1
                continue
            COUNTS['answered transfers left pending'] += 1
            problems.append('%s: %s holds %d credits at SMSBOX, the ledger %d applied and %s unsettled'
                            % (account.label, name, credits, applied, [(tx['amount'], tx['state']) for tx in unsettled]))
        if settled:
            pending = [tx['id'] for tx in transfers if tx['state'] == 'pending']
            missing = sorted(set(account.declared) - set(creates))
            if pending or missing:
                problems.append('%s: after a complete job, pending %s, never created %s' % (account.label, pending, missing[:5]))
    if problems:
        fail('%s: %s' % (what, ' | '.join(problems)))
    say('ok: %s: SMSBOX and the ledger agree (%s)' % (what, ', '.join(account.label for account in accounts)))


def unknown_ids(accounts, database):
    return [tx['id'] for account in accounts for tx in ledger_rows(database, account)[1] if tx['state'] in ('pending', 'unknown')]


def follow_up(what, accounts, database, port=PG_PORT):
    """The next job, after the faults: it must end, and fail only for transfers a killed job left unknown, naming them."""
    job = Job(accounts, database, port=port)
    rc = job.run()
    unknown = unknown_ids(accounts, database)
    if rc != 0:
        if not unknown:
            fail('%s: the next job failed with nothing left unknown: %s' % (what, job.output[-3000:]))
        missing = [txid for txid in unknown if txid not in job.output]
        if missing:
            fail('%s: the next job did not name the unknown transfers %s' % (what, missing))
    audit(what + ', then the next job', accounts, database, settled=True)
    return job


# -- the scenarios --

CANCELS = ('awx', 'sigterm', 'sigkill')
CANCEL_COUNTS = {'awx': 'cancels (SIGINT to ansible-runner, process group killed)', 'sigterm': 'cancels (SIGTERM)',
                 'sigkill': 'cancels (SIGKILL)'}


def cancelled_round(label, database, how, stage, port=PG_PORT):
    accounts = [Account(label, 'eu'), Account(label, 'us')]
    fresh_emulator(accounts)
    total = sum(len(account.declared) for account in accounts)
    # creates are requests 1..total, transfers total+1..2*total (both accounts side by side, roughly)
    point = random_points.randint(1, total - 1) if stage == 'create' else random_points.randint(total + 1, 2 * total - 1)
    job = Job(accounts, database, port=port).start()
    wait_for_posts(job, accounts, point)
    job.cancel(how)
    COUNTS[CANCEL_COUNTS[how]] += 1
    COUNTS['cancels in the %s stage' % stage] += 1
    say('%s: cancelled (%s) after %d requests in the %s stage' % (label, how, point, stage))
    audit('%s, cancelled' % label, accounts, database)
    follow_up(label, accounts, database, port=port)


def cancels(database):
    for number in range(ROUNDS):
        cancelled_round('r%02d' % number, database, CANCELS[number % len(CANCELS)], ('create', 'credit')[number % 2])


def terminated_lock(database):
    accounts = [Account('lk', 'eu'), Account('lk', 'us')]
    fresh_emulator(accounts)
    # Slow creates (0.2 s each): the first job is surely inside its create stage, holding the lock, when its backend is
    # terminated, however loaded the machine (without them it could end its stage first, and nothing was lost). The next
    # scenario's fresh emulator drops them.
    control('/faults', [{'operation': 'create', 'fault': 'slow', 'delay': 0.2, 'times': 10000}])
    first = Job(accounts, database, adopt=True).start()
    wait_for_posts(first, accounts, len(accounts[0].declared) // 2, kind='create')
    with admin() as conn:
        pids = [row[0] for row in conn.execute(
            "SELECT l.pid FROM pg_locks l JOIN pg_database d ON d.oid = l.database WHERE l.locktype = 'advisory' AND l.granted "
            "AND l.objsubid = 2 AND d.datname = %s", (database,))]
        for pid in pids:
            conn.execute('SELECT pg_terminate_backend(%s)', (pid,))
    COUNTS['lock backends terminated'] += len(pids)
    second = Job(accounts, database, adopt=True).start()  # the next job, at once: it takes the ledger the first one lost
    first.wait()
    second.wait()
    if not pids:
        fail('lock: no lock backend found to terminate')
    if 'no longer holds the lock' not in first.output:
        fail('lock: the job whose lock backend was terminated did not say it lost its lock: %s' % first.output[-3000:])
    with_adopted = [name for account in accounts for name, (origin, _s) in ledger_rows(database, account)[0].items() if origin == 'adopted']
    if with_adopted:
        fail('lock: sub-accounts this collection created are recorded as adopted: %s' % with_adopted[:5])
    say('lock: %d lock backends terminated; the job said it lost its lock and sent nothing more' % len(pids))
    audit('lock terminated', accounts, database)
    follow_up('lock terminated', accounts, database)


def database_away(database, how):
    accounts = [Account('db%s' % how, 'eu'), Account('db%s' % how, 'us')]
    fresh_emulator(accounts)
    job = Job(accounts, database).start()
    wait_for_posts(job, accounts, len(accounts[0].declared) // 2, answered=True, kind='transfer')
    if how == 'restart':
        pg_ctl('restart', '--mode=fast', '--wait')
        COUNTS['database restarts'] += 1
    else:
        options = server_options()
        pg_ctl('stop', '--mode=fast', '--wait')
        time.sleep(8)
        pg_ctl('start', '--wait', '-o', options)
        COUNTS['database outages of 8 s'] += 1
    job.wait()
    say('database %s: the job ended with rc %s' % (how, job.rc))
    # No job was killed: every answer reached its job, which kept it until the database came back (within 30 s).
    audit('database %s' % how, accounts, database, answered_known=True)
    if unknown_ids(accounts, database):
        fail('database %s: transfers left pending or unknown: %s' % (how, unknown_ids(accounts, database)))
    follow_up('database %s' % how, accounts, database)


def pgbouncer(database):
    for mode in ('transaction', 'session'):
        bouncer = Bouncer(mode, database)
        try:
            accounts = [Account('pb%s' % mode[:2], 'eu'), Account('pb%s' % mode[:2], 'us')]
            fresh_emulator(accounts)
            jobs = [Job(accounts, database, port=bouncer.port).start(), Job(accounts, database, port=bouncer.port).start()]  # one waits
            for job in jobs:
                if job.wait() != 0:
                    fail('PgBouncer %s pooling: a job failed: %s' % (mode, job.output[-3000:]))
            COUNTS['PgBouncer %s-pooling jobs' % mode] += 2
            audit('PgBouncer %s pooling, two jobs at once' % mode, accounts, database, answered_known=True, settled=True)
            if sum(1 for entry in posts(accounts) if 'to' in entry['params']) != sum(len(a.declared) for a in accounts):
                fail('PgBouncer %s pooling: not one transfer per sub-account' % mode)
            cancelled_round('pc%s' % mode[:2], database, 'awx', 'credit', port=bouncer.port)
            COUNTS['PgBouncer %s-pooling jobs' % mode] += 2
        finally:
            bouncer.stop()


def connection_limit(database):
    # 4 jobs at once, one main account each, need 2 connections each: the database gives 5.
    accounts = [Account('cn%d' % number, 'eu') for number in range(4)]
    fresh_emulator(accounts)
    jobs = [Job([account], database).start() for account in accounts]
    refused = []
    for job, account in zip(jobs, accounts):
        job.wait()
        if job.rc != 0:
            refusal = 'cannot give this run the 2 connections it needs' in job.output or 'has no connection left for this run' in job.output
            if 'Nothing was sent to SMSBOX' not in job.output or not refusal:
                fail('connections: a job failed otherwise: %s' % job.output[-3000:])
            # Refused when its create stage or its credit stage began, before that stage sent anything: no transfer at all
            # (the creates of a stage that had its connections are audited below like any other).
            if any('to' in entry['params'] for entry in posts([account])):
                fail('connections: a job refused for connections sent transfers to SMSBOX')
            refused.append(account)
    COUNTS['jobs refused for connections before any request'] += len(refused)
    say('connections: %d of 4 jobs refused before any request' % len(refused))
    audit('connection limit', accounts, database)
    for account in refused:
        follow_up('connection limit, again', [account], database)


COPY = '''- name: Copy the old key's ledger to the new key, as docs/ledger-format.md says after a key rotation
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Copy
      smsbox.account.smsbox_ledger_copy:
        ledger: "{{ lookup('env', 'SMSBOX_LEDGER') }}"
        dest: "{{ lookup('env', 'SMSBOX_LEDGER') }}"
        source_fingerprint: "{{ old_fingerprint }}"
      register: copied
    - name: The old key's ledger now says where it went
      ansible.builtin.assert:
        that: copied.source.moved_to == new_fingerprint and copied.dest.subaccounts == copied.source.subaccounts
'''


def rotation(database):
    """After a key rotation and the documented copy, a job still on the old key refuses to write; the new key pays once."""
    old = Account('kr', 'eu', names=4)
    fresh_emulator([old])
    if Job([old], database).run() != 0:
        fail('rotation: the first job failed')
    new = old.rotated()
    control('/accounts', {new.key: {'same_as': old.key}})  # SMSBOX accepts both keys for a while
    copy = Job([new], database, playbook=COPY, extravars={'old_fingerprint': old.fingerprint, 'new_fingerprint': new.fingerprint})
    if copy.run() != 0:
        fail('rotation: the copy failed: %s' % copy.output[-3000:])
    raised = sorted(old.declared)[0]
    for account in (old, new):
        account.declared[raised] += 45
    sent = len(posts([old, new]))
    stale = Job([old], database)
    if stale.run() == 0 or len(posts([old, new])) != sent:
        fail('rotation: a job on the old key was not refused, or sent something: %s' % stale.output[-3000:])
    if 'moved to the key with fingerprint %s' % new.fingerprint not in stale.output:
        fail('rotation: the refusal does not name the new key: %s' % stale.output[-3000:])
    if Job([new], database).run() != 0:
        fail('rotation: the job on the new key failed')
    transfers = [(entry['params']['to'], entry['params']['credit']) for entry in posts([old, new]) if 'to' in entry['params']]
    if transfers[-1:] != [(raised, '45')] or sum(1 for name, _credit in transfers if name == raised) != 2:
        fail('rotation: the raise was not paid exactly once: %s' % transfers)
    audit('rotation', [new], database, answered_known=True, settled=True)
    COUNTS['jobs on a rotated-away key refused before any request'] += 1


HOLDER = '''
import sys, time
from ansible_collections.smsbox.account.plugins.module_utils._ledger.ledger import Ledger
with Ledger(sys.argv[1], sys.argv[2]).session():
    print('held', flush=True)
    time.sleep(float(sys.argv[3]))
'''


def waiting(database):
    """A job that finds the ledger taken says who holds it every 10 s (the role), and one with SMSBOX_LOCK_TIMEOUT=2 gives up."""
    account = Account('wt', 'eu')
    fresh_emulator([account])
    uri = 'postgresql://smsbox_test:%s@%s:%d/%s' % (urllib.request.quote(DB_PASSWORD, safe=''), PG_HOST, PG_PORT, database)
    holder = subprocess.Popen([sys.executable, '-c', HOLDER, uri, account.fingerprint, '600'], stdout=subprocess.PIPE)  # pylint: disable=consider-using-with
    try:
        if holder.stdout.readline().strip() != b'held':
            fail('wait: the holder did not take the lock')
        patient = Job([account], database).start()
        hasty = Job([account], database, extra_env={'SMSBOX_LOCK_TIMEOUT': '2'}).start()
        if hasty.wait() == 0:
            fail('wait: a job with SMSBOX_LOCK_TIMEOUT=2 did not give up')
        named = "held by 'smsbox.account %d on " % holder.pid
        if 'waited 2 seconds (lock_timeout)' not in hasty.output or named not in hasty.output or posts([account]):
            fail('wait: the job that gave up did not name the holder, or sent something: %s' % hasty.output[-3000:])
        # The holder lets go once the waiting job has said who holds the lock (every 10 s), or after a minute.
        deadline = time.monotonic() + 60
        while 'waiting for the lock of PostgreSQL ledger' not in patient.output and time.monotonic() < deadline:
            if patient.process.poll() is not None:
                fail('wait: the waiting job ended while the ledger was held: %s' % patient.output[-3000:])
            time.sleep(0.2)
        holder.kill()
        if patient.wait() != 0:
            fail('wait: the patient job failed: %s' % patient.output[-3000:])
        if 'waiting for the lock of PostgreSQL ledger' not in patient.output or named not in patient.output:
            fail('wait: the waiting job did not say who holds the lock: %s' % patient.output[-3000:])
    finally:
        holder.kill()
        holder.wait()
    audit('wait', [account], database, answered_known=True, settled=True)
    COUNTS['jobs that waited for the lock and said who held it'] += 1


def main():
    say('seed %d (HARNESS_SEED to replay)' % SEED)
    started = time.monotonic()
    create_database('smsbox_jobs')
    create_database('smsbox_limited', limit=5)
    scenarios = [('cancels', cancels, 'smsbox_jobs'), ('lock', terminated_lock, 'smsbox_jobs'),
                 ('restart', lambda database: database_away(database, 'restart'), 'smsbox_jobs'),
                 ('outage', lambda database: database_away(database, 'outage'), 'smsbox_jobs'),
                 ('pgbouncer', pgbouncer, 'smsbox_jobs'), ('connections', connection_limit, 'smsbox_limited'),
                 ('wait', waiting, 'smsbox_jobs'), ('rotation', rotation, 'smsbox_jobs')]
    chosen = [name for name in ENV.get('HARNESS_SCENARIOS', '').split(',') if name]
    for name, scenario, database in scenarios:
        if chosen and name not in chosen:
            continue
        began = time.monotonic()
        say('=== %s' % name)
        scenario(database)
        say('%s: %.0f s' % (name, time.monotonic() - began))
    for name, number in COUNTS.items():
        say('COUNT %s: %d' % (name, number))
    bad = [name for name in ZERO if COUNTS[name]]
    if bad:
        fail('must be 0: %s' % ', '.join(bad))
    say('all scenarios in %.0f s' % (time.monotonic() - started))


if __name__ == '__main__':
    main()
