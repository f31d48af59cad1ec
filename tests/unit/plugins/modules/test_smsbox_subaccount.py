# -*- coding: utf-8 -*-
# Copyright: (c) 2026, smsbox.account contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""smsbox_subaccount against the in-process emulator: create once, predict exactly, never leak a secret."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os

import pytest

from ansible_collections.smsbox.account.plugins.modules import smsbox_credit, smsbox_subaccount
from ansible_collections.smsbox.account.tests.unit.helpers.accounts import BAD_KEY, KEY, OTHER_KEY, START_BALANCE
from ansible_collections.smsbox.account.tests.unit.helpers.emulator import applied_creates, posts, requests_log
from ansible_collections.smsbox.account.tests.unit.helpers.ledger_files import ledger_files_bytes
from ansible_collections.smsbox.account.tests.unit.helpers.ledger_stores import fill_ledger, ledger_view

PASSWORDS = {'shop-paris': 'Pw-Paris-s3cr3t!', 'shop-lyon': 'Pw-Lyon-s3cr3t#', 'shop-nice': 'Pw-Nice-s3cr3t%'}


def item(name, **extra):
    return dict(name=name, password=PASSWORDS.get(name, 'Pw-%s-x9' % name), **extra)


def create_posts(emulator, since=0):
    return posts(emulator, 'utilisateur', since)


# --- check mode, diff, idempotence -------------------------------------------------------------------

def test_check_mode_sends_no_post_and_predicts_exactly_what_the_real_run_creates(run_module, emulator, base, ledger_path):
    assert not run_module(smsbox_subaccount, dict(base, name='shop-paris', password=PASSWORDS['shop-paris'])).failed
    before = ledger_files_bytes(ledger_path)
    log_start = len(requests_log(emulator))
    items = [item('shop-paris'), item('shop-lyon'), item('shop-nice', nolimit=True), dict(name='hq-support', adopt=True)]

    check = run_module(smsbox_subaccount, dict(base, subaccounts=items), check=True, diff=True)

    assert not check.failed
    assert create_posts(emulator, log_start) == []
    assert ledger_files_bytes(ledger_path) == before, 'check mode changed the ledger'
    assert check['created'] == ['shop-lyon', 'shop-nice']
    assert check['adopted'] == ['hq-support']
    assert check['unchanged'] == ['shop-paris']
    assert check['changed'] is True
    assert applied_creates(emulator) == ['shop-paris']

    real = run_module(smsbox_subaccount, dict(base, subaccounts=items), diff=True)

    assert not real.failed
    assert real['created'] == check['created']
    assert sorted(applied_creates(emulator)) == sorted(['shop-paris'] + check['created'])
    assert real['subaccounts'] == check['subaccounts']
    assert real['diff'] == check['diff']
    assert (real['adopted'], real['unchanged'], real['changed']) == (check['adopted'], check['unchanged'], check['changed'])


def test_check_mode_on_a_new_ledger_creates_no_file(run_module, emulator, base, ledger_path):
    result = run_module(smsbox_subaccount, dict(base, name='shop-paris', password=PASSWORDS['shop-paris']), check=True)

    assert result['created'] == ['shop-paris'] and result['changed'] is True
    assert posts(emulator) == []
    assert not os.path.exists(ledger_path)
    assert not os.path.exists(ledger_path + '.journal')


