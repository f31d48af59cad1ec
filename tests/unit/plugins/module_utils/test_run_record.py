# -*- coding: utf-8 -*-
# Copyright: (c) 2026, smsbox.account contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the ledger records of the run that made a record: AWX/AAP job, CI run, controller, playbook, label; no token."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import socket

import pytest

from ansible_collections.smsbox.account.plugins.module_utils._run_record import run_record
from ansible_collections.smsbox.account.plugins.modules import smsbox_credit, smsbox_subaccount
from ansible_collections.smsbox.account.tests.unit.helpers.ledger_stores import ledger_view

TOKENS = dict(CI_JOB_TOKEN='glcbt-secret-token', GITHUB_TOKEN='ghs_secret', AWX_TOKEN='awx-secret', SMSBOX_API_KEY='k3y')


@pytest.mark.parametrize('environ, play, expected', [
    (dict(JOB_ID='42', INVENTORY_ID='3', AWX_HOST='https://aap.example.net/'),
     dict(awx_job_template_name='Provision shops', awx_user_name='alice', playbook='provision.yml'),
     dict(awx=dict(id='42', template='Provision shops', user='alice', url='https://aap.example.net/#/jobs/playbook/42'),
          playbook='provision.yml')),
    (dict(GITLAB_CI='true', CI_PIPELINE_ID='1234', CI_PIPELINE_URL='https://gitlab.example/x/-/pipelines/1234',
          CI_JOB_URL='https://gitlab.example/x/-/jobs/9'), {},
     dict(ci=dict(system='gitlab', id='1234', url='https://gitlab.example/x/-/pipelines/1234', job='https://gitlab.example/x/-/jobs/9'))),
    (dict(GITHUB_ACTIONS='true', GITHUB_RUN_ID='77', GITHUB_REPOSITORY='acme/shops', GITHUB_WORKFLOW='provision'), {},
     dict(ci=dict(system='github', id='77', url='https://github.com/acme/shops/actions/runs/77', workflow='provision'))),
    (dict(JENKINS_URL='https://ci.example/', BUILD_TAG='jenkins-shops-12', BUILD_URL='https://ci.example/job/shops/12/'), {},
     dict(ci=dict(system='jenkins', id='jenkins-shops-12', url='https://ci.example/job/shops/12/'))),
    (dict(JOB_ID='42'), {}, {}),  # JOB_ID alone is not AWX's (it sets INVENTORY_ID beside it)
])
def test_the_run_is_told_by_the_platform_that_runs_it(environ, play, expected):
    record = run_record(dict(environ, **TOKENS), label='CHG-1', play=play)

    assert dict((key, value) for key, value in record.items() if key in ('awx', 'ci', 'playbook')) == expected
    assert record['label'] == 'CHG-1' and record['controller']['host'] == socket.gethostname()
    assert 'label CHG-1' in record['summary']
    dumped = json.dumps(record)
    assert not any(token in dumped for token in TOKENS.values())


# A module test (tests/unit/plugins/conftest.py): the record reaches the ledger through both write modules.
@pytest.mark.usefixtures('isolated')
def test_every_create_and_transfer_records_its_run(run_module, emulator, base, ledger_path, monkeypatch):
    monkeypatch.setenv('GITHUB_ACTIONS', 'true')
    monkeypatch.setenv('GITHUB_RUN_ID', '5150')
    monkeypatch.setenv('GITHUB_REPOSITORY', 'acme/shops')
    run_module(smsbox_subaccount, dict(base, name='paris', password='Pw-paris-1', run_label='opening'))
    run_module(smsbox_credit, dict(base, subaccount='paris', allocated=10, run_label='invoice 7'))

    subaccounts, transfers = ledger_view(ledger_path)

    assert subaccounts['paris']['run']['label'] == 'opening' and subaccounts['paris']['run']['ci']['id'] == '5150'
    (tx,) = transfers
    assert tx['run']['label'] == 'invoice 7' and tx['run']['ci']['url'] == 'https://github.com/acme/shops/actions/runs/5150'
    assert 'github run 5150' in tx['run']['summary']
