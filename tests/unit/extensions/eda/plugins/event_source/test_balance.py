# -*- coding: utf-8 -*-
# Copyright: (c) 2026, smsbox.account contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The event source smsbox.account.balance, driven as ansible-rulebook drives it: ``main(queue, args)`` with an
asyncio queue, against the in-process emulator over loopback HTTP, and a real ledger in each store.

What a user checks: one event per crossing or outage whatever the number of polls, the balance the emulator
holds, bad arguments refused before any request, the key in no event and no log line."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import asyncio
import functools
import logging
import time

import pytest

from ansible_collections.smsbox.account.extensions.eda.plugins.event_source import balance
from ansible_collections.smsbox.account.plugins.module_utils._api.client import SmsboxClient
from ansible_collections.smsbox.account.plugins.module_utils._ledger.ledger import Ledger, key_fingerprint
from ansible_collections.smsbox.account.plugins.module_utils._ledger.location import printable_location
from ansible_collections.smsbox.account.plugins.module_utils._secrets import secret_forms, uri_passwords
from ansible_collections.smsbox.account.tests.emulator.smsbox_emulator import Emulator
# unknown_transfer: also imported from here by the alerts' test under ansible-rulebook (tests/integration/eda).
from ansible_collections.smsbox.account.tests.unit.helpers.ledger_stores import unknown_transfer

KEY = 'k3y+/&=%Sp3c!al-7f3a9c2e'
OTHER_KEY = 'k3y-OTHER-0b1d22c4'
FAST = 0.02  # seconds between polls: the floor does not apply to a loopback URL
WAIT = 20.0  # at most this long for anything the emulator should see


@pytest.fixture(autouse=True)
def isolated(monkeypatch, tmp_path):
    for name in ('SMSBOX_API_KEY', 'SMSBOX_API_URL', 'SMSBOX_LEDGER'):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv('ANSIBLE_HOME', str(tmp_path / 'ansible-home'))
    # The read retries are the client's own (tested in _api/test_client.py); here they must not sleep.
    monkeypatch.setattr(balance, 'SmsboxClient', functools.partial(SmsboxClient, sleep=lambda seconds: None))


@pytest.fixture
def emu():
    with Emulator(accounts={KEY: 1000, OTHER_KEY: 50}) as emulator:
        yield emulator


def reads(emulator):
    """Balance reads the emulator has received so far."""
    return sum(1 for entry in emulator.state()['requests'] if entry['method'] == 'GET' and entry['action'] == 'credit')


async def more_reads(emulator, count):
    """Waits until the emulator has received ``count`` more balance reads: then a read began after what came before."""
    target = reads(emulator) + count
    deadline = time.monotonic() + WAIT
    while reads(emulator) < target:
        assert time.monotonic() < deadline, 'the source stopped polling'
        await asyncio.sleep(FAST / 2)


def drain(queue):
    events = []
    while not queue.empty():
        events.append(queue.get_nowait())
    return events


def kinds(events):
    return [event['smsbox']['type'] for event in events]


def run(args, steps):
    """Runs the source with ``args`` while ``steps(queue)`` drives the emulator; returns every event, in order."""
    async def scenario():
        queue = asyncio.Queue()
        source = asyncio.ensure_future(balance.main(queue, args))
        try:
            await steps(queue)
            await asyncio.sleep(0)
            if source.done():
                source.result()  # a source that stopped by itself: its error fails the test
        finally:
            source.cancel()
            await asyncio.gather(source, return_exceptions=True)
        return drain(queue)
    return asyncio.run(scenario())


def args_for(emulator, **more):
    return dict(dict(api_key=KEY, api_url=emulator.url, threshold=100, hysteresis=20, interval=FAST), **more)


def set_balance(emulator, value, key=KEY):
    emulator.set_accounts({key: value})


# -- the threshold: one event per crossing ---------------------------------------------------------------

