#!/usr/bin/env bash
# Runs every test of the collection: sanity, lint, unit, integration, molecule.
# Installs what it needs itself (.venv with pinned packages, a staged collection tree).
# Usage: scripts/test.sh [sanity|lint|units|integration|molecule ...]   (default: all)
# The unit stage starts a throwaway PostgreSQL (scripts/postgresql.sh; installed with apt-get when missing);
# SMSBOX_TEST_POSTGRESQL_URI=<uri> uses another server, SMSBOX_TEST_POSTGRESQL=skip skips those tests.
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
source "$(dirname "${BASH_SOURCE[0]}")/postgresql.sh"

STAGES=("$@")
[[ ${#STAGES[@]} -gt 0 ]] || STAGES=(sanity lint units integration molecule)

install_offline_get_pip() {
    # ansible-test bootstraps pip in its venvs with a script it downloads from a host we cannot reach.
    local version cache
    version=$("$VENV/bin/python" -c 'import re, ansible_test._internal.python_requirements as r, inspect; print(re.search(r"pip=.([0-9.]+)", inspect.getsource(r.get_venv_packages)).group(1))')
    cache=$HOME/.ansible/test/cache/get_pip_${version//./_}.py
    mkdir -p "$(dirname "$cache")"
    if [[ ! -f $cache ]] || grep -q SMSBOX-OFFLINE-GET-PIP "$cache"; then
        cp "$ROOT/scripts/get_pip_offline.py" "$cache"
    fi
}

stage_sanity() {
    install_offline_get_pip
    (cd "$STAGED" && ansible-test sanity --venv --python 3.11 --color no)
}

stage_lint() {
    (cd "$STAGED" && ansible-lint --profile production --offline)
}

stage_units() {
    # ansible-test passes no variable of ours to pytest: the hypothesis profile goes through a file (docs/testing.md).
    if [[ -n ${SMSBOX_HYPOTHESIS_PROFILE:-} ]]; then
        echo "$SMSBOX_HYPOTHESIS_PROFILE" > "$STAGED/tests/unit/hypothesis-profile"
    fi
    (cd "$STAGED" && ansible-test units --local --python 3.11 --color no)
}

stage_integration() {
    (cd "$STAGED" && ansible-test integration --local --python 3.11 --color no)
}

stage_molecule() {
    (cd "$STAGED" && molecule test --all)
}

ensure_venv
stage_collection
if [[ " ${STAGES[*]} " == *" units "* || " ${STAGES[*]} " == *" integration "* ]]; then
    # The ledger and write-module tests run against a real PostgreSQL too; it is stopped and removed when this script exits.
    say "A throwaway PostgreSQL for the ledger tests"
    postgresql_start "$STAGED/tests/output/.postgresql-uri" \
        || echo "PostgreSQL could not be started: the tests of the PostgreSQL ledger store will fail"
fi
started=$SECONDS
passed=()
failed=()
for stage in "${STAGES[@]}"; do
    say "$stage"
    stage_started=$SECONDS
    # Every stage runs even when one fails, so one run shows everything that needs fixing.
    if ("stage_$stage"); then
        passed+=("$stage")
        echo "--- $stage passed in $((SECONDS - stage_started)) s"
    else
        failed+=("$stage")
        echo "--- $stage FAILED after $((SECONDS - stage_started)) s"
    fi
done
# What the reliability suites covered (written by tests/unit/conftest.py and the integration targets).
if compgen -G "$STAGED/tests/output/smsbox-counts-*.txt" > /dev/null; then
    say "counts"
    cat "$STAGED"/tests/output/smsbox-counts-*.txt
fi
say "passed: ${passed[*]:-none}; failed: ${failed[*]:-none}; $((SECONDS - started)) s"
echo "stages: ${#passed[@]} passed, ${#failed[@]} failed"
[[ ${#failed[@]} -eq 0 ]]
