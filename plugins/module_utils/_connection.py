# -*- coding: utf-8 -*-
# Copyright: (c) 2026, smsbox.account contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""One run's context, built on the connection options every module shares, and the module base class.

The options are documented once in the ``smsbox.account.connection`` doc fragment, their argument
spec in _specs.py. Environment variables are fallbacks used only when an option is unset. ``Run`` is what
the converge code sees of a run (options, modes, warnings, the client and the ledger of the main
account) and raises ``ModuleFailure`` through; ``SmsboxModule.run`` is the one place that turns a
result or a failure into ``exit_json`` or ``fail_json``.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from contextlib import contextmanager

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

try:
    from ansible.module_utils.secrets import register_secrets  # ansible-core 2.22+
except ImportError:
    register_secrets = None

from ansible_collections.smsbox.account.plugins.module_utils._api.client import REQUESTS_IMPORT_ERROR, SmsboxClient
from ansible_collections.smsbox.account.plugins.module_utils._api.errors import ModuleFailure, SmsboxAuthError, SmsboxError, SmsboxRefused
from ansible_collections.smsbox.account.plugins.module_utils._inputs import InputError, connection_problem
from ansible_collections.smsbox.account.plugins.module_utils._ledger.ledger import Ledger
from ansible_collections.smsbox.account.plugins.module_utils._ledger.records import LedgerDependencyError, LedgerError, key_fingerprint
from ansible_collections.smsbox.account.plugins.module_utils._ledger.location import ledger_location, printable_location
from ansible_collections.smsbox.account.plugins.module_utils._secrets import uri_passwords
from ansible_collections.smsbox.account.plugins.module_utils._run_record import run_record
from ansible_collections.smsbox.account.plugins.module_utils._specs import with_connection
from ansible_collections.smsbox.account.plugins.module_utils._vocabulary import MODULE_VOCABULARY


def ledger_dependency_failure(error, **returned):
    return ModuleFailure('%s %s' % (missing_required_lib(error.library, reason='a PostgreSQL ledger'), error),
                         exception=error.traceback, **returned)


