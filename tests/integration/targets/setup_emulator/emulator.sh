# shellcheck shell=bash
# Sourced by the runme.sh of each integration target: starts the SMSBOX emulator on 127.0.0.1,
# writes an inventory for localhost, and stops the emulator when the target ends, whatever happens.
# The targets with scenarios (test.yml importing tasks/run_scenarios.yml) start theirs from Ansible, one
# for each scenario (tasks/start.yml, with the variables exported below); run_scenarios runs them.

COLLECTION_ROOT="${ANSIBLE_COLLECTIONS_PATH%%:*}/ansible_collections/smsbox/account"
PYTHON="${ANSIBLE_TEST_PYTHON_INTERPRETER:-python3}"
EMULATOR_SCRIPT="$COLLECTION_ROOT/tests/emulator/smsbox_emulator.py"
WORK_DIR=$(mktemp -d "${OUTPUT_DIR:-/tmp}/smsbox-itest-XXXXXX")
# What a target gives Ansible and the emulator (accounts with passwords, inventories, vault passwords) goes to
# INPUT_DIR; everything Ansible and the collection write goes to WORK_DIR, whose every file is scanned for secrets.
INPUT_DIR=$(mktemp -d "${OUTPUT_DIR:-/tmp}/smsbox-itest-inputs-XXXXXX")
SETUP_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
INVENTORY="$WORK_DIR/inventory.ini"
export ANSIBLE_LOCAL_TEMP="$WORK_DIR/ansible-local-tmp"
EMULATORS=()
# For tasks/run_scenario.yml: the emulator, and where its emulators write their ready files.
export SMSBOX_EMULATOR_SCRIPT="$EMULATOR_SCRIPT" SMSBOX_ITEST_WORK_DIR="$WORK_DIR"

# Playbooks read the emulator state through a filter that drops keys and passwords.
ANSIBLE_FILTER_PLUGINS="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/filter_plugins"
export ANSIBLE_FILTER_PLUGINS

printf 'localhost ansible_connection=local ansible_python_interpreter=%s\n' "$PYTHON" > "$INVENTORY"

# start_emulator NAME [serve options...]: exports SMSBOX_EMULATOR_<NAME> = path of its ready file (JSON: url, control_url, ca_cert, pid)
start_emulator() {
    local name=$1 ready="$WORK_DIR/emulator-$1.json"
    shift
    "$PYTHON" "$EMULATOR_SCRIPT" serve --background --ready-file "$ready" "$@" > /dev/null
    EMULATORS+=("$ready")
    export "SMSBOX_EMULATOR_${name^^}=$ready"
}

# emulator_field READY [FIELD]: a field of an emulator's ready file (url by default; control_url, ca_cert, pid)
emulator_field() {
    "$PYTHON" -c 'import json, sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$1" "${2:-url}"
}

# emulator_eval READY EXPRESSION: prints a Python expression over that emulator's state (s) and its first main
# account (a); json, sys and collections are imported.
emulator_eval() {
    "$PYTHON" "$EMULATOR_SCRIPT" state --ready-file "$1" \
        | "$PYTHON" -c "import json,sys,collections; s=json.load(sys.stdin); a=list(s['accounts'].values())[0]; print($2)"
}

expect() {  # expect WHAT ACTUAL EXPECTED: the target fails unless ACTUAL is EXPECTED
    if [[ $2 != "$3" ]]; then echo "FAIL: $1: got $2, expected $3" >&2; exit 1; fi
    echo "ok: $1 = $3"
}

says() {  # says FILE PATTERN [grep options]: the output FILE holds PATTERN, or the target fails showing it
    local file=$1 pattern=$2
    shift 2
    if ! grep -q "$@" -- "$pattern" "$file"; then
        echo "FAIL: $file does not say: $pattern" >&2
        tail -40 "$file" >&2
        exit 1
    fi
}

# Stops those start_emulator started, and any a playbook left running (tasks/start.yml writes its ready file
# in the work dir too, as emulator-<scenario>.json; a running emulator removes it when it stops).
stop_emulators() {
    local ready
    for ready in "${EMULATORS[@]}" "$WORK_DIR"/emulator-*.json; do
        [[ -e $ready ]] || continue
        "$PYTHON" "$EMULATOR_SCRIPT" stop --ready-file "$ready" || true
    done
    rm -rf "$WORK_DIR" "$INPUT_DIR"
}
trap stop_emulators EXIT

