# -*- coding: utf-8 -*-
# Copyright: (c) 2026, smsbox.account contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Input checks made before any request: each refusal names the item and never quotes a password."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import datetime
from decimal import Decimal

import pytest

from ansible_collections.smsbox.account.plugins.module_utils._connection import Run
from ansible_collections.smsbox.account.plugins.module_utils._inputs import (
    CONNECTION_CHECKS,
    MAX_CREDITS,
    MAX_NAME,
    MAX_PASSWORD,
    MAX_SUBACCOUNTS,
    InputError,
    check_bulk_size,
    check_ca_path,
    check_count,
    check_name,
    check_password,
    check_unique,
    label,
    read_period,
)
from ansible_collections.smsbox.account.plugins.plugin_utils._role_plan import ROLE_VOCABULARY, Plan

WHERE = "subaccounts[3] 'shop'"


def refusal(function, *args, **kwargs):
    with pytest.raises(InputError) as caught:
        function(*args, **kwargs)
    return str(caught.value)


# --- labels ------------------------------------------------------------------------------------

def test_label_in_bulk_and_alone():
    assert label('subaccounts', 2, 'shop-lyon') == "subaccounts[2] 'shop-lyon'"
    assert label(None, 0, 'shop-lyon') == "'shop-lyon'"
    assert label('transfers', 0, '') == 'transfers[0] (no name)'
    assert label('transfers', 1, None) == 'transfers[1] (no name)'


# --- names -------------------------------------------------------------------------------------

@pytest.mark.parametrize('name', ['shop', 'shop-lyon', 'a.b_c@d-e', 'X' * MAX_NAME, '0', 'Shop2'])
def test_name_accepted(name):
    assert check_name(name, WHERE) == name


def test_name_limit_is_50():
    assert MAX_NAME == 50
    assert check_name('n' * 50, WHERE) == 'n' * 50


@pytest.mark.parametrize('name', ['', '   ', None, 5])
def test_empty_name_refused(name):
    message = refusal(check_name, name, WHERE)
    assert message.startswith(WHERE + ': ')
    assert 'name is empty' in message


def test_51_chars_refused():
    message = refusal(check_name, 'n' * 51, WHERE)
    assert message.startswith(WHERE + ': ')
    assert '51 characters' in message
    assert 'at most 50' in message


@pytest.mark.parametrize('name, shown', [('shop lyon', "' '"), (u'caf\u00e9', u"'\u00e9'"), ('shop/lyon', "'/'"),
                                         ('a\tb', "'\\t'"), ('a+b', "'+'"), ('a;b', "';'")])
def test_bad_characters_refused_and_named(name, shown):
    message = refusal(check_name, name, WHERE)
    assert message.startswith(WHERE + ': ')
    assert 'contains %s' % shown in message
    assert "'.', '_', '-' and '@'" in message


def test_every_bad_character_listed_once():
    message = refusal(check_name, 'a b/c d', WHERE)
    assert "contains ' ', '/';" in message


def test_trailing_newline_refused():
    # '$' in a regex also matches before a final newline; the name must still be refused.
    message = refusal(check_name, 'shop\n', WHERE)
    assert "'\\n'" in message


def test_name_what_label():
    assert refusal(check_name, '', WHERE, what='to').startswith(WHERE + ': to is empty')


# --- passwords ---------------------------------------------------------------------------------

@pytest.mark.parametrize('password', ['s3cret', 'P@ss w0rd!~', 'p' * MAX_PASSWORD, '"\'\\<>&%#'])
def test_password_accepted(password):
    assert check_password(password, WHERE) == password


def test_no_password_is_none():
    assert check_password(None, WHERE) is None


def test_empty_password_refused():
    message = refusal(check_password, '', WHERE)
    assert message == WHERE + ': password is empty'


@pytest.mark.parametrize('password, reason', [
    (('Zq9!xY7#' * 7)[:51], '51 characters long; SMSBOX accepts at most 50'),
    (u'p\u00e4sswort-Zq9', 'outside printable ASCII'),
    (u'Zq9\u20acsecret', 'outside printable ASCII'),
    ('Zq9\nsecret', 'outside printable ASCII'),
    ('Zq9\tsecret', 'outside printable ASCII'),
    ('Zq9\x7fsecret', 'outside printable ASCII'),
    (' Zq9secret', 'starts or ends with a space'),
    ('Zq9secret ', 'starts or ends with a space'),
])
def test_password_refused_without_quoting_it(password, reason):
    message = refusal(check_password, password, WHERE)
    assert message.startswith(WHERE + ': password ')
    assert reason in message
    assert password not in message
    assert password.strip() not in message
    assert 'Zq9' not in message


def test_password_limit_is_50():
    assert MAX_PASSWORD == 50


# --- counts ------------------------------------------------------------------------------------

def count(value, allow_zero=False, allow_negative=False):
    return check_count(value, WHERE, 'credit', allow_zero, allow_negative)


@pytest.mark.parametrize('value, expected', [(10, 10), ('10', 10), (10.0, 10), (' 10 ', 10), ('+7', 7), ('007', 7),
                                             (10 ** 9, 10 ** 9), (-10 ** 9, -10 ** 9)])
def test_count_accepted_as_int(value, expected):
    result = count(value, allow_negative=True)
    assert result == expected
    assert result.__class__ is int


@pytest.mark.parametrize('value', [10.5, 0.1, float('inf'), float('nan')])
def test_fractional_count_refused(value):
    message = refusal(count, value)
    assert message.startswith(WHERE + ': credit must be a whole number of credits')