class Run:
    """One run against one main account: validated options, check and diff modes, warnings, client and ledger."""

    def __init__(self, params, check_mode=False, diff=False, notify=None):
        self.params = params
        self.check_mode = check_mode
        self.diff = diff
        self.warnings = []
        self.notify = notify  # shows a sentence at once (the role's in-process converge); a module can only report at the end
        # Names an earlier task of the same run is predicted to create (the role's create stage, in check mode).
        self.expected_new = frozenset()
        # What the play knows of the run and a module cannot see (the awx_* variables, the playbook): the role gives it.
        self.play = {}
        # The words of the messages that say what to set: the module's options, or the role's variables.
        self.words = MODULE_VOCABULARY

    def warn(self, message):
        self.warnings.append(message)

    def check(self):
        """Every connection option, before any request, whatever the URL (_inputs.CONNECTION_CHECKS, in their order)."""
        if REQUESTS_IMPORT_ERROR:
            raise ModuleFailure(missing_required_lib('requests'), exception=REQUESTS_IMPORT_ERROR)
        problem = connection_problem(self.params, self.words)
        if problem:
            raise InputError(problem)

    def client(self, pool_size=1):
        return SmsboxClient(
            self.params['api_url'], self.params['api_key'], timeout=self.params['timeout'],
            validate_certs=self.params['validate_certs'], ca_path=self.params['ca_path'], pool_size=pool_size,
            attempts=1 + self.params['retries'], words=self.words)

    @property
    def ledger_location(self):
        """The ledger option: a PostgreSQL URI, or a file path with ~ expanded; unset, the default file of this key."""
        return ledger_location(self.params['ledger'], self.params['api_key'])

    @property
    def ledger_path(self):
        """Where the ledger is, fit for output: its file path, or its URI with the password masked."""
        return printable_location(self.ledger_location)

    def read_balance(self, client, **returned):
        """The main balance; a failure says what to check."""
        returned['api_url'] = self.params['api_url']
        try:
            return client.balance()
        except SmsboxRefused:
            raise ModuleFailure('SMSBOX refused the balance read (ERREUR): the API key is wrong or suspended, or this machine\'s '
                                'source IP is not allowed for it. Check the key and the IP restrictions of the main account in '
                                'the SMSBOX dashboard.', **returned)
        except SmsboxAuthError as error:
            raise ModuleFailure('%s. Check the key and the IP restrictions of the main account in the SMSBOX dashboard.' % error,
                                **returned)
        except SmsboxError as error:
            raise ModuleFailure('Could not read the main balance from %s: %s' % (self.params['api_url'], error), **returned)

    @contextmanager
    def main_account(self, returned, balance_key, exclusive=None):
        """(client, ledger) of the main account, its balance read into ``returned`` under the ledger's lock (the read
        also checks the key before anything is written); the client is closed on the way out."""
        client = self.client(pool_size=self.params.get('concurrency') or 1)
        try:
            with self.ledger_session(exclusive=exclusive, **returned) as book:
                returned[balance_key] = self.read_balance(client, **returned)
                yield client, book
        finally:
            client.close()

    @contextmanager
    def ledger_session(self, exclusive=None, **returned):
        """The main account's ledger for this run: exclusive, read-only in check mode; its warnings passed on."""
        returned['api_url'] = self.params['api_url']
        try:
            # A module with a concurrency option records from that many threads at once.
            ledger = Ledger(self.ledger_location, key_fingerprint(self.params['api_key']), api_url=self.params['api_url'],
                            lock_timeout=self.params['lock_timeout'], concurrency=self.params.get('concurrency') or 1,
                            connections=self.params['ledger_connections'], on_wait=self.notify,
                            run=run_record(label=self.params.get('run_label'), play=self.play))
            with ledger.session(exclusive=not self.check_mode if exclusive is None else exclusive) as book:
                self.warnings.extend(book.warnings)
                yield book
        except LedgerDependencyError as error:
            raise ledger_dependency_failure(error, **returned)
        except LedgerError as error:
            raise ModuleFailure(str(error), **returned)


class SmsboxModule(AnsibleModule):
    """An AnsibleModule with the connection options, which runs a converge function: ``main`` is one line."""

    def __init__(self, argument_spec, **kwargs):
        super(SmsboxModule, self).__init__(argument_spec=with_connection(argument_spec), **kwargs)
        self._hide_uri_passwords()

    def _hide_uri_passwords(self):
        # Whatever prints the module's arguments or results masks a URI's password, as it masks api_key: even a URI the
        # checks refuse (a stray space before postgresql://), whose password the refusal must not show.
        for option in ('ledger', 'dest'):
            passwords = uri_passwords((getattr(self, 'params', None) or {}).get(option))
            self.no_log_values.update(passwords)
            if passwords and register_secrets:
                # From ansible-core 2.22 exit_json no longer removes no_log_values from results: the controller masks
                # what the module registered.
                register_secrets(passwords)

    def fail_json(self, msg, **kwargs):
        # Also when AnsibleModule refuses the arguments themselves, before __init__ returns: it prints them back then.
        self._hide_uri_passwords()
        super(SmsboxModule, self).fail_json(msg, **kwargs)

    def run(self, converge):
        """``converge(run)`` returns the result or raises; here the run ends in exit_json or fail_json."""
        run = Run(self.params, check_mode=self.check_mode, diff=self._diff)
        result = run_result(run, converge)
        for warning in run.warnings:
            self.warn(warning)
        if result.pop('failed', False):
            self.fail_json(**result)
        self.exit_json(**result)


def run_result(run, converge):
    """The one failure path: ``converge(run)``'s result, or, when it raised, the result so far with failed and msg."""
    try:
        run.check()
        return converge(run)
    except ModuleFailure as failure:
        return dict(failure.result, failed=True, msg=str(failure))
    except (InputError, LedgerError, SmsboxError) as error:
        return dict(failed=True, msg=str(error))
