# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Where the time goes inside one module process of the role, for docs/performance.md (run by scripts/bench.sh).

    python bench_module_profile.py AnsiballZ_smsbox_subaccount.py [AnsiballZ_smsbox_credit.py ...]

Each file is a module exactly as Ansible ran it (kept with ANSIBLE_KEEP_REMOTE_FILES=1: it embeds the arguments).
For each, prints: the whole process as Ansible runs it (wall and CPU seconds, the fastest of 3 runs, the size of its
JSON result), the interpreter alone, then the same process under cProfile, split into its phases by the cumulative
time of the functions that do them (cProfile slows Python code down: read the phases as shares of its total).
Run it where the module can reach what it talks to (the emulator, the ledger): a re-run with nothing to do sends
only the balance reads, so running it again changes nothing. Not part of the collection.
"""

from __future__ import absolute_import, division, print_function

import json
import os
import pstats
import resource
import subprocess
import sys
import tempfile
import time

__metaclass__ = type  # pylint: disable=invalid-name

# (phase, file name endings, function name): the largest cumulative time of a match counts (the code may move
# between these files: the module, or the module_utils it runs).
PHASES = (
    ('module start-up: unzip, imports, until main()', None, None),
    ('argument handling (AnsibleModule init: the spec, no_log values)', ('_connection.py',), '__init__'),
    ('ledger open, lock and load (and its close)', ('_connection.py',), 'ledger_session'),
    ('balance read (one GET)', ('_connection.py',), 'read_balance'),
    ('plan of every item from the ledger', ('smsbox_subaccount.py', 'smsbox_credit.py', '_converge/subaccounts.py',
                                            '_converge/credits.py'), 'plan'),
    ('writes (requests and ledger records)', ('_converge/engine.py',), 'run_writes'),
    ('result: exit_json (no_log masking, JSON)', ('basic.py',), 'exit_json'),
)


# python -m cProfile would be __main__: the AnsiballZ wrapper takes the directory of __main__.__file__ off sys.path,
# which would be the standard library's. From -c, __main__ has no file.
PROFILED = '''
import cProfile, runpy, sys
path, out = sys.argv[1:3]
sys.argv = [path]
profiler = cProfile.Profile()
try:
    profiler.runcall(runpy.run_path, path, run_name='__main__')
except SystemExit:
    pass
finally:
    profiler.dump_stats(out)
'''


def _timed(command, env=None):
    """(wall seconds, CPU seconds, stdout bytes) of one run of command."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    completed = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, check=False)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, completed.stdout


def _import_seconds(python, path):
    """Seconds spent in imports by one run, from python -X importtime (top-level imports, cumulative)."""
    completed = subprocess.run([python, '-X', 'importtime', path], stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=False)
    total = 0
    for line in completed.stderr.decode('utf-8', 'replace').splitlines():
        parts = line.split('|')
        if len(parts) == 3 and parts[0].startswith('import time:') and parts[1].strip().isdigit():
            if not parts[2].startswith('  '):  # one space after the bar: a top-level import
                total += int(parts[1])
    return total / 1e6


def _find(stats, endings, name):
    found = [values[3] for (filename, _line, function), values in stats.stats.items()
             if function == name and filename.endswith(endings)]  # values[3]: cumulative time
    return max(found) if found else None


def profile(path, python):
    runs = [_timed([python, path]) for _attempt in range(3)]
    wall, cpu, output = min(runs, key=lambda run: run[0])
    try:
        result = json.loads(output.decode('utf-8'))
    except ValueError:
        print('%s: the module did not print a JSON result: %r' % (path, output[:300]))
        return 1
    items = max((len(value) for value in result.values() if isinstance(value, list)), default=0)
    bare = min(_timed([python, '-c', 'pass'])[0] for _attempt in range(3))
    imports = min(_import_seconds(python, path) for _attempt in range(3))
    handle, profile_file = tempfile.mkstemp(suffix='.prof')
    os.close(handle)
    try:
        profiled_wall = _timed([python, '-c', PROFILED, path, profile_file])[0]
        stats = pstats.Stats(profile_file)
    finally:
        os.unlink(profile_file)
    total = max(values[3] for values in stats.stats.values())
    module = os.path.basename(path).replace('AnsiballZ_', '').replace('.py', '')
    main_time = _find(stats, (module + '.py',), 'main') or 0.0
    print('%s: %.3f s wall, %.3f s CPU as Ansible runs it (fastest of 3); result %d bytes of JSON for %d items%s' % (
        module, wall, cpu, len(output), items, '; changed' if result.get('changed') else ''))
    print('  the interpreter alone (python -c pass): %.3f s; every import of the run (python -X importtime): %.3f s' % (bare, imports))
    print('  under cProfile: %.3f s wall, %.3f s profiled; by phase (cumulative, share of the profiled total):' % (profiled_wall, total))
    for phase, endings, name in PHASES:
        value = total - main_time if endings is None else _find(stats, endings, name)
        if value is None:
            continue
        print('    %-66s %7.3f s  %4.0f %%' % (phase, value, 100.0 * value / total if total else 0))
    print('  the 12 costliest functions (cumulative):')
    ranked = sorted(stats.stats.items(), key=lambda item: item[1][3], reverse=True)
    shown = 0
    for (filename, line, function), values in ranked:
        if function.startswith('<') or filename == '~' or 'runpy' in filename or '_ansiballz' in filename:
            continue
        where = '/'.join(filename.split('/')[-2:])
        print('    %7.3f s  %8d calls  %s:%d %s' % (values[3], values[1], where, line, function))
        shown += 1
        if shown == 12:
            break
    return 0


def main(argv=None):
    paths = (argv if argv is not None else sys.argv[1:])
    if not paths:
        sys.stderr.write(__doc__)
        return 2
    code = 0
    for path in paths:
        with open(path, encoding='utf-8') as handle:
            shebang = handle.readline()
        python = shebang[2:].strip() if shebang.startswith('#!') else sys.executable
        code = max(code, profile(path, python))
    return code


if __name__ == '__main__':
    sys.exit(main())
