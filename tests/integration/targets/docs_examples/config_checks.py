# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Checks of the documentation's configuration for other tools (AWX, GitLab CI, GitHub Actions, ansible-builder,
Galaxy, Event-Driven Ansible, cron), which cannot run here: each is parsed and checked for what the text says of it.
Plain module of the docs_examples target: CHECKERS[name](data, root) returns the problems found (an empty list when
none); data is the parsed YAML, or the text of a crontab."""

from __future__ import absolute_import, division, print_function

import os
import re
import subprocess

import yaml

__metaclass__ = type  # pylint: disable=invalid-name


def _collection(root):
    with open(os.path.join(root, 'galaxy.yml'), encoding='utf-8') as handle:
        galaxy = yaml.safe_load(handle)
    return galaxy['namespace'], galaxy['name'], galaxy['version']


def environment_read(root):
    """The SMSBOX_* environment variables the collection's code reads."""
    names = set()
    for directory, _dirs, files in os.walk(os.path.join(root, 'plugins')):
        for name in files:
            if name.endswith('.py'):
                with open(os.path.join(directory, name), encoding='utf-8') as handle:
                    names.update(re.findall(r'''['"](SMSBOX_[A-Z_]+)['"]''', handle.read()))
    return names


def _environment_problems(env, root, where):
    """Every variable set is one the collection reads, or libpq's PGPASSWORD; a ledger URI holds no password."""
    problems = []
    known = environment_read(root) | {'PGPASSWORD'}
    for name, value in sorted((env or {}).items()):
        if name.startswith(('SMSBOX_', 'PG')) and name not in known:
            problems.append('%s sets %s, which nothing reads (the collection reads %s)' % (where, name, ', '.join(sorted(known))))
        if name == 'SMSBOX_LEDGER' and isinstance(value, str) and value.startswith('postgresql://'):
            if re.match(r'^postgresql://[^/@]*:[^/@]*@', value):
                problems.append('%s puts a password in the ledger URI' % where)
    return problems


def _shell_problems(commands, where):
    problems = []
    for command in commands:
        result = subprocess.run(['bash', '-n'], input=command, capture_output=True, text=True, check=False)
        if result.returncode:
            problems.append('%s: not valid shell: %s (%s)' % (where, command, result.stderr.strip()))
    return problems


def _runs_provision(commands):
    return any(re.search(r'\bansible-playbook\s+smsbox\.account\.provision\b', command) for command in commands)


def awx_credential_type(data, root):
    """A custom credential type: its input fields (secret when they hold a key or a password), and an injector that
    sets, from those fields, only variables the collection (or libpq) reads."""
    problems = []
    fields = data.get('fields') or []
    ids = [field.get('id') for field in fields]
    if not fields or len(set(ids)) != len(ids):
        problems.append('fields: a list of inputs with distinct ids is expected, got %r' % ids)
    for field in fields:
        if set(field) < {'id', 'type', 'label'}:
            problems.append('field %r lacks an id, a type or a label' % field)
        if re.search(r'key|password', str(field.get('id'))) and field.get('secret') is not True:
            problems.append('field %s holds a secret but is not secret: true' % field.get('id'))
    missing = set(data.get('required') or []) - set(ids)
    if missing:
        problems.append('required names no field: %s' % ', '.join(sorted(missing)))
    env = data.get('env') or {}
    if 'SMSBOX_API_KEY' not in env:
        problems.append('the injector does not set SMSBOX_API_KEY')
    for name, value in sorted(env.items()):
        used = re.findall(r'\{\{\s*(\w+)\s*\}\}', str(value))
        if not used or set(used) - set(ids):
            problems.append('injector %s: %r uses no field, or one that is not defined' % (name, value))
    return problems + _environment_problems(env, root, 'the injector')


