# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Tests of the SMSBOX emulator shared by the integration tests, molecule, the demo and the benchmark."""
# pylint: disable=redefined-outer-name

from __future__ import absolute_import, division, print_function

import json
import os
import signal
import subprocess
import sys
import threading
import time

import pytest
import requests

from ansible_collections.smsbox.account.tests.emulator import smsbox_emulator
from ansible_collections.smsbox.account.tests.emulator.smsbox_emulator import Emulator

__metaclass__ = type  # pylint: disable=invalid-name

SCRIPT = smsbox_emulator.__file__
HTML_502 = ('<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1></center>'
            '<hr><center>nginx</center></body></html>')


def new_session(verify=True):
    """A requests session that ignores the environment (proxies, REQUESTS_CA_BUNDLE)."""
    session = requests.Session()
    session.trust_env = False
    session.verify = verify
    return session


def call(emu, action='credit', data=None, *, key='key-a', method='POST', session=None, params=None, headers=None, **kwargs):
    """One API call; returns the requests response."""
    # pylint: disable=too-many-arguments
    session = session or new_session(emu.ca_cert or True)
    query = {} if action is None else {'action': action}
    query.update(params or {})
    all_headers = {} if key is None else {'Authorization': 'App %s' % key}
    all_headers.update(headers or {})
    kwargs.setdefault('timeout', 5)
    return session.request(method, emu.url, params=query, data=data, headers=all_headers, **kwargs)


def answer(emu, *args, **kwargs):
    """The body of one API call, after checking the transport is as documented."""
    response = call(emu, *args, **kwargs)
    assert response.status_code == 200
    assert response.headers['Content-Type'] == 'text/plain; charset=utf-8'
    return response.text


def transfer(emu, to, credit, **kwargs):
    return answer(emu, 'credit', {'to': to, 'credit': str(credit)}, **kwargs)


def create(emu, pseudo, mdp='pw', key='key-a', **extra):
    data = {'do': 'add', 'pseudo': pseudo, 'mdp': mdp}
    data.update(extra)
    return answer(emu, 'utilisateur', data, key=key)


@pytest.fixture
def emu():
    with Emulator(accounts={'key-a': 1000, 'key-b': 50}) as emulator:
        yield emulator


@pytest.fixture
def shop(emu):
    """emu with sub-account shop1 (10 credits) under key-a and other1 under key-b; log cleared."""
    assert create(emu, 'shop1') == 'OK'
    assert transfer(emu, 'shop1', 10) == 'OK'
    assert create(emu, 'other1', key='key-b') == 'OK'
    emu.requests[:] = []
    return emu


def account(emu, key='key-a'):
    return emu.state()['accounts'][key]


# --- balance -------------------------------------------------------------------------------------

@pytest.mark.parametrize('method', ['GET', 'POST'])
def test_balance_get_and_post(emu, method):
    assert answer(emu, 'credit', method=method) == 'CREDIT 1000'
    assert answer(emu, 'credit', method=method, key='key-b') == 'CREDIT 50'
    state = emu.state()
    assert [(r['method'], r['action'], r['key'], r['answer']) for r in state['requests']] == [
        (method, 'credit', 'key-a', 'CREDIT 1000'), (method, 'credit', 'key-b', 'CREDIT 50')]
    assert state['accounts']['key-a']['transfers'] == []


@pytest.mark.parametrize('balance, decimal_comma, expected, as_json', [
    ('22.5', False, 'CREDIT 22.5', 22.5),
    ('22.50', False, 'CREDIT 22.5', 22.5),
    ('0.05', False, 'CREDIT 0.05', 0.05),
    ('22.5', True, 'CREDIT 22,5', 22.5),
    (22, True, 'CREDIT 22', 22),
    ('1E+3', False, 'CREDIT 1000', 1000),
])
def test_fractional_and_decimal_comma_balances(balance, decimal_comma, expected, as_json):
    with Emulator(accounts={'k': balance}, decimal_comma=decimal_comma) as emulator:
        assert answer(emulator, 'credit', key='k') == expected
        assert emulator.state()['accounts']['k']['balance'] == as_json


