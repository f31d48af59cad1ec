# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The execution and decision environment definitions give their image this collection and what it needs.

Run by scripts/test.sh (stage ee) from the staged collection root; no container engine is needed:
1. the collection tarball is built and installed into a scratch collections directory, and
   ``ansible-builder introspect`` on it must report every requirement of requirements.txt (what an EE
   or a DE that lists this collection gets, through meta/execution-environment.yml);
2. ``ansible-builder create`` on execution-environment.yml must write a build context whose Python
   requirements hold every requirement of requirements.txt, and which carries the tarball that the
   galaxy requirements install;
3. ``ansible-builder create`` on decision-environment.yml likewise: the tarball, ansible-rulebook in its
   Python requirements and a Java runtime in its system requirements (the rule engine runs on Java).
Usage: python scripts/check_ee.py COLLECTION_ROOT WORK_DIR
"""

import glob
import os
import shutil
import subprocess
import sys

import yaml
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name


def run(*command, **kwargs):
    print('$ %s' % ' '.join(command), flush=True)
    return subprocess.run(command, check=True, text=True, **kwargs)


def requirement_names(path):
    """{canonical name: requirement line} of a pip requirements file; comments and options skipped."""
    found = {}
    if not os.path.exists(path):
        return found
    with open(path, encoding='utf-8') as handle:
        for line in handle:
            line = line.split(' #', 1)[0].strip()
            if not line or line.startswith(('#', '-')):
                continue
            try:
                requirement = Requirement(line)
            except InvalidRequirement:
                # ansible-builder's introspection may append "# from collection ..." or keep odd lines.
                continue
            found[canonicalize_name(requirement.name)] = line
    return found


def missing(wanted, path, what, source='requirements.txt'):
    have = requirement_names(path)
    lost = sorted(name for name in wanted if name not in have)
    for name in lost:
        print('FAIL: %s (from %s) is not in %s (%s)' % (wanted[name], source, what, path))
    return len(lost)


def main():
    root, work = (os.path.abspath(arg) for arg in sys.argv[1:3])
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    failures = 0

    wanted = requirement_names(os.path.join(root, 'requirements.txt'))
    if not wanted:
        print('FAIL: requirements.txt names no package')
        return 1
    print('requirements.txt: %s' % ', '.join(wanted[name] for name in sorted(wanted)))

    with open(os.path.join(root, 'galaxy.yml'), encoding='utf-8') as handle:
        galaxy = yaml.safe_load(handle)
    tarball = '%s-%s-%s.tar.gz' % (galaxy['namespace'], galaxy['name'], galaxy['version'])
    for stale in glob.glob(os.path.join(root, '*.tar.gz')):
        os.unlink(stale)
    run('ansible-galaxy', 'collection', 'build', '--force', '--output-path', root, root)

    # 1. What an EE listing this collection gets: introspection of the installed tarball.
    installed = os.path.join(work, 'collections')
    run('ansible-galaxy', 'collection', 'install', '--offline', '--force', '-p', installed, os.path.join(root, tarball))
    introspected = os.path.join(work, 'introspect-requirements.txt')
    run('ansible-builder', 'introspect', '--sanitize', '--write-pip', introspected, installed)
    failures += missing(wanted, introspected, 'ansible-builder introspect of the installed collection')

    # 2. The build context of execution-environment.yml; 3. that of decision-environment.yml.
    failures += check_context(root, work, 'execution-environment.yml', tarball, galaxy['version'], wanted, 'requirements.txt')
    failures += check_context(root, work, 'decision-environment.yml', tarball, galaxy['version'],
                              requirement_names_of(['ansible-rulebook']), 'what a DE needs', system=('java-17-openjdk',))
    print('ee: %s' % ('FAILED' if failures else 'each build context has the collection and its requirements'))
    return 1 if failures else 0


def requirement_names_of(lines):
    return dict((canonicalize_name(Requirement(line).name), line) for line in lines)


def check_context(root, work, definition, tarball, version, wanted, source, system=()):
    """``ansible-builder create`` on one definition; the number of things its build context lacks."""
    failures = 0
    context = os.path.join(work, os.path.splitext(definition)[0])
    run('ansible-builder', 'create', '--file', os.path.join(root, definition),
        '--context', context, '--output-filename', 'Containerfile', '-v', '2')
    build = os.path.join(context, '_build')
    failures += missing(wanted, os.path.join(build, 'requirements.txt'), 'the build context of %s' % definition, source)
    with open(os.path.join(build, 'requirements.yml'), encoding='utf-8') as handle:
        collections = yaml.safe_load(handle).get('collections') or []
    names = [entry.get('name') if isinstance(entry, dict) else entry for entry in collections]
    if '/build/collections/%s' % tarball not in names:
        print('FAIL: %s: the galaxy requirements install %s, not /build/collections/%s (galaxy.yml version %s)'
              % (definition, names, tarball, version))
        failures += 1
    if not os.path.isfile(os.path.join(build, 'collections', tarball)):
        print('FAIL: %s: %s is not in the build context (additional_build_files)' % (definition, tarball))
        failures += 1
    with open(os.path.join(context, 'Containerfile'), encoding='utf-8') as handle:
        containerfile = handle.read()
    if 'ansible-galaxy collection install' not in containerfile:
        print('FAIL: %s: the Containerfile installs no collection' % definition)
        failures += 1
    bindep = os.path.join(build, 'bindep.txt')
    packages = open(bindep, encoding='utf-8').read() if os.path.exists(bindep) else ''
    for package in system:
        if package not in packages:
            print('FAIL: %s: no %s in the system requirements (%s)' % (definition, package, bindep))
            failures += 1
    for name in ('requirements.txt', 'requirements.yml', 'bindep.txt'):
        if os.path.exists(os.path.join(build, name)):
            with open(os.path.join(build, name), encoding='utf-8') as handle:
                print('--- %s: context/_build/%s\n%s' % (definition, name, handle.read().rstrip()))
    return failures


if __name__ == '__main__':
    sys.exit(main())