def test_diff_shows_sub_accounts_and_never_a_password_or_the_key(run_module, emulator, base, ledger_path):
    emulator.add_fault(operation='create', fault='erreur', match={'pseudo': 'shop-nice'})
    items = [item('shop-paris'), item('shop-lyon', nolimit=True), item('shop-nice')]

    outputs = [run_module(smsbox_subaccount, dict(base, subaccounts=items), check=True, diff=True),
               run_module(smsbox_subaccount, dict(base, subaccounts=items), diff=True),
               run_module(smsbox_subaccount, dict(base, name='shop-paris', password='Other-pw-42'), diff=True)]

    check, real = outputs[0], outputs[1]
    assert check['diff'] == {'before': {}, 'after': {
        'shop-paris': {'nolimit': False, 'state': 'present', 'origin': 'created'},
        'shop-lyon': {'nolimit': True, 'state': 'present', 'origin': 'created'},
        'shop-nice': {'nolimit': False, 'state': 'present', 'origin': 'created'}}}
    assert real.failed and real['failed_names'] == ['shop-nice']
    # The refused item changed nothing, so it is not in the diff of the real run.
    assert sorted(real['diff']['after']) == ['shop-lyon', 'shop-paris']
    for output in outputs:
        for secret in list(PASSWORDS.values()) + ['Other-pw-42', KEY]:
            assert secret not in output.out
    ledger_text = b''.join(data for data in ledger_files_bytes(ledger_path).values() if data)
    for secret in list(PASSWORDS.values()) + [KEY]:
        assert secret.encode() not in ledger_text, 'the ledger holds a secret'


def test_second_run_changes_nothing_and_sends_no_post(run_module, emulator, base):
    items = [item('shop-paris'), item('shop-lyon')]
    first = run_module(smsbox_subaccount, dict(base, subaccounts=items))
    assert first['changed'] is True and first['created'] == ['shop-paris', 'shop-lyon']
    log_start = len(requests_log(emulator))

    second = run_module(smsbox_subaccount, dict(base, subaccounts=items), diff=True)

    assert not second.failed
    assert second['changed'] is False
    assert second['created'] == [] and second['unchanged'] == ['shop-paris', 'shop-lyon']
    assert [entry['action'] for entry in second['subaccounts']] == ['unchanged', 'unchanged']
    assert second['diff'] == {'before': {}, 'after': {}}
    assert create_posts(emulator, log_start) == []
    assert sorted(applied_creates(emulator)) == ['shop-lyon', 'shop-paris']  # concurrent: any order
    assert second.warnings == []


def test_single_form_returns_name_and_action(run_module, emulator, base, ledger_path):
    result = run_module(smsbox_subaccount, dict(base, name='shop-nice', password=PASSWORDS['shop-nice'], nolimit=True))

    assert (result['name'], result['action'], result['changed']) == ('shop-nice', 'created', True)
    assert result['balance'] == START_BALANCE
    assert result['ledger_path'] == ledger_path
    sent = create_posts(emulator)
    assert len(sent) == 1 and sent[0]['params']['pseudo'] == 'shop-nice' and sent[0]['params']['nolimit'] == 'yes'
    assert emulator.state()['accounts'][KEY]['subaccounts']['shop-nice']['password'] == PASSWORDS['shop-nice']
    subaccounts, _transfers = ledger_view(ledger_path)
    assert subaccounts['shop-nice']['origin'] == 'created' and subaccounts['shop-nice']['nolimit'] is True


# --- bulk and the 500 cap --------------------------------------------------------------------------------

def test_bulk_with_concurrency_8_creates_each_of_60_exactly_once(run_module, emulator, base, ledger_path):
    emulator.latency = 0.01  # keeps requests in flight together
    names = ['tenant-%02d' % index for index in range(60)]

    result = run_module(smsbox_subaccount, dict(base, concurrency=8, subaccounts=[item(name) for name in names]))

    assert not result.failed
    assert result['created'] == names  # input order, whatever order they completed in
    assert [entry['name'] for entry in result['subaccounts']] == names
    creates = applied_creates(emulator)
    assert sorted(creates) == names and len(creates) == 60
    assert len(create_posts(emulator)) == 60
    # One keep-alive pool of 8: more connections would mean the pool is too small or not reused.
    assert 2 <= emulator.state()['connections'] <= 8
    subaccounts, _transfers = ledger_view(ledger_path)
    assert sorted(subaccounts) == names
    assert all(record['state'] == 'present' and record['origin'] == 'created' for record in subaccounts.values())


