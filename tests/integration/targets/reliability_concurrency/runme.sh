#!/usr/bin/env bash
# Concurrency, with real ansible-playbook runs against the emulator on loopback:
# the role over 200 hosts with forks=20; two playbooks at once on one file ledger.
set -euo pipefail
source ../setup_emulator/emulator.sh

export SMSBOX_ITEST_KEY=itest-conc-key-5e1d09+/=
SECRET_MARK=Cc3nR8
printf '{"%s": 1000000}\n' "$SMSBOX_ITEST_KEY" > "$INPUT_DIR/accounts.json"
start_emulator main --accounts-file "$INPUT_DIR/accounts.json" --latency 0.002
URL=$(emulator_field "$SMSBOX_EMULATOR_MAIN")
emulator() { emulator_eval "$SMSBOX_EMULATOR_MAIN" "$1"; }  # emulator EXPRESSION over the state (s) and the main account (a)
cases=0

echo "=== The role over 200 hosts, forks=20: every sub-account created and credited exactly once"
{
    echo "all:"
    echo "  vars: {ansible_connection: local, ansible_python_interpreter: $PYTHON, smsbox_api_url: '$URL',"
    echo "         smsbox_api_key: \"{{ lookup('env', 'SMSBOX_ITEST_KEY') }}\", smsbox_ledger: $SMSBOX_LEDGER_DIR/role.json, smsbox_account_label: big}"
    echo "  hosts:"
    for index in $(seq 1 200); do
        echo "    h$index: {smsbox_subaccount: {name: big-$index, password: \"p $SECRET_MARK&=$index\", credit: $index}}"
    done
} > "$INPUT_DIR/hosts.yml"
cat > "$WORK_DIR/role.yml" <<'YML'
- name: Provision 200 hosts
  hosts: all
  gather_facts: false
  roles:
    - role: smsbox.account.subaccounts
YML
run_and_check_secrets "$SMSBOX_ITEST_KEY" "$SECRET_MARK" -- \
    ansible-playbook -i "$INPUT_DIR/hosts.yml" --forks 20 "$WORK_DIR/role.yml" > "$WORK_DIR/role.out"
grep -q 'big: 200 created, 0 adopted, 0 unchanged; +20100 credits moved in 200 transfers; main balance 1000000 -> 979900; unsettled: none' \
    "$WORK_DIR/role.out" || { tail -30 "$WORK_DIR/role.out"; echo "FAIL: the summary is not right" >&2; exit 1; }
expect "sub-accounts created, each once" "$(emulator "(len(a['creates']), len(set(a['creates'])))")" "(200, 200)"
expect "transfers, one per sub-account" "$(emulator "(len(a['transfers']), len(set(t['to'] for t in a['transfers'])))")" "(200, 200)"
expect "credits as declared" "$(emulator "all(int(x['credits']) == int(n.split('-')[1]) for n, x in a['subaccounts'].items())")" True
run_and_check_secrets "$SMSBOX_ITEST_KEY" "$SECRET_MARK" -- \
    ansible-playbook -i "$INPUT_DIR/hosts.yml" --forks 20 "$WORK_DIR/role.yml" > "$WORK_DIR/role-again.out"
grep -q 'big: 0 created, 0 adopted, 200 unchanged; +0 credits moved in 0 transfers' "$WORK_DIR/role-again.out"
expect "POSTs after the second run" "$(emulator "sum(1 for r in s['requests'] if r['method'] == 'POST')")" 400
cases=$((cases + 1))

echo "=== Two playbooks at once on one file ledger: both succeed (one waits for the lock), nothing written twice"
for side in left right; do
    cat > "$INPUT_DIR/$side.yml" <<YML
- name: The $side team
  hosts: localhost
  gather_facts: false
  module_defaults:
    group/smsbox.account.smsbox:
      api_url: "$URL"
      api_key: "{{ lookup('env', 'SMSBOX_ITEST_KEY') }}"
      ledger: "$SMSBOX_LEDGER_DIR/shared.json"
  vars:
    names: "{{ ['both-1', 'both-2', 'both-3'] + ['$side-1', '$side-2'] }}"
  tasks:
    - name: Create
      smsbox.account.smsbox_subaccount:
        subaccounts: "{{ names | map('regex_replace', '^(.*)$', '{\"name\": \"\\\\1\", \"password\": \"pw $SECRET_MARK \\\\1\"}') | map('from_json') | list }}"
        concurrency: 4
    - name: Credit
      smsbox.account.smsbox_credit:
        allocations: "{{ names | map('regex_replace', '^(.*)$', '{\"subaccount\": \"\\\\1\", \"allocated\": 25}') | map('from_json') | list }}"
YML
done
declare -A pid_of=() rc_of=()
for side in left right; do
    run_and_check_secrets "$SMSBOX_ITEST_KEY" "$SECRET_MARK" -- ansible-playbook -i "$INVENTORY" "$INPUT_DIR/$side.yml" > "$WORK_DIR/$side.out" &
    pid_of[$side]=$!
done
for side in left right; do
    rc_of[$side]=0
    wait "${pid_of[$side]}" || rc_of[$side]=$?
done
for side in left right; do
    if [[ ${rc_of[$side]} != 0 ]] && ! grep -q 'is locked by another run' "$WORK_DIR/$side.out"; then
        tail -30 "$WORK_DIR/$side.out"; echo "FAIL: the $side playbook failed, and not on the lock" >&2; exit 1
    fi
done
expect "creates of the shared names" "$(emulator "sorted(n for n, c in collections.Counter(a['creates']).items() if n.startswith(('both-', 'left-', 'right-')))")" \
    "['both-1', 'both-2', 'both-3', 'left-1', 'left-2', 'right-1', 'right-2']"
expect "nothing created twice" "$(emulator "max(collections.Counter(a['creates']).values())")" 1
expect "transfers to the shared names, each once" \
    "$(emulator "sorted(collections.Counter(t['to'] for t in a['transfers'] if not t['to'].startswith('big-')).values())")" "[1, 1, 1, 1, 1, 1, 1]"
expect "credits as declared" "$(emulator "sorted(set(int(x['credits']) for n, x in a['subaccounts'].items() if not n.startswith('big-')))")" "[25]"
cases=$((cases + 1))

# PostgreSQL store: "concurrent controllers x20" (20 ansible-playbook runs on one postgresql:// ledger, from separate
# controllers' points of view) goes here when that store lands, with the same checks as above.

report_count "concurrency cases" "$cases"
