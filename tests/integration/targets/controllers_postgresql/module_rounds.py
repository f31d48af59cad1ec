# -*- coding: utf-8 -*-
# Copyright: (c) 2026, smsbox.account contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""ROUNDS rounds of CONTROLLERS controllers converging overlapping sub-accounts at once on one PostgreSQL ledger.

Each controller is a process of its own with its own HOME and working directory, running the real modules
(smsbox_subaccount, then smsbox_credit) as Ansible runs them on a controller: a Python process reading its
arguments from a file. After every round SMSBOX must hold each sub-account created once and credited once.
Usage: module_rounds.py READY_FILE LEDGER_URIS_FILE WORK_DIR ROUNDS API_KEY PASSWORD_PREFIX
(one ledger URI per round in LEDGER_URIS_FILE, each a fresh schema; the database password comes from PGPASSWORD).
"""

from __future__ import absolute_import, division, print_function

import collections
import json
import os
import subprocess
import sys
import urllib.request

CONTROLLERS = 4
PER_CONTROLLER = 10
STEP = 5  # controller i declares i*STEP+1 .. i*STEP+PER_CONTROLLER


def control(ready, path, body=None):
    request = urllib.request.Request(ready['control_url'] + path, data=json.dumps(body).encode() if body is not None else None,
                                     method='POST' if body is not None else 'GET')
    with urllib.request.build_opener(urllib.request.ProxyHandler({})).open(request, timeout=10) as response:
        return json.loads(response.read().decode())


def names(index):
    return ['ctl-%d' % number for number in range(index * STEP + 1, index * STEP + PER_CONTROLLER + 1)]


def start(controller_dir, module, args):
    os.makedirs(os.path.join(controller_dir, 'home'), exist_ok=True)
    args_file = os.path.join(controller_dir, '%s.json' % module)
    with open(args_file, 'w') as handle:
        json.dump({'ANSIBLE_MODULE_ARGS': args}, handle)
    environment = dict(os.environ, HOME=os.path.join(controller_dir, 'home'))
    return subprocess.Popen([sys.executable, os.path.join(COLLECTION_ROOT, 'plugins', 'modules', module + '.py'), args_file],
                            cwd=controller_dir, env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def finish(process, what):
    out, err = process.communicate(timeout=120)
    result = json.loads(out.decode().strip().splitlines()[-1]) if out.strip() else {'failed': True, 'msg': err.decode()[-500:]}
    if result.get('failed'):
        raise SystemExit('FAIL: %s: %s' % (what, result.get('msg')))
    return result


def main():
    ready_file, uris_file, work, rounds, key, password = sys.argv[1:7]
    ready = json.load(open(ready_file))
    uris = open(uris_file).read().split()
    declared = (CONTROLLERS - 1) * STEP + PER_CONTROLLER
    for number in range(int(rounds)):
        control(ready, '/reset', {'accounts': {key: 1000000}})
        base = dict(api_key=key, api_url=ready['url'], ledger=uris[number], concurrency=4)
        dirs = [os.path.join(work, 'round%d' % number, 'controller%d' % index) for index in range(CONTROLLERS)]
        creates = [start(dirs[index], 'smsbox_subaccount', dict(base, subaccounts=[
            dict(name=name, password='%s-%s' % (password, name)) for name in names(index)])) for index in range(CONTROLLERS)]
        for index, process in enumerate(creates):
            finish(process, 'round %d, controller %d, smsbox_subaccount' % (number, index))
        credits = [start(dirs[index], 'smsbox_credit', dict(base, allocations=[
            dict(subaccount=name, allocated=int(name.split('-')[1])) for name in names(index)])) for index in range(CONTROLLERS)]
        for index, process in enumerate(credits):
            finish(process, 'round %d, controller %d, smsbox_credit' % (number, index))
        account = control(ready, '/state?requests=no')['accounts'][key]
        creates_by_name = collections.Counter(account['creates'])
        transfers_by_name = collections.Counter(transfer['to'] for transfer in account['transfers'])
        held = dict((name, int(sub['credits'])) for name, sub in account['subaccounts'].items())
        if len(creates_by_name) != declared or max(creates_by_name.values()) != 1:
            raise SystemExit('FAIL: round %d: creates %r' % (number, dict(creates_by_name)))
        if len(transfers_by_name) != declared or max(transfers_by_name.values()) != 1:
            raise SystemExit('FAIL: round %d: transfers %r' % (number, dict(transfers_by_name)))
        if held != dict(('ctl-%d' % number_, number_) for number_ in range(1, declared + 1)):
            raise SystemExit('FAIL: round %d: credits %r' % (number, held))
    print('ok: %s rounds of %d controllers (module processes): every sub-account created once and credited once'
          % (rounds, CONTROLLERS))


COLLECTION_ROOT = os.environ['SMSBOX_COLLECTION_ROOT']

if __name__ == '__main__':
    main()