def gitlab_ci(data, root):
    """A GitLab CI job: an image, a script whose lines are shell and run the provision playbook, and variables
    the collection reads."""
    problems = []
    jobs = dict((name, job) for name, job in data.items() if isinstance(job, dict) and 'script' in job)
    if not jobs:
        return ['no job with a script']
    for name, job in jobs.items():
        script = job['script']
        if not isinstance(script, list) or not all(isinstance(line, str) for line in script):
            problems.append('job %s: script must be a list of command lines' % name)
            continue
        problems += _shell_problems(script, 'job %s' % name)
        if not _runs_provision(script):
            problems.append('job %s does not run ansible-playbook smsbox.account.provision' % name)
        problems += _environment_problems(job.get('variables'), root, 'job %s' % name)
        if not isinstance(job.get('image'), str):
            problems.append('job %s names no image' % name)
    return problems


def github_workflow(data, root):
    """A GitHub Actions workflow: jobs whose steps run shell and the provision playbook, secrets from secrets."""
    problems = []
    jobs = data.get('jobs')
    if not isinstance(jobs, dict) or not jobs:
        return ['no jobs']
    for name, job in jobs.items():
        steps = job.get('steps')
        if not isinstance(job.get('runs-on'), str) or not isinstance(steps, list):
            problems.append('job %s needs runs-on and a list of steps' % name)
            continue
        runs = [step['run'] for step in steps if 'run' in step]
        if any(set(step) - {'uses', 'run', 'env', 'name', 'with', 'if', 'shell'} or not ('uses' in step or 'run' in step)
               for step in steps):
            problems.append('job %s: a step is neither uses nor run' % name)
        problems += _shell_problems(runs, 'job %s' % name)
        if not _runs_provision(runs):
            problems.append('job %s does not run ansible-playbook smsbox.account.provision' % name)
        env = dict(job.get('env') or {})
        for step in steps:
            env.update(step.get('env') or {})
        problems += _environment_problems(env, root, 'job %s' % name)
        for var, value in env.items():
            if re.search(r'PASSWORD|KEY', var) and not re.match(r'^\$\{\{\s*secrets\.\w+\s*\}\}$', str(value)):
                problems.append('job %s: %s is not taken from the repository secrets' % (name, var))
    return problems


def ee_definition(data, root):
    """An ansible-builder 3 definition of an execution environment: the collection's tarball, as ansible-galaxy
    collection build names it, and the collection's Python requirements."""
    problems = _builder_problems(data, root)
    if (data.get('dependencies') or {}).get('python') != 'requirements.txt' or not os.path.isfile(os.path.join(root, 'requirements.txt')):
        problems.append("dependencies.python must be the collection's requirements.txt")
    return problems


def de_definition(data, root):
    """An ansible-builder 3 definition of a decision environment: the collection's tarball (ansible-builder finds
    its Python requirements by introspection)."""
    return _builder_problems(data, root)


def _builder_problems(data, root):
    namespace, name, version = _collection(root)
    tarball = '%s-%s-%s.tar.gz' % (namespace, name, version)
    problems = []
    if data.get('version') != 3:
        problems.append('version: 3 expected (ansible-builder 3), got %r' % data.get('version'))
    if not isinstance(((data.get('images') or {}).get('base_image') or {}).get('name'), str):
        problems.append('images.base_image.name is missing')
    collections = (((data.get('dependencies') or {}).get('galaxy') or {}).get('collections')) or []
    if not any(str(item.get('name', '')).endswith('/' + tarball) and item.get('type') == 'file' for item in collections):
        problems.append('dependencies.galaxy installs no %s (type: file): %r' % (tarball, collections))
    if not any(item.get('src') == tarball for item in data.get('additional_build_files') or []):
        problems.append('additional_build_files does not copy %s' % tarball)
    return problems


def galaxy_requirements(data, root):
    """A requirements.yml naming this collection, with a version range that holds the current version."""
    namespace, name, version = _collection(root)
    for item in data.get('collections') or []:
        if isinstance(item, dict) and item.get('name') == '%s.%s' % (namespace, name):
            spec = str(item.get('version', '*'))
            if not version_matches(version, spec):
                return ['version %r does not admit %s, the version in galaxy.yml' % (spec, version)]
            return []
    return ['collections does not name %s.%s' % (namespace, name)]


