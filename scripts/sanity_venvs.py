# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Builds a sanity test's virtualenv from the package index when ansible-test pins a requirement to an
archive this machine cannot reach.

    python scripts/sanity_venvs.py PYTHON_VERSION      (in the staged collection, with the line's ansible-test)

ansible-test 2.22 pins pylint's ``dill`` to a GitHub source archive (``dill @ https://github.com/...zip``); where
that host is out of reach, ``ansible-test sanity --venv`` cannot install it and the pylint test fails. For
each sanity test whose requirements name such an archive, this creates the virtualenv where ansible-test
looks for it (~/.ansible/test/venv/sanity.<test>/<python>/<hash of its pip commands>), with ansible-test's
own code, installing the package of that name from the package index in its place, and marks it complete:
ansible-test then uses it as it is. A reachable archive is left to ansible-test. Prints what it did.
"""

import os
import re
import socket
import sys
from urllib.parse import urlsplit

DIRECT_REFERENCE = re.compile(r'^(?P<name>[A-Za-z0-9_.-]+) *@ *(?P<url>https?://\S+)(?P<rest>.*)$', re.MULTILINE)


def reachable(url, timeout=10):
    parts = urlsplit(url)
    try:
        socket.create_connection((parts.hostname, parts.port or (443 if parts.scheme == 'https' else 80)), timeout).close()
    except OSError:
        return False
    return True


def from_the_index(text):
    """The requirements ``text`` with every unreachable ``name @ url`` replaced by ``name``, and what was replaced."""
    replaced = []

    def replace(match):
        if reachable(match.group('url')):
            return match.group(0)
        replaced.append((match.group('name'), match.group('url')))
        return match.group('name') + match.group('rest').split('#', 1)[0].rstrip()
    return DIRECT_REFERENCE.sub(replace, text), replaced


def main(python_version):
    # ansible-test's internals, as the line's ansible-test runs them (it finds the collection from the working directory).
    from ansible_test._internal import python_requirements
    from ansible_test._internal.cli import parse_args
    from ansible_test._internal.commands import sanity
    from ansible_test._internal.host_configs import NativePythonConfig
    from ansible_test._internal.util import ANSIBLE_TEST_DATA_ROOT

    requirements_dir = os.path.join(ANSIBLE_TEST_DATA_ROOT, 'requirements')
    tests = sorted(name[len('sanity.'):-len('.txt')] for name in os.listdir(requirements_dir)
                   if name.startswith('sanity.') and name.endswith('.txt'))
    tests = [test for test in tests if DIRECT_REFERENCE.search(open(os.path.join(requirements_dir, 'sanity.%s.txt' % test)).read())]
    if not tests:
        return
    python = NativePythonConfig(version=python_version, path=sys.executable)
    run_pip = python_requirements.run_pip

    def run_pip_from_the_index(args, venv_python, commands, connection):
        for command in commands:
            for index, (path, text) in enumerate(getattr(command, 'requirements', [])):
                text, replaced = from_the_index(text)
                for name, url in replaced:
                    print('%s: %s is out of reach; %s comes from the package index instead' % (path, url, name))
                command.requirements[index] = (path, text)
        run_pip(args, venv_python, commands, connection)

    for test in tests:
        text = open(os.path.join(requirements_dir, 'sanity.%s.txt' % test)).read()
        if not from_the_index(text)[1]:
            print('sanity.%s: every pinned archive is reachable; ansible-test installs it' % test)
            continue
        args = parse_args(['ansible-test', 'sanity', '--test', test, '--venv', '--python', python_version])
        config = args.config(args)
        # The venv's path is the hash of the pip commands as ansible-test makes them; only what pip runs changes.
        sanity.run_pip = run_pip_from_the_index
        try:
            venv = sanity.create_sanity_virtualenv(config, python, test)
        finally:
            sanity.run_pip = run_pip
        print('sanity.%s: %s' % (test, venv.path if venv else 'no virtualenv (Python %s has no venv support)' % python_version))
        if not venv:
            return 1
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1]))
