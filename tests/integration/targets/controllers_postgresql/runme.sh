#!/usr/bin/env bash
# Several controllers on one PostgreSQL ledger, as CI runners or AWX jobs are: each its own HOME, working
# directory and copy of the playbook, the ledger URI from SMSBOX_LEDGER and its password from PGPASSWORD.
#  - ROUNDS times: CONTROLLERS (4) ansible-playbook controllers converge overlapping sub-accounts of one main
#    account at once; every run succeeds, every sub-account is created once and credited once, SMSBOX holds what
#    was declared, and a fresh controller then re-runs with no write and changed=0.
#  - MODULE_ROUNDS times (20): the same with the controllers as bare module processes (module_rounds.py), which
#    repeats the race cheaply enough to run it twenty times.
#  - A controller killed (SIGKILL) while its transfer is in flight: the next run, from another controller, sends
#    nothing to that sub-account and says the transfer is unknown, naming it.
set -euo pipefail
source ../setup_emulator/emulator.sh

ROUNDS=2
MODULE_ROUNDS=20
CONTROLLERS=4
PER_CONTROLLER=10   # controller i declares sub-accounts i*5 .. i*5+9: each overlaps its neighbours by 5
export SMSBOX_ITEST_KEY='itest-ctl-key-7a3e+/9'
SECRET_MARK=Ct4pQ7
export SMSBOX_ITEST_PASSWORD="p-$SECRET_MARK"
DB_URI=$(cat "$POSTGRESQL_URI_FILE" 2>/dev/null) || { echo "FAIL: no test PostgreSQL (run scripts/test.sh integration)" >&2; exit 1; }
[[ $DB_URI != skip ]] || { echo "SMSBOX_TEST_POSTGRESQL=skip: nothing to test here"; exit 0; }
DB_PASSWORD=$(postgresql_password)
SECRETS=("$SMSBOX_ITEST_KEY" "$SECRET_MARK" "$DB_PASSWORD")

printf '{"%s": 1000000}\n' "$SMSBOX_ITEST_KEY" > "$INPUT_DIR/accounts.json"
start_emulator main --accounts-file "$INPUT_DIR/accounts.json" --latency 0.005
URL=$(emulator_field "$SMSBOX_EMULATOR_MAIN")
emulator() { emulator_eval "$SMSBOX_EMULATOR_MAIN" "$1"; }  # emulator EXPRESSION over the state (s) and the main account (a)
control() {  # control PATH JSON: POST to the emulator's control API
    "$PYTHON" - "$SMSBOX_EMULATOR_MAIN" "$1" "$2" <<'PY'
import json, sys, urllib.request
ready, path, body = json.load(open(sys.argv[1])), sys.argv[2], sys.argv[3].encode()
request = urllib.request.Request(ready['control_url'] + path, data=body, method='POST')
urllib.request.build_opener(urllib.request.ProxyHandler({})).open(request, timeout=10).read()
PY
}
without_password() {  # the URI with its password removed: the controllers get it from PGPASSWORD, as AWX injects it
    "$PYTHON" -c 'import sys; from urllib.parse import urlsplit, urlunsplit
p = urlsplit(sys.argv[1]); user = p.username or ""
print(urlunsplit((p.scheme, "%s@%s:%s" % (user, p.hostname, p.port), p.path, p.query, p.fragment)))' "$1"
}

# controller DIR NAMES...: a controller's own HOME, working directory and playbook, declaring NAMES (credit = index)
controller() {
    local dir=$1
    shift
    mkdir -p "$dir/home" "$dir/work"
    {
        echo "- name: Converge the shops"
        echo "  hosts: localhost"
        echo "  gather_facts: false"
        echo "  module_defaults:"
        echo "    group/smsbox.account.smsbox:"
        echo "      api_url: '$URL'"
        echo "      api_key: \"{{ lookup('env', 'SMSBOX_ITEST_KEY') }}\""
        echo "  tasks:"
        echo "    - name: Create"
        echo "      smsbox.account.smsbox_subaccount:"
        echo "        concurrency: 4"
        echo "        subaccounts:"
        # From the environment, as from a vault: Ansible quotes the play's source around a failed task.
        for name in "$@"; do echo "          - {name: $name, password: \"{{ lookup('env', 'SMSBOX_ITEST_PASSWORD') }}-$name\"}"; done
        echo "    - name: Credit"
        echo "      smsbox.account.smsbox_credit:"
        echo "        concurrency: 4"
        echo "        allocations:"
        for name in "$@"; do echo "          - {subaccount: $name, allocated: ${name##*-}}"; done
    } > "$dir/work/play.yml"
}
# run_controller DIR LOG: runs the controller's playbook from its own directory and HOME
run_controller() {
    (cd "$1/work" && HOME="$1/home" ANSIBLE_LOCAL_TEMP="$2.tmp" PGPASSWORD="$DB_PASSWORD" SMSBOX_LEDGER="$LEDGER" \
        ansible-playbook -i "$INVENTORY" play.yml > "$2" 2>&1)
}

