#!/usr/bin/env bash
# The role smsbox.account.subaccounts after provisioning, as an operator lives it, scenario by scenario (test.yml lists
# them, tasks/<scenario>.yml), each on a fresh emulator and ledger: a monthly allowance paid once (also by controllers
# racing and after a killed run), --diff per sub-account, a shop removed from the inventory (the drift, reported,
# failed on, reclaimed, never reclaimed on a partial view), a shop retired, a password changed in the dashboard and
# acknowledged, and the run recorded with each transfer, read back by smsbox_ledger_info with a statement per period
# and a CSV. Every check is made against the emulator's state and the ledger. One scenario (or a few,
# comma-separated): SCENARIO=killed_run_pays_nothing_twice ./runme.sh (docs/testing.md).
set -euo pipefail
source ../setup_emulator/emulator.sh

# Distinctive secrets, passed through the environment (an -e would be echoed at -vvvv): the key, and a marker that
# every password of the test carries. None may show in the output of the play (which holds the output of every run
# it makes) nor in any file under the work dir.
export SMSBOX_ITEST_KEY_EU=itest-day2-eu-key-51fa0e
export SMSBOX_ITEST_SECRET_MARK=Dy2wQ8
# The scenarios write their inventories here: inputs, not scanned.
export SMSBOX_ITEST_INPUT_DIR=$INPUT_DIR

echo "{\"$SMSBOX_ITEST_KEY_EU\": {\"balance\": 10000}}" > "$INPUT_DIR/eu.json"
export SMSBOX_ITEST_ACCOUNTS="$INPUT_DIR/eu.json"

# The role's ledgers are files (a ledger in PostgreSQL is the module targets' and controllers_postgresql's).
run_scenarios file "$SMSBOX_ITEST_KEY_EU" "$SMSBOX_ITEST_SECRET_MARK" -- "$@"
