# -*- coding: utf-8 -*-
# Copyright: (c) 2026, smsbox.account contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Moving a ledger: every record of one main account, from any store into any other, at once.

A file ledger into PostgreSQL, PostgreSQL into a JSON snapshot file (a backup, or something to
review), or one key's ledger to another key after a rotation. It goes through the store interface
only, so it works the same between any two stores.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os

from ansible_collections.smsbox.account.plugins.module_utils._ledger.records import Contents, LedgerError, summary
from ansible_collections.smsbox.account.plugins.module_utils._ledger.store import DEFAULT_LOCK_TIMEOUT, open_store


def _same_ledger(source, dest, source_fingerprint, fingerprint):
    if source.kind == 'file' and dest.kind == 'file':
        return os.path.realpath(source.location) == os.path.realpath(dest.location)
    return source.kind == dest.kind and source.location == dest.location and source_fingerprint == fingerprint


def copy_ledger(source, dest, fingerprint, source_fingerprint=None, check_mode=False, lock_timeout=DEFAULT_LOCK_TIMEOUT,
                move_aside=False):
    """Copies the ledger of the main account ``fingerprint`` from ``source`` into ``dest`` (locations: paths or URIs).

    ``source_fingerprint`` names the account in the source when it is another key's (the old one, after a key
    rotation); the source must have been used with that key. The destination must hold no record of the account,
    or exactly the same ones (then nothing is written); with ``move_aside``, other records it holds are first moved
    aside (kept, renamed: see LedgerStore.move_aside). Everything is written at once and read back; the counts and
    credit totals of what was read back must equal the source's.

    After a key rotation (``source_fingerprint`` another key's), the source is marked as moved to ``fingerprint``:
    runs with the old key then refuse to write to it.

    Returns dict(changed, source=dict(location, fingerprint, **summary), dest=dict(location, fingerprint, **summary)),
    with the source's ``moved_to`` after a key rotation, and ``moved_aside`` (where the destination's earlier records
    went) when they were.
    """
    source_fingerprint = source_fingerprint or fingerprint
    reader = open_store(source, source_fingerprint, lock_timeout=lock_timeout)
    writer = open_store(dest, fingerprint, lock_timeout=lock_timeout)
    if _same_ledger(reader, writer, source_fingerprint, fingerprint):
        raise LedgerError('The destination %s is the source ledger itself: nothing was copied. Give dest another file or database.'
                          % writer.location)
    # After a key rotation the old key's ledger is marked as moved (under its exclusive lock): a job still on the old
    # key then refuses to write, instead of paying again what the new key's ledger pays.
    rotating = source_fingerprint != fingerprint
    try:
        reader.lock(exclusive=rotating and not check_mode)
        contents = reader.read()
        if not contents.exists or contents.empty:
            raise LedgerError('Ledger %s holds no record of the main account with key fingerprint %s: nothing to copy.%s'
                              % (reader.location, source_fingerprint, _others_hint(reader)))
        if source_fingerprint not in contents.fingerprints:
            raise LedgerError('Ledger %s was never used with the key of fingerprint %s (it records %s): it is not the ledger of this '
                              'main account, and nothing was copied. After a key rotation, give source_fingerprint: the old '
                              'key\'s fingerprint.' % (reader.location, source_fingerprint, ', '.join(contents.fingerprints) or 'none'))
        if rotating and contents.moved_to not in (None, fingerprint):
            raise LedgerError('Ledger %s of key fingerprint %s was moved to key fingerprint %s already: nothing was copied. Copy '
                              'from that key\'s ledger (source_fingerprint: %s) instead.'
                              % (reader.location, source_fingerprint, contents.moved_to, contents.moved_to))
        before = summary(contents)
        writer.lock(exclusive=not check_mode)
        existing = writer.read()
        changed = True
        aside = None
        if not existing.empty and not existing.same_records(contents):
            found = summary(existing)
            if not move_aside:
                raise LedgerError('Ledger %s already holds records of this main account (%d sub-accounts, %d transfers): nothing was '
                                  'copied. Copy into an empty ledger, or move those records aside first: run again with '
                                  'move_aside: true, which keeps them under another name (see docs/ledger.md).'
                                  % (writer.location, found['subaccounts'], sum(found['transfers'].values())))
            aside = 'would be moved aside' if check_mode else writer.move_aside()
            existing = Contents()
        if not existing.empty:
            changed = False
            after = summary(existing)
        elif check_mode:
            after = before
        else:
            fingerprints = list(contents.fingerprints)
            if fingerprints[-1:] != [fingerprint]:
                fingerprints.append(fingerprint)
            writer.replace_all(Contents(exists=True, fingerprints=fingerprints, api_url=contents.api_url,
                                        subaccounts=contents.subaccounts, transfers=contents.transfers))
            copied = writer.read()
            after = summary(copied)
            if after != before or not copied.same_records(contents):
                raise LedgerError('Ledger %s, read back after the copy, does not hold what %s holds (%r, not %r). Do not use it: '
                                  'move it aside and copy again.' % (writer.location, reader.location, after, before))
        if rotating and not check_mode and contents.moved_to != fingerprint:
            reader.commit_account(contents.fingerprints, contents.api_url, moved_to=fingerprint)
            changed = True
    finally:
        writer.close()
        reader.close()
    result = dict(changed=changed,
                  source=dict(location=reader.location, fingerprint=source_fingerprint, **before),
                  dest=dict(location=writer.location, fingerprint=fingerprint, **after))
    if aside:
        result['moved_aside'] = aside
    if rotating:
        result['source']['moved_to'] = fingerprint
    return result


def _others_hint(store):
    notice = store.rotated_key_notice()
    if not notice:
        return ''
    return ' It holds the ledgers of other keys (%s): after a key rotation, give source_fingerprint: the old one.' % ', '.join(notice[1][:5])