def test_fractional_balance_transfer_keeps_exact_decimals():
    with Emulator(accounts={'k': '10.05'}) as emulator:
        assert answer(emulator, 'utilisateur', {'do': 'add', 'pseudo': 's', 'mdp': 'p'}, key='k') == 'OK'
        assert transfer(emulator, 's', 10, key='k') == 'OK'
        assert answer(emulator, 'credit', key='k') == 'CREDIT 0.05'
        assert transfer(emulator, 's', 1, key='k') == 'ERREUR'


# --- transfer ------------------------------------------------------------------------------------

def test_transfer_positive_and_negative(shop):
    assert transfer(shop, 'shop1', '+5') == 'OK'
    assert transfer(shop, 'shop1', -12) == 'OK'
    assert transfer(shop, 'shop1', 3, params={'do': 'manage'}) == 'OK'
    acc = account(shop)
    assert acc['balance'] == 1000 - 10 - 5 + 12 - 3
    assert acc['subaccounts']['shop1']['credits'] == 10 + 5 - 12 + 3
    assert acc['transfers'] == [{'to': 'shop1', 'credit': 10}, {'to': 'shop1', 'credit': 5},
                                {'to': 'shop1', 'credit': -12}, {'to': 'shop1', 'credit': 3}]
    assert answer(shop, 'credit') == 'CREDIT %d' % acc['balance']


@pytest.mark.parametrize('data', [
    {'to': 'nobody', 'credit': '1'},          # unknown sub-account
    {'to': 'other1', 'credit': '1'},          # sub-account of another main account
    {'to': '', 'credit': '1'},                # empty name
    {'to': 'shop1', 'credit': '0'},           # zero
    {'to': 'shop1', 'credit': '-0'},
    {'to': 'shop1', 'credit': '1.5'},         # not an integer
    {'to': 'shop1', 'credit': '1,5'},
    {'to': 'shop1', 'credit': 'abc'},
    {'to': 'shop1', 'credit': ' 1'},
    {'to': 'shop1', 'credit': '\u0661'},      # a non-ASCII digit
    {'to': 'shop1', 'credit': ''},
    {'to': 'shop1'},                          # credit missing
    {'to': 'shop1', 'credit': '991'},         # more than the main balance (990)
    {'to': 'shop1', 'credit': '-11'},         # more than the sub-account holds (10)
], ids=repr)
def test_transfer_erreur_causes(shop, data):
    before = account(shop)
    assert answer(shop, 'credit', data) == 'ERREUR'
    after = account(shop)
    assert after == before
    assert after['transfers'] == [{'to': 'shop1', 'credit': 10}]
    assert account(shop, 'key-b')['subaccounts']['other1']['credits'] == 0


def test_transfer_whole_balance_and_whole_subaccount(shop):
    assert transfer(shop, 'shop1', 990) == 'OK'
    assert answer(shop, 'credit') == 'CREDIT 0'
    assert transfer(shop, 'shop1', -1000) == 'OK'
    assert account(shop)['balance'] == 1000
    assert account(shop)['subaccounts']['shop1']['credits'] == 0


# --- create --------------------------------------------------------------------------------------

def test_create(emu):
    assert create(emu, 'shop1', 'secret', nolimit='yes') == 'OK'
    assert create(emu, 'shop2', 'secret', nolimit='no') == 'OK'
    assert create(emu, 'sh\u00f6p3', 'p\u00e4ss') == 'OK'
    assert create(emu, 'x' * 50, 'y' * 50) == 'OK'
    acc = account(emu)
    assert acc['creates'] == ['shop1', 'shop2', 'sh\u00f6p3', 'x' * 50]
    assert acc['subaccounts']['shop1'] == {'credits': 0, 'nolimit': True, 'password': 'secret'}
    assert acc['subaccounts']['shop2']['nolimit'] is False
    assert acc['subaccounts']['sh\u00f6p3'] == {'credits': 0, 'nolimit': False, 'password': 'p\u00e4ss'}
    assert acc['balance'] == 1000
    logged = emu.state()['requests'][0]
    assert logged['params'] == {'do': 'add', 'pseudo': 'shop1', 'mdp': '***', 'nolimit': 'yes'}
    assert 'secret' not in json.dumps(emu.state()['requests'])