def test_one_balance_low_per_crossing_while_the_balance_oscillates_within_the_hysteresis(emu):
    seen = {}

    async def steps(queue):
        await more_reads(emu, 2)
        seen['before'] = drain(queue)
        # 24 polls around the threshold, never back to threshold + hysteresis (120)
        for value in [99, 101, 95, 110, 100, 119, 80, 115, 99, 105, 60, 119]:
            set_balance(emu, value)
            await more_reads(emu, 2)
        seen['oscillating'] = drain(queue)
        set_balance(emu, 120)
        await more_reads(emu, 3)
        seen['recovered'] = drain(queue)
        set_balance(emu, 119)
        await more_reads(emu, 3)
        seen['above'] = drain(queue)
        set_balance(emu, 42)
        await more_reads(emu, 3)

    last = run(args_for(emu), steps)

    assert seen['before'] == []  # 1000 credits: nothing to say
    assert seen['oscillating'] == [{'smsbox': {'type': 'balance_low', 'account': key_fingerprint(KEY), 'balance': 99, 'threshold': 100}}]
    assert seen['recovered'] == [{'smsbox': {'type': 'balance_ok', 'account': key_fingerprint(KEY), 'balance': 120, 'threshold': 100}}]
    assert seen['above'] == []  # under threshold + hysteresis but not under the threshold: still ok
    assert last == [{'smsbox': {'type': 'balance_low', 'account': key_fingerprint(KEY), 'balance': 42, 'threshold': 100}}]


def test_a_balance_already_low_at_start_is_reported_at_once_with_its_fraction(emu):
    set_balance(emu, '12.5')

    async def steps(_queue):
        await more_reads(emu, 5)

    events = run(args_for(emu, label='main', threshold='100'), steps)

    assert events == [{'smsbox': {'type': 'balance_low', 'account': 'main', 'balance': 12.5, 'threshold': 100}}]


def test_the_default_hysteresis_is_a_tenth_of_the_threshold(emu):
    set_balance(emu, 10)
    seen = {}

    async def steps(queue):
        await more_reads(emu, 2)
        set_balance(emu, 54)
        await more_reads(emu, 3)
        seen['under'] = kinds(drain(queue))
        set_balance(emu, 55)
        await more_reads(emu, 2)

    events = run(args_for(emu, threshold=50, hysteresis=None), steps)

    assert seen['under'] == ['balance_low']
    assert kinds(events) == ['balance_ok']  # at 50 + 5


def test_several_main_accounts_each_with_its_threshold_and_label(emu):
    async def steps(_queue):
        await more_reads(emu, 6)

    events = run({'interval': FAST, 'api_url': emu.url, 'threshold': 10, 'accounts': [
        {'label': 'eu', 'api_key': KEY},
        {'label': 'us', 'api_key': OTHER_KEY, 'threshold': 80},
    ]}, steps)

    assert events == [{'smsbox': {'type': 'balance_low', 'account': 'us', 'balance': 50, 'threshold': 80}}]


def test_the_key_comes_from_smsbox_api_key_when_not_given(emu, monkeypatch):
    monkeypatch.setenv('SMSBOX_API_KEY', OTHER_KEY)

    async def steps(_queue):
        await more_reads(emu, 2)

    # ansible-rulebook adds arguments of its own, named eda_*: not refused as unknown
    events = run(dict(api_url=emu.url, threshold=100, interval=FAST, label='env', eda_feedback_queue=asyncio.Queue()), steps)

    assert kinds(events) == ['balance_low'] and events[0]['smsbox']['balance'] == 50


# -- outages: one event each, the source keeps polling ----------------------------------------------------

def test_one_balance_unreadable_per_outage_after_the_read_retries(emu):
    seen = {}

    async def steps(queue):
        await more_reads(emu, 2)
        # One failed attempt: the client's retry reads it, nothing to report.
        emu.add_fault(operation='balance', fault='html_502', times=1)
        await more_reads(emu, 3)
        seen['passing'] = drain(queue)
        emu.add_fault(operation='balance', fault='html_502', times=12)  # 4 polls of 3 attempts each
        await more_reads(emu, 14)
        seen['outage'] = drain(queue)
        emu.clear_faults()
        set_balance(emu, 30)
        await more_reads(emu, 2)
        seen['after'] = drain(queue)
        emu.add_fault(operation='balance', fault='error_05', times=6)
        await more_reads(emu, 8)

    second = run(args_for(emu), steps)

    assert seen['passing'] == []
    assert kinds(seen['outage']) == ['balance_unreadable']
    outage = seen['outage'][0]['smsbox']
    assert outage['account'] == key_fingerprint(KEY) and outage['threshold'] == 100
    assert 'HTTP 502' in outage['error'] and 'proxy' in outage['error']
    assert kinds(seen['after']) == ['balance_low']  # polling went on
    assert kinds(second) == ['balance_unreadable'] and 'ERROR 05' in second[0]['smsbox']['error']