@pytest.mark.parametrize('value', [True, False, None, '1e3', '10.5', '', ' ', 'ten', '0x10', '1_000', '--1'])
def test_non_integer_count_refused(value):
    message = refusal(count, value)
    assert message.startswith(WHERE + ': credit must be an integer, got %r' % (value,))


@pytest.mark.parametrize('value, type_name', [([10], 'list'), ({'n': 1}, 'dict'), (Decimal('10'), 'Decimal')])
def test_other_types_refused(value, type_name):
    assert refusal(count, value) == '%s: credit must be an integer, got a %s' % (WHERE, type_name)


@pytest.mark.parametrize('value', [0, '0', 0.0, '-0'])
def test_zero_refused_when_not_allowed(value):
    message = refusal(count, value, allow_negative=True)
    assert message.startswith(WHERE + ': credit is 0')


@pytest.mark.parametrize('value', [0, '0', 0.0])
def test_zero_allowed_when_allowed(value):
    assert count(value, allow_zero=True) == 0


@pytest.mark.parametrize('value', [-1, '-5', -5.0])
def test_negative_refused_when_not_allowed(value):
    message = refusal(count, value, allow_zero=True)
    assert message.startswith(WHERE + ': credit is -')
    assert 'must be 0 or more' in message


@pytest.mark.parametrize('value, expected', [(-1, -1), ('-5', -5), (-5.0, -5)])
def test_negative_allowed_when_allowed(value, expected):
    result = count(value, allow_negative=True)
    assert result == expected
    assert result.__class__ is int


# --- collections of items ----------------------------------------------------------------------

def test_unique_names_pass():
    assert check_unique(['a', 'b', 'c'], 'subaccounts') is None
    assert check_unique([], 'subaccounts') is None


def test_duplicate_names_both_indexes():
    message = refusal(check_unique, ['a', 'shop', 'b', 'shop'], 'subaccounts')
    assert message.startswith("subaccounts[3] 'shop': ")
    assert 'already subaccounts[1]' in message


def test_duplicate_names_first_repeat_reported():
    message = refusal(check_unique, ['x', 'x', 'x'], 'transfers')
    assert message.startswith("transfers[1] 'x'")
    assert 'transfers[0]' in message


def test_bulk_size():
    assert MAX_SUBACCOUNTS == 500
    assert check_bulk_size([{}] * 500, 'subaccounts') is None
    message = refusal(check_bulk_size, [{}] * 501, 'subaccounts')
    assert message == 'subaccounts has 501 items; a main account holds at most 500 sub-accounts'


@pytest.mark.parametrize('value', [-1e20, 1e20, 10 ** 9 + 1, -(10 ** 9) - 1, str(10 ** 12), 2 ** 63, float(2 ** 40)])
def test_counts_beyond_a_billion_refused(value):
    message = refusal(count, value, allow_negative=True)
    assert message.startswith(WHERE + ': credit is ') and 'at most %d credits' % MAX_CREDITS in message


# --- ca_path -----------------------------------------------------------------------------------

def test_missing_ca_path_refused_and_explained(tmp_path):
    missing = str(tmp_path / 'ca.pem')
    message = check_ca_path(missing)
    assert message.startswith('ca_path %s does not exist' % missing) and 'PEM' in message


def test_present_ca_path_accepted(tmp_path):
    (tmp_path / 'ca.pem').write_text(u'-----BEGIN CERTIFICATE-----')
    assert check_ca_path(str(tmp_path / 'ca.pem')) is None
    assert check_ca_path(None) is None


# --- the connection checks: one list, one order, for the modules and the role --------------------

BAD_CONNECTION = dict(api_key='two words', api_url='http://api.example.net/api.php', timeout=-1, retries=11, ca_path='/nonexistent/ca.pem',
                      ledger='relative.json', concurrency=99, lock_timeout=-5, ledger_connections=1)


def order_of_refusals(problem_of, values, name_of):
    """The options a checker refuses, in the order it reports them: each reported option is put right, then it runs again."""
    values = dict(values)
    order = []
    problem = problem_of(values)
    while problem is not None:
        option = next(option for option in values if problem.startswith(name_of(option) + ' '))
        order.append(option)
        del values[option]
        problem = problem_of(values)
    return order


def module_problem(params):
    try:
        Run(params).check()
    except InputError as error:
        return str(error)
    return None


def test_the_modules_and_the_role_check_the_connection_in_one_order():
    role_settings = dict((option, value) for option, value in BAD_CONNECTION.items() if option in ROLE_VOCABULARY)  # no retries
    role_values = dict((ROLE_VOCABULARY[option], value) for option, value in role_settings.items())

    by_module = order_of_refusals(module_problem, BAD_CONNECTION, lambda option: option)
    by_role = order_of_refusals(lambda values: Plan.account_problem(dict((ROLE_VOCABULARY[option], value) for option, value in values.items())),
                                role_settings, lambda option: ROLE_VOCABULARY[option])

    assert by_module == [option for option, _check, _pointed_to in CONNECTION_CHECKS]
    assert by_role == [option for option in by_module if option != 'retries']
    assert Plan.account_problem(role_values).startswith('smsbox_api_key contains a space')


@pytest.mark.parametrize('value, today, name', [
    ('month', datetime.date(2026, 12, 31), '2026-12'), ('week', datetime.date(2027, 1, 1), '2026-W53'),
    ('2026-W05', None, '2026-W05'), ('2026-02', None, '2026-02'),
])
def test_period_names(value, today, name):
    assert read_period(value, 'x', today=today) == name
    with pytest.raises(InputError):
        read_period('2026-W54', 'x')
