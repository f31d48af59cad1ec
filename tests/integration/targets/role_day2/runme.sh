#!/usr/bin/env bash
# The role smsbox.account.subaccounts after provisioning, as an operator lives it: a monthly allowance paid once
# (also by controllers racing and after a killed run), --diff per sub-account, a shop removed from the inventory (the
# drift, reported, failed on, reclaimed, never reclaimed on a partial view), a shop retired, a password changed in
# the dashboard and acknowledged, and the run recorded with each transfer, read back by smsbox_ledger_info with a
# statement per period and a CSV. Every check is made against the emulator's state and the ledger.
set -euo pipefail
source ../setup_emulator/emulator.sh

export SMSBOX_ITEST_KEY_EU=itest-day2-eu-key-51fa0e
SECRET_MARK=Dy2wQ8
SECRETS=("$SMSBOX_ITEST_KEY_EU" "$SECRET_MARK")
LEDGER="$SMSBOX_LEDGER_DIR/eu.json"

echo "{\"$SMSBOX_ITEST_KEY_EU\": {\"balance\": 10000}}" > "$INPUT_DIR/eu.json"
start_emulator eu --accounts-file "$INPUT_DIR/eu.json"
READY=$SMSBOX_EMULATOR_EU
EU_URL=$(emulator_field "$READY")

state() { emulator_eval "$READY" "$1"; }
credits_of() { state "int(a['subaccounts']['$1']['credits'])"; }
transfers() { state "len(a['transfers'])"; }
posts() { state "sum(1 for r in s['requests'] if r['method'] == 'POST')"; }
control() {  # control PATH JSON: a call to the emulator's control API; prints nothing (its answers may hold passwords)
    "$PYTHON" - "$READY" "$1" "$2" <<'PY'
import json, sys, urllib.request
ready, path, body = json.load(open(sys.argv[1])), sys.argv[2], sys.argv[3].encode()
request = urllib.request.Request(ready['control_url'] + path, data=body, method='POST', headers={'Content-Type': 'application/json'})
urllib.request.build_opener(urllib.request.ProxyHandler({})).open(request, timeout=10).read()
PY
}

# write_inventory HOSTS...: each "name credit [more YAML]" becomes a host of group eu describing sub-account day2-<name>.
write_inventory() {
    {
        echo 'all:'
        echo '  vars:'
        echo '    ansible_connection: local'
        echo "    ansible_python_interpreter: $PYTHON"
        echo '  children:'
        echo '    eu:'
        echo '      vars:'
        echo "        smsbox_api_key: \"{{ lookup('env', 'SMSBOX_ITEST_KEY_EU') }}\""
        echo "        smsbox_api_url: $EU_URL"
        echo "        smsbox_ledger: $LEDGER"
        echo '        smsbox_account_label: eu'
        echo "        smsbox_removed: \"{{ removed | default('report') }}\""
        echo '      hosts:'
        local host
        for host in "$@"; do
            read -r name credit more <<< "$host"
            echo "        $name: {smsbox_subaccount: {name: day2-$name, password: \"$name-$SECRET_MARK\", credit: $credit${more:+, $more}}}"
        done
    } > "$INPUT_DIR/inventory.yml"
}
cat > "$WORK_DIR/provision.yml" <<'YML'
- name: Provision
  hosts: all
  gather_facts: false
  tasks:
    - name: Converge
      ansible.builtin.import_role:
        name: smsbox.account.subaccounts
YML
cat > "$WORK_DIR/statement.yml" <<'YML'
- name: Statement
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Read the ledger, without the key
      smsbox.account.smsbox_ledger_info:
        ledger: "{{ ledger }}"
        period: month
        csv: "{{ csv }}"
      register: statement
    - name: Show it
      ansible.builtin.debug:
        msg: "{{ statement | to_json }}"
YML
run() {  # run NAME ARGS...: the role over the inventory, output checked for secrets into $WORK_DIR/NAME.out; returns its rc
    local name=$1 rc=0
    shift
    run_and_check_secrets "${SECRETS[@]}" -- ansible-playbook -i "$INPUT_DIR/inventory.yml" "$WORK_DIR/provision.yml" "$@" \
        > "$WORK_DIR/$name.out" || rc=$?
    return "$rc"
}

