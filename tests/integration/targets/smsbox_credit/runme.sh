#!/usr/bin/env bash
# smsbox_credit against the emulator, scenario by scenario (test.yml lists them, tasks/<scenario>.yml), each on a
# fresh emulator and fresh ledgers, once per ledger store: allocated and amount, check, apply, re-apply, check again;
# balance cover, lost and dropped answers settled with resolve, ERREUR, ERROR 05, a refused key, input refused
# before any request. One scenario (or a few, comma-separated): SCENARIO=lost_answer ./runme.sh, or
# ./runme.sh -e scenario=lost_answer (docs/testing.md).
set -euo pipefail
source ../setup_emulator/emulator.sh

# Distinctive secrets, passed through the environment (an -e would be echoed at -vvvv): the key,
# a wrong key, and a marker that every password of the test carries. None may show anywhere.
export SMSBOX_ITEST_KEY=itest-credit-key-e5a90b37d2
export SMSBOX_ITEST_WRONG_KEY=itest-credit-wrong-key-6f0c1a
SECRET_MARK=Kx4pW9

# Each scenario's emulator starts with these accounts: ext-made exists at SMSBOX under this main account, made
# outside this collection.
cat > "$INPUT_DIR/accounts.json" <<JSON
{"$SMSBOX_ITEST_KEY": {"balance": 5000, "subaccounts": {
    "ext-made": {"credits": 0, "password": "ext-$SECRET_MARK-made"}}}}
JSON
export SMSBOX_ITEST_ACCOUNTS="$INPUT_DIR/accounts.json"

# Once per ledger store: the same scenarios, the same assertions.
DB_PASSWORD=$(postgresql_password)
for store in $(ledger_stores); do
    run_scenarios "$store" "$SMSBOX_ITEST_KEY" "$SMSBOX_ITEST_WRONG_KEY" "$SECRET_MARK" ${DB_PASSWORD:+"$DB_PASSWORD"} -- "$@"
done