names_of() {  # names_of CONTROLLER_INDEX
    local index
    for index in $(seq $(($1 * 5)) $(($1 * 5 + PER_CONTROLLER - 1))); do echo "ctl-$((index + 1))"; done
}
declared=$(( (CONTROLLERS - 1) * 5 + PER_CONTROLLER ))

for round in $(seq 1 "$ROUNDS"); do
    control /reset "{\"accounts\": {\"$SMSBOX_ITEST_KEY\": 1000000}}"
    LEDGER=$(without_password "$(postgresql_ledger "round$round")")
    pids=()
    for index in $(seq 0 $((CONTROLLERS - 1))); do
        dir="$INPUT_DIR/round$round/controller$index"
        mapfile -t names < <(names_of "$index")
        controller "$dir" "${names[@]}"
        run_controller "$dir" "$WORK_DIR/round$round-controller$index.out" &
        pids+=($!)
    done
    for index in "${!pids[@]}"; do
        wait "${pids[$index]}" || { tail -30 "$WORK_DIR/round$round-controller$index.out"; echo "FAIL: round $round, controller $index failed" >&2; exit 1; }
    done
    expect "round $round: sub-accounts, each created once" "$(emulator "(len(a['creates']), len(set(a['creates'])))")" "($declared, $declared)"
    expect "round $round: transfers, one per sub-account" "$(emulator "(len(a['transfers']), len(set(t['to'] for t in a['transfers'])))")" "($declared, $declared)"
    expect "round $round: credits as declared" "$(emulator "sorted((int(n.split('-')[1]), int(x['credits'])) for n, x in a['subaccounts'].items()) == [(i, i) for i in range(1, $declared + 1)]")" True
    if [[ $round == 1 || $round == "$ROUNDS" ]]; then
        # A fifth, fresh controller declaring everything: no write, changed=0.
        mapfile -t everything < <(for index in $(seq 1 "$declared"); do echo "ctl-$index"; done)
        controller "$INPUT_DIR/round$round/fresh" "${everything[@]}"
        posts=$(emulator "sum(1 for r in s['requests'] if r['method'] == 'POST')")
        run_controller "$INPUT_DIR/round$round/fresh" "$WORK_DIR/round$round-fresh.out" \
            || { tail -30 "$WORK_DIR/round$round-fresh.out"; echo "FAIL: the fresh controller failed" >&2; exit 1; }
        grep -q 'changed=0 ' "$WORK_DIR/round$round-fresh.out" || { tail -30 "$WORK_DIR/round$round-fresh.out"; echo "FAIL: changed" >&2; exit 1; }
        expect "round $round: POSTs by the fresh controller" "$(emulator "sum(1 for r in s['requests'] if r['method'] == 'POST')")" "$posts"
    fi
    echo "ok: round $round: $CONTROLLERS controllers, $declared sub-accounts, each created and credited once"
done

echo "=== $MODULE_ROUNDS rounds of $CONTROLLERS controllers as module processes"
for round in $(seq 1 "$MODULE_ROUNDS"); do without_password "$(postgresql_ledger "modules$round")"; done > "$INPUT_DIR/module-ledgers"
PGPASSWORD="$DB_PASSWORD" SMSBOX_COLLECTION_ROOT="$COLLECTION_ROOT" PYTHONPATH="${ANSIBLE_COLLECTIONS_PATH%%:*}" \
    "$PYTHON" module_rounds.py "$SMSBOX_EMULATOR_MAIN" "$INPUT_DIR/module-ledgers" "$INPUT_DIR/modules" "$MODULE_ROUNDS" \
    "$SMSBOX_ITEST_KEY" "$SMSBOX_ITEST_PASSWORD"

