# -*- coding: utf-8 -*-
# Copyright: (c) 2026, smsbox.account contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The alerts with real parts: the event source smsbox.account.balance under the real ansible-rulebook (and its
Java rule engine), the example rulebook running the playbook smsbox.account.balance_alert through ansible-runner,
and the cron play smsbox.account.balance_check, all against the SMSBOX emulator over loopback HTTP.

Run by scripts/test.sh (stage eda) from the staged collection, with the newest line's venv first on PATH:
    python -m pytest tests/integration/eda
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import ast
import http.server
import json
import os
import signal
import subprocess
import sys
import threading
import time

import pytest
import yaml

from ansible_collections.smsbox.account.plugins.module_utils._secrets import secret_forms
from ansible_collections.smsbox.account.plugins.module_utils._ledger.ledger import Ledger, key_fingerprint
from ansible_collections.smsbox.account.tests.emulator.smsbox_emulator import Emulator
from ansible_collections.smsbox.account.tests.unit.helpers.ledger_stores import unknown_transfer

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
COLLECTIONS = os.path.dirname(os.path.dirname(os.path.dirname(ROOT)))
KEY = 'eda+Key/9&a=b%2Fz!x'
POLL = 0.2  # seconds: the floor of 60 applies to SMSBOX, not to a loopback emulator
WAIT = 120.0


@pytest.fixture
def env(tmp_path):
    """The environment of ansible-rulebook and ansible-playbook: this venv's tools, the staged collection, the key."""
    home = tmp_path / 'home'
    home.mkdir()
    return dict(os.environ, HOME=str(home), ANSIBLE_COLLECTIONS_PATH=COLLECTIONS, SMSBOX_API_KEY=KEY,
                PATH=os.path.dirname(sys.executable) + os.pathsep + os.environ['PATH'], ANSIBLE_NOCOLOR='1')


@pytest.fixture
def inventory(tmp_path):
    path = tmp_path / 'inventory.yml'
    path.write_text(yaml.safe_dump({'all': {'hosts': {'localhost': {
        'ansible_connection': 'local', 'ansible_python_interpreter': '{{ ansible_playbook_python }}'}}}}))
    return str(path)


def reads(emulator):
    return sum(1 for entry in emulator.state()['requests'] if entry['method'] == 'GET' and entry['action'] == 'credit')


def wait_until(what, check, timeout=WAIT):
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found:
            return found
        assert time.monotonic() < deadline, 'waited %gs for %s' % (timeout, what)
        time.sleep(0.05)


def more_reads(emulator, count):
    target = reads(emulator) + count
    wait_until('%d more balance reads' % count, lambda: reads(emulator) >= target)


def no_secret(text, where, secrets=(KEY,)):
    for secret in secrets:
        for form in secret_forms(secret):
            assert form not in text, 'a form of a secret (%r) in %s' % (form, where)


def files_text(directory):
    texts = []
    for base, _dirs, names in os.walk(str(directory)):
        for name in names:
            with open(os.path.join(base, name), 'rb') as handle:
                texts.append(handle.read().decode('utf-8', 'replace'))
    return '\n'.join(texts)


class Rulebook:
    """ansible-rulebook running a rulebook in its own process group; its output in a file, read as it grows."""

    def __init__(self, tmp_path, rulebook, variables, env, inventory):
        self.output = tmp_path / 'rulebook.out'
        variables_file = tmp_path / 'rulebook-vars.yml'
        variables_file.write_text(yaml.safe_dump(variables))
        with open(str(self.output), 'wb') as out:
            self.process = subprocess.Popen(['ansible-rulebook', '-v', '-r', rulebook, '-i', inventory, '--vars', str(variables_file)],
                                            stdout=out, stderr=subprocess.STDOUT, env=env, cwd=str(tmp_path), start_new_session=True)

    def text(self):
        return self.output.read_text(errors='replace')

    def events(self):
        """What print_event printed: each event is one line, a Python dict."""
        if self.process.poll() is not None:
            raise AssertionError('ansible-rulebook stopped (rc %s):\n%s' % (self.process.returncode, self.text()[-3000:]))
        return [ast.literal_eval(line)['smsbox'] for line in self.text().splitlines() if line.startswith("{'smsbox': ")]

    def wait_events(self, count):
        return wait_until('%d events' % count, lambda: len(self.events()) >= count and self.events())

    def stop(self):
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