# postgresql_ledger NAME: a ledger URI in a new schema of the test PostgreSQL (scripts/test.sh starts it and
# writes its URI to tests/output/.postgresql-uri); prints nothing and returns 1 when there is none.
POSTGRESQL_URI_FILE="$COLLECTION_ROOT/tests/output/.postgresql-uri"
postgresql_ledger() {
    local uri
    uri=$(cat "$POSTGRESQL_URI_FILE" 2>/dev/null) || return 1
    [[ -n $uri && $uri != skip ]] || return 1
    "$PYTHON" - "$uri" "itest_$1_$$" <<'PY'
import sys
import psycopg
uri, schema = sys.argv[1], sys.argv[2]
with psycopg.connect(uri, autocommit=True) as conn:
    conn.execute('DROP SCHEMA IF EXISTS %s CASCADE' % schema)
    conn.execute('CREATE SCHEMA %s' % schema)
print(uri + ('&' if '?' in uri else '?') + 'options=-csearch_path%3D' + schema)
PY
}
# postgresql_ledgers NAME...: a ledger URI in a new schema of the test PostgreSQL for each NAME (letters, digits,
# _ - . /), printed as one JSON object {NAME: URI}; prints nothing and returns 1 when there is no test PostgreSQL.
postgresql_ledgers() {
    local uri
    uri=$(cat "$POSTGRESQL_URI_FILE" 2>/dev/null) || return 1
    [[ -n $uri && $uri != skip ]] || return 1
    "$PYTHON" - "$uri" "$$" "$@" <<'PY'
import json
import re
import sys
import psycopg
uri, pid, names = sys.argv[1], sys.argv[2], sys.argv[3:]
ledgers = {}
with psycopg.connect(uri, autocommit=True) as conn:
    for name in names:
        schema = 'itest_%s_%s' % (re.sub(r'[^a-z0-9]+', '_', name.lower()), pid)
        conn.execute('DROP SCHEMA IF EXISTS %s CASCADE' % schema)
        conn.execute('CREATE SCHEMA %s' % schema)
        ledgers[name] = uri + ('&' if '?' in uri else '?') + 'options=-csearch_path%3D' + schema
print(json.dumps(ledgers, sort_keys=True))
PY
}
# postgresql_ledger_uris: the URIs of every schema postgresql_ledger made in this target.
postgresql_ledger_uris() {
    local uri
    uri=$(cat "$POSTGRESQL_URI_FILE" 2>/dev/null) || return 0
    "$PYTHON" - "$uri" "itest_" <<'PY'
import sys
import psycopg
uri, prefix = sys.argv[1], sys.argv[2]
with psycopg.connect(uri, autocommit=True) as conn:
    for (schema,) in conn.execute("SELECT nspname FROM pg_namespace WHERE nspname LIKE %s", (prefix + '%',)):
        print(uri + ('&' if '?' in uri else '?') + 'options=-csearch_path%3D' + schema)
PY
}

# postgresql_password: the test database's password, to look for in every output (prints nothing without one).
postgresql_password() {
    local uri
    uri=$(cat "$POSTGRESQL_URI_FILE" 2>/dev/null) || return 0
    "$PYTHON" -c 'import sys; from urllib.parse import urlsplit, unquote; p = urlsplit(sys.argv[1]).password; print(unquote(p) if p else "")' "$uri"
}

