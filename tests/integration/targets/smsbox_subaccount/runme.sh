#!/usr/bin/env bash
# smsbox_subaccount against the emulator, scenario by scenario (test.yml lists them, tasks/<scenario>.yml), each on
# a fresh emulator and fresh ledgers, once per ledger store: check, apply, re-apply, check again; ERREUR, adopt,
# faults on create, input refused before any request, a refused key; then ad hoc commands (scenario adhoc, here).
# One scenario (or a few, comma-separated): SCENARIO=create_faults ./runme.sh, SCENARIO=adhoc ./runme.sh, or
# ./runme.sh -e scenario=create_faults (the play's scenarios only; docs/testing.md).
set -euo pipefail
source ../setup_emulator/emulator.sh

# Distinctive secrets, passed through the environment (an -e would be echoed at -vvvv): the key,
# a wrong key, and a marker that every password of the test carries. None may show anywhere.
export SMSBOX_ITEST_KEY=itest-sub-key-4b9e2d71c0
export SMSBOX_ITEST_WRONG_KEY=itest-sub-wrong-key-19ad0e
SECRET_MARK=Zq8vK3

# Each emulator starts with these accounts: legacy-* exist at SMSBOX already, made outside this collection (the
# dashboard, another tool).
cat > "$INPUT_DIR/accounts.json" <<JSON
{"$SMSBOX_ITEST_KEY": {"balance": 1000, "subaccounts": {
    "legacy-hq": {"password": "legacy-$SECRET_MARK-hq"},
    "legacy-ops": {"password": "legacy-$SECRET_MARK-ops"},
    "legacy-bulk": {"password": "legacy-$SECRET_MARK-bulk"}}}}
JSON
export SMSBOX_ITEST_ACCOUNTS="$INPUT_DIR/accounts.json"

# Once per ledger store: the same scenarios, the same assertions. SCENARIO may also name adhoc, below.
# shellcheck disable=SC2034  # read by run_scenarios (emulator.sh)
RUNME_SCENARIOS=(adhoc)
DB_PASSWORD=$(postgresql_password)
for store in $(ledger_stores); do
    run_scenarios "$store" "$SMSBOX_ITEST_KEY" "$SMSBOX_ITEST_WRONG_KEY" "$SECRET_MARK" ${DB_PASSWORD:+"$DB_PASSWORD"} -- "$@"
done
chosen adhoc || exit 0

# Ad hoc, as the README shows it: the key from SMSBOX_API_KEY, the password from a vaulted variable
# file, so that the -a text names the variable only. A success and a failure, at -vvv: Ansible prints
# the arguments of a failed ad hoc task, which must then hold no secret.
echo "=== ad hoc"
start_emulator adhoc --accounts-file "$INPUT_DIR/accounts.json"
URL=$(emulator_field "$SMSBOX_EMULATOR_ADHOC")
echo "vault-pass-$SECRET_MARK" > "$INPUT_DIR/vault-pass"
printf 'vault_adhoc_password: adhoc-%s-pw\n' "$SECRET_MARK" > "$INPUT_DIR/vault.yml"
ansible-vault encrypt --vault-password-file "$INPUT_DIR/vault-pass" "$INPUT_DIR/vault.yml" > /dev/null
adhoc() {
    SMSBOX_API_KEY=$SMSBOX_ITEST_KEY SMSBOX_API_URL=$URL SMSBOX_LEDGER="$SMSBOX_LEDGER_DIR/adhoc.json" \
        run_and_check_secrets "$SMSBOX_ITEST_KEY" "$SECRET_MARK" "vault-pass-" -- \
        ansible localhost -i "$INVENTORY" -vvv -m smsbox.account.smsbox_subaccount \
        -e @"$INPUT_DIR/vault.yml" --vault-password-file "$INPUT_DIR/vault-pass" -a "$1"
}
adhoc 'name=adhoc-vaulted password={{ vault_adhoc_password }}'
grep -q '"created": \[' "$WORK_DIR/output.log"
rc=0
adhoc 'name=legacy-hq password={{ vault_adhoc_password }}' || rc=$?   # ERREUR: the name exists
if [[ $rc == 0 ]]; then echo "FAIL: creating an existing name ad hoc should fail" >&2; exit 1; fi
grep -q 'SMSBOX refused to create it (ERREUR)' "$WORK_DIR/output.log"
