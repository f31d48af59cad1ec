# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Every plugin and role of the collection shows with this ansible-core's ansible-doc.

Run by scripts/test.sh (stage "doc") from the staged collection root, on every ansible-core line:
each filter function that a FilterModule exports must be documented (a sidecar .yml or DOCUMENTATION)
and listed; each module and the role must show; a warning about this collection on ansible-doc's stderr
(such as "does not support Ansible version") fails the check.
"""

import glob
import importlib.util
import json
import os
import subprocess
import sys

COLLECTION = 'smsbox.account'


def ansible_doc(*args):
    """Runs ansible-doc; returns its stdout, or None after printing why it failed."""
    command = ['ansible-doc'] + list(args)
    process = subprocess.run(command, capture_output=True, text=True, check=False)
    if process.returncode != 0 or 'smsbox' in process.stderr:
        print('FAIL: %s (exit %d)\n%s%s' % (' '.join(command), process.returncode, process.stdout[-2000:], process.stderr))
        return None
    if process.stderr.strip():
        # Some ansible-core releases warn about their own internal collections; not this collection's concern.
        print('note: %s printed on stderr: %s' % (' '.join(command), process.stderr.strip()))
    return process.stdout


def exported_filters(root):
    """The filter names that the FilterModule classes of plugins/filter/*.py export."""
    # The plugins import ansible_collections.smsbox.account...: the staged tree's collections root.
    sys.path.insert(0, os.path.abspath(os.path.join(root, '..', '..', '..')))
    names = set()
    for path in sorted(glob.glob(os.path.join(root, 'plugins', 'filter', '*.py'))):
        spec = importlib.util.spec_from_file_location('smsbox_filter_%s' % os.path.basename(path)[:-3], path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        if hasattr(module, 'FilterModule'):
            names.update(module.FilterModule().filters())
    return names


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else '.'
    failures = 0
    checked = 0

    filters = exported_filters(root)
    if not filters:
        print('FAIL: no filter found under %s/plugins/filter' % root)
        return 1
    listing = ansible_doc('-t', 'filter', '-l', '--json', COLLECTION)
    listed = set(json.loads(listing)) if listing is not None else set()
    for name in sorted(filters):
        fqcn = '%s.%s' % (COLLECTION, name)
        checked += 1
        if fqcn not in listed:
            print('FAIL: filter %s is not listed by ansible-doc -t filter -l %s' % (fqcn, COLLECTION))
            failures += 1
            continue
        text = ansible_doc('-t', 'filter', fqcn)
        as_json = ansible_doc('-t', 'filter', '--json', fqcn)
        doc = {}
        if as_json is not None:
            doc = (json.loads(as_json).get(fqcn) or {}).get('doc') or {}
        if text is None or not doc.get('short_description') or doc.get('name') != name:
            print('FAIL: filter %s has no documentation that ansible-doc can show' % fqcn)
            failures += 1
        else:
            print('ok: filter %s: %s' % (fqcn, doc['short_description']))

    for path in sorted(glob.glob(os.path.join(root, 'plugins', 'modules', '*.py'))):
        fqcn = '%s.%s' % (COLLECTION, os.path.basename(path)[:-3])
        checked += 1
        if ansible_doc('-t', 'module', fqcn) is None:
            failures += 1
        else:
            print('ok: module %s' % fqcn)

    for path in sorted(glob.glob(os.path.join(root, 'roles', '*', 'meta', 'argument_specs.yml'))):
        fqcn = '%s.%s' % (COLLECTION, path.split(os.sep)[-3])
        checked += 1
        if ansible_doc('-t', 'role', fqcn) is None:
            failures += 1
        else:
            print('ok: role %s' % fqcn)

    print('ansible-doc: %d checked, %d failed' % (checked, failures))
    return 1 if failures else 0


if __name__ == '__main__':
    sys.exit(main())
