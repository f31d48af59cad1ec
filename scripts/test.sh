#!/usr/bin/env bash
# Runs the tests of the collection: on each ansible-core line the stages its pin file declares
# (tests/requirements/core-<line>.txt, "# stages: ..."), the once-only stages on the main line (the one
# line that declares them: the newest release). Every job (line, stage) runs even when another fails, in its own staged copy of the
# collection with its own HOME (ansible-test keeps its venvs and caches under ~/.ansible/test), a few at
# a time; each job's log is kept under .build/jobs/, and a failing job's log tail is printed.
#
# Usage: scripts/test.sh [STAGE...]              (default: every stage, on the lines that declare it)
#   matrix stages (on the lines that declare them): sanity units integration doc
#   once, on the main line:                         lint molecule changelog docsite galaxy ee eda nox
# Environment:
#   CORE="2.19 2.21"   only these lines for the matrix stages (default: all of them). Given with STAGEs, those
#                      stages run on these lines even where the pin file does not declare them.
#   JOBS=3             jobs side by side (default 3)
#   SMSBOX_PYTHON_3_11=/path/to/python3.11   the interpreter for a Python version, when not found by itself
#   SMSBOX_HYPOTHESIS_PROFILE=long             longer property tests (docs/testing.md)
#   TARGETS="smsbox_credit"    the integration stage runs these targets only (default: every one)
#   SCENARIO=lost_answer       and, of the one target in TARGETS, these scenarios only (NAME[,NAME...]; docs/testing.md)
#   SMSBOX_TEST_POSTGRESQL_URI=postgresql://…  a PostgreSQL to test the ledger store on, instead of a throwaway
#                                              cluster (SMSBOX_TEST_POSTGRESQL=skip: none; its tests then skip)
# Examples: scripts/test.sh units; CORE=2.19 scripts/test.sh units integration; make test;
#   CORE=2.21 TARGETS=smsbox_credit SCENARIO=lost_answer scripts/test.sh integration
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
source "$(dirname "${BASH_SOURCE[0]}")/postgresql.sh"
source "$(dirname "${BASH_SOURCE[0]}")/java.sh"

CORE_LINES=("${CORE_MATRIX[@]%%:*}")

# MATRIX_STAGES, ONCE_STAGES and MAIN_CORE (the main line, which runs the once-only stages) come from env.sh; the
# ledger and concurrency targets (newest_line_only) and the PostgreSQL write targets run on the main line too.
JOBS=${JOBS:-3}
JOB_ROOT=$BUILD/jobs
HOME_ROOT=$BUILD/home
# ansible-test's sanity venvs take minutes to build: kept between runs (and clones), one HOME per line.
SANITY_CACHE=${SMSBOX_TEST_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/smsbox-account}/ansible-test
# pip's download cache is safe to share between jobs; the per-job HOME would otherwise start it empty.
export PIP_CACHE_DIR=${PIP_CACHE_DIR:-$HOME/.cache/pip}
export PIP_DISABLE_PIP_VERSION_CHECK=1

# --- the stages: each runs inside its job, in $STAGED, with its line's venv first on PATH -----------