@pytest.fixture
def rulebooks():
    started = []
    yield started
    for run in started:
        run.stop()


def test_one_event_per_crossing_and_per_outage_under_ansible_rulebook(tmp_path, env, inventory, rulebooks, monkeypatch):
    ledger = str(tmp_path / 'ledgers' / 'main.json')
    old = unknown_transfer(ledger, 'shop-lyon', 250, monkeypatch, '2026-01-05T09:00:00Z', key=KEY)
    rulebook = tmp_path / 'print-events.yml'
    rulebook.write_text(yaml.safe_dump([{
        'name': 'SMSBOX events, printed', 'hosts': 'all',
        'sources': [{'smsbox.account.balance': {
            'api_url': '{{ url }}', 'threshold': 100, 'hysteresis': 20, 'interval': POLL, 'label': 'main',
            'ledger': '{{ ledger }}', 'unsettled_age': 600}}],
        'rules': [{'name': 'Print', 'condition': 'event.smsbox is defined', 'action': {'print_event': {}}}],
    }]))

    with Emulator(accounts={KEY: 150}) as emu:
        run = Rulebook(tmp_path, str(rulebook), {'url': emu.url, 'ledger': ledger}, env, inventory)
        rulebooks.append(run)
        assert [event['type'] for event in run.wait_events(1)] == ['transfer_unsettled']

        # Around the threshold, never back to threshold + hysteresis: one balance_low.
        before = reads(emu)
        for value in [99, 101, 95, 110, 100, 119, 80, 115, 99, 105, 60, 119] * 2:
            emu.set_accounts({KEY: value})
            more_reads(emu, 1)
        oscillating = reads(emu) - before
        run.wait_events(2)

        # An outage of three polls (three attempts each, with the modules' backoff): one balance_unreadable.
        emu.add_fault(operation='balance', fault='html_502', times=9)
        wait_until('the outage to end', lambda: not emu.state(requests=False)['faults'])
        more_reads(emu, 1)
        run.wait_events(3)

        emu.set_accounts({KEY: 120})
        run.wait_events(4)

        emu.add_fault(operation='balance', fault='drop_before', times=6)
        wait_until('the second outage to end', lambda: not emu.state(requests=False)['faults'])
        more_reads(emu, 10)  # and nothing more to say over ten polls
        events = run.events()
        run.stop()
        writes = [entry for entry in emu.state()['requests'] if entry['method'] != 'GET']

    assert oscillating >= 24
    assert [event['type'] for event in events] == [
        'transfer_unsettled', 'balance_low', 'balance_unreadable', 'balance_ok', 'balance_unreadable']
    unsettled, low, outage, recovered, dropped = events
    assert dict(unsettled, age=0) == dict(type='transfer_unsettled', account='main', transfer=old, subaccount='shop-lyon', amount=250,
                                          state='unknown', created='2026-01-05T09:00:00Z', age=0, ledger=ledger)
    assert low == dict(type='balance_low', account='main', balance=99, threshold=100)
    assert outage['account'] == 'main' and 'HTTP 502' in outage['error']
    assert recovered == dict(type='balance_ok', account='main', balance=120, threshold=100)
    assert 'the request was not sent' in dropped['error'] or 'answer was lost' in dropped['error']
    assert writes == []  # a source only reads
    with Ledger(ledger, key_fingerprint(KEY)).session(exclusive=False) as book:
        assert [(tx['id'], tx['state']) for tx in book.transfers()] == [(old, 'unknown')]  # and never writes the ledger
    no_secret(run.text(), 'the output of ansible-rulebook')


class Webhook(http.server.BaseHTTPRequestHandler):
    received = []

    def do_POST(self):  # noqa: N802 pylint: disable=invalid-name
        body = self.rfile.read(int(self.headers.get('Content-Length', 0)))
        Webhook.received.append(json.loads(body.decode('utf-8')))
        self.send_response(200)
        self.send_header('Content-Length', '2')
        self.end_headers()
        self.wfile.write(b'ok')

    def log_message(self, *args):  # pylint: disable=arguments-differ
        pass