echo "=== A controller killed while its transfer is in flight; the next one, elsewhere, pays nothing unknown"
control /reset "{\"accounts\": {\"$SMSBOX_ITEST_KEY\": 1000000}}"
KILL_LEDGER=$(postgresql_ledger kill)
LEDGER=$(without_password "$KILL_LEDGER")
pending_to() {  # pending_to NAME: transfers to NAME the ledger holds as pending (read without the run's lock)
    "$PYTHON" -c 'import sys, psycopg
with psycopg.connect(sys.argv[1], autocommit=True) as conn:
    print(conn.execute("SELECT count(*) FROM smsbox_ledger_transfers WHERE subaccount = %s AND state = %s", (sys.argv[2], "pending")).fetchone()[0])
' "$KILL_LEDGER" "$1" 2>/dev/null || echo 0
}
controller "$INPUT_DIR/kill/a" ctl-1 ctl-2
run_controller "$INPUT_DIR/kill/a" "$WORK_DIR/kill-first.out"
control /faults '{"operation": "transfer", "fault": "slow", "delay": 30, "match": {"to": "ctl-2"}}'
sed -i 's/allocated: 2}/allocated: 7}/' "$INPUT_DIR/kill/a/work/play.yml"
(cd "$INPUT_DIR/kill/a/work" && exec setsid env HOME="$INPUT_DIR/kill/a/home" ANSIBLE_LOCAL_TEMP="$WORK_DIR/kill-a.tmp" \
    PGPASSWORD="$DB_PASSWORD" SMSBOX_LEDGER="$LEDGER" ansible-playbook -i "$INVENTORY" play.yml > "$WORK_DIR/kill-a.out" 2>&1) &
killed=$!
# Recorded pending, then sent: the emulator holds its answer for 30 s, longer than this wait, shorter than the timeout.
for _ in $(seq 1 300); do
    [[ $(pending_to ctl-2) == 1 ]] && break
    sleep 0.1
done
sleep 1
expect "the transfer is recorded pending, in flight" "$(pending_to ctl-2)" 1
descendants() {  # descendants PID: PID and every process below it (the module may run in a session of its own)
    local child
    echo "$1"
    for child in $(ps -o pid= --ppid "$1" 2>/dev/null); do descendants "$child"; done
}
tree=$(descendants "$killed")
running=$(for pid in $tree; do tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null; echo; done | grep -c 'AnsiballZ_smsbox_credit' || true)
[[ $running -ge 1 ]] || { echo "FAIL: no module process to kill" >&2; exit 1; }
# shellcheck disable=SC2086
kill -KILL $tree 2>/dev/null || true
wait "$killed" 2>/dev/null || true
posts=$(emulator "sum(1 for r in s['requests'] if r['method'] == 'POST' and r['params'].get('to') == 'ctl-2')")
controller "$INPUT_DIR/kill/b" ctl-1 ctl-2
sed -i 's/allocated: 2}/allocated: 7}/' "$INPUT_DIR/kill/b/work/play.yml"
rc=0
run_controller "$INPUT_DIR/kill/b" "$WORK_DIR/kill-b.out" || rc=$?
expect "the next controller fails" "$rc" 2
grep -Eq "'ctl-2': nothing was sent, because an earlier transfer has an unknown outcome: tx-[0-9a-f]{12} of \+5 credits" "$WORK_DIR/kill-b.out" \
    || { tail -30 "$WORK_DIR/kill-b.out"; echo "FAIL: the unknown transfer is not reported" >&2; exit 1; }
grep -q 'interrupted' "$WORK_DIR/kill-b.out" || { cat "$WORK_DIR/kill-b.out"; exit 1; }
expect "transfers sent to ctl-2 by the next controller" "$(emulator "sum(1 for r in s['requests'] if r['method'] == 'POST' and r['params'].get('to') == 'ctl-2')")" "$posts"
echo "ok: the killed transfer is unknown, named, and not sent again"

# Every controller's output and temporary files, and the database rows, hold no key and no password.
for schema_uri in $(postgresql_ledger_uris); do postgresql_dump "$schema_uri"; done > "$WORK_DIR/postgresql-rows.txt"
run_and_check_secrets "${SECRETS[@]}" -- cat "$WORK_DIR"/round*-*.out "$WORK_DIR"/kill-*.out | tail -3
report_count "concurrent controller runs" "$((ROUNDS * CONTROLLERS + MODULE_ROUNDS * CONTROLLERS + 3))"