install_offline_get_pip() {
    # ansible-test bootstraps pip in its venvs with a get-pip script it downloads from a host we cannot
    # reach, cached as ~/.ansible/test/cache/get_pip_<pip version>.py: put the stand-in under every
    # name this ansible-test may ask for.
    local versions version cache
    versions=$(python -c 'import inspect, re, ansible_test._internal.python_requirements as r
print(" ".join(sorted(set(re.findall(r"pip=.([0-9.]+)", inspect.getsource(r))))))')
    for version in $versions; do
        cache=$HOME/.ansible/test/cache/get_pip_${version//./_}.py
        mkdir -p "$(dirname "$cache")"
        if [[ ! -f $cache ]] || grep -q SMSBOX-OFFLINE-GET-PIP "$cache"; then
            cp "$ROOT/scripts/get_pip_offline.py" "$cache"
        fi
    done
}

stage_sanity() {
    install_offline_get_pip
    # A sanity venv whose pinned source archive is out of reach (2.22: pylint's dill) is built from the index.
    python "$ROOT/scripts/sanity_venvs.py" "$PYTHON_VERSION"
    shellcheck --version | sed -n 2p
    ansible-test sanity --venv --python "$PYTHON_VERSION" --color no 2>&1 | tee "$JOB_DIR/sanity.out"
    # A sanity test whose tool is missing is skipped with a warning, and would pass unnoticed.
    if grep -E 'WARNING: (Skipping sanity test|Required program)' "$JOB_DIR/sanity.out"; then
        echo "FAIL: a sanity test was skipped (above)"
        return 1
    fi
}

stage_units() {
    if [[ $LINE != "$MAIN_CORE" ]]; then
        # The ledger's stores do not depend on ansible-core: their PostgreSQL cases run on the main line, as the
        # integration targets on PostgreSQL do; here the same suites run on the file store.
        echo "skip: the PostgreSQL ledger store is tested on the main line, ansible-core $MAIN_CORE" > tests/output/.postgresql-uri
    fi
    if ! is_in "$LINE" "$MAIN_CORE" "${CORE_LINES[0]}"; then
        # The heavy suites (fault matrix, crash, stateful and property tests) run the same module code on every line:
        # they run on the main and the oldest lines, one on each templating engine; tests/unit/conftest.py skips them here.
        echo "skip: the reliability and property suites run on ansible-core $MAIN_CORE and ${CORE_LINES[0]}" > tests/output/.heavy-suites
    fi
    ansible-test units --local --python "$PYTHON_VERSION" --color no
    # Where they run, they ran: their counts say so (tests/unit/conftest.py).
    [[ -f tests/output/.heavy-suites ]] || grep -l 'fault-matrix cases: [1-9].*hypothesis examples: [1-9]' tests/output/smsbox-counts-units-*.txt \
        || { echo "FAIL: the fault matrix or the property tests did not run on this line"; return 1; }
}

stage_integration() {
    local targets=()
    read -ra targets <<< "${TARGETS:-}"
    if [[ $LINE == "$MAIN_CORE" ]]; then
        ansible-test integration --local --python "$PYTHON_VERSION" --color no "${targets[@]}"
    else
        # The targets that prove the ledger and the concurrency (aliases: newest_line_only) do not depend on
        # ansible-core: they run on the main line; the write targets run on the file store here. The docs' examples
        # (main_and_oldest_lines) run on the main and the oldest lines: one on each templating engine.
        echo file > tests/output/.integration-ledger-stores
        local exclude=() target aliases='^newest_line_only$'
        [[ $LINE == "${CORE_LINES[0]}" ]] || aliases='^(newest_line_only|main_and_oldest_lines)$'
        while IFS= read -r target; do
            target=${target%/aliases}
            exclude+=(--exclude "${target##*/}")
        done < <(grep -lE "$aliases" tests/integration/targets/*/aliases)
        ansible-test integration --local --python "$PYTHON_VERSION" --color no "${exclude[@]}" "${targets[@]}"
    fi
}

stage_doc() {
    # Every plugin and the role show with ansible-doc; every filter function is documented.
    python "$ROOT/scripts/check_docs.py" .
}

stage_lint() {
    # yamllint on every maintained YAML file (.yamllint). Then ansible-lint as a user and the certification checker
    # run it: `ansible-lint` at the root of a plain clone (not under ansible_collections/), which finds this collection
    # by installing it; with the main line's ansible-lint, then with the version Red Hat's certification pins, in a
    # venv of its own (tests/requirements/lint-certification.txt).
    local plain=$JOB_DIR/clone
    rm -rf "$plain"
    cp -a "$STAGED" "$plain"
    ensure_pinned_venv lint-certification
    (
        cd "$plain"
        unset ANSIBLE_COLLECTIONS_PATH
        yamllint --version
        yamllint --strict .
        ansible-lint --version
        ansible-lint
        rm -rf .ansible
        "$VENVS/lint-certification/bin/ansible-lint" --version
        PATH=$VENVS/lint-certification/bin:$PATH ansible-lint
    )
}

stage_molecule() {
    molecule test --all
}

stage_changelog() {
    antsibull-changelog lint
    antsibull-changelog lint-changelog-yaml changelogs/changelog.yaml
    # CHANGELOG.rst is what antsibull-changelog generates from changelogs/changelog.yaml.
    antsibull-changelog generate
    if ! git diff --exit-code -- CHANGELOG.rst changelogs/changelog.yaml; then
        echo "FAIL: CHANGELOG.rst is not what 'antsibull-changelog generate' makes (diff above); run it and commit"
        return 1
    fi
}

stage_docsite() {
    # The plugin docs as the docsite renders them, and the guides of docs/docsite/ with their references.
    antsibull-docs lint-collection-docs --plugin-docs --check-extra-docs-refs --validate-collection-refs all .
}

stage_galaxy() {
    # galaxy-importer, as Galaxy and Automation Hub run it on upload, without a container: see its config.
    local out=$JOB_DIR/dist findings
    mkdir -p "$out"
    ansible-galaxy collection build --force --output-path "$out"
    GALAXY_IMPORTER_CONFIG=$ROOT/tests/galaxy-importer.cfg \
        python -m galaxy_importer.main "$out"/smsbox-account-*.tar.gz > "$JOB_DIR/importer.out" 2>&1 \
        || { cat "$JOB_DIR/importer.out"; return 1; }
    cat "$JOB_DIR/importer.out"
    # Each check ran: flake8 on the plugins, ansible-lint on the collection.
    grep -q 'via flake8' "$JOB_DIR/importer.out" && grep -q 'via ansible-lint' "$JOB_DIR/importer.out"
    # The importer logs what Galaxy would flag as WARNING/ERROR lines and still succeeds. One kind is not
    # about this collection: it runs flake8 on the file ansible-doc names as a plugin's documentation,
    # which for the filters documented in YAML (plugins/filter/*.yml) is YAML, hence E999 SyntaxError.
    findings=$(grep -E '^(WARNING|ERROR)' "$JOB_DIR/importer.out" \
        | grep -Ev '^WARNING: plugins/filter/[a-z_]+\.yml:[0-9]+:[0-9]+: E999 SyntaxError' || true)
    if [[ -n $findings ]]; then
        printf 'FAIL: galaxy-importer reported:\n%s\n' "$findings"
        return 1
    fi
    # What Galaxy would list: every module, filter, the role, the playbooks and the event source, and
    # requires_ansible; and the tarball carries the Event-Driven Ansible content (extensions/).
    python - importer_result.json "$out"/smsbox-account-*.tar.gz <<'PY'
import json, sys, tarfile
result = json.load(open(sys.argv[1]))
found = set((item['content_type'], item['name']) for item in result['contents'])
want = set([('module', 'smsbox_balance_info'), ('module', 'smsbox_credit'), ('module', 'smsbox_subaccount'),
            ('filter', 'subaccount_plan'), ('filter', 'subaccount_failures'), ('filter', 'subaccount_summary'),
            ('role', 'subaccounts'), ('playbook', 'provision.yml'), ('playbook', 'balance_check.yml'),
            ('playbook', 'balance_alert.yml'), ('eda/plugins/event_source', 'balance')])
missing = sorted(want - found)
print('galaxy-importer contents: %d; requires_ansible %s' % (len(found), result['requires_ansible']))
members = set(tarfile.open(sys.argv[2]).getnames())
extensions = ['extensions/eda/plugins/event_source/balance.py', 'extensions/eda/rulebooks/balance_alerts.yml',
              'extensions/eda/rulebooks/balance_alerts_aap.yml', 'extensions/eda/README.md', 'meta/extensions.yml']
missing += ['%s (in the tarball)' % name for name in extensions if name not in members]
sys.exit('FAIL: not in the import: %s' % missing if missing else 0)
PY
}

stage_nox() {
    # antsibull-nox's checks that run without containers (antsibull-nox.toml): REUSE licensing (reuse lint), action
    # groups, unwanted files, trailing whitespace, the docsite's docs, the build and galaxy-importer. nox makes each
    # session's venv under .nox/ from the pins in antsibull-nox.toml; nox itself comes from tests/requirements/checks.txt.
    ensure_pinned_venv checks
    # antsibull-nox.toml pins its sessions' ansible-core itself: it must be the main line's, or they check another one.
    local want
    want=$(grep -m 1 '^ansible-core==' "tests/requirements/core-$MAIN_CORE.txt")
    if grep '^ansible_core_package' antsibull-nox.toml | grep -vq "\"$want\""; then
        echo "FAIL: antsibull-nox.toml pins another ansible-core than the main line's $want (tests/requirements/core-$MAIN_CORE.txt)"
        return 1
    fi
    "$VENVS/checks/bin/nox" --version
    "$VENVS/checks/bin/nox" --no-color
}

stage_ee() {
    python "$ROOT/scripts/check_ee.py" . "$JOB_DIR/ee"
}

stage_eda() {
    # The alerts with real parts: the event source under the real ansible-rulebook (Java, installed before the jobs
    # start), the example rulebook and the alert playbook it runs, the cron play; against the emulator. A stage of its
    # own rather than an integration target: it runs beside the longest job instead of lengthening it, once.
    java -version 2>&1 | head -n 1
    ansible-rulebook --version | head -n 1
    PYTHONPATH=$COLLECTIONS python -m pytest -p no:cacheprovider -v tests/integration/eda
}

# --- the jobs ---------------------------------------------------------------------------------------

is_in() {
    local item=$1
    shift
    [[ " $* " == *" $item "* ]]
}

# run_job LINE STAGE: the job's output goes to its log; its outcome to JOB_DIR/result ("rc seconds").
run_job() {
    local line=$1 stage=$2 started=$SECONDS rc=0
    JOB_DIR=$JOB_ROOT/$line-$stage
    rm -rf "$JOB_DIR"
    mkdir -p "$JOB_DIR"
    (
        set -euo pipefail
        echo "job: ansible-core $line, $stage; $(date -u +%FT%TZ)"
        ensure_venv "$line"
        use_core "$line"
        python -c 'import sys; from ansible.release import __version__; print("ansible-core", __version__, "on Python", sys.version.split()[0])'
        PYTHON_VERSION=$(core_python "$line")
        # ansible-test keeps venvs and caches under ~/.ansible/test; jobs side by side must not share them.
        if [[ $stage == sanity ]]; then
            # One line's sanity cache, used by one run at a time (another clone may be testing too).
            export HOME=$SANITY_CACHE/$line
            mkdir -p "$HOME/.cache"
            exec 8> "$HOME.lock"
            flock 8
            # ansible-test passes HOME, not PIP_CACHE_DIR, to the pip that fills its venvs.
            [[ -L $HOME/.cache/pip ]] || { rm -rf "$HOME/.cache/pip"; ln -s "$PIP_CACHE_DIR" "$HOME/.cache/pip"; }
        else
            export HOME=$HOME_ROOT/$line-$stage
            mkdir -p "$HOME"
        fi
        stage_collection "$JOB_DIR/collections"
        cd "$STAGED"
        # ansible-test gives the tests it runs no variable of ours: what they need goes through files.
        mkdir -p tests/output
        [[ -z $PG_URI_FILE ]] || cp "$PG_URI_FILE" tests/output/.postgresql-uri
        [[ -z ${SMSBOX_HYPOTHESIS_PROFILE:-} ]] || echo "$SMSBOX_HYPOTHESIS_PROFILE" > tests/unit/hypothesis-profile
        [[ -z ${SCENARIO:-} ]] || echo "$SCENARIO" > tests/output/.integration-scenario
        LINE=$line
        "stage_$stage"
    ) > "$JOB_DIR/log" 2>&1 &
    wait $! || rc=$?
    echo "$rc $((SECONDS - started))" > "$JOB_DIR/result"
}

# Which jobs: the stages asked for (default all), matrix stages on the lines in CORE (default all) that declare
# them; both CORE and stages given, those stages on those lines whatever their pin files declare.
REQUESTED_STAGES=("$@")
CORE=${CORE:-}
UNDECLARED_TOO=""
[[ ${#REQUESTED_STAGES[@]} -eq 0 || -z $CORE ]] || UNDECLARED_TOO=1
[[ ${#REQUESTED_STAGES[@]} -gt 0 ]] || REQUESTED_STAGES=("${MATRIX_STAGES[@]}" "${ONCE_STAGES[@]}")
read -ra LINES <<< "${CORE//,/ }"
[[ ${#LINES[@]} -gt 0 ]] || LINES=("${CORE_LINES[@]}")
for stage in "${REQUESTED_STAGES[@]}"; do
    is_in "$stage" "${MATRIX_STAGES[@]}" "${ONCE_STAGES[@]}" || { echo "unknown stage: $stage (see $0)" >&2; exit 2; }
done
for line in "${LINES[@]}"; do
    is_in "$line" "${CORE_LINES[@]}" || { echo "unknown ansible-core line: $line (one of: ${CORE_LINES[*]})" >&2; exit 2; }
done
# A scenario belongs to one target: every other target would refuse its name.
if [[ -n ${SCENARIO:-} && $(wc -w <<< "${TARGETS:-}") -ne 1 ]]; then
    echo "SCENARIO=$SCENARIO needs the one target it belongs to in TARGETS (e.g. TARGETS=smsbox_credit)" >&2
    exit 2
fi

# Each line's Python, found once here (SMSBOX_PYTHON_X_Y, PATH, pyenv); a line without it is skipped.
declare -A SKIP_REASON=()
for line in "${CORE_LINES[@]}"; do
    version=$(core_python "$line")
    if python=$(find_python "$version"); then
        export "SMSBOX_PYTHON_${version//./_}=$python"
    else
        SKIP_REASON[$line]="no Python $version found (looked at SMSBOX_PYTHON_${version//./_}, PATH, pyenv's versions, /usr/bin)"
    fi
done

# Longest first, so the parallel slots stay full to the end: the stages in this order, and in each the main line first
# (it runs the heavy suites and PostgreSQL: its units job is twice as long as another line's).
ORDER=(molecule integration sanity galaxy nox lint eda units docsite doc ee changelog)
QUEUE=()
for stage in "${ORDER[@]}"; do
    is_in "$stage" "${REQUESTED_STAGES[@]}" || continue
    if is_in "$stage" "${MATRIX_STAGES[@]}"; then
        for line in "$MAIN_CORE" "${LINES[@]/#$MAIN_CORE/}"; do
            [[ -n $line ]] || continue
            is_in "$line" "${LINES[@]}" || continue
            [[ -n $UNDECLARED_TOO ]] || is_in "$stage" "${CORE_STAGES[$line]}" || continue
            QUEUE+=("$line $stage")
        done
    elif is_in "$stage" "${CORE_STAGES[$MAIN_CORE]}"; then
        QUEUE+=("$MAIN_CORE $stage")
    fi
done

# One throwaway PostgreSQL for the jobs that test the ledger store (each test makes a schema of its own);
# stopped and removed when this script exits.
PG_URI_FILE=""
if is_in units "${REQUESTED_STAGES[@]}" || is_in integration "${REQUESTED_STAGES[@]}"; then
    say "A throwaway PostgreSQL for the tests of the PostgreSQL ledger store"
    ensure_venv "$MAIN_CORE"
    export PYTHON=$VENVS/core-$MAIN_CORE/bin/python  # for postgresql.sh
    PG_URI_FILE=$BUILD/postgresql-uri
    postgresql_start "$PG_URI_FILE" \
        || { echo "PostgreSQL could not be started: the tests of the PostgreSQL ledger store will fail"; PG_URI_FILE=""; }
    if is_in integration "${REQUESTED_STAGES[@]}" && is_in "$MAIN_CORE" "${LINES[@]}"; then
        pgbouncer_install || echo "PgBouncer could not be installed: the platform_faults target will fail"
    fi
fi

# ansible-rulebook's rule engine needs Java: installed once here (apt-get), not by a job beside others.
if is_in eda "${REQUESTED_STAGES[@]}" && [[ -z ${SKIP_REASON[$MAIN_CORE]:-} ]]; then
    say "A Java runtime for ansible-rulebook (the eda stage)"
    java_ensure || echo "No Java 17+ runtime: the eda stage will fail"
fi

# Nothing a job started may outlive the run: an emulator left behind by a killed target is stopped here
# (a running emulator has a ready file with its pid and control_url; it removes the file when it stops).
stop_left_emulators() {
    local ready
    while IFS= read -r ready; do
        echo "stopping an emulator a job left running: $ready"
        "$VENVS/core-$MAIN_CORE/bin/python" "$ROOT/tests/emulator/smsbox_emulator.py" stop --ready-file "$ready" || true
    done < <(grep -rl --include='emulator*.json' '"control_url"' "$JOB_ROOT" "$HOME_ROOT" 2>/dev/null)
}

kill_tree() {
    local child
    for child in $(ps -o pid= --ppid "$1" 2>/dev/null); do kill_tree "$child"; done
    kill -TERM "$1" 2>/dev/null || true
}

declare -A PIDS=()
interrupted() {
    local pid
    echo "interrupted: stopping the running jobs" >&2
    for pid in "${PIDS[@]}"; do kill_tree "$pid"; done
    wait || true
    stop_left_emulators
    postgresql_stop
    exit "$1"
}
trap 'interrupted 130' INT
trap 'interrupted 143' TERM

say "Jobs (ansible-core line, stage), $JOBS at a time; logs in $JOB_ROOT/<line>-<stage>/log"
started=$SECONDS
report_done() {
    local job line stage rc seconds
    for job in "${!PIDS[@]}"; do
        read -r line stage <<< "$job"
        [[ -f $JOB_ROOT/$line-$stage/result ]] || continue
        wait "${PIDS[$job]}" 2>/dev/null || true
        unset "PIDS[$job]"
        read -r rc seconds < "$JOB_ROOT/$line-$stage/result"
        printf '%-6s %-12s %s in %4d s\n' "$line" "$stage" "$([[ $rc == 0 ]] && echo passed || echo FAILED)" "$seconds"
    done
}
for job in "${QUEUE[@]}"; do
    read -r line stage <<< "$job"
    [[ -z ${SKIP_REASON[$line]:-} ]] || continue
    while [[ ${#PIDS[@]} -ge $JOBS ]]; do
        wait -n 2>/dev/null || true
        report_done
    done
    rm -f "$JOB_ROOT/$line-$stage/result"
    run_job "$line" "$stage" &
    PIDS[$job]=$!
done
while [[ ${#PIDS[@]} -gt 0 ]]; do
    wait -n 2>/dev/null || true
    report_done
done
stop_left_emulators

say "Results ($((SECONDS - started)) s in all)"
passed=0
failed=0
skipped=0
for job in "${QUEUE[@]}"; do
    read -r line stage <<< "$job"
    if [[ -n ${SKIP_REASON[$line]:-} ]]; then
        printf '%-6s %-12s skipped: %s\n' "$line" "$stage" "${SKIP_REASON[$line]}"
        skipped=$((skipped + 1))
        continue
    fi
    rc=missing
    seconds=0
    [[ ! -f $JOB_ROOT/$line-$stage/result ]] || read -r rc seconds < "$JOB_ROOT/$line-$stage/result"
    if [[ $rc == 0 ]]; then
        printf '%-6s %-12s passed  %4d s\n' "$line" "$stage" "$seconds"
        passed=$((passed + 1))
    else
        printf '%-6s %-12s FAILED  %4d s  (log: %s)\n' "$line" "$stage" "$seconds" "$JOB_ROOT/$line-$stage/log"
        failed=$((failed + 1))
    fi
done
for job in "${QUEUE[@]}"; do
    read -r line stage <<< "$job"
    [[ -z ${SKIP_REASON[$line]:-} ]] || continue
    rc=missing
    [[ ! -f $JOB_ROOT/$line-$stage/result ]] || read -r rc _ < "$JOB_ROOT/$line-$stage/result"
    [[ $rc != 0 ]] || continue
    say "FAILED: ansible-core $line, $stage: last lines of $JOB_ROOT/$line-$stage/log"
    tail -n 60 "$JOB_ROOT/$line-$stage/log"
done
# What the reliability suites covered: tests/unit/conftest.py and the integration targets write their counts.
if compgen -G "$JOB_ROOT/*/collections/ansible_collections/smsbox/account/tests/output/smsbox-counts-*.txt" > /dev/null; then
    say "Counts (reliability suites)"
    for counts in "$JOB_ROOT"/*/collections/ansible_collections/smsbox/account/tests/output/smsbox-counts-*.txt; do
        job=${counts#"$JOB_ROOT"/}
        sed "s|^|${job%%/*}: |" "$counts"
    done
fi
echo
echo "total wall time: $SECONDS s (from the start of scripts/test.sh, installs included)"
echo "stages: $passed passed, $failed failed$([[ $skipped -eq 0 ]] || echo ", $skipped skipped")"
[[ $failed -eq 0 ]]