@pytest.mark.parametrize('data', [
    {'do': 'add', 'mdp': 'pw'},                              # pseudo missing
    {'do': 'add', 'pseudo': '', 'mdp': 'pw'},                # pseudo empty
    {'do': 'add', 'pseudo': 'new1'},                         # mdp missing
    {'do': 'add', 'pseudo': 'new1', 'mdp': ''},              # mdp empty
    {'do': 'add', 'pseudo': 'n' * 51, 'mdp': 'pw'},          # pseudo too long
    {'do': 'add', 'pseudo': 'new1', 'mdp': 'p' * 51},        # mdp too long
    {'do': 'add', 'pseudo': 'new\n1', 'mdp': 'pw'},          # control characters
    {'do': 'add', 'pseudo': 'new1', 'mdp': 'p\tw'},
    {'do': 'add', 'pseudo': 'new\x001', 'mdp': 'pw'},
    {'do': 'add', 'pseudo': 'new1', 'mdp': 'pw', 'nolimit': 'YES'},
    {'do': 'add', 'pseudo': 'new1', 'mdp': 'pw', 'nolimit': 'true'},
    {'do': 'add', 'pseudo': 'new1', 'mdp': 'pw', 'nolimit': ''},
    {'do': 'add', 'pseudo': 'shop1', 'mdp': 'pw'},           # exists under this main account
    {'do': 'add', 'pseudo': 'other1', 'mdp': 'pw'},          # exists under another main account
], ids=repr)
def test_create_erreur_causes(shop, data):
    before = shop.state()['accounts']
    assert answer(shop, 'utilisateur', data) == 'ERREUR'
    assert shop.state()['accounts'] == before
    assert account(shop)['creates'] == ['shop1']


def test_create_invalid_utf8_is_erreur(emu):
    body = b'do=add&pseudo=caf%E9&mdp=pw'
    response = call(emu, 'utilisateur', body, headers={'Content-Type': 'application/x-www-form-urlencoded'})
    assert response.text == 'ERREUR'
    assert account(emu)['creates'] == []


def test_create_cap_per_main_account():
    with Emulator(accounts={'key-a': 1, 'key-b': 1}, max_subaccounts=3) as emulator:
        for index in range(3):
            assert create(emulator, 'a%d' % index) == 'OK'
        assert create(emulator, 'a3') == 'ERREUR'
        assert create(emulator, 'b0', key='key-b') == 'OK'
        state = emulator.state()['accounts']
        assert state['key-a']['creates'] == ['a0', 'a1', 'a2']
        assert sorted(state['key-a']['subaccounts']) == ['a0', 'a1', 'a2']
        assert state['key-b']['creates'] == ['b0']


def test_usernames_unique_across_main_accounts(emu):
    assert create(emu, 'shared', key='key-b') == 'OK'
    assert create(emu, 'shared', key='key-a') == 'ERREUR'
    assert transfer(emu, 'shared', 1, key='key-a') == 'ERREUR'
    state = emu.state()['accounts']
    assert state['key-a']['subaccounts'] == {}
    assert state['key-b']['creates'] == ['shared']


def test_a_rotated_key_reaches_the_same_main_account():
    with Emulator(accounts={'key-old': 100}) as emulator:
        assert create(emulator, 'shop', key='key-old') == 'OK'
        emulator.set_accounts({'key-new': {'same_as': 'key-old'}})
        assert transfer(emulator, 'shop', 30, key='key-new') == 'OK'
        assert transfer(emulator, 'shop', 5, key='key-old') == 'OK'
        state = emulator.state()['accounts']
        assert state['key-new'] == state['key-old']
        assert state['key-old']['balance'] == 65 and state['key-old']['subaccounts']['shop']['credits'] == 35
        with pytest.raises(Exception):
            emulator.set_accounts({'key-x': {'same_as': 'key-none'}})


# --- authentication and errors -------------------------------------------------------------------

