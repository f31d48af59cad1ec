# -*- coding: utf-8 -*-
# Copyright: (c) 2026, smsbox.account contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The catalogue of refused inputs: each input, and the exact message a user sees.

One table, three uses: tests/unit/plugins/modules/reliability/test_refused_inputs.py runs every
module entry through the real module against the emulator (exact message, no request sent);
tests/unit/plugins/plugin_utils/test_refused_role_inputs.py runs every role entry through the role's
plan; scripts/refused_inputs_doc.py writes docs/refused-inputs.md from it, and a test fails when
the committed page differs. Plain data: no import, so every test context and the script can load it.

Placeholders, replaced by the tests: ``{url}`` the emulator's API URL, ``{ledger}`` a fresh ledger
path, ``{tmp}`` the test's temporary directory (where ``{tmp}/collections`` holds an installed
collection ``acme.tools`` and ``{tmp}/a-file`` is a plain file). A module entry's ``args`` are added
to the connection options (api_key, api_url, ledger); ``unset`` lists options to leave out.
A role entry's ``hosts`` are inventory hosts with their variables; ``{url}`` is the default
``smsbox_api_url`` of every host, and ``{key}`` an API key.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

SUBACCOUNT = 'smsbox_subaccount'
CREDIT = 'smsbox_credit'
BALANCE = 'smsbox_balance_info'

RANGE_HINT = "use only letters A-Z a-z, digits, '.', '_', '-' and '@' (the API does not document other characters and reads ISO-8859-1)"
URL_HINT = 'https://api.smsbox.pro/1.1/api.php'
LEDGER_HINT = ('an absolute path on persistent storage, e.g. "{{ inventory_dir }}/../ledgers/<main account>.json" beside your '
               'inventory directory, or /srv/smsbox/ledgers/<main account>.json')
SPACE_HINT = ('starts or ends with white space (a slip in quoting?), which would make it another ledger: a file path where a '
              'postgresql:// URI was meant, or another file. Remove it: a ledger is a file path or a postgresql:// URI, exactly as '
              'written')
RESOLVE_IDS = ("The ids are in the message that reported each transfer as unknown, and in smsbox_balance_info's "
               'ledger.unsettled')


def module(topic, ident, name, args, message, unset=()):
    return dict(kind='module', topic=topic, id=ident, module=name, args=args, unset=list(unset), message=message)


def role(topic, ident, hosts, message):
    return dict(kind='role', topic=topic, id=ident, hosts=hosts, message=message)


def shop(name, **more):
    return dict(smsbox_subaccount=dict(dict(name=name, password='Pw-%s-1' % name), **more))


