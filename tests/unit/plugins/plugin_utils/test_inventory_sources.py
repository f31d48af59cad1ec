# -*- coding: utf-8 -*-
# Copyright: (c) 2026, smsbox.account contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Same-named groups of several inventories that set a main account differently are found, on real files."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json

import yaml

from ansible.parsing.dataloader import DataLoader

from ansible_collections.smsbox.account.plugins.plugin_utils._inventory_sources import group_clashes
from ansible_collections.smsbox.account.plugins.plugin_utils._role_plan import ACCOUNT_VARIABLES

EU_KEY = 'eu-key-5b1f0c2d9e'
US_KEY = 'us-key-77aa03c1f4'


def inventory(root, name, group='shops', group_vars=None, inline=None, hosts=('h1',)):
    """An inventory directory: hosts.yml with ``group`` (inline ``vars`` when given) and group_vars/<group>.yml."""
    directory = root / name
    (directory / 'group_vars').mkdir(parents=True)
    body = dict(hosts=dict(('%s-%s' % (name, host), {}) for host in hosts))
    if inline:
        body['vars'] = inline
    (directory / 'hosts.yml').write_text(yaml.safe_dump({'all': {'children': {group: body}}}))
    if group_vars:
        (directory / 'group_vars' / ('%s.yml' % group)).write_text(yaml.safe_dump(group_vars))
    return str(directory)


def clashes(sources, groups=('all', 'shops')):
    return group_clashes(sources, set(groups), DataLoader().load_from_file, ACCOUNT_VARIABLES)


def test_a_region_copied_with_its_group_name_is_refused_naming_the_group_and_both_inventories(tmp_path):
    eu = inventory(tmp_path, 'eu', group_vars=dict(smsbox_api_key=EU_KEY, smsbox_account_label='eu', other='x'))
    us = inventory(tmp_path, 'us', group_vars=dict(smsbox_api_key=US_KEY, smsbox_account_label='us', other='y'))

    (problem,) = clashes([eu, us])

    assert problem.startswith("group 'shops' is defined by inventories %s and %s, which set smsbox_account_label, smsbox_api_key "
                              "differently" % (eu, us))
    assert 'eu_shops' in problem and 'Nothing was sent' in problem
    assert EU_KEY not in problem and US_KEY not in problem


def test_inline_group_vars_of_yaml_inventories_clash_too(tmp_path):
    eu = inventory(tmp_path, 'eu', inline=dict(smsbox_ledger='/srv/eu.json'))
    us = inventory(tmp_path, 'us', inline=dict(smsbox_ledger='/srv/us.json'))

    (problem,) = clashes([eu, us])

    assert "group 'shops'" in problem and 'smsbox_ledger' in problem


def test_group_vars_all_of_two_inventories_is_named_as_such(tmp_path):
    eu = inventory(tmp_path, 'eu', group='eu')
    us = inventory(tmp_path, 'us', group='us')
    (tmp_path / 'eu' / 'group_vars' / 'all.yml').write_text(json.dumps(dict(smsbox_api_key=EU_KEY)))
    (tmp_path / 'us' / 'group_vars' / 'all').mkdir()
    (tmp_path / 'us' / 'group_vars' / 'all' / 'main.yml').write_text(json.dumps(dict(smsbox_api_key=US_KEY)))

    (problem,) = clashes([eu, us], groups=('all', 'eu', 'us'))

    assert problem.startswith('inventories %s and %s each set smsbox_api_key for all their hosts' % (eu, us))


def test_distinct_groups_one_inventory_or_equal_values_are_fine(tmp_path):
    # the example inventories: each region its own group
    eu = inventory(tmp_path, 'eu', group='eu', group_vars=dict(smsbox_api_key=EU_KEY))
    us = inventory(tmp_path, 'us', group='us', group_vars=dict(smsbox_api_key=US_KEY))
    assert clashes([eu, us], groups=('all', 'eu', 'us')) == []
    assert clashes([eu]) == []
    # one shared setting written the same way in both (a template evaluated per host) is not a clash
    shared = dict(smsbox_ledger='{{ inventory_dir }}/../ledgers/{{ smsbox_account_label }}.json')
    one = inventory(tmp_path / 'a', 'eu', group_vars=shared)
    two = inventory(tmp_path / 'b', 'us', group_vars=shared)
    assert clashes([one, two]) == []
    # variables that are not the main account's do not matter
    three = inventory(tmp_path / 'c', 'eu', group_vars=dict(shop_city='Paris'))
    four = inventory(tmp_path / 'd', 'us', group_vars=dict(shop_city='Boston'))
    assert clashes([three, four]) == []


def test_an_inventory_naming_no_account_variable_is_not_parsed_and_a_vaulted_one_is(tmp_path):
    eu = inventory(tmp_path, 'eu', group_vars=dict(smsbox_api_key=EU_KEY), hosts=['h%d' % n for n in range(50)])
    us = inventory(tmp_path, 'us', inline=dict(smsbox_api_key=US_KEY))
    vaulted = tmp_path / 'vaulted.yml'
    vaulted.write_text('$ANSIBLE_VAULT;1.1;AES256\n6231\n')
    loaded = []

    def load(path):
        loaded.append(path)
        return {} if path == str(vaulted) else DataLoader().load_from_file(path)

    (problem,) = group_clashes([eu, us, str(vaulted)], {'shops'}, load, ACCOUNT_VARIABLES)

    assert "group 'shops'" in problem and 'smsbox_api_key' in problem
    # eu's hosts.yml names no account variable (its key is in group_vars): never parsed; us's and the vaulted file are.
    assert sorted(loaded) == sorted([eu + '/group_vars/shops.yml', us + '/hosts.yml', str(vaulted)])
