# -*- coding: utf-8 -*-
# Copyright: (c) 2026, smsbox.account contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Where a ledger is, and what kind: the one reading of a ``ledger`` option value, for the modules, the role's plan, the
stores and the event source.

A value is a PostgreSQL ledger when it starts with ``postgresql://`` or ``postgres://`` (any case), else a
file path; unset, the default file of the API key. It is taken exactly as written: a value with white space
around it is refused (``check_location``), never trimmed by one reader and not by another, since
``" postgresql://…"`` would otherwise be a URI to one and a relative file path to the other.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os

from ansible_collections.smsbox.account.plugins.module_utils._ledger.records import key_fingerprint
from ansible_collections.smsbox.account.plugins.module_utils._secrets import mask_uri

POSTGRESQL_SCHEMES = ('postgresql://', 'postgres://')
# Beside the inventory directory, not in it: Ansible reads every file of an inventory directory as inventory.
LEDGER_PATH_HINT = ('an absolute path on persistent storage, e.g. "{{ inventory_dir }}/../ledgers/<main account>.json" '
                    'beside your inventory directory, or /srv/smsbox/ledgers/<main account>.json')


def is_postgresql(value):
    """Whether a ledger option value names a PostgreSQL ledger (else it is a file path)."""
    return isinstance(value, str) and value.lower().startswith(POSTGRESQL_SCHEMES)


def default_file_name(fingerprint):
    """The name of the default ledger file of the key with ``fingerprint``."""
    return 'ledger-%s.json' % fingerprint


def default_ledger_path(api_key):
    """Where the ledger of ``api_key`` is when the ledger option is unset: under the user's Ansible directory."""
    home = os.path.abspath(os.path.expanduser(os.environ.get('ANSIBLE_HOME') or '~/.ansible'))
    return os.path.join(home, 'smsbox', default_file_name(key_fingerprint(api_key)))


def resolve_location(value):
    """A ``ledger`` option value as a store reads it: a PostgreSQL URI as given, a file path with ``~`` expanded, made absolute."""
    if not value or is_postgresql(value):
        return value
    return os.path.abspath(os.path.expanduser(value))


def ledger_location(value, api_key):
    """The ledger a run uses: the option ``value`` resolved, or, unset, the default file of ``api_key`` (None without one)."""
    return resolve_location(value) or (default_ledger_path(api_key) if api_key else None)


def printable_location(location):
    """A ledger location fit for output, results, diffs and errors: a URI loses its passwords."""
    return mask_uri(location) if isinstance(location, str) else location


def installed_collection_of(path):
    """``namespace.name`` when ``path`` lies inside an installed collection (one with a MANIFEST.json), else None."""
    current = os.path.realpath(path)
    while True:
        parent = os.path.dirname(current)
        if parent == current:
            return None
        if os.path.basename(os.path.dirname(parent)) == 'ansible_collections' and os.path.isfile(os.path.join(current, 'MANIFEST.json')):
            return '%s.%s' % (os.path.basename(parent), os.path.basename(current))
        current = parent


def check_location(value, what='ledger'):
    """An error sentence for a ledger location we refuse, or None; ``what`` names the option as the caller wrote it. Unset
    (None) is the default file. A PostgreSQL URI's own parts are checked by its store."""
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        return '%s is empty; set it to %s, or leave it unset for the default under ~/.ansible/smsbox/' % (what, LEDGER_PATH_HINT)
    if value != value.strip():
        return ('%s %r starts or ends with white space (a slip in quoting?), which would make it another ledger: a file path '
                'where a postgresql:// URI was meant, or another file. Remove it: a ledger is a file path or a postgresql:// '
                'URI, exactly as written' % (what, printable_location(value)))
    if is_postgresql(value):
        return None
    path = os.path.expanduser(value)
    if not os.path.isabs(path):
        return ('%s %r is a relative path, which would be resolved against whatever directory the module runs in (with '
                'ansible-playbook smsbox.account.provision, inside the installed collection). Use %s'
                % (what, printable_location(value), LEDGER_PATH_HINT))
    collection = installed_collection_of(path)
    if collection:
        return ('%s %s is inside the installed collection %s, which ansible-galaxy collection install --force deletes with '
                'everything in it (and with it the record of every sub-account and transfer). Use %s'
                % (what, printable_location(value), collection, LEDGER_PATH_HINT))
    return None