# (topic, id, where it is refused, the input, the exact message)
ENTRIES = [
    # -- names ----------------------------------------------------------------------------------------------
    module('Names', 'name-empty', SUBACCOUNT, dict(name='', password='Pw-1'), '(no name): name is empty'),
    module('Names', 'name-blank', SUBACCOUNT, dict(name='   ', password='Pw-1'), "'   ': name is empty"),
    module('Names', 'name-too-long', SUBACCOUNT, dict(name='n' * 51, password='Pw-1'),
           "'%s': name is 51 characters long; SMSBOX accepts at most 50" % ('n' * 51)),
    module('Names', 'name-space', SUBACCOUNT, dict(name='shop paris', password='Pw-1'),
           "'shop paris': name contains ' '; " + RANGE_HINT),
    module('Names', 'name-accent', SUBACCOUNT, dict(name='café', password='Pw-1'), "'café': name contains 'é'; " + RANGE_HINT),
    module('Names', 'name-slash-and-semicolon', SUBACCOUNT, dict(name='shop/paris;x', password='Pw-1'),
           "'shop/paris;x': name contains '/', ';'; " + RANGE_HINT),
    module('Names', 'name-final-newline', SUBACCOUNT, dict(name='shop\n', password='Pw-1'), "'shop\\n': name contains '\\n'; " + RANGE_HINT),
    module('Names', 'bulk-name-empty', SUBACCOUNT, dict(subaccounts=[dict(name='shop-a', password='Pw-1'), dict(name='', password='Pw-2')]),
           'subaccounts[1] (no name): name is empty'),
    module('Names', 'bulk-duplicate-name', SUBACCOUNT,
           dict(subaccounts=[dict(name='shop-a', password='Pw-1'), dict(name='shop-b', password='Pw-2'), dict(name='shop-a', password='Pw-3')]),
           "subaccounts[2] 'shop-a': the same name is already subaccounts[0]; list each sub-account once"),
    module('Names', 'bulk-501-items', SUBACCOUNT, dict(subaccounts=[dict(name='s%d' % index) for index in range(501)], adopt=True),
           'subaccounts has 501 items; a main account holds at most 500 sub-accounts'),
    module('Names', 'credit-name-semicolon', CREDIT, dict(subaccount='shop;drop', amount=5),
           "'shop;drop': subaccount contains ';'; " + RANGE_HINT),
    module('Names', 'allocations-duplicate-name', CREDIT,
           dict(allocations=[dict(subaccount='shop-a', allocated=5), dict(subaccount='shop-a', amount=5)]),
           "allocations[1] 'shop-a': the same name is already allocations[0]; list each sub-account once"),
    module('Names', 'allocations-501-items', CREDIT, dict(allocations=[dict(subaccount='s%d' % index, allocated=1) for index in range(501)]),
           'allocations has 501 items; a main account holds at most 500 sub-accounts'),
    # -- passwords ------------------------------------------------------------------------------------------
    module('Passwords', 'password-empty', SUBACCOUNT, dict(name='shop-a', password=''), "'shop-a': password is empty"),
    module('Passwords', 'password-too-long', SUBACCOUNT, dict(name='shop-a', password='p' * 51),
           "'shop-a': password is 51 characters long; SMSBOX accepts at most 50"),
    module('Passwords', 'password-accent', SUBACCOUNT, dict(name='shop-a', password='pässwörd-1'),
           "'shop-a': password contains a character outside printable ASCII (accented letters and control characters are not safe "
           'through this ISO-8859-1 API)'),
    module('Passwords', 'password-tab', SUBACCOUNT, dict(name='shop-a', password='Pw\t1'),
           "'shop-a': password contains a character outside printable ASCII (accented letters and control characters are not safe "
           'through this ISO-8859-1 API)'),
    module('Passwords', 'password-leading-space', SUBACCOUNT, dict(name='shop-a', password=' Pw-1'),
           "'shop-a': password starts or ends with a space, which SMSBOX may trim"),
    module('Passwords', 'password-trailing-space', SUBACCOUNT, dict(subaccounts=[dict(name='shop-a', password='Pw-1 ')]),
           "subaccounts[0] 'shop-a': password starts or ends with a space, which SMSBOX may trim"),
    # -- amounts --------------------------------------------------------------------------------------------
    module('Amounts and lists', 'amount-zero', CREDIT, dict(subaccount='shop-a', amount=0),
           "'shop-a': amount is 0; a transfer of 0 credits does nothing (leave the item out)"),
    module('Amounts and lists', 'amount-fraction', CREDIT, dict(subaccount='shop-a', amount=12.5),
           "'shop-a': amount must be a whole number of credits, got 12.5"),
    module('Amounts and lists', 'amount-fraction-text', CREDIT, dict(subaccount='shop-a', amount='12.5'),
           "'shop-a': amount must be an integer, got '12.5'"),
    module('Amounts and lists', 'amount-exponent', CREDIT, dict(subaccount='shop-a', amount='1e3'), "'shop-a': amount must be an integer, got '1e3'"),
    module('Amounts and lists', 'amount-boolean', CREDIT, dict(subaccount='shop-a', amount=True), "'shop-a': amount must be an integer, got True"),
    module('Amounts and lists', 'amount-list', CREDIT, dict(subaccount='shop-a', amount=[5]), "'shop-a': amount must be an integer, got a list"),
    module('Amounts and lists', 'amount-huge', CREDIT, dict(subaccount='shop-a', amount=-10 ** 10),
           "'shop-a': amount is -10000000000; at most 1000000000 credits can be moved or allocated at once"),
    module('Amounts and lists', 'allocated-negative', CREDIT, dict(subaccount='shop-a', allocated=-5), "'shop-a': allocated is -5; it must be 0 or more"),
    module('Amounts and lists', 'allocated-huge-text', CREDIT, dict(subaccount='shop-a', allocated='99999999999'),
           "'shop-a': allocated is 99999999999; at most 1000000000 credits can be moved or allocated at once"),
    module('Amounts and lists', 'allocated-5000-digits', CREDIT, dict(subaccount='shop-a', allocated='9' * 5000),
           "'shop-a': allocated is %s... (5000 characters); at most 1000000000 credits can be moved or allocated at once" % ('9' * 20)),
    module('Amounts and lists', 'allocated-and-amount', CREDIT, dict(subaccount='shop-a', allocated=5, amount=5),
           "'shop-a': give allocated (a total) or amount (one transfer), not both"),
    module('Amounts and lists', 'nothing-to-do', CREDIT, dict(allocations=[dict(subaccount='shop-a')]),
           "allocations[0] 'shop-a': give allocated, amount or resolve"),
    module('Amounts and lists', 'transfer-id-without-amount', CREDIT, dict(subaccount='shop-a', allocated=5, transfer_id='invoice-1'),
           "'shop-a': transfer_id is the idempotency key of an amount; it needs amount"),
    module('Amounts and lists', 'transfer-id-blank', CREDIT, dict(subaccount='shop-a', amount=5, transfer_id='  '), "'shop-a': transfer_id is empty"),
    module('Amounts and lists', 'transfer-id-twice', CREDIT,
           dict(allocations=[dict(subaccount='shop-a', amount=5, transfer_id='inv-7'), dict(subaccount='shop-b', amount=5, transfer_id='inv-7')]),
           "allocations[1] 'shop-b': transfer_id 'inv-7' is already the key of allocations[0] 'shop-a'; give each transfer its own transfer_id"),
    # -- resolve --------------------------------------------------------------------------------------------
    module('Resolve forms', 'resolve-bare-applied', CREDIT, dict(subaccount='shop-a', resolve='applied'),
           "'shop-a': resolve must name the transfers you checked, with what you found, e.g. resolve: {\"tx-4be1c2a09d3f\": applied}; "
           'a bare resolve: applied kept in a playbook would also settle a transfer that becomes unknown later, unchecked. ' + RESOLVE_IDS),
    module('Resolve forms', 'resolve-bare-rejected', CREDIT, dict(subaccount='shop-a', allocated=5, resolve='rejected'),
           "'shop-a': resolve must name the transfers you checked, with what you found, e.g. resolve: {\"tx-4be1c2a09d3f\": applied}; "
           'a bare resolve: rejected kept in a playbook would also settle a transfer that becomes unknown later, unchecked. ' + RESOLVE_IDS),
    module('Resolve forms', 'resolve-list', CREDIT, dict(subaccount='shop-a', resolve=['tx-4be1c2a09d3f']),
           "'shop-a': resolve must be a mapping of transfer ids to applied or rejected, e.g. {\"tx-4be1c2a09d3f\": applied}"),
    module('Resolve forms', 'resolve-not-an-id', CREDIT, dict(subaccount='shop-a', resolve={'shop-a': 'applied'}),
           "'shop-a': resolve names 'shop-a', which is not a transfer id (tx- and 12 hex digits, as in the message that reported it)"),
    module('Resolve forms', 'resolve-other-answer', CREDIT, dict(subaccount='shop-a', resolve={'tx-4be1c2a09d3f': 'yes'}),
           "'shop-a': resolve says 'yes' for tx-4be1c2a09d3f; say applied (the credits arrived) or rejected (they did not)"),
    module('Resolve forms', 'resolve-string-without-outcome', CREDIT, dict(subaccount='shop-a', resolve='tx-4be1c2a09d3f'),
           "'shop-a': resolve 'tx-4be1c2a09d3f' names no outcome; write each transfer as tx-<id>=applied or tx-<id>=rejected, "
           'e.g. -a "subaccount=<name> resolve=tx-4be1c2a09d3f=applied" ad hoc, or resolve: {"tx-4be1c2a09d3f": applied} in a task'),
    module('Resolve forms', 'resolve-string-other-answer', CREDIT, dict(subaccount='shop-a', resolve='tx-4be1c2a09d3f=done'),
           "'shop-a': resolve says 'done' for tx-4be1c2a09d3f; say applied (the credits arrived) or rejected (they did not)"),
    module('Day 2', 'state-unknown', SUBACCOUNT, dict(subaccounts=[dict(name='shop-a', password='Pw-1', state='closed')]),
           "value of state must be one of: present, retired, got: closed found in subaccounts"),
    module('Day 2', 'period-with-allocated', CREDIT, dict(subaccount='shop-a', allocated=100, period='month'),
           "'shop-a': period pays amount once per period (an allowance); it needs amount, and not allocated"),
    module('Day 2', 'period-unknown', CREDIT, dict(subaccount='shop-a', amount=10, period='quarter'),
           "'shop-a': period must be month, week (the current one) or a period such as 2026-12 or 2026-W50, got 'quarter'"),
    module('Day 2', 'period-take-back', CREDIT, dict(subaccount='shop-a', amount=-10, period='month'),
           "'shop-a': an allowance (period) gives credits: amount must be more than 0, got -10"),
    # -- the API key ----------------------------------------------------------------------------------------
    module('API key', 'key-missing', BALANCE, dict(),
           'no API key: set the api_key option (from Ansible Vault) or the SMSBOX_API_KEY environment variable of the process that runs '
           'the module', unset=['api_key']),
    module('API key', 'key-empty', BALANCE, dict(api_key=''),
           'api_key is empty; set it, or leave it unset and set the SMSBOX_API_KEY environment variable'),
    module('API key', 'key-space', CREDIT, dict(api_key='k3y-MAIN 7f3a9c2e11d0', subaccount='shop-a', amount=5),
           'api_key contains a space; an SMSBOX key has none (a pasted label or a split line?)'),
    module('API key', 'key-newline', SUBACCOUNT, dict(api_key='k3y-MAIN-7f3a9c2e11d0\n', name='shop-a', password='Pw-1'),
           'api_key contains a control character (a pasted newline?); it cannot be sent in an HTTP header'),
    module('API key', 'key-not-latin1', BALANCE, dict(api_key='k3y-\u043a\u043b\u044e\u0447'),
           'api_key contains a character outside ISO-8859-1; it cannot be sent in an HTTP header'),
    # -- the API URL ----------------------------------------------------------------------------------------
    module('API URL', 'url-empty', BALANCE, dict(api_url=''), 'api_url is empty; leave it unset for ' + URL_HINT),
    module('API URL', 'url-query', BALANCE, dict(api_url='https://api.smsbox.pro/1.1/api.php?apikey=zz'),
           'api_url https://api.smsbox.pro/1.1/api.php must not have a query string or a fragment: the collection adds the action itself, '
           'and a key in a URL ends up in logs; the API key goes in api_key'),
    module('API URL', 'url-fragment', BALANCE, dict(api_url='https://api.smsbox.pro/1.1/api.php#key'),
           'api_url https://api.smsbox.pro/1.1/api.php must not have a query string or a fragment: the collection adds the action itself, '
           'and a key in a URL ends up in logs; the API key goes in api_key'),
    module('API URL', 'url-credentials', BALANCE, dict(api_url='https://user:secret@api.smsbox.pro/1.1/api.php'),
           'api_url must not carry credentials (user-info before the host); the API key goes in api_key'),
    module('API URL', 'url-plain-http', CREDIT, dict(api_url='http://api.smsbox.pro/1.1/api.php', subaccount='shop-a', amount=5),
           'api_url uses plain http:// to api.smsbox.pro; SMSBOX only serves HTTPS and the API key would travel in clear. Plain http:// is '
           'accepted only for a loopback address (a local emulator)'),
    module('API URL', 'url-ftp', BALANCE, dict(api_url='ftp://api.smsbox.pro/1.1/api.php'),
           'api_url must be an https:// URL such as %s, got ftp://api.smsbox.pro/1.1/api.php' % URL_HINT),
    module('API URL', 'url-no-scheme', BALANCE, dict(api_url='api.smsbox.pro/1.1/api.php'),
           'api_url must be an https:// URL such as %s, got (not a URL)' % URL_HINT),
    module('API URL', 'url-bad-port', BALANCE, dict(api_url='https://api.smsbox.pro:44x/1.1/api.php'),
           'api_url is not a valid URL; use an https:// URL such as ' + URL_HINT),
    # -- timeouts and concurrency ---------------------------------------------------------------------------
    module('Timeouts and concurrency', 'timeout-zero', BALANCE, dict(timeout=0), 'timeout must be a positive number of seconds, got 0.0'),
    module('Timeouts and concurrency', 'timeout-negative', SUBACCOUNT, dict(timeout=-5, name='shop-a', password='Pw-1'),
           'timeout must be a positive number of seconds, got -5.0'),
    module('Timeouts and concurrency', 'timeout-infinite', CREDIT, dict(timeout='inf', subaccount='shop-a', amount=5),
           'timeout must be a positive number of seconds, got inf'),
    module('Timeouts and concurrency', 'retries-too-many', BALANCE, dict(retries=11),
           'retries must be a whole number from 0 to 10 (tries after the first), got 11'),
    module('Timeouts and concurrency', 'concurrency-zero', SUBACCOUNT, dict(concurrency=0, name='shop-a', password='Pw-1'),
           'concurrency must be between 1 and 16, got 0'),
    module('Timeouts and concurrency', 'concurrency-17', CREDIT, dict(concurrency=17, subaccount='shop-a', amount=5),
           'concurrency must be between 1 and 16, got 17'),
    module('Timeouts and concurrency', 'lock-timeout-negative', CREDIT, dict(lock_timeout=-1, subaccount='shop-a', amount=5),
           'lock_timeout must be a number of seconds from 0 (do not wait) to 86400, got -1.0'),
    module('Timeouts and concurrency', 'lock-timeout-two-days', SUBACCOUNT, dict(lock_timeout=172800, name='shop-a', password='Pw-1'),
           'lock_timeout must be a number of seconds from 0 (do not wait) to 86400, got 172800.0'),
    module('Timeouts and concurrency', 'ledger-connections-one', CREDIT, dict(ledger_connections=1, subaccount='shop-a', amount=5),
           'ledger_connections must be between 2 (one connection holds the lock, one records) and 17, got 1'),
    # -- ca_path --------------------------------------------------------------------------------------------
    module('ca_path', 'ca-path-missing', BALANCE, dict(ca_path='/nonexistent/ca.pem'),
           "ca_path /nonexistent/ca.pem does not exist; give the PEM file (or c_rehash directory) of the certificate authorities that "
           "signed the API server's certificate, or leave it unset to trust the system ones"),
    # -- ledger locations ------------------------------------------------------------------------------------
    module('Ledger paths', 'ledger-relative', CREDIT, dict(ledger='ledgers/main.json', subaccount='shop-a', amount=5),
           "ledger 'ledgers/main.json' is a relative path, which would be resolved against whatever directory the module runs in (with "
           'ansible-playbook smsbox.account.provision, inside the installed collection). Use ' + LEDGER_HINT),
    module('Ledger paths', 'ledger-in-installed-collection', SUBACCOUNT,
           dict(ledger='{tmp}/collections/ansible_collections/acme/tools/ledgers/main.json', name='shop-a', password='Pw-1'),
           'ledger {tmp}/collections/ansible_collections/acme/tools/ledgers/main.json is inside the installed collection acme.tools, which '
           'ansible-galaxy collection install --force deletes with everything in it (and with it the record of every sub-account and '
           'transfer). Use ' + LEDGER_HINT),
    module('Ledger paths', 'ledger-uri-with-a-leading-space', CREDIT,
           dict(ledger=' postgresql://smsbox:S3cret@db.example.net/smsbox', subaccount='shop-a', amount=5),
           "ledger ' postgresql://smsbox:********@db.example.net/smsbox' " + SPACE_HINT),
    module('Ledger paths', 'ledger-path-with-a-final-newline', SUBACCOUNT, dict(ledger='{tmp}/main.json\n', name='shop-a', password='Pw-1'),
           "ledger '{tmp}/main.json\\n' " + SPACE_HINT),
    module('Ledger paths', 'ledger-a-directory', CREDIT, dict(ledger='{tmp}', subaccount='shop-a', amount=5),
           'Ledger path {tmp} is a directory. Point the ledger option at a file inside it, e.g. {tmp}/ledger.json.'),
    module('Ledger paths', 'ledger-under-a-file', SUBACCOUNT, dict(ledger='{tmp}/a-file/main.json', name='shop-a', password='Pw-1'),
           'Cannot use ledger {tmp}/a-file/main.json: {tmp}/a-file exists and is not a directory. Point the ledger option at a path in a '
           'directory.'),
    # -- role variables -------------------------------------------------------------------------------------
    role('Role variables', 'role-name-too-long', dict(web1=shop('n' * 51)),
         "host web1: sub-account '%s': name is 51 characters long; SMSBOX accepts at most 50" % ('n' * 51)),
    role('Role variables', 'role-password-accent', dict(web1=dict(smsbox_subaccount=dict(name='shop-a', password='pässwörd'))),
         "host web1: sub-account 'shop-a': password contains a character outside printable ASCII (accented letters and control "
         'characters are not safe through this ISO-8859-1 API)'),
    role('Role variables', 'role-credit-negative', dict(web1=shop('shop-a', credit=-10)),
         "host web1: sub-account 'shop-a': credit is -10; it must be 0 or more"),
    role('Role variables', 'role-credit-huge', dict(web1=shop('shop-a', credit=2000000000)),
         "host web1: sub-account 'shop-a': credit is 2000000000; at most 1000000000 credits can be moved or allocated at once"),
    role('Role variables', 'role-subaccount-not-a-mapping', dict(web1=dict(smsbox_subaccount=False)),
         'host web1: smsbox_subaccount must be a mapping with a name (and password, nolimit, credit), got bool'),
    role('Role variables', 'role-subaccounts-not-mappings', dict(web1=dict(smsbox_subaccounts=['shop-a', 'shop-b'])),
         'host web1: smsbox_subaccounts must be a list of mappings, each with a name (and password, nolimit, credit)'),
    role('Role variables', 'role-timeout-zero', dict(web1=dict(shop('shop-a'), smsbox_timeout=0)),
         'host web1: smsbox_timeout must be a positive number of seconds, got 0.0'),
    role('Role variables', 'role-concurrency-99', dict(web1=dict(shop('shop-a'), smsbox_concurrency=99)),
         'host web1: smsbox_concurrency must be between 1 and 16, got 99'),
    role('Role variables', 'role-lock-timeout-negative', dict(web1=dict(shop('shop-a'), smsbox_lock_timeout=-5)),
         'host web1: smsbox_lock_timeout must be a number of seconds from 0 (do not wait) to 86400, got -5.0'),
    role('Role variables', 'role-ledger-connections-99', dict(web1=dict(shop('shop-a'), smsbox_ledger_connections=99)),
         'host web1: smsbox_ledger_connections must be between 2 (one connection holds the lock, one records) and 17, got 99'),
    role('Role variables', 'role-ledger-relative', dict(web1=dict(shop('shop-a'), smsbox_ledger='ledgers/eu.json')),
         "host web1: smsbox_ledger 'ledgers/eu.json' is a relative path, which would be resolved against whatever directory the module "
         'runs in (with ansible-playbook smsbox.account.provision, inside the installed collection). Use ' + LEDGER_HINT),
    role('Role variables', 'role-ledger-uri-with-a-leading-space',
         dict(web1=dict(shop('shop-a'), smsbox_ledger=' postgresql://smsbox:S3cret@db.example.net/smsbox')),
         "host web1: smsbox_ledger ' postgresql://smsbox:********@db.example.net/smsbox' " + SPACE_HINT),
    role('Role variables', 'role-url-plain-http', dict(web1=dict(shop('shop-a'), smsbox_api_url='http://api.smsbox.pro/1.1/api.php')),
         'host web1: smsbox_api_url uses plain http:// to api.smsbox.pro; SMSBOX only serves HTTPS and the API key would travel in clear. '
         'Plain http:// is accepted only for a loopback address (a local emulator)'),
    role('Role variables', 'role-key-space', dict(web1=dict(shop('shop-a'), smsbox_api_key='two words')),
         'host web1: smsbox_api_key contains a space; an SMSBOX key has none (a pasted label or a split line?)'),
    role('Role variables', 'role-ca-path-missing', dict(web1=dict(shop('shop-a'), smsbox_ca_path='/nonexistent/ca.pem')),
         "host web1: smsbox_ca_path /nonexistent/ca.pem does not exist; give the PEM file (or c_rehash directory) of the certificate "
         "authorities that signed the API server's certificate, or leave it unset to trust the system ones"),
    role('Role variables', 'role-described-twice', dict(web1=shop('shop-a', credit=5), web2=shop('shop-a', credit=6)),
         "sub-account 'shop-a' of main account 127.0.0.1 key {fingerprint} is described differently by hosts web1 and web2; "
         'describe it once'),
    role('Role variables', 'role-hosts-disagree', dict(web1=dict(shop('shop-a'), smsbox_adopt=True), web2=dict(shop('shop-b'), smsbox_adopt=False)),
         'hosts web1 and web2 belong to the same main account (127.0.0.1 key {fingerprint}) but disagree on smsbox_adopt (true on web1, '
         'false on web2): every setting of a main account must be the same on all its hosts; set it once, on their group'),
    role('Role variables', 'role-shared-ledger',
         dict(eu1=dict(shop('eu-a'), smsbox_account_label='eu', smsbox_ledger='/srv/smsbox/one.json'),
              us1=dict(shop('us-a'), smsbox_account_label='us', smsbox_ledger='/srv/smsbox/one.json', smsbox_api_key='other-key-0001')),
         'main accounts eu (hosts eu1) and us (hosts us1) share one ledger (smsbox_ledger /srv/smsbox/one.json): each main account needs '
         'its own smsbox_ledger'),
    role('Role variables', 'role-name-under-two-accounts',
         dict(eu1=dict(shop('shop-a'), smsbox_account_label='eu'), us1=dict(shop('shop-a'), smsbox_account_label='us', smsbox_api_key='other-key-0001')),
         "sub-account 'shop-a' is described under two main accounts, eu (host eu1) and us (host us1): SMSBOX names are unique "
         'across main accounts, so one of them would be refused or pay the wrong shop; describe it once'),
    role('Role variables', 'role-retired-given-credit', dict(web1=shop('shop-a', state='retired', credit=10)),
         "host web1: sub-account 'shop-a': it is retired, so it cannot be given credit: a retired sub-account gives its credits "
         'back and is left alone'),
    role('Role variables', 'role-credit-per-period-zero', dict(web1=shop('shop-a', credit_per_period=0)),
         "host web1: sub-account 'shop-a': credit_per_period is 0; a transfer of 0 credits does nothing (leave the item out)"),
    role('Role variables', 'role-removed-unknown', dict(web1=dict(shop('shop-a'), smsbox_removed='delete')),
         'host web1: value of smsbox_removed must be one of: report, fail, reclaim, got: delete'),
    role('Role variables', 'role-501-subaccounts',
         dict(web1=dict(smsbox_account_label='eu', smsbox_subaccounts=[dict(name='s%d' % index) for index in range(501)])),
         'main account eu is given 501 sub-accounts; SMSBOX allows 500'),
]

