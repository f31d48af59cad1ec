#!/usr/bin/env bash
# smsbox_balance_info against the emulator, scenario by scenario (test.yml lists them, tasks/<scenario>.yml), each on
# a fresh emulator: balances, a refused key, retries, cleartext refused, TLS; then an ad hoc read (scenario adhoc,
# here). One scenario (or a few, comma-separated): SCENARIO=retries ./runme.sh, SCENARIO=adhoc ./runme.sh, or
# ./runme.sh -e scenario=retries (the play's scenarios only; docs/testing.md).
set -euo pipefail
source ../setup_emulator/emulator.sh

KEY=itest-balance-key-7d1f0c
printf '{"%s": 1000, "itest-fractional-key": 22.5}\n' "$KEY" > "$INPUT_DIR/accounts.json"
export SMSBOX_ITEST_ACCOUNTS="$INPUT_DIR/accounts.json"

# Every output is kept at the highest verbosity; the key must show in none of it.
# The key reaches the playbook through the environment: ansible-playbook prints extra vars at -vvvv.
# A read-only module: the file store is enough.
# shellcheck disable=SC2034  # read by run_scenarios (emulator.sh)
RUNME_SCENARIOS=(adhoc)
SMSBOX_TEST_KEY=$KEY run_scenarios file "$KEY" -- "$@"
chosen adhoc || exit 0

# Ad hoc, with the key and the URL from the environment only.
echo "=== ad hoc"
start_emulator plain --accounts-file "$INPUT_DIR/accounts.json"
URL=$(emulator_field "$SMSBOX_EMULATOR_PLAIN")
SMSBOX_API_KEY=$KEY SMSBOX_API_URL=$URL SMSBOX_LEDGER="$SMSBOX_LEDGER_DIR/adhoc.json" \
    run_and_check_secrets "$KEY" -- ansible localhost -i "$INVENTORY" -m smsbox.account.smsbox_balance_info -vvv
grep -q '"balance": 1000' "$WORK_DIR/output.log"
