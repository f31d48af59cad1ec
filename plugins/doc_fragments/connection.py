# -*- coding: utf-8 -*-
# Copyright: (c) 2026, smsbox.account contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type


class ModuleDocFragment(object):

    DOCUMENTATION = r'''
options:
  api_key:
    description:
      - "API key of the SMSBOX main account, sent as C(Authorization: App <key>); never in a URL, never in output."
      - If not set, the value of the E(SMSBOX_API_KEY) environment variable is used; one of the two is required.
      - Keep it in Ansible Vault or in the environment of the job, not in plain text.
    type: str
  api_url:
    description:
      - URL of the SMSBOX Account API endpoint.
      - If not set, the value of the E(SMSBOX_API_URL) environment variable is used, then the default.
      - Plain C(http://) is refused except to a loopback address (a local emulator).
    type: str
    default: https://api.smsbox.pro/1.1/api.php
  validate_certs:
    description:
      - Verify the TLS certificate of O(api_url). Turn off only for a test server.
    type: bool
    default: true
  ca_path:
    description:
      - PEM file of the certificate authorities to trust instead of the system ones.
    type: path
  timeout:
    description:
      - Seconds to wait for each answer (connecting waits at most 3 seconds of it).
    type: float
    default: 10
  ledger:
    description:
      - Where the ledger is kept, the record of the sub-accounts the collection created or adopted and of every credit
        transfer, which the SMSBOX API cannot list. One ledger per main account.
      - A file path (C(~) is expanded, environment variables are not) keeps it in a JSON file on the host that runs the
        module, locked so that runs on that host take turns.
      - A C(postgresql://) or C(postgres://) URI (libpq format) keeps it in that PostgreSQL database, shared by every
        controller, CI runner and AWX/AAP job, whose runs on one main account take turns through a lock that a killed job
        releases at once. Tables are created on first use; several main accounts can share one database. The password
        may be in the URI or come from E(PGPASSWORD), C(~/.pgpass) or a service file (C(?service=name)); it never appears
        in output. C(options=-csearch_path%3Dname) chooses the schema. Needs the C(psycopg) Python library.
      - If not set, the value of the E(SMSBOX_LEDGER) environment variable is used, then
        C(~/.ansible/smsbox/ledger-<fingerprint>.json) where the fingerprint is a short one-way hash of O(api_key).
      - Keep it on persistent storage, not in an ephemeral job container; with several controllers, use PostgreSQL.
      - M(smsbox.account.smsbox_ledger_copy) moves a file ledger into PostgreSQL.
    type: str
  lock_timeout:
    description:
      - Seconds a run waits for the lock of the ledger while another run on the same main account holds it, before it
        fails naming the holder. C(0) does not wait.
      - A module can only report at its end; the role C(smsbox.account.subaccounts) prints who holds the lock every
        10 seconds while it waits.
      - If not set, the value of the E(SMSBOX_LOCK_TIMEOUT) environment variable is used, then the default.
    type: float
    default: 300
  ledger_connections:
    description:
      - With a PostgreSQL O(ledger), the most connections a run opens to the database for one main account (2 to 17).
        One holds the lock for the whole run, the others record (no more than the module's concurrency). All are opened
        when the run starts, so a database that cannot give them fails the run before anything is sent to SMSBOX.
      - Ignored for a file ledger.
      - If not set, the value of the E(SMSBOX_LEDGER_CONNECTIONS) environment variable is used, then the default.
      - The collection's docs/ledger.md, "Sizing and poolers", counts the connections of a job.
    type: int
    default: 2
  run_label:
    description:
      - A label recorded with every create and transfer this task makes (a change ticket, a reason), beside what the ledger
        records of the run by itself (the AWX/AAP job id, the CI pipeline, the controller's host and user).
      - If not set, the value of the E(SMSBOX_RUN_LABEL) environment variable is used.
      - M(smsbox.account.smsbox_ledger_info) shows it with each transfer.
    type: str
requirements:
  - requests >= 2.25 (Python library, on the host that runs the module)
  - psycopg >= 3.1, e.g. C(psycopg[binary]) (Python library, on the host that runs the module), only for a PostgreSQL O(ledger)
notes:
  - "The module runs where the task runs; use C(delegate_to: localhost) or a C(localhost) play so the ledger stays on the controller."
  - All modules are in the action group C(smsbox.account.smsbox), so one C(module_defaults) entry
    C(group/smsbox.account.smsbox) sets these options for all of them.
'''

    # The attributes every module shares; each module adds its own check_mode, diff_mode and idempotent support.
    ATTRIBUTES = r'''
attributes:
  idempotent:
    description: Running the module again with the same options changes nothing more.
  action_group:
    description: Use C(group/smsbox.account.smsbox) in C(module_defaults) to set the connection options once for every module.
    support: full
    membership:
      - smsbox.account.smsbox
  platform:
    description: Target OS/families that can be operated against.
    support: full
    platforms: posix
'''

    # The write modules' bulk concurrency.
    BULK = r'''
options:
  concurrency:
    description:
      - How many requests (creates or transfers) may be in flight at once in the bulk form, over one keep-alive
        connection pool, and with as many ledger writers. From 1 to 16.
    type: int
    default: 4
seealso:
  - module: smsbox.account.smsbox_balance_info
'''