@pytest.mark.parametrize('bad_key_answer', ['ERROR 02', 'ERREUR'])
def test_bad_key(bad_key_answer):
    with Emulator(accounts={'key-a': 10}, bad_key_answer=bad_key_answer) as emulator:
        assert answer(emulator, 'credit', key='nope') == bad_key_answer
        assert answer(emulator, 'credit', key=None) == bad_key_answer
        assert answer(emulator, 'credit', key=None, params={'key': 'key-a', 'apikey': 'key-a'}) == bad_key_answer
        assert answer(emulator, 'credit', key=None, headers={'Authorization': 'Bearer key-a'}) == bad_key_answer
        assert answer(emulator, 'utilisateur', {'do': 'add', 'pseudo': 's', 'mdp': 'p'}, key='nope') == bad_key_answer
        assert answer(emulator, 'bogus', key='nope') == bad_key_answer
        state = emulator.state()
        assert state['accounts']['key-a']['creates'] == []
        assert [r['key'] for r in state['requests']] == [None] * 6
        assert 'nope' not in json.dumps(state)


def test_no_accounts_answers_bad_key_to_everything():
    with Emulator() as emulator:
        assert answer(emulator, 'credit', key='anything') == 'ERROR 02'
        assert not emulator.state()['accounts']


@pytest.mark.parametrize('action, data', [
    ('bogus', None),
    (None, None),
    ('', None),
    ('utilisateur', {'do': 'del', 'pseudo': 's', 'mdp': 'p'}),
    ('utilisateur', {'pseudo': 's', 'mdp': 'p'}),
])
def test_unknown_action_is_error_01(emu, action, data):
    assert answer(emu, action, data) == 'ERROR 01'
    assert account(emu)['creates'] == []


def test_other_paths_are_404_html(emu):
    session = new_session()
    for url in (emu.url.replace('/1.1/api.php', '/'), emu.url.replace('api.php', 'other.php'),
                emu.url.replace('/1.1/', '/1.0/')):
        response = session.post(url, params={'action': 'credit'}, headers={'Authorization': 'App key-a'}, timeout=5)
        assert response.status_code == 404
        assert response.headers['Content-Type'].startswith('text/html')
    assert emu.state()['requests'] == []


def test_keep_alive_one_connection(emu):
    session = new_session()
    for _dummy in range(5):
        response = call(emu, 'credit', session=session)
        assert response.text == 'CREDIT 1000'
        assert response.headers['Content-Length'] == '11'
        assert response.raw.version == 11
        assert 'close' not in response.headers.get('Connection', '')
    assert create(emu, 'ka1') == 'OK'
    assert call(emu, 'credit', {'to': 'ka1', 'credit': '1'}, session=session).text == 'OK'
    assert emu.state()['connections'] == 2  # the session's one, and the one of create()


def test_no_keep_alive_closes_each_connection():
    with Emulator(accounts={'key-a': 1000}, keep_alive=False) as emu:
        session = new_session()
        for _dummy in range(3):
            response = call(emu, 'credit', session=session)
            assert response.text == 'CREDIT 1000'
            assert response.headers['Connection'] == 'close'
        assert emu.state()['connections'] == 3  # a new TCP connection per request


