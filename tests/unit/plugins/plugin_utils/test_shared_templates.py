# -*- coding: utf-8 -*-
# Copyright: (c) 2026, smsbox.account contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A template is shared between hosts only when its value must be the same on them."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import jinja2
import pytest

from ansible_collections.smsbox.account.plugins.plugin_utils._shared_templates import SharedTemplates


class FakeHostVars(object):
    """What hostvars[host] is: raw variables in _vars, templated on access (each access counted)."""

    calls = 0

    def __init__(self, **variables):
        self._vars = variables

    def __getitem__(self, name):
        FakeHostVars.calls += 1
        value = self._vars[name]
        for _depth in range(5):
            if not isinstance(value, str) or '{{' not in value:
                break
            scope = dict(self._vars, vars=self._vars, hostvars={self._vars.get('inventory_hostname'): self._vars},
                         lookup=lambda kind, path: 'file:' + path, query=lambda *terms: [])
            value = jinja2.Template(value).render(**scope)
        return value


@pytest.fixture(autouse=True)
def count():
    FakeHostVars.calls = 0


def test_hosts_of_one_group_template_their_shared_setting_once():
    templates = SharedTemplates()
    hosts = [FakeHostVars(inventory_dir='/inv/eu', smsbox_ledger='{{ inventory_dir }}/../ledgers/eu.json', inventory_hostname='h%d' % n)
             for n in range(50)]

    values = [templates.value(host, 'smsbox_ledger') for host in hosts]

    assert values == ['/inv/eu/../ledgers/eu.json'] * 50
    assert FakeHostVars.calls == 1


def test_a_different_referenced_value_or_an_override_is_templated_again():
    templates = SharedTemplates()
    eu = FakeHostVars(inventory_dir='/inv/eu', key_file='k', smsbox_api_key="{{ lookup('file', inventory_dir ~ '/' ~ key_file) }}")
    us = FakeHostVars(inventory_dir='/inv/us', key_file='k', smsbox_api_key="{{ lookup('file', inventory_dir ~ '/' ~ key_file) }}")
    other = FakeHostVars(inventory_dir='/inv/eu', key_file='k2', smsbox_api_key="{{ lookup('file', inventory_dir ~ '/' ~ key_file) }}")
    literal = FakeHostVars(inventory_dir='/inv/eu', smsbox_api_key='plain-key')

    assert [templates.value(host, 'smsbox_api_key') for host in (eu, us, other, eu, literal)] == \
        ['file:/inv/eu/k', 'file:/inv/us/k', 'file:/inv/eu/k2', 'file:/inv/eu/k', 'plain-key']
    assert FakeHostVars.calls == 3  # eu's second read is shared; a literal is read as it is, never templated


def test_nested_templates_count_through_their_own_references():
    templates = SharedTemplates()
    first = FakeHostVars(base='/a', ledger_dir='{{ base }}/ledgers', smsbox_ledger='{{ ledger_dir }}/eu.json')
    second = FakeHostVars(base='/b', ledger_dir='{{ base }}/ledgers', smsbox_ledger='{{ ledger_dir }}/eu.json')

    assert templates.value(first, 'smsbox_ledger') == '/a/ledgers/eu.json'
    assert templates.value(second, 'smsbox_ledger') == '/b/ledgers/eu.json'


@pytest.mark.parametrize('template', ["{{ lookup('vars', 'ledger_' ~ region) }}", "{{ vars['ledger_' ~ region] }}",
                                      '{{ hostvars[inventory_hostname].x }}', "{{ query('ansible.builtin.varnames', 'x') }}"])
def test_what_cannot_be_seen_through_is_templated_per_host(template):
    templates = SharedTemplates()
    hosts = [FakeHostVars(region='eu', inventory_hostname='h%d' % n, smsbox_ledger=template, x='1', ledger_eu='/e')
             for n in range(3)]

    for host in hosts:
        templates.value(host, 'smsbox_ledger')

    assert FakeHostVars.calls == 3


def test_unsafe_text_is_not_shared_with_trusted_text_of_the_same_characters():
    class Unsafe(str):
        pass

    templates = SharedTemplates()
    trusted = FakeHostVars(base='/a', smsbox_ledger='{{ base }}/eu.json')
    unsafe = FakeHostVars(base=Unsafe('/a'), smsbox_ledger='{{ base }}/eu.json')

    templates.value(trusted, 'smsbox_ledger')
    templates.value(unsafe, 'smsbox_ledger')

    assert FakeHostVars.calls == 2


def test_a_plain_mapping_without_raw_variables_is_read_as_it_is():
    assert SharedTemplates().value({'smsbox_ledger': '/srv/eu.json'}, 'smsbox_ledger') == '/srv/eu.json'


def test_values_without_a_template_are_read_as_they_are_at_any_depth():
    templates = SharedTemplates()
    plain = FakeHostVars(smsbox_subaccount={'name': 'shop-a', 'password': 'pw', 'credit': 5, 'tags': ['a', {'b': 1}]})
    nested = FakeHostVars(base='/a', smsbox_subaccount={'name': 'shop-b', 'password': ['{{ base }}']})
    commented = FakeHostVars(smsbox_ledger='/srv/{# a comment #}eu.json')

    assert templates.value(plain, 'smsbox_subaccount') == plain._vars['smsbox_subaccount']
    assert FakeHostVars.calls == 0
    templates.value(nested, 'smsbox_subaccount')
    assert FakeHostVars.calls == 1  # a template deep inside: read through hostvars, templated
    templates.value(commented, 'smsbox_ledger')
    assert FakeHostVars.calls == 2