def test_bulk_items_inherit_nolimit_and_adopt_from_the_task(run_module, emulator, base, ledger_path):
    emulator.reset({KEY: {'balance': START_BALANCE, 'subaccounts': {'legacy': {'password': 'x'}}}})
    items = [item('shop-paris'), item('shop-lyon', nolimit=False), item('legacy', baseline=0), item('strict', adopt=False)]
    emulator.add_fault(operation='create', fault='erreur', match={'pseudo': 'strict'})

    result = run_module(smsbox_subaccount, dict(base, subaccounts=items, nolimit=True, adopt=True))

    sent = dict((entry['params']['pseudo'], entry['params']['nolimit']) for entry in create_posts(emulator))
    assert sent == {'shop-paris': 'yes', 'shop-lyon': 'no', 'legacy': 'yes', 'strict': 'yes'}
    assert result['created'] == ['shop-paris', 'shop-lyon'] and result['adopted'] == ['legacy']
    assert result.failed and result['failed_names'] == ['strict']


@pytest.mark.parametrize('concurrency', [0, 17])
def test_concurrency_out_of_range_fails_before_any_request(run_module, emulator, base, concurrency):
    result = run_module(smsbox_subaccount, dict(base, concurrency=concurrency, subaccounts=[item('shop-paris')]))

    assert result.failed and 'concurrency' in result.msg and str(concurrency) in result.msg
    assert requests_log(emulator) == []


@pytest.mark.parametrize('new, fails', [(1, False), (2, True)], ids=['499+1-fits', '499+2-exceeds'])
@pytest.mark.parametrize('check', [False, True], ids=['real', 'check'])
def test_cap_of_500_per_main_account_from_the_ledger(run_module, emulator, base, ledger_path, new, fails, check):
    fill_ledger(ledger_path, ['old-%03d' % index for index in range(499)])
    items = [item('old-000')] + [item('fresh-%d' % index) for index in range(new)]

    result = run_module(smsbox_subaccount, dict(base, subaccounts=items), check=check)

    if fails:
        assert result.failed
        assert 'Nothing was sent' in result.msg
        assert '499' in result.msg and '500' in result.msg and '%d more' % new in result.msg
        assert create_posts(emulator) == []
    else:
        assert not result.failed
        assert result['created'] == ['fresh-0']
        assert len(create_posts(emulator)) == (0 if check else 1)


def test_more_than_500_items_fail_before_any_request(run_module, emulator, base):
    result = run_module(smsbox_subaccount, dict(base, subaccounts=[dict(name='n%03d' % index) for index in range(501)]))

    assert result.failed and '501' in result.msg and '500' in result.msg
    assert requests_log(emulator) == []


def test_duplicate_names_fail_naming_both_indexes_with_zero_requests(run_module, emulator, base):
    items = [item('shop-paris'), item('shop-lyon'), item('shop-nice'), dict(item('shop-lyon'), password='Another-pw-1')]

    result = run_module(smsbox_subaccount, dict(base, subaccounts=items))

    assert result.failed
    assert "subaccounts[3] 'shop-lyon'" in result.msg
    assert 'subaccounts[1]' in result.msg
    assert requests_log(emulator) == []
    assert 'Another-pw-1' not in result.out and PASSWORDS['shop-lyon'] not in result.out


@pytest.mark.parametrize('bad, reason', [
    (dict(name='x' * 51, password='pw-ok-123'), '51 characters'),
    (dict(name='', password='pw-ok-123'), 'empty'),
    (dict(name='shop paris', password='pw-ok-123'), "' '"),
    (dict(name='shop-ok', password='p' * 51), '51 characters'),
    (dict(name='shop-ok', password='p\u00e9-accent'), 'printable ASCII'),
])
def test_invalid_item_fails_naming_it_before_any_request(run_module, emulator, base, bad, reason):
    result = run_module(smsbox_subaccount, dict(base, subaccounts=[item('shop-paris'), bad]))

    assert result.failed
    assert 'subaccounts[1]' in result.msg and reason in result.msg
    assert requests_log(emulator) == []
    assert bad['password'] not in result.msg


