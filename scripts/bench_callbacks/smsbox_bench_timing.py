# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A callback for scripts/bench.sh only: when each task of a run starts and each loop item ends.

Enabled with ANSIBLE_CALLBACK_PLUGINS=scripts/bench_callbacks ANSIBLE_CALLBACKS_ENABLED=smsbox_bench_timing
and SMSBOX_BENCH_TIMING=FILE: at the end of the run FILE holds JSON with wall-clock times (time.time()):
``playbook_start``, ``tasks`` (name, start, cpu, item_ends, result: when its last result came), ``stats`` and
``stats_cpu`` (the run's last event). From a task's last result to the next task's start the strategy works on
its own: for the last task of a role or a play, that includes their end (the implicit meta tasks of every host).
``cpu`` is the CPU seconds used so far by the controller and all its descendants (its workers, the modules they
run), ended or running: on a busy machine it splits the run more steadily than wall time. bench.sh adds
the time it started the command (SMSBOX_BENCH_T0) and when the command ended, so the run splits into
start-up (interpreter, CLI, inventory), each task, and exit. Not part of the collection.
"""

from __future__ import absolute_import, division, print_function

import json
import os
import time

from ansible.plugins.callback import CallbackBase

__metaclass__ = type  # pylint: disable=invalid-name

DOCUMENTATION = """
    name: smsbox_bench_timing
    type: aggregate
    short_description: task start times and loop item end times, for scripts/bench.sh
    description:
        - Writes the start time of each task and the end time of each loop item to the file named by SMSBOX_BENCH_TIMING.
"""


class CallbackModule(CallbackBase):
    """Records times; writes them once, at the end of the run."""

    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = 'aggregate'
    CALLBACK_NAME = 'smsbox_bench_timing'
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, *args, **kwargs):
        super(CallbackModule, self).__init__(*args, **kwargs)
        self.record = {'loaded': time.time(), 'playbook_start': None, 'tasks': [], 'stats': None}

    @staticmethod
    def _cpu():
        """CPU seconds of this process and all its descendants so far, ended or running (Linux /proc; else os.times)."""
        try:
            children = {}
            stats = {}
            for entry in os.listdir('/proc'):
                if entry.isdigit():
                    try:
                        with open('/proc/%s/stat' % entry, 'rb') as handle:
                            data = handle.read()
                    except OSError:
                        continue
                    fields = data[data.rfind(b')') + 2:].split()
                    stats[int(entry)] = fields
                    children.setdefault(int(fields[1]), []).append(int(entry))
            ticks = os.sysconf('SC_CLK_TCK')
            total = 0
            todo = [os.getpid()]
            while todo:
                pid = todo.pop()
                fields = stats.get(pid)
                if fields is not None:
                    # utime, stime, and cutime, cstime: the children it has waited for
                    total += sum(int(value) for value in fields[11:15])
                todo.extend(children.get(pid, ()))
            return total / float(ticks)
        except (OSError, ValueError, IndexError):
            times = os.times()
            return times[0] + times[1] + times[2] + times[3]

    def _task(self, task):
        self.record['tasks'].append({'name': task.get_name(), 'start': time.time(), 'cpu': self._cpu(), 'item_ends': []})

    def v2_playbook_on_start(self, playbook):
        self.record['playbook_start'] = time.time()

    def v2_playbook_on_task_start(self, task, is_conditional):
        self._task(task)

    def v2_playbook_on_handler_task_start(self, task):
        self._task(task)

    def _item_end(self, result):
        if self.record['tasks']:
            self.record['tasks'][-1]['item_ends'].append(time.time())

    def _result(self, result):
        if self.record['tasks']:
            self.record['tasks'][-1]['result'] = time.time()

    def v2_runner_on_ok(self, result):
        self._result(result)

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._result(result)

    def v2_runner_on_skipped(self, result):
        self._result(result)

    def v2_runner_on_unreachable(self, result):
        self._result(result)

    def v2_runner_item_on_ok(self, result):
        self._item_end(result)

    def v2_runner_item_on_failed(self, result):
        self._item_end(result)

    def v2_runner_item_on_skipped(self, result):
        self._item_end(result)

    def v2_playbook_on_stats(self, stats):
        self.record['stats'] = time.time()
        self.record['stats_cpu'] = self._cpu()
        path = os.environ.get('SMSBOX_BENCH_TIMING')
        if path:
            with open(path, 'w') as handle:  # pylint: disable=unspecified-encoding
                json.dump(self.record, handle)