def version_matches(version, spec):
    """Whether a version matches a Galaxy version range (comma-separated >=, >, <=, <, ==, != or *)."""
    def parts(text):
        return tuple(int(part) for part in re.findall(r'\d+', text)[:3])
    tests = {'>=': lambda a, b: a >= b, '>': lambda a, b: a > b, '<=': lambda a, b: a <= b, '<': lambda a, b: a < b,
             '==': lambda a, b: a == b, '!=': lambda a, b: a != b}
    for constraint in (part.strip() for part in spec.split(',')):
        if constraint in ('', '*'):
            continue
        operator = re.match(r'^(>=|<=|==|!=|>|<)?', constraint).group(1) or '=='
        if not tests[operator](parts(version), parts(constraint[len(operator):] if constraint.startswith(operator) else constraint)):
            return False
    return True


def activation_vars(data, root):
    """The variables of a rulebook activation of extensions/eda/rulebooks/balance_alerts_aap.yml: each one the
    rulebook uses, and every one it uses without a default given."""
    with open(os.path.join(root, 'extensions', 'eda', 'rulebooks', 'balance_alerts_aap.yml'), encoding='utf-8') as handle:
        rulebook = handle.read()
    used = set(re.findall(r'\{\{\s*(\w+)', rulebook))
    required = set(re.findall(r'\{\{\s*(\w+)\s*\}\}', rulebook))
    problems = ['%s is not a variable of the rulebook (it uses %s)' % (name, ', '.join(sorted(used)))
                for name in sorted(set(data) - used)]
    return problems + ['the rulebook needs %s, which is not given' % name for name in sorted(required - set(data))]


def eda_source(data, root):
    """The arguments of the event source smsbox.account.balance: each one an option of its documentation, and
    those of each of its accounts too."""
    with open(os.path.join(root, 'extensions', 'eda', 'plugins', 'event_source', 'balance.py'), encoding='utf-8') as handle:
        source = handle.read()
    quotes = "'" * 3
    start = source.index('DOCUMENTATION = r' + quotes) + len('DOCUMENTATION = r' + quotes)
    documentation = yaml.safe_load(source[start:source.index(quotes, start)])
    options = set(documentation['options'])
    problems, found = [], list(_find(data, 'smsbox.account.balance'))
    if not found:
        return ['no smsbox.account.balance source']
    for arguments in found:
        problems += ['%s is not an option of the source' % name for name in sorted(set(arguments) - options)]
        for account in arguments.get('accounts') or []:
            problems += ['account %s: %s is not an option of the source' % (account.get('label'), name)
                         for name in sorted(set(account) - (options - {'accounts'}))]
        if not all('threshold' in account for account in arguments.get('accounts') or [arguments]) and 'threshold' not in arguments:
            problems.append('an account has no threshold')
    return problems


def _find(data, key):
    if isinstance(data, dict):
        for name, value in data.items():
            if name == key:
                yield value
            else:
                yield from _find(value, key)
    elif isinstance(data, list):
        for item in data:
            yield from _find(item, key)


def crontab(text, root):
    """Crontab lines: variables, or five schedule fields and a command that is shell and runs one of the
    collection's playbooks."""
    problems, commands = [], []
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith('#') or re.match(r'^\w+=', line):
            continue
        fields = line.split(None, 5)
        if len(fields) < 6 or not all(re.match(r'^[\d*/,-]+$', field) for field in fields[:5]):
            problems.append('not a crontab line: %s' % line)
            continue
        commands.append(fields[5])
    if not commands:
        return ['no command']
    problems += _shell_problems(commands, 'the crontab')
    playbooks = set(name[:-len('.yml')] for name in os.listdir(os.path.join(root, 'playbooks')) if name.endswith('.yml'))
    for command in commands:
        for name in re.findall(r'smsbox\.account\.(\w+)', command):
            if name not in playbooks:
                problems.append('the crontab runs smsbox.account.%s, which is no playbook of the collection' % name)
    return problems


CHECKERS = {
    'awx-credential-type': awx_credential_type,
    'gitlab-ci': gitlab_ci,
    'github-workflow': github_workflow,
    'ee-definition': ee_definition,
    'de-definition': de_definition,
    'galaxy-requirements': galaxy_requirements,
    'activation-vars': activation_vars,
    'eda-source': eda_source,
    'crontab': crontab,
}