# --- warnings ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize('change, expected', [
    (dict(), []),
    (dict(nolimit=True), ['nolimit']),
    (dict(password='A-new-password-7'), ['password']),
    (dict(nolimit=True, password='A-new-password-7'), ['nolimit', 'password']),
])
def test_difference_from_creation_warns_and_sends_nothing(run_module, emulator, base, change, expected):
    first = dict(base, name='shop-paris', password=PASSWORDS['shop-paris'], nolimit=False)
    assert run_module(smsbox_subaccount, first)['created'] == ['shop-paris']
    log_start = len(requests_log(emulator))

    again = run_module(smsbox_subaccount, dict(first, **change))

    assert not again.failed and again['changed'] is False and again['action'] == 'unchanged'
    assert create_posts(emulator, log_start) == []
    warnings = again.warnings
    assert len(warnings) == len(expected), warnings
    for word in expected:
        assert any(word in warning and 'shop-paris' in warning and 'dashboard' in warning for warning in warnings)
    assert 'A-new-password-7' not in again.out and PASSWORDS['shop-paris'] not in again.out


def test_no_password_warning_for_an_adopted_sub_account(run_module, emulator, base):
    run_module(smsbox_subaccount, dict(base, name='hq-support', adopt=True))

    again = run_module(smsbox_subaccount, dict(base, name='hq-support', password='Whatever-pw-1', nolimit=True))

    assert again['action'] == 'unchanged' and again.warnings == []
    assert posts(emulator) == []


# --- adopt, refusals, lost answers --------------------------------------------------------------------------

def test_adopt_without_password_records_it_without_any_post(run_module, emulator, base, ledger_path):
    result = run_module(smsbox_subaccount, dict(base, subaccounts=[dict(name='hq-marketing'), dict(name='hq-support')], adopt=True))

    assert not result.failed
    assert result['adopted'] == ['hq-marketing', 'hq-support'] and result['created'] == [] and result['changed'] is True
    assert posts(emulator) == []
    subaccounts, _transfers = ledger_view(ledger_path)
    assert {name: (record['origin'], record['state']) for name, record in subaccounts.items()} == {
        'hq-marketing': ('adopted', 'present'), 'hq-support': ('adopted', 'present')}

    again = run_module(smsbox_subaccount, dict(base, subaccounts=[dict(name='hq-marketing'), dict(name='hq-support')], adopt=True))
    assert again['changed'] is False and again['unchanged'] == ['hq-marketing', 'hq-support']


def test_adopt_records_a_name_smsbox_refuses_because_it_exists(run_module, emulator, base, ledger_path):
    emulator.reset({KEY: {'balance': START_BALANCE, 'subaccounts': {'legacy-shop': {'credits': 3, 'password': 'old'}}}})

    result = run_module(smsbox_subaccount, dict(base, subaccounts=[item('legacy-shop', adopt=True, baseline=3), item('shop-lyon')]))

    assert not result.failed
    assert result['adopted'] == ['legacy-shop'] and result['created'] == ['shop-lyon']
    assert [entry['params']['pseudo'] for entry in create_posts(emulator) if entry['answer'] == 'ERREUR'] == ['legacy-shop']
    assert applied_creates(emulator) == ['shop-lyon']
    subaccounts, _transfers = ledger_view(ledger_path)
    assert subaccounts['legacy-shop']['origin'] == 'adopted' and subaccounts['legacy-shop']['state'] == 'present'
    assert subaccounts['shop-lyon']['origin'] == 'created'


def test_adopt_never_records_a_new_shop_whose_create_was_refused(run_module, emulator, base, ledger_path):
    # The main account is full (or the name is refused): adopt on the group must not make the new shop "exist".
    emulator.reset({KEY: {'balance': START_BALANCE, 'subaccounts': {'legacy-shop': {'password': 'old'}}}})
    emulator.add_fault(operation='create', fault='erreur', match={'pseudo': 'new-shop'})

    result = run_module(smsbox_subaccount, dict(base, adopt=True, subaccounts=[item('new-shop'), item('legacy-shop', baseline=40)]))

    assert result.failed and result['failed_names'] == ['new-shop'] and result['adopted'] == ['legacy-shop']
    assert "subaccounts[0] 'new-shop': SMSBOX refused to create it (ERREUR), and it was not adopted" in result.msg
    subaccounts, _transfers = ledger_view(ledger_path)
    assert sorted(subaccounts) == ['legacy-shop'] and subaccounts['legacy-shop']['baseline'] == 40