# Refusals that depend on what the run finds (its ledgers, its inventory files), not on one input alone: each is
# proved by the test named, and listed in docs/refused-inputs.md with the start of its message.
CONTEXT = [
    dict(id='role-group-of-two-inventories', where='role',
         situation='two inventories of one run define a group of the same name with different main-account variables',
         message="group 'shops' is defined by inventories <eu> and <us>, which set smsbox_api_key ... differently; ...",
         test='tests/unit/plugins/plugin_utils/test_inventory_sources.py, tests/integration/targets/role_subaccounts'),
    dict(id='role-all-of-two-inventories', where='role',
         situation='two inventories each set main-account variables in group_vars/all.yml, differently',
         message='inventories <eu> and <us> each set smsbox_api_key for all their hosts ...',
         test='tests/unit/plugins/plugin_utils/test_inventory_sources.py'),
    dict(id='role-name-in-another-ledger', where='role',
         situation="a name the plan would create under one main account is held by another main account's ledger (a moved shop)",
         message="host <h>: sub-account 'paris' would be created under main account us, but the ledger of main account eu (<path>) "
                 'holds it (created, present, 250 credits received in all, 250 declared) ...',
         test='tests/unit/plugins/plugin_utils/test_ledgers_of_the_run.py, tests/integration/targets/role_subaccounts'),
    dict(id='credit-take-back-refused-before', where='smsbox_credit',
         situation='the same take-back SMSBOX refused last time (the sub-account spent its credits), asked again',
         message="<item>: not sent: SMSBOX refused this same take-back of -200 credits at <time> (tx-...), most likely because ...",
         test='tests/unit/plugins/modules/test_smsbox_credit.py::test_a_take_back_refused_because_the_shop_spent_its_credits_is_not_resent'),
    dict(id='retire-unknown-name', where='smsbox_subaccount',
         situation='state: retired on a name the ledger does not know (nothing is sent but the balance read)',
         message="<item>: cannot retire it: the ledger does not know it (it was not created or adopted through <ledger>), so it "
                 'knows no credits to take back ...',
         test='tests/unit/plugins/module_utils/_converge/test_retirement.py'),
    dict(id='role-drift-fail', where='role',
         situation='smsbox_removed: fail and the ledger holds sub-accounts no host describes',
         message='main account eu: its ledger holds 1 sub-account(s) that no host describes any more (drift), and smsbox_removed '
                 'is fail: ... Nothing was sent ...',
         test='tests/unit/plugins/plugin_utils/test_role_plan_day2.py, tests/integration/targets/role_day2'),
    dict(id='credit-allocated-baseline-unknown', where='smsbox_credit',
         situation='allocated on a sub-account adopted without its baseline',
         message='<item>: nothing was sent, because it was adopted (<date>) without the credits it had received before this ledger '
                 'knew it (its baseline) ...',
         test='tests/unit/plugins/module_utils/_converge/test_credits.py'),
]