def test_a_refused_key_is_one_balance_unreadable_that_says_what_to_check(emu, caplog):
    async def steps(_queue):
        await more_reads(emu, 4)

    with caplog.at_level(logging.DEBUG):
        events = run(args_for(emu, api_key='k3y-WRONG-55aa01ee'), steps)

    assert kinds(events) == ['balance_unreadable']
    assert 'ERROR 02' in events[0]['smsbox']['error'] and 'IP restrictions' in events[0]['smsbox']['error']
    # ERROR 02 is not retried: one request per poll (and perhaps one more, whose poll had not logged yet when the source
    # stopped: on a busy machine the fourth read can reach the emulator before its poll writes its line)
    polls = len([record for record in caplog.records if 'could not be read' in record.getMessage()])
    assert reads(emu) >= 4 and polls >= reads(emu) - 1


def test_the_event_loop_is_never_blocked_by_a_slow_read(emu):
    ticks = []

    async def ticker():
        while True:
            ticks.append(time.monotonic())
            await asyncio.sleep(0.01)

    async def steps(_queue):
        await more_reads(emu, 1)
        emu.add_fault(operation='balance', fault='slow', delay=1.0, times=1)
        tick = asyncio.ensure_future(ticker())
        await more_reads(emu, 2)
        tick.cancel()

    run(args_for(emu, timeout=5), steps)

    # The loop kept running during the one-second read: a blocked loop would leave a gap of a second.
    assert len(ticks) >= 10 and max(b - a for a, b in zip(ticks, ticks[1:])) < 0.9


# -- the ledger: transfers left unsettled ----------------------------------------------------------------

def settle(location, txid, state):
    with Ledger(location, key_fingerprint(KEY)).session() as book:
        book.settle_transfer(txid, state)


def test_each_transfer_unsettled_too_long_is_reported_once(emu, ledger_store, monkeypatch):
    old = unknown_transfer(ledger_store.location, 'shop-old', 300, monkeypatch, '2026-01-01T08:00:00Z', key=KEY)
    unknown_transfer(ledger_store.location, 'shop-new', 50, monkeypatch, key=KEY)  # younger than unsettled_age
    seen = {}

    async def steps(queue):
        await more_reads(emu, 6)
        seen['first'] = drain(queue)
        await asyncio.to_thread(settle, ledger_store.location, old, 'applied')
        await more_reads(emu, 3)
        seen['settled'] = drain(queue)
        seen['late'] = await asyncio.to_thread(unknown_transfer, ledger_store.location, 'shop-late', -20, monkeypatch,
                                               '2026-01-02T08:00:00Z', KEY)
        await more_reads(emu, 4)

    last = run(args_for(emu, label='main', ledger=ledger_store.location, unsettled_age=600), steps)

    assert len(seen['first']) == 1
    event = seen['first'][0]['smsbox']
    assert event['age'] > 600
    assert event['ledger'] == printable_location(ledger_store.location)
    assert dict(event, age=None) == dict(type='transfer_unsettled', account='main', transfer=old, subaccount='shop-old', amount=300,
                                         state='unknown', created='2026-01-01T08:00:00Z', age=None, ledger=event['ledger'])
    assert seen['settled'] == []
    assert [(e['smsbox']['type'], e['smsbox']['transfer'], e['smsbox']['amount']) for e in last] == [
        ('transfer_unsettled', seen['late'], -20)]
    for secret in uri_passwords(ledger_store.location):
        assert secret not in repr(seen) + repr(last)