def test_refused_create_without_adopt_fails_and_names_the_causes(run_module, emulator, base, ledger_path):
    emulator.reset({KEY: START_BALANCE, OTHER_KEY: {'balance': 0, 'subaccounts': {'taken-name': {'password': 'x'}}}})

    result = run_module(smsbox_subaccount, dict(base, name='taken-name', password='Pw-taken-1'))

    assert result.failed
    assert result['action'] == 'failed' and result['failed_names'] == ['taken-name']
    assert result['changed'] is False
    assert 'ERREUR' in result.msg and 'adopt: true' in result.msg and '500' in result.msg
    assert len(create_posts(emulator)) == 1
    subaccounts, _transfers = ledger_view(ledger_path)
    assert 'taken-name' not in subaccounts


def test_missing_password_without_adopt_fails_with_no_post(run_module, emulator, base, ledger_path):
    result = run_module(smsbox_subaccount, dict(base, subaccounts=[dict(name='shop-paris')]))

    assert result.failed and 'password is needed' in result.msg and 'adopt' in result.msg
    assert result['failed_names'] == ['shop-paris']
    assert posts(emulator) == []


def test_lost_create_answer_is_settled_as_created_by_the_next_run(run_module, emulator, base, ledger_path):
    emulator.add_fault(operation='create', fault='lost_answer', match={'pseudo': 'shop-paris'})
    args = dict(base, name='shop-paris', password=PASSWORDS['shop-paris'])

    lost = run_module(smsbox_subaccount, args)

    assert lost.failed and lost['action'] == 'failed'
    assert 'run the task again' in lost.msg
    assert applied_creates(emulator) == ['shop-paris']  # SMSBOX did create it
    subaccounts, _transfers = ledger_view(ledger_path)
    assert subaccounts['shop-paris']['state'] == 'unknown'

    settled = run_module(smsbox_subaccount, args, diff=True)

    assert not settled.failed
    assert settled['action'] == 'created' and settled['adopted'] == []
    assert len(create_posts(emulator)) == 2  # sent once more, answered ERREUR, settled from that
    assert applied_creates(emulator) == ['shop-paris']
    subaccounts, _transfers = ledger_view(ledger_path)
    assert (subaccounts['shop-paris']['state'], subaccounts['shop-paris']['origin']) == ('present', 'created')

    third = run_module(smsbox_subaccount, args)
    assert third['changed'] is False and len(create_posts(emulator)) == 2


def test_unknown_create_run_again_with_adopt_and_no_password_does_not_crash(run_module, emulator, base, ledger_path):
    emulator.add_fault(operation='create', fault='lost_answer', match={'pseudo': 'shop-paris'})
    assert run_module(smsbox_subaccount, dict(base, name='shop-paris', password=PASSWORDS['shop-paris'])).failed

    again = run_module(smsbox_subaccount, dict(base, name='shop-paris', adopt=True))

    # Either outcome is acceptable; a traceback is not.
    if again.failed:
        assert 'shop-paris' in again.msg and 'password' in again.msg
    else:
        subaccounts, _transfers = ledger_view(ledger_path)
        assert subaccounts['shop-paris']['state'] == 'present'
    assert len(create_posts(emulator)) == 1