echo "=== Check mode of a first run: predicted, and no warning about shops the create stage makes"
write_inventory "paris 600" "lyon 300" "nice 200 credit_per_period: 50"
run check --check
says "$WORK_DIR/check.out" '(check mode, predicted) eu: 3 created, 0 adopted, 0 unchanged; +1100 credits moved in 3 transfers, allowances +50' -F
if grep -q 'Predicted from an empty record' "$WORK_DIR/check.out"; then echo "FAIL: a check-mode warning about new shops" >&2; exit 1; fi
expect "POSTs in check mode" "$(posts)" 0

echo "=== The first run pays the allowance of this month once; the second pays nothing"
run first
says "$WORK_DIR/first.out" 'eu: 3 created, 0 adopted, 0 unchanged; +1100 credits moved in 3 transfers, allowances +50' -F
run second
says "$WORK_DIR/second.out" 'changed=0 ' -F
expect "nice's credits after two runs" "$(credits_of day2-nice)" 250
expect "transfers after two runs" "$(transfers)" 4

echo "=== Controllers racing on one ledger pay a new week's allowance once"
write_inventory "paris 600 credit_per_period: 10" "lyon 300" "nice 200 credit_per_period: 50"
pids=()
for n in 1 2 3 4; do
    run "race-$n" -e smsbox_period=week & pids+=($!)
done
for pid in "${pids[@]}"; do wait "$pid"; done
expect "paris's weekly allowance, four controllers at once" "$(state "[int(t['credit']) for t in a['transfers'] if t['to'] == 'day2-paris']")" "[600, 10]"
expect "nice's weekly allowance, four controllers at once" "$(state "[int(t['credit']) for t in a['transfers'] if t['to'] == 'day2-nice']")" "[200, 50, 50]"

echo "=== A run killed while an allowance is in flight pays nothing twice"
write_inventory "paris 600" "lyon 300 credit_per_period: 30" "nice 200"
control /faults '{"operation": "transfer", "fault": "slow", "delay": 8, "match": {"to": "day2-lyon"}}'
run killed & killed=$!
for _ in $(seq 100); do
    [[ $(state "sum(1 for r in s['requests'] if r.get('params', {}).get('to') == 'day2-lyon')") -ge 2 ]] && break
    sleep 0.1
done
pkill -KILL -f "inventory.yml $WORK_DIR/provision.yml" || true
wait "$killed" || true  # SMSBOX applied the transfer at once; only its answer was slow
rc=0; run after-kill || rc=$?
expect "rc after a kill in flight" "$rc" 2
says "$WORK_DIR/after-kill.out" 'unsettled: day2-lyon \(tx-[0-9a-f]{12}\)' -E
txid=$(grep -oE 'day2-lyon \(tx-[0-9a-f]{12}\)' "$WORK_DIR/after-kill.out" | head -1 | grep -oE 'tx-[0-9a-f]{12}')
SMSBOX_API_KEY=$SMSBOX_ITEST_KEY_EU run_and_check_secrets "${SECRETS[@]}" -- ansible localhost -i "$INVENTORY" \
    -m smsbox.account.smsbox_credit -a "api_url=$EU_URL ledger=$LEDGER subaccount=day2-lyon resolve=$txid=applied" \
    > "$WORK_DIR/resolve.out" 2>&1 || { cat "$WORK_DIR/resolve.out"; exit 1; }
run after-resolve
expect "lyon's allowances after a kill and a resolve" "$(state "[int(t['credit']) for t in a['transfers'] if t['to'] == 'day2-lyon']")" "[300, 30]"

echo "=== --diff shows each sub-account's change, in check mode and for real"
write_inventory "paris 700" "lyon 300" "nice 200"
run diff-check --check --diff
says "$WORK_DIR/diff-check.out" '"allocated": 600' -F
says "$WORK_DIR/diff-check.out" '"allocated": 700' -F
says "$WORK_DIR/diff-check.out" 'eu (credits)' -F

