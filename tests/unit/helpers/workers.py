# -*- coding: utf-8 -*-
# Copyright: (c) 2026, smsbox.account contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Other processes and threads a test runs beside itself: runs that race, or die half-way."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import subprocess
import sys
import textwrap
import threading


def child_env():
    """This process's environment, with a PYTHONPATH that lets a child import the collection as this test does."""
    return dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))


def child_command(code, *args):
    return [sys.executable, '-c', textwrap.dedent(code)] + [str(a) for a in args]


def start_child(code, *args):
    """Starts ``code`` in a fresh interpreter; returns the Popen (stdout and stderr piped, text)."""
    return subprocess.Popen(child_command(code, *args), env=child_env(),  # pylint: disable=consider-using-with
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True)


def run_child(code, *args):
    """Runs ``code`` in a fresh interpreter to its end; returns the CompletedProcess."""
    return subprocess.run(child_command(code, *args), env=child_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True, timeout=120, check=False)


def run_in_threads(work, count):
    """work(worker) in ``count`` threads at once; returns the exceptions they raised."""
    errors = []

    def guarded(worker):
        try:
            work(worker)
        except Exception as error:  # pylint: disable=broad-except
            errors.append(error)
    threads = [threading.Thread(target=guarded, args=(worker,)) for worker in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors
