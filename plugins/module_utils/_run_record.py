# -*- coding: utf-8 -*-
# Copyright: (c) 2026, smsbox.account contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The run that makes a ledger record, so that "who moved these credits, and when" has an answer.

Recorded with every create and transfer: the AWX/AAP job (its id from the environment AWX gives a job, its template
and user from the variables AWX passes, which the role reads), the CI run (GitLab, GitHub Actions, Jenkins: their
pipeline id and URL from the environment), the controller's host and user, the playbook, and the operator's label.
Only names, ids and URLs are read; never a token (CI_JOB_TOKEN, GITHUB_TOKEN...), never a key.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import getpass
import os
import socket

MAX_TEXT = 200


def _text(value):
    return str(value)[:MAX_TEXT] if value not in (None, '') else None


def _awx(environ, play):
    """The AWX/AAP job: its id (JOB_ID with INVENTORY_ID is how AWX marks a job's environment) or the play's awx_* vars."""
    job = dict(id=_text(play.get('awx_job_id') or play.get('tower_job_id') or
                        (environ.get('JOB_ID') if environ.get('INVENTORY_ID') else None)),
               template=_text(play.get('awx_job_template_name') or play.get('tower_job_template_name')),
               user=_text(play.get('awx_user_name') or play.get('tower_user_name')))
    if not job['id']:
        return None
    host = environ.get('AWX_HOST') or play.get('awx_host')
    if host:
        job['url'] = _text('%s/#/jobs/playbook/%s' % (str(host).rstrip('/'), job['id']))
    return dict((key, value) for key, value in job.items() if value)


def _ci(environ):
    """The CI run: GitLab CI, GitHub Actions or Jenkins, with its id and URL."""
    if environ.get('GITLAB_CI'):
        return dict(system='gitlab', id=_text(environ.get('CI_PIPELINE_ID')), url=_text(environ.get('CI_PIPELINE_URL')),
                    job=_text(environ.get('CI_JOB_URL')))
    if environ.get('GITHUB_ACTIONS'):
        url = None
        if environ.get('GITHUB_RUN_ID') and environ.get('GITHUB_REPOSITORY'):
            url = '%s/%s/actions/runs/%s' % (environ.get('GITHUB_SERVER_URL', 'https://github.com'), environ['GITHUB_REPOSITORY'],
                                             environ['GITHUB_RUN_ID'])
        return dict(system='github', id=_text(environ.get('GITHUB_RUN_ID')), url=_text(url), workflow=_text(environ.get('GITHUB_WORKFLOW')))
    if environ.get('JENKINS_URL'):
        return dict(system='jenkins', id=_text(environ.get('BUILD_TAG') or environ.get('BUILD_NUMBER')), url=_text(environ.get('BUILD_URL')))
    return None


def _user():
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # a container's uid with no passwd entry
        return 'uid %d' % os.getuid()


def run_record(environ=None, label=None, play=None):
    """What the ledger records of this run, a dict of short strings, with a one-line ``summary``.

    ``play``: what only the controller's play knows (the awx_* variables, ``playbook``), given by the role.
    """
    environ = os.environ if environ is None else environ
    play = play or {}
    record = dict(controller=dict(host=_text(socket.gethostname()), user=_text(_user())))
    for key, value in (('label', _text(label)), ('awx', _awx(environ, play)), ('ci', _ci(environ)),
                       ('playbook', _text(play.get('playbook')))):
        if value:
            record[key] = dict((name, item) for name, item in value.items() if item) if isinstance(value, dict) else value
    parts = []
    if record.get('awx'):
        awx = record['awx']
        parts.append('AWX job %s%s%s' % (awx['id'], ' (%s)' % awx['template'] if awx.get('template') else '',
                                         ' by %s' % awx['user'] if awx.get('user') else ''))
    if record.get('ci'):
        parts.append('%s run %s' % (record['ci']['system'], record['ci'].get('id') or '?'))
    if record.get('playbook'):
        parts.append('playbook %s' % record['playbook'])
    parts.append('%s@%s' % (record['controller']['user'], record['controller']['host']))
    if record.get('label'):
        parts.append('label %s' % record['label'])
    record['summary'] = '; '.join(parts)
    return record
