# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Offline stand-in for get-pip.py, which ansible-test downloads to bootstrap pip in its venvs.

ansible-test first looks for a cached copy under ~/.ansible/test/cache/; scripts/test.sh puts
this file there when the download host is out of reach. ensurepip runs in a subprocess because
in-process it sets PIP_CONFIG_FILE=/dev/null, which would drop the machine's pip settings.
"""
# SMSBOX-OFFLINE-GET-PIP (marker: scripts/test.sh only replaces files that carry it)

import subprocess
import sys


def main():
    args = [arg for arg in sys.argv[1:] if arg not in ('--no-setuptools', '--no-wheel')]
    subprocess.check_call([sys.executable, '-m', 'ensurepip', '--upgrade'])
    subprocess.check_call([sys.executable, '-m', 'pip', 'install'] + args)


if __name__ == '__main__':
    main()