def test_concurrent_transfers_are_consistent(emu):
    assert create(emu, 'c1') == 'OK'
    results = []

    def worker():
        session = new_session()
        for _dummy in range(10):
            results.append(call(emu, 'credit', {'to': 'c1', 'credit': '1'}, session=session).text)

    threads = [threading.Thread(target=worker) for _dummy in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert results == ['OK'] * 80
    acc = account(emu)
    assert acc['balance'] == 920
    assert acc['subaccounts']['c1']['credits'] == 80
    assert len(acc['transfers']) == 80


# --- faults --------------------------------------------------------------------------------------

def test_fault_lost_answer_applies_once(shop):
    shop.add_fault(operation='transfer', fault='lost_answer')
    session = new_session()
    assert call(shop, 'credit', session=session).text == 'CREDIT 990'  # open a keep-alive connection first
    started = time.monotonic()
    with pytest.raises(requests.exceptions.ConnectionError):
        call(shop, 'credit', {'to': 'shop1', 'credit': '5'}, session=session)
    assert time.monotonic() - started < 2
    state = shop.state()
    assert state['accounts']['key-a']['transfers'] == [{'to': 'shop1', 'credit': 10}, {'to': 'shop1', 'credit': 5}]
    assert state['accounts']['key-a']['balance'] == 985
    assert state['requests'][-1]['answer'] == 'fault:lost_answer'
    assert state['requests'][-1]['result'] == 'OK'
    assert state['faults'] == []
    # the fault is consumed: the next request works normally (on a new connection)
    assert call(shop, 'credit', session=session).text == 'CREDIT 985'


def test_fault_lost_answer_on_create(emu):
    emu.add_fault(operation='create', fault='lost_answer')
    with pytest.raises(requests.exceptions.ConnectionError):
        call(emu, 'utilisateur', {'do': 'add', 'pseudo': 'lost1', 'mdp': 'pw'})
    assert account(emu)['creates'] == ['lost1']
    assert create(emu, 'lost1') == 'ERREUR'  # a blind retry hits the duplicate
    assert account(emu)['creates'] == ['lost1']


def test_fault_drop_before_applies_nothing(shop):
    shop.add_fault(operation='transfer', fault='drop_before')
    with pytest.raises(requests.exceptions.ConnectionError):
        call(shop, 'credit', {'to': 'shop1', 'credit': '5'})
    state = shop.state()
    assert state['accounts']['key-a']['transfers'] == [{'to': 'shop1', 'credit': 10}]
    assert state['accounts']['key-a']['balance'] == 990
    assert state['requests'][-1]['answer'] == 'fault:drop_before'
    assert state['requests'][-1]['result'] is None


def test_fault_slow_applies_and_answers_late(shop):
    shop.add_fault(operation='transfer', fault='slow', delay=0.6)
    started = time.monotonic()
    with pytest.raises(requests.exceptions.ReadTimeout):
        call(shop, 'credit', {'to': 'shop1', 'credit': '5'}, timeout=0.2)
    assert time.monotonic() - started < 0.5
    assert account(shop)['transfers'][-1] == {'to': 'shop1', 'credit': 5}
    # with a patient client the answer arrives, late
    shop.add_fault(operation='transfer', fault='slow', delay=0.3)
    started = time.monotonic()
    assert transfer(shop, 'shop1', 1) == 'OK'
    assert time.monotonic() - started >= 0.3
    assert len(account(shop)['transfers']) == 3


def test_fault_html_502(shop):
    shop.add_fault(operation='transfer', fault='html_502')
    response = call(shop, 'credit', {'to': 'shop1', 'credit': '5'})
    assert response.status_code == 502
    assert response.headers['Content-Type'].startswith('text/html')
    assert response.text == HTML_502
    assert account(shop)['transfers'] == [{'to': 'shop1', 'credit': 10}]


@pytest.mark.parametrize('fault, body', [('error_05', 'ERROR 05'), ('erreur', 'ERREUR'), ('empty', '')])
def test_fault_answers_without_applying(shop, fault, body):
    shop.add_fault(operation='transfer', fault=fault)
    assert transfer(shop, 'shop1', 5) == body
    acc = account(shop)
    assert acc['transfers'] == [{'to': 'shop1', 'credit': 10}]
    assert acc['balance'] == 990
    assert shop.state()['requests'][-1]['answer'] == 'fault:%s' % fault


def test_fault_garbage_with_and_without_apply(shop):
    shop.add_fault(operation='transfer', fault='garbage')
    shop.add_fault(operation='transfer', fault='garbage', apply=True)
    first = transfer(shop, 'shop1', 5)
    assert first.startswith('Warning: mysql_connect()')
    assert account(shop)['transfers'] == [{'to': 'shop1', 'credit': 10}]
    assert transfer(shop, 'shop1', 5) == first
    assert account(shop)['transfers'] == [{'to': 'shop1', 'credit': 10}, {'to': 'shop1', 'credit': 5}]
    assert transfer(shop, 'shop1', 5) == 'OK'


def test_fault_apply_override(shop):
    shop.add_fault(operation='transfer', fault='error_05', apply=True)
    shop.add_fault(operation='transfer', fault='lost_answer', apply=False)
    assert transfer(shop, 'shop1', 1) == 'ERROR 05'
    with pytest.raises(requests.exceptions.ConnectionError):
        call(shop, 'credit', {'to': 'shop1', 'credit': '2'})
    assert account(shop)['transfers'] == [{'to': 'shop1', 'credit': 10}, {'to': 'shop1', 'credit': 1}]


def test_fault_match_and_times(shop):
    assert create(shop, 'shop2') == 'OK'
    shop.add_fault(operation='transfer', fault='erreur', times=2, match={'to': 'shop2'})
    assert transfer(shop, 'shop1', 1) == 'OK'          # no match: normal
    assert answer(shop, 'credit') == 'CREDIT 989'      # a balance read is not a transfer
    assert shop.state()['faults'][0]['times'] == 2
    assert transfer(shop, 'shop2', 1) == 'ERREUR'
    assert shop.state()['faults'][0]['times'] == 1
    assert transfer(shop, 'shop2', 1) == 'ERREUR'
    assert shop.state()['faults'] == []
    assert transfer(shop, 'shop2', 1) == 'OK'
    assert account(shop)['transfers'][1:] == [{'to': 'shop1', 'credit': 1}, {'to': 'shop2', 'credit': 1}]


def test_fault_queue_order_operations_and_any(emu):
    emu.add_fault(operation='create', fault='erreur', match={'pseudo': 'x1'})
    emu.add_fault(operation='balance', fault='error_05')
    emu.add_fault(operation='any', fault='empty', times=2)
    assert create(emu, 'x0') == ''                      # any (the create fault does not match)
    assert answer(emu, 'credit') == 'ERROR 05'          # balance
    assert create(emu, 'x1') == 'ERREUR'                # create matched
    assert answer(emu, 'credit') == ''                  # any, last time
    assert answer(emu, 'credit') == 'CREDIT 1000'
    assert create(emu, 'x1') == 'OK'
    assert account(emu)['creates'] == ['x1']
    assert [r['answer'] for r in emu.state()['requests']] == [
        'fault:empty', 'fault:error_05', 'fault:erreur', 'fault:empty', 'CREDIT 1000', 'OK']


def test_invalid_faults_are_refused(emu):
    for kwargs in ({'fault': 'nope'}, {'fault': 'slow', 'operation': 'delete'}, {'fault': 'slow', 'times': 0},
                   {'fault': 'slow', 'delay': -1}, {'fault': 'slow', 'match': 'to=x'}, {'fault': 'slow', 'apply': 'yes'}):
        with pytest.raises(ValueError):
            emu.add_fault(**kwargs)
    assert emu.state()['faults'] == []


# --- TLS and latency -----------------------------------------------------------------------------

def test_tls_verified_with_generated_ca(tmp_path):
    with Emulator(accounts={'key-a': 7}, tls=True, cert_dir=str(tmp_path)) as emulator:
        assert emulator.url.startswith('https://127.0.0.1:')
        assert emulator.control_url.startswith('https://127.0.0.1:')
        assert emulator.ca_cert == str(tmp_path / 'ca.pem')
        session = new_session(emulator.ca_cert)
        assert call(emulator, 'credit', session=session).text == 'CREDIT 7'
        assert call(emulator, 'credit', session=session).text == 'CREDIT 7'
        localhost = emulator.url.replace('127.0.0.1', 'localhost')
        assert session.get(localhost, params={'action': 'credit'}, headers={'Authorization': 'App key-a'}, timeout=5).text == 'CREDIT 7'
        assert session.get(emulator.control_url + '/state', timeout=5).json()['accounts']['key-a']['balance'] == 7
        with pytest.raises(requests.exceptions.SSLError):
            call(emulator, 'credit', session=new_session(True))
        emulator.add_fault(fault='lost_answer')
        with pytest.raises(requests.exceptions.ConnectionError):
            call(emulator, 'credit', session=session)
        assert call(emulator, 'credit', session=session).text == 'CREDIT 7'
    assert os.path.exists(str(tmp_path / 'ca.pem'))  # a given cert_dir is kept


def test_tls_temporary_cert_dir_is_removed():
    emulator = Emulator(accounts={'k': 1}, tls=True).start()
    try:
        ca_cert = emulator.ca_cert
        assert os.path.exists(ca_cert)
        assert answer(emulator, 'credit', key='k') == 'CREDIT 1'
    finally:
        emulator.stop()
    assert not os.path.exists(ca_cert)


def test_latency_is_measurable():
    with Emulator(accounts={'k': 1}, latency=0.2) as emulator:
        session = new_session()
        started = time.monotonic()
        assert call(emulator, 'credit', key='k', session=session).text == 'CREDIT 1'
        assert time.monotonic() - started >= 0.2
        started = time.monotonic()
        session.get(emulator.control_url + '/state', timeout=5).raise_for_status()
        assert time.monotonic() - started < 0.2


def test_stop_closes_idle_keep_alive_connections():
    emulator = Emulator(accounts={'k': 1}).start()
    session = new_session()
    assert call(emulator, 'credit', key='k', session=session).text == 'CREDIT 1'
    emulator.add_fault(fault='slow', delay=30)
    outcome = []

    def slow_client():
        try:
            outcome.append(call(emulator, 'credit', key='k', timeout=10).text)
        except requests.exceptions.RequestException as exc:
            outcome.append(exc)

    pending = threading.Thread(target=slow_client)
    pending.start()
    time.sleep(0.1)
    started = time.monotonic()
    emulator.stop()
    assert time.monotonic() - started < 3
    pending.join(5)
    assert not pending.is_alive() and len(outcome) == 1
    with pytest.raises(requests.exceptions.ConnectionError):
        call(emulator, 'credit', key='k', session=new_session(), timeout=1)


# --- control -------------------------------------------------------------------------------------

def test_control_endpoints_over_http(emu):
    session = new_session()
    control = emu.control_url
    assert control == emu.url.replace('/1.1/api.php', '/_emulator')

    response = session.post(control + '/faults', json={'operation': 'transfer', 'fault': 'lost_answer'}, timeout=5)
    assert response.status_code == 201
    response = session.post(control + '/faults', json=[{'operation': 'balance', 'fault': 'empty', 'times': 2},
                                                       {'fault': 'slow', 'delay': 0.1, 'match': {'credit': 5}}], timeout=5)
    assert response.status_code == 201
    faults = session.get(control + '/state', timeout=5).json()['faults']
    assert [(f['operation'], f['fault'], f['times']) for f in faults] == [
        ('transfer', 'lost_answer', 1), ('balance', 'empty', 2), ('any', 'slow', 1)]
    assert faults[2]['match'] == {'credit': '5'}
    assert session.post(control + '/faults', json={'fault': 'bogus'}, timeout=5).status_code == 400
    assert session.post(control + '/faults', data='{not json', timeout=5).status_code == 400
    assert session.delete(control + '/faults', timeout=5).status_code == 200
    assert emu.state()['faults'] == []

    assert session.post(control + '/accounts', json={'key-c': '3.5', 'key-a': 5}, timeout=5).status_code == 200
    assert answer(emu, 'credit', key='key-c') == 'CREDIT 3.5'
    assert answer(emu, 'credit', key='key-a') == 'CREDIT 5'
    assert session.post(control + '/accounts', json={'key-d': 'lots'}, timeout=5).status_code == 400

    state = session.get(control + '/state', timeout=5).json()
    assert state == json.loads(json.dumps(emu.state()))
    assert len(state['requests']) == 2
    assert 'requests' not in session.get(control + '/state', params={'requests': 'no'}, timeout=5).json()

    response = session.post(control + '/reset', json={'accounts': {'key-z': 9}}, timeout=5)
    assert response.status_code == 200
    state = emu.state()
    assert list(state['accounts']) == ['key-z']
    assert state['requests'] == [] and state['faults'] == []
    assert answer(emu, 'credit', key='key-a') == 'ERROR 02'
    assert session.post(control + '/reset', timeout=5).status_code == 200  # back to the initial accounts
    assert sorted(emu.state()['accounts']) == ['key-a', 'key-b']
    assert emu.state()['accounts']['key-a']['balance'] == 1000
    assert session.get(control + '/nothing', timeout=5).status_code == 404


def test_python_reset_and_seeded_subaccounts(emu):
    assert create(emu, 'gone') == 'OK'
    emu.add_fault(fault='erreur')
    emu.reset({'key-a': {'balance': 100, 'subaccounts': {'old1': {'credits': 4, 'nolimit': True, 'password': 'x'}}}})
    state = emu.state()
    assert state['faults'] == [] and state['requests'] == [] and state['connections'] == 0
    acc = state['accounts']['key-a']
    assert acc == {'balance': 100, 'subaccounts': {'old1': {'credits': 4, 'nolimit': True, 'password': 'x'}},
                   'creates': [], 'transfers': []}
    assert create(emu, 'old1') == 'ERREUR'
    assert transfer(emu, 'old1', -4) == 'OK'
    emu.reset()
    assert account(emu)['balance'] == 1000 and account(emu)['subaccounts'] == {}


def test_spent_credits_leave_the_sub_account_and_a_larger_take_back_is_refused(emu):
    assert create(emu, 'shop1') == 'OK' and transfer(emu, 'shop1', 500) == 'OK'
    control = emu.control_url
    session = requests.Session()
    spent = session.post(control + '/spend', json={'subaccount': 'shop1', 'credits': 300}, timeout=5)
    assert spent.status_code == 200 and spent.json() == {'subaccount': 'shop1', 'credits': 200}
    assert account(emu)['subaccounts']['shop1']['credits'] == 200 and account(emu)['balance'] == 500
    assert transfer(emu, 'shop1', -201) == 'ERREUR'
    assert transfer(emu, 'shop1', -200) == 'OK'
    refused = session.post(control + '/spend', json={'subaccount': 'shop1', 'credits': 1}, timeout=5)
    assert refused.status_code == 400 and 'holds 0' in refused.json()['error']
    assert session.post(control + '/spend', json={'subaccount': 'nobody', 'credits': 1}, timeout=5).status_code == 400


# --- command line --------------------------------------------------------------------------------

def test_cli_background_state_stop(tmp_path):
    ready_file = tmp_path / 'emulator.json'
    accounts_file = tmp_path / 'accounts.json'
    accounts_file.write_text(json.dumps({'key-f': '2.5'}))
    env = dict(os.environ, PYTHONPATH='')
    result = subprocess.run(
        [sys.executable, SCRIPT, 'serve', '--background', '--ready-file', str(ready_file), '--account', 'key-a=100',
         '--accounts-file', str(accounts_file), '--decimal-comma', '--bad-key-answer', 'ERREUR', '--max-subaccounts', '1'],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, timeout=20, check=False)
    assert result.returncode == 0, result.stderr
    ready = json.loads(result.stdout.decode().strip().splitlines()[-1])
    pid = ready['pid']
    try:
        assert ready == json.loads(ready_file.read_text())
        assert ready['url'].startswith('http://127.0.0.1:') and ready['url'].endswith('/1.1/api.php')
        assert ready['ca_cert'] is None
        assert pid != os.getpid()
        headers = {'Authorization': 'App key-a'}
        session = new_session()
        assert session.post(ready['url'], params={'action': 'utilisateur'}, data={'do': 'add', 'pseudo': 'c1', 'mdp': 'p'},
                            headers=headers, timeout=5).text == 'OK'
        assert session.post(ready['url'], params={'action': 'utilisateur'}, data={'do': 'add', 'pseudo': 'c2', 'mdp': 'p'},
                            headers=headers, timeout=5).text == 'ERREUR'
        assert session.get(ready['url'], params={'action': 'credit'}, headers={'Authorization': 'App key-f'}, timeout=5).text == 'CREDIT 2,5'
        assert session.get(ready['url'], params={'action': 'credit'}, headers={'Authorization': 'App x'}, timeout=5).text == 'ERREUR'

        result = subprocess.run([sys.executable, SCRIPT, 'state', '--ready-file', str(ready_file)],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, timeout=20, check=False)
        assert result.returncode == 0, result.stderr
        state = json.loads(result.stdout.decode())
        assert state['accounts']['key-a']['creates'] == ['c1']
        assert state['accounts']['key-f']['balance'] == 2.5

        result = subprocess.run([sys.executable, SCRIPT, 'stop', '--ready-file', str(ready_file)],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, timeout=20, check=False)
        assert result.returncode == 0, result.stderr
        assert not ready_file.exists()
        with pytest.raises(requests.exceptions.ConnectionError):
            session.get(ready['url'], params={'action': 'credit'}, headers=headers, timeout=2)
        # stopping again is fine
        result = subprocess.run([sys.executable, SCRIPT, 'stop', '--ready-file', str(ready_file)],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, timeout=20, check=False)
        assert result.returncode == 0
    finally:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass


def test_cli_rejects_bad_account():
    result = subprocess.run([sys.executable, SCRIPT, 'serve', '--account', 'nobalance'],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=20, check=False)
    assert result.returncode == 2
    assert b'KEY=BALANCE' in result.stderr
