# -*- coding: utf-8 -*-
# Copyright: (c) 2026, smsbox.account contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Property test: the role's plan on arbitrary host variables never raises, names the host, and never shows a secret."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os

import pytest
import yaml

from ansible_collections.smsbox.account.plugins.plugin_utils._role_plan import native, plan_hosts
from ansible_collections.smsbox.account.tests.unit.suite_counts import count, examples

hypothesis = pytest.importorskip('hypothesis')
from hypothesis import given, settings, strategies as st  # noqa: E402 pylint: disable=wrong-import-position

ROLE = os.path.join(os.path.dirname(__file__), '..', '..', '..', '..', 'roles', 'subaccounts')
MARK = 'Zq9'
PRINTABLE = ''.join(chr(code) for code in range(33, 127))
SECRET = st.text(alphabet=PRINTABLE, min_size=6, max_size=30).map(lambda tail: MARK + tail)
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-5, 10 ** 10), st.floats(), st.text(max_size=20))
VALUES = st.recursive(SCALARS, lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=6), inner, max_size=3)),
                      max_leaves=6)
NAMES = st.one_of(st.sampled_from(['shop-a', 'shop-b', 'shop-c']), st.text(max_size=60))


def entry(password):
    return st.fixed_dictionaries(dict(name=NAMES), optional=dict(password=st.just(password), nolimit=VALUES, credit=VALUES,
                                                                 extra=VALUES))


@st.composite
def host_variables(draw, key, password):
    variables = {}
    for name, strategy in (('smsbox_subaccount', st.one_of(entry(password), VALUES)),
                           ('smsbox_subaccounts', st.one_of(st.lists(entry(password), max_size=3), VALUES)),
                           ('smsbox_api_key', st.one_of(st.just(key), VALUES)),
                           ('smsbox_api_url', st.one_of(st.sampled_from(['https://api.smsbox.pro/1.1/api.php', 'http://127.0.0.1:9/1.1/api.php',
                                                                         'http://example.org/x']), VALUES)),
                           ('smsbox_ledger', st.one_of(st.sampled_from(['/srv/smsbox/a.json', '/srv/smsbox/b.json', 'rel.json']), VALUES)),
                           ('smsbox_timeout', VALUES), ('smsbox_concurrency', VALUES), ('smsbox_adopt', VALUES),
                           ('smsbox_validate_certs', VALUES), ('smsbox_account_label', VALUES), ('smsbox_ca_path', VALUES)):
        if draw(st.booleans()):
            variables[name] = draw(strategy)
    return variables


@pytest.fixture(scope='module')
def spec():
    with open(os.path.join(ROLE, 'meta', 'argument_specs.yml')) as handle:
        return yaml.safe_load(handle)['argument_specs']['main']['options']


@settings(max_examples=examples(40))
@given(data=st.data(), key=SECRET, password=SECRET, count_hosts=st.integers(1, 4))
def test_plan_never_raises_names_the_host_and_hides_secrets(spec, data, key, password, count_hosts):
    count('hypothesis examples')
    hosts = ['host%d' % index for index in range(count_hosts)]
    hostvars = dict((host, data.draw(host_variables(key, password))) for host in hosts)

    plan = plan_hosts(hosts, hostvars, spec)

    assert set(plan) == set(['accounts', 'errors'])
    for error in plan['errors']:
        assert key not in error and password not in error
        assert error.startswith(('host ', 'hosts ', 'sub-account ', 'main account')), error
    if not plan['errors']:
        for account in plan['accounts']:
            assert set(account['hosts']) <= set(hosts)
            assert len(account['subaccounts']) <= 500


def test_the_plan_hands_on_exact_types_whatever_the_play_wraps_them_in():
    # Registered plans come back unsafe (every line) and inventory values tagged with where they were read (2.19+): the
    # converge copies and pickles its data many times, which a subclass makes costly (a 5,000 host re-run: seconds).
    from ansible.utils.unsafe_proxy import wrap_var  # pylint: disable=import-outside-toplevel
    value = wrap_var({'name': 'shop-a', 'hosts': ['h1'], 'credit': 5, 'nolimit': True, 'ratio': 0.5})
    try:
        from ansible.module_utils._internal._datatag import AnsibleTagHelper  # pylint: disable=import-outside-toplevel
        from ansible._internal._datatag._tags import Origin  # pylint: disable=import-outside-toplevel
    except ImportError:  # before 2.19: no tags
        pass
    else:
        value['credit'] = AnsibleTagHelper.tag(5, [Origin(path='/inventory/hosts.yml', line_num=3)])
        value['hosts'] = [AnsibleTagHelper.tag('h1', [Origin(path='/inventory/hosts.yml', line_num=2)])]

    plain = native(value)

    assert plain == {'name': 'shop-a', 'hosts': ['h1'], 'credit': 5, 'nolimit': True, 'ratio': 0.5}
    assert [type(item) for item in (plain['name'], plain['hosts'][0], plain['credit'], plain['nolimit'], plain['ratio'])] == [
        str, str, int, bool, float]
    assert all(type(key) is str for key in plain)  # pylint: disable=unidiomatic-typecheck