def test_an_unknown_create_declared_existing_stays_created_by_this_collection(run_module, emulator, base, ledger_path):
    emulator.add_fault(operation='create', fault='lost_answer', match={'pseudo': 'shop-paris'})
    assert run_module(smsbox_subaccount, dict(base, name='shop-paris', password=PASSWORDS['shop-paris'])).failed

    adopted = run_module(smsbox_subaccount, dict(base, name='shop-paris', adopt=True))

    assert not adopted.failed and adopted['changed'] and 'sending nothing' in adopted['subaccounts'][0]['note']
    subaccounts, _transfers = ledger_view(ledger_path)
    # never adopted: this collection's create made it, so it received nothing before (baseline 0), and allocated works
    assert (subaccounts['shop-paris']['origin'], subaccounts['shop-paris']['state'], subaccounts['shop-paris']['baseline']) == \
        ('created', 'present', 0)
    assert len(create_posts(emulator)) == 1


def test_failure_message_groups_identical_reasons(run_module, emulator, base):
    emulator.add_fault(operation='create', fault='erreur', times=12)
    names = ['refused-%02d' % index for index in range(12)]
    items = [item(name) for name in names] + [dict(name='no-password')]

    result = run_module(smsbox_subaccount, dict(base, subaccounts=items))

    assert result.failed
    assert result['failed_names'] == names + ['no-password']
    msg = result.msg
    assert msg.startswith('13 of 13 sub-accounts failed.')
    for name in names[:10]:
        assert repr(name) in msg
    for name in names[10:]:
        assert name not in msg
    assert msg.count('and 2 more') == 1
    assert msg.count('SMSBOX refused to create it (ERREUR)') == 1
    assert msg.count('a password is needed') == 1
    assert "subaccounts[12] 'no-password'" in msg
    # every item keeps its own full error
    assert all(entry['error'].startswith('subaccounts[') for entry in result['subaccounts'])
    assert len(create_posts(emulator)) == 12


def test_a_bad_key_fails_before_any_post_and_is_not_shown(run_module, emulator, base):
    result = run_module(smsbox_subaccount, dict(base, api_key=BAD_KEY, name='shop-paris', password=PASSWORDS['shop-paris']))

    assert result.failed
    assert 'key' in result.msg
    assert posts(emulator) == []
    assert BAD_KEY not in result.out and PASSWORDS['shop-paris'] not in result.out


def test_plain_http_to_a_remote_host_is_refused_before_any_request(run_module, emulator, base):
    result = run_module(smsbox_subaccount, dict(base, api_url='http://api.example.com/1.1/api.php', name='shop-paris',
                                                password=PASSWORDS['shop-paris']))

    assert result.failed and 'http://' in result.msg
    assert requests_log(emulator) == []


def test_a_password_changed_in_the_dashboard_is_acknowledged_once_and_the_warning_stops(run_module, emulator, base, ledger_path):
    assert run_module(smsbox_subaccount, dict(base, name='paris', password='Pw-paris-1'))['created'] == ['paris']
    assert not run_module(smsbox_credit, dict(base, subaccount='paris', allocated=600)).failed
    log = len(requests_log(emulator))

    warned = run_module(smsbox_subaccount, dict(base, name='paris', password='New-pw-2', nolimit=True))
    acknowledged = run_module(smsbox_subaccount, dict(base, name='paris', password='New-pw-2', nolimit=True, acknowledge=True))
    quiet = run_module(smsbox_subaccount, dict(base, name='paris', password='New-pw-2', nolimit=True))

    assert warned['changed'] is False and len([text for text in warned.warnings if 'acknowledge: true' in text]) == 2
    assert acknowledged['changed'] and acknowledged['acknowledged'] == ['paris']
    assert quiet['changed'] is False and not quiet.warnings
    assert posts(emulator, since=log) == []
    assert ledger_view(ledger_path)[0]['paris']['nolimit'] is True
    assert 'New-pw-2' not in acknowledged.out


def test_an_unknown_state_is_refused_before_any_request(run_module, emulator, base):
    result = run_module(smsbox_subaccount, dict(base, subaccounts=[dict(name='paris', password='Pw-1', state='closed')]))

    assert result.failed and 'state' in result.msg and 'closed' in result.msg
    assert requests_log(emulator) == []
