# shellcheck shell=bash
# Sourced by the runme.sh of each integration target: starts the SMSBOX emulator on 127.0.0.1,
# writes an inventory for localhost, and stops the emulator when the target ends, whatever happens.

COLLECTION_ROOT="${ANSIBLE_COLLECTIONS_PATH%%:*}/ansible_collections/smsbox/account"
PYTHON="${ANSIBLE_TEST_PYTHON_INTERPRETER:-python3}"
EMULATOR_SCRIPT="$COLLECTION_ROOT/tests/emulator/smsbox_emulator.py"
WORK_DIR=$(mktemp -d "${OUTPUT_DIR:-/tmp}/smsbox-itest-XXXXXX")
INVENTORY="$WORK_DIR/inventory.ini"
EMULATORS=()

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

stop_emulators() {
    local ready
    for ready in "${EMULATORS[@]}"; do
        "$PYTHON" "$EMULATOR_SCRIPT" stop --ready-file "$ready" || true
    done
    rm -rf "$WORK_DIR"
}
trap stop_emulators EXIT

# Every ledger of a target lives in its work dir, never in the user's ~/.ansible.
export SMSBOX_LEDGER_DIR="$WORK_DIR/ledgers"
mkdir -p "$SMSBOX_LEDGER_DIR"

# run_and_check_secrets SECRET... -- COMMAND...: runs COMMAND with its output kept in $WORK_DIR/output.log,
# then fails the target if any SECRET shows in that output or in a ledger file; returns the COMMAND's exit code.
run_and_check_secrets() {
    local secrets=() log="$WORK_DIR/output.log"
    while [[ $1 != -- ]]; do secrets+=(-e "$1"); shift; done
    shift
    local rc
    set +e
    "$@" 2>&1 | tee -a "$log"
    rc=${PIPESTATUS[0]}
    set -e
    if grep -n "${secrets[@]}" "$log"; then
        echo "FAIL: an API key or a password appears in the output above" >&2
        exit 1
    fi
    if grep -rn "${secrets[@]}" "$SMSBOX_LEDGER_DIR"; then
        echo "FAIL: a ledger holds an API key or a password" >&2
        exit 1
    fi
    echo "No key or password in $(wc -l < "$log") lines of output, nor in the ledgers."
    return "$rc"
}
