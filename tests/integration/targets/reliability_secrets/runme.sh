#!/usr/bin/env bash
# No secret anywhere: modules, the role and ad hoc commands at -vvvv, with --diff, in check mode, in failures and
# with registered results printed. The key and the passwords hold characters that URL encoding changes, and
# run_and_check_secrets looks for them in plain, URL-encoded and base64 form in the output and every work file.
set -euo pipefail
source ../setup_emulator/emulator.sh

export SMSBOX_ITEST_KEY='sec+Key/9&a=b%2Fz!x'
export SMSBOX_ITEST_WRONG_KEY='wrong+Key/1&c=d%41'
export SMSBOX_ITEST_PW1='Pw +/&=% one 1'
export SMSBOX_ITEST_PW2='Pw2 %2B&x=y/z+w'
SECRETS=("$SMSBOX_ITEST_KEY" "$SMSBOX_ITEST_WRONG_KEY" "$SMSBOX_ITEST_PW1" "$SMSBOX_ITEST_PW2")
"$PYTHON" -c 'import json,os; print(json.dumps({os.environ["SMSBOX_ITEST_KEY"]: {"balance": 1000, "subaccounts": {"sec-old": {"password": os.environ["SMSBOX_ITEST_PW2"]}}}}))' \
    > "$INPUT_DIR/accounts.json"
start_emulator main --accounts-file "$INPUT_DIR/accounts.json"
URL=$(emulator_field "$SMSBOX_EMULATOR_MAIN")
export SMSBOX_ITEST_URL=$URL
runs=0

echo "=== Modules at -vvvv with --diff: results printed, check mode, failures"
run_and_check_secrets "${SECRETS[@]}" -- ansible-playbook -i "$INVENTORY" -vvvv --diff test.yml
runs=$((runs + 1))
run_and_check_secrets "${SECRETS[@]}" -- ansible-playbook -i "$INVENTORY" -vvvv --diff --check test.yml || true
runs=$((runs + 1))

echo "=== The role at -vvvv with --diff, a real run and a failing one"
cat > "$INPUT_DIR/hosts.yml" <<YML
all:
  vars:
    ansible_connection: local
    ansible_python_interpreter: $PYTHON
    smsbox_api_url: $URL
    smsbox_api_key: "{{ lookup('env', 'SMSBOX_ITEST_KEY') }}"
    smsbox_ledger: $SMSBOX_LEDGER_DIR/role.json
  hosts:
    r1: {smsbox_subaccount: {name: sec-r1, password: "{{ lookup('env', 'SMSBOX_ITEST_PW1') }}", credit: 5}}
    r2: {smsbox_subaccount: {name: sec-old, password: "{{ lookup('env', 'SMSBOX_ITEST_PW2') }}", credit: 5}}
YML
cat > "$WORK_DIR/role.yml" <<'YML'
- name: Provision
  hosts: all
  gather_facts: false
  roles:
    - role: smsbox.account.subaccounts
YML
if run_and_check_secrets "${SECRETS[@]}" -- ansible-playbook -i "$INPUT_DIR/hosts.yml" -vvvv --diff "$WORK_DIR/role.yml"; then
    echo "FAIL: creating sec-old (made elsewhere, no adopt) should fail" >&2; exit 1
fi
runs=$((runs + 1))

echo "=== Ad hoc at -vvvv: the key from the environment, a success and failures"
adhoc() {
    SMSBOX_API_KEY=$1 SMSBOX_API_URL=$URL SMSBOX_LEDGER="$SMSBOX_LEDGER_DIR/adhoc.json" \
        run_and_check_secrets "${SECRETS[@]}" -- ansible localhost -i "$INVENTORY" -vvvv "${@:2}"
}
adhoc "$SMSBOX_ITEST_KEY" -m smsbox.account.smsbox_balance_info
adhoc "$SMSBOX_ITEST_WRONG_KEY" -m smsbox.account.smsbox_balance_info && { echo "FAIL: a wrong key should fail" >&2; exit 1; }
adhoc "$SMSBOX_ITEST_KEY" -m smsbox.account.smsbox_credit -a 'subaccount=sec-r1 amount=0' && { echo "FAIL: amount 0 should fail" >&2; exit 1; }
runs=$((runs + 3))
grep -q '"balance": 990' "$WORK_DIR/output.log"
report_count "secret-checked runs" "$runs"