def test_the_example_rulebook_runs_the_alert_playbook_once_which_writes_and_posts_the_summary(tmp_path, env, inventory, rulebooks):
    Webhook.received = []
    server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), Webhook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    alerts = tmp_path / 'alerts'
    try:
        with Emulator(accounts={KEY: 40}) as emu:
            run = Rulebook(tmp_path, 'smsbox.account.balance_alerts', {
                'smsbox_balance_threshold': 100, 'smsbox_balance_interval': POLL, 'smsbox_api_url': emu.url,
                'smsbox_ledger': str(tmp_path / 'ledgers' / 'main.json'), 'smsbox_alert_dir': str(alerts),
                'smsbox_alert_webhook_url': 'http://127.0.0.1:%d/hook' % server.server_address[1],
            }, env, inventory)
            rulebooks.append(run)
            wait_until('the alert on the webhook', lambda: Webhook.received)
            more_reads(emu, 10)  # still low: no second alert
            assert run.process.poll() is None, run.text()[-3000:]
            run.stop()
    finally:
        server.shutdown()

    assert len(Webhook.received) == 1
    posted = Webhook.received[0]
    assert posted['text'] == 'SMSBOX main account main: the main balance fell to 40 credits, under 100'
    summaries = sorted(alerts.iterdir())
    assert [path.name.split('-2')[0] for path in summaries] == ['main-balance_low']
    summary = json.loads(summaries[0].read_text())
    assert summary == posted['smsbox']
    assert summary['event'] == dict(type='balance_low', account='main', balance=40, threshold=100)
    assert summary['balance_now'] == 40 and summary['read_error'] is None and summary['unsettled'] == []
    no_secret(run.text(), 'the output of ansible-rulebook and of the playbook it ran')
    no_secret(files_text(tmp_path), 'the files of the run')
    no_secret(json.dumps(Webhook.received), 'what the webhook received')


@pytest.mark.parametrize('name', ['balance_alerts', 'balance_alerts_aap'])
def test_the_example_rulebooks_are_valid_for_ansible_rulebook(name):
    from ansible_rulebook.rules_parser import parse_rule_sets
    from ansible_rulebook.validators import Validate

    with open(os.path.join(ROOT, 'extensions', 'eda', 'rulebooks', name + '.yml')) as handle:
        data = yaml.safe_load(handle)
    Validate.rulebook(data)
    rulesets = parse_rule_sets(data)
    assert [source.source_name for source in rulesets[0].sources] == ['smsbox.account.balance']


def play(env, *extra):
    done = subprocess.run(['ansible-playbook', 'smsbox.account.balance_check'] + list(extra), env=env, capture_output=True, text=True, check=False)
    return done.returncode, done.stdout + done.stderr


def test_the_cron_play_fails_under_the_threshold_and_on_unsettled_transfers(tmp_path, env, monkeypatch):
    ledger = str(tmp_path / 'ledgers' / 'main.json')
    outputs = []
    with Emulator(accounts={KEY: 1000}) as emu:
        env = dict(env, SMSBOX_API_URL=emu.url, SMSBOX_LEDGER=ledger)
        ok = play(env, '-e', 'smsbox_balance_threshold=500')
        emu.set_accounts({KEY: '120.5'})
        low = play(env, '-e', 'smsbox_balance_threshold=500')
        missing = play(env)
        emu.set_accounts({KEY: 1000})
        txid = unknown_transfer(ledger, 'shop-nice', 75, monkeypatch, '2026-01-05T09:00:00Z', key=KEY)
        unsettled = play(env, '-e', 'smsbox_balance_threshold=500')
        tolerated = play(env, '-e', 'smsbox_balance_threshold=500', '-e', 'smsbox_balance_fail_on_unsettled=false')
        outputs = [ok, low, missing, unsettled, tolerated]
        sent = [(entry['method'], entry['action']) for entry in emu.state()['requests']]

    assert ok[0] == 0 and 'SMSBOX main balance: 1000 credits (threshold 500)' in ok[1]
    assert low[0] == 2 and 'SMSBOX main balance is 120.5 credits, under the threshold of 500' in low[1]
    assert missing[0] == 2 and 'Give smsbox_balance_threshold' in missing[1]
    assert unsettled[0] == 2 and txid in unsettled[1] and 'resolve' in unsettled[1]
    assert tolerated[0] == 0
    assert sent == [('GET', 'credit')] * 4  # reads only; none when the threshold is missing
    for _rc, output in outputs:
        no_secret(output, 'the output of the play')