echo "=== A shop removed from the inventory: reported, failed on, reclaimed (never on a partial view)"
write_inventory "paris 600" "lyon 300"
run drift-report
says "$WORK_DIR/drift-report.out" 'drift: day2-nice (300 received)' -F
posts_before=$(posts)
rc=0; run drift-fail -e removed=fail || rc=$?
expect "rc with smsbox_removed fail" "$rc" 2
says "$WORK_DIR/drift-fail.out" "its ledger holds 1 sub-account(s) that no host describes any more (drift), and smsbox_removed is fail: day2-nice (present, 300 received)" -F
expect "POSTs with smsbox_removed fail" "$(posts)" "$posts_before"
run drift-limit -e removed=reclaim --limit paris
says "$WORK_DIR/drift-limit.out" 'drift: day2-nice (300 received) (this play sees part of the inventory: nothing is reclaimed)' -F
expect "nice's credits after a limited reclaim" "$(credits_of day2-nice)" 300
run drift-reclaim -e removed=reclaim
says "$WORK_DIR/drift-reclaim.out" '1 retired (-300 credits reclaimed)' -F
expect "nice's credits after the reclaim" "$(credits_of day2-nice)" 0
run drift-after
if grep -q 'drift:' "$WORK_DIR/drift-after.out"; then echo "FAIL: a retired shop is still drift" >&2; exit 1; fi

echo "=== A shop retired by its host; given credits while retired, refused before any request"
write_inventory "paris 600" "lyon 0 state: retired"
sed -i 's/credit: 0, state: retired/state: retired/' "$INPUT_DIR/inventory.yml"
run retire
says "$WORK_DIR/retire.out" '1 retired (-330 credits reclaimed)' -F
expect "lyon's credits after retiring" "$(credits_of day2-lyon)" 0
write_inventory "paris 600" "lyon 10 state: retired"
posts_before=$(posts)
rc=0; run retired-credit || rc=$?
expect "rc giving credits to a retired shop" "$rc" 2
says "$WORK_DIR/retired-credit.out" "sub-account 'day2-lyon': it is retired, so it cannot be given credit" -F
expect "POSTs after a refused retired credit" "$(posts)" "$posts_before"

echo "=== A password changed in the dashboard: warned, acknowledged once, then quiet"
write_inventory "paris 600" "lyon 0 state: retired"
sed -i 's/credit: 0, state: retired/state: retired/; s/paris-'"$SECRET_MARK"'/paris-new-'"$SECRET_MARK"'/' "$INPUT_DIR/inventory.yml"
SECRETS+=("paris-new-$SECRET_MARK")
run password-warned
says "$WORK_DIR/password-warned.out" 'acknowledge: true' -F
sed -i 's/credit: 600}/credit: 600, acknowledge: true}/' "$INPUT_DIR/inventory.yml"
run password-ack
sed -i 's/, acknowledge: true}/}/' "$INPUT_DIR/inventory.yml"
run password-quiet
if grep -q 'another password' "$WORK_DIR/password-quiet.out"; then echo "FAIL: warned again after acknowledge" >&2; exit 1; fi

echo "=== Each transfer records its run; the statement reads it back without the key, with a CSV"
write_inventory "paris 650" "lyon 0 state: retired"
sed -i 's/credit: 0, state: retired/state: retired/; s/paris-'"$SECRET_MARK"'/paris-new-'"$SECRET_MARK"'/' "$INPUT_DIR/inventory.yml"
JOB_ID=4242 INVENTORY_ID=7 AWX_HOST=https://aap.example.net run audited -e smsbox_run_label=CHG-77 \
    -e awx_job_template_name=Provision-shops -e awx_user_name=alice
SMSBOX_API_KEY='' run_and_check_secrets "${SECRETS[@]}" -- ansible-playbook -i "$INVENTORY" "$WORK_DIR/statement.yml" \
    -e "ledger=$LEDGER" -e "csv=$WORK_DIR/eu.csv" > "$WORK_DIR/statement.out"
says "$WORK_DIR/statement.out" 'AWX job 4242 (Provision-shops) by alice; playbook provision.yml' -F
says "$WORK_DIR/statement.out" 'label CHG-77' -F
says "$WORK_DIR/eu.csv" ',day2-paris,50,allocated,applied,' -F
expect "CSV rows, one per transfer" "$(( $(wc -l < "$WORK_DIR/eu.csv") - 1 ))" "$(transfers)"