def test_an_unreadable_ledger_is_one_event_per_outage_without_its_password(emu, caplog):
    password = 'Db-s3cr3t/pw'
    uri = 'postgresql://smsbox:Db-s3cr3t%2Fpw@127.0.0.1:1/ledger?connect_timeout=1'

    async def steps(_queue):
        await more_reads(emu, 4)

    with caplog.at_level(logging.DEBUG):
        events = run(args_for(emu, ledger=uri), steps)

    assert kinds(events) == ['ledger_unreadable']
    assert events[0]['smsbox']['ledger'] == 'postgresql://smsbox:********@127.0.0.1:1/ledger?connect_timeout=1'
    for form in secret_forms(password) + secret_forms(KEY):
        assert form not in repr(events) and form not in caplog.text


# -- bad arguments: refused at start, before any request -------------------------------------------------

@pytest.mark.parametrize('args, message', [
    (dict(api_key=None), 'no API key: set api_key'),
    (dict(api_key=''), 'api_key is empty'),
    (dict(threshold=-5), 'threshold must be more than 0, got -5'),
    (dict(threshold=None), 'threshold is required'),
    (dict(threshold='lots'), "threshold must be a number, got 'lots'"),
    (dict(threshold='nan'), "threshold must be a number, got 'nan'"),
    (dict(hysteresis=-1), 'hysteresis must be at least 0'),
    (dict(interval=0), 'interval must be more than 0'),
    (dict(api_url='https://api.smsbox.pro/1.1/api.php', interval=10), 'interval is 10 seconds; SMSBOX is read at most once every 60'),
    (dict(api_url='http://api.smsbox.pro/1.1/api.php', interval=300), 'uses plain http:// to api.smsbox.pro'),
    (dict(api_url='https://api.smsbox.pro/1.1/api.php?apikey=x', interval=300), 'must not have a query string'),
    (dict(ledger='ledgers/main.json'), 'is a relative path'),
    (dict(unsettled_age=60), 'unsettled_age needs ledger'),
    (dict(label=KEY), 'without the API key'),
    (dict(validate_certs='no'), 'validate_certs must be true or false'),
    (dict(treshold=100), 'unknown argument treshold'),
    (dict(accounts=[]), 'accounts must be a list of mappings'),
    (dict(accounts=[{'label': 'eu'}, {'label': 'eu', 'api_key': OTHER_KEY}]), "accounts[1] 'eu': the same label as accounts[0] 'eu'"),
    (dict(accounts=[{'label': 'eu'}, {'label': 'us'}]), "accounts[1] 'us': the same main account as accounts[0] 'eu'"),
    (dict(accounts=[{'label': 'eu', 'threshold': -1}]), "accounts[0] 'eu': threshold must be more than 0"),
    (dict(accounts=[{'label': 'eu', 'accounts': []}]), "accounts[0] 'eu': unknown argument accounts"),
], ids=lambda value: value if isinstance(value, str) else None)
def test_bad_arguments_stop_the_source_at_start_before_any_request(emu, args, message, caplog):
    full = args_for(emu)
    full.update(args)
    full = dict((key, value) for key, value in full.items() if value is not None or key == 'api_key')
    if full.get('api_key') is None:
        del full['api_key']

    with caplog.at_level(logging.DEBUG):
        with pytest.raises(balance.SourceArgumentError) as raised:
            asyncio.run(asyncio.wait_for(balance.main(asyncio.Queue(), full), 5))

    assert message in str(raised.value) and not str(raised.value).startswith(':')
    assert emu.state()['requests'] == [] and emu.state()['connections'] == 0
    for form in secret_forms(KEY):
        assert form not in str(raised.value) and form not in caplog.text


def test_no_form_of_the_key_in_any_event_or_log_line(emu, caplog, tmp_path):
    set_balance(emu, 5)

    async def steps(_queue):
        await more_reads(emu, 2)
        emu.add_fault(operation='balance', fault='garbage', times=3)
        await more_reads(emu, 4)
        emu.add_fault(operation='balance', fault='drop_before', times=3)
        await more_reads(emu, 4)

    with caplog.at_level(logging.DEBUG):
        events = run(args_for(emu, label='main', ledger=str(tmp_path / 'ledger.json')), steps)

    assert kinds(events) == ['balance_low', 'balance_unreadable', 'balance_unreadable']
    for form in secret_forms(KEY):
        assert form not in repr(events) and form not in caplog.text