# postgresql_dump URI...: every row of the ledger tables in each URI's schema, as text (to scan for secrets).
postgresql_dump() {
    "$PYTHON" - "$@" <<'PY'
import sys
import psycopg
for uri in sys.argv[1:]:
    with psycopg.connect(uri, autocommit=True) as conn:
        tables = [row[0] for row in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = current_schema() ORDER BY 1")]
        for table in tables:
            for row in conn.execute('SELECT * FROM %s' % table):
                print(table, row)
PY
}

# ledger_stores: the stores the write targets run against: both, unless SMSBOX_TEST_POSTGRESQL=skip made the URI
# file "skip", or scripts/test.sh chose the file store alone for this job (tests/output/.integration-ledger-stores).
ledger_stores() {
    if [[ $(cat "$POSTGRESQL_URI_FILE" 2>/dev/null) == skip ]]; then
        echo file
    else
        cat "$COLLECTION_ROOT/tests/output/.integration-ledger-stores" 2>/dev/null || echo file postgresql
    fi
}

# Every ledger of a target lives in its work dir, never in the user's ~/.ansible.
export SMSBOX_LEDGER_DIR="$WORK_DIR/ledgers"
mkdir -p "$SMSBOX_LEDGER_DIR"

# run_and_check_secrets SECRET... -- COMMAND...: runs COMMAND with its output kept in $WORK_DIR/output.log, then
# fails the target if any SECRET shows, in plain, URL-encoded (quote and quote_plus, upper and lower hex) or base64
# form (secret_forms.py), in that output or in any file under $WORK_DIR (ledgers, outputs, Ansible's temporary
# files); returns the COMMAND's exit code. Secrets counted in $INPUT_DIR/secrets-checked for the summary.
run_and_check_secrets() {
    local secrets=() log="$WORK_DIR/output.log" forms="$INPUT_DIR/secret-forms.txt"
    while [[ $1 != -- ]]; do secrets+=("$1"); shift; done
    shift
    "$PYTHON" "$SETUP_DIR/secret_forms.py" "${secrets[@]}" > "$forms"
    local rc
    set +e
    "$@" 2>&1 | tee -a "$log"
    rc=${PIPESTATUS[0]}
    set -e
    if grep -nF -f "$forms" "$log"; then
        echo "FAIL: an API key or a password (or an encoded form of one) appears in the output above" >&2
        exit 1
    fi
    if grep -rlaF -f "$forms" "$WORK_DIR"; then
        echo "FAIL: the files above, under the work dir, hold an API key or a password (or an encoded form of one)" >&2
        exit 1
    fi
    echo "No key or password, in any of $(wc -l < "$forms") forms, in $(wc -l < "$log") lines of output nor in $(find "$WORK_DIR" -type f | wc -l) files of the work dir."
    return "$rc"
}

# SCENARIO=NAME[,NAME...] in the environment: the scenarios to run, those of the play (tasks/NAME.yml, passed on as
# -e scenario=...) and those a runme.sh runs itself (RUNME_SCENARIOS, e.g. adhoc); without it, every one.
# ansible-test passes no variable of ours to runme.sh: scripts/test.sh writes SCENARIO to a file instead.
SCENARIO=${SCENARIO:-$(cat "$COLLECTION_ROOT/tests/output/.integration-scenario" 2>/dev/null || true)}
RUNME_SCENARIOS=()
# chosen NAME: whether the scenario NAME runs.
chosen() {
    [[ -z ${SCENARIO:-} || ,$SCENARIO, == *,$1,* ]]
}

# run_scenarios STORE SECRET... -- [ARG...]: runs test.yml (the scenarios of the target, each on a fresh emulator and
# fresh ledgers: tasks/run_scenarios.yml) at -vvvv on the ledger STORE, through run_and_check_secrets with every
# SECRET; ARGs go to ansible-playbook. file: the ledgers are files under SMSBOX_LEDGER_DIR. postgresql: a new schema
# of the test PostgreSQL for each scenario and ledger (SMSBOX_ITEST_POSTGRESQL_LEDGERS, {"<scenario>/main": URI,
# "<scenario>/other": URI}), whose rows must hold no SECRET either. Nothing to do when SCENARIO names none of the
# play's scenarios (an unknown name fails the play).
run_scenarios() {
    local store=$1 secrets=() names=() file chosen_names
    shift
    while [[ $1 != -- ]]; do secrets+=("$1"); shift; done
    shift
    local args=("$@")
    if [[ -n ${SCENARIO:-} ]]; then
        chosen_names=$(tr ',' '\n' <<< "$SCENARIO" | grep -vxF -f <(printf '%s\n' "${RUNME_SCENARIOS[@]}" "") | paste -sd, -) || true
        [[ -n $chosen_names ]] || return 0
        args+=(-e "scenario=$chosen_names")
    fi
    echo "=== ledger store: $store"
    unset SMSBOX_ITEST_POSTGRESQL_LEDGERS
    if [[ $store == postgresql ]]; then
        for file in tasks/*.yml; do
            file=${file##*/}
            names+=("${file%.yml}/main" "${file%.yml}/other")
        done
        SMSBOX_ITEST_POSTGRESQL_LEDGERS=$(postgresql_ledgers "${names[@]}") \
            || { echo "FAIL: no test PostgreSQL (run scripts/test.sh integration)" >&2; exit 1; }
        export SMSBOX_ITEST_POSTGRESQL_LEDGERS
    fi
    run_and_check_secrets "${secrets[@]}" -- ansible-playbook -i "$INVENTORY" -vvvv test.yml "${args[@]}"
    if [[ $store == postgresql ]]; then
        # The database is a ledger too: it must hold no key and no password either.
        # shellcheck disable=SC2046  # one URI a line, without spaces
        postgresql_dump $("$PYTHON" -c 'import json, os; print("\n".join(json.loads(os.environ["SMSBOX_ITEST_POSTGRESQL_LEDGERS"]).values()))') \
            > "$SMSBOX_LEDGER_DIR/postgresql-rows.txt"
        # Every scenario together writes rows; a scenario chosen alone may write none (one refused before any request).
        if [[ ! -s $SMSBOX_LEDGER_DIR/postgresql-rows.txt && " ${args[*]} " != *" scenario="* ]]; then
            echo "FAIL: the PostgreSQL ledgers are empty" >&2
            exit 1
        fi
        run_and_check_secrets "${secrets[@]}" -- true
    fi
}

# report_count NAME NUMBER: prints the count into the output, and keeps it for the summary of scripts/test.sh.
report_count() {
    echo "smsbox.account counts: $1: $2"
    if [[ -n ${OUTPUT_DIR:-} && -d $OUTPUT_DIR/../.. ]]; then
        echo "$1: $2" >> "$OUTPUT_DIR/../../smsbox-counts-integration.txt"
    fi
}
