#!/usr/bin/env bash
# The role smsbox.account.subaccounts as operators run it, scenario by scenario (test.yml lists them,
# tasks/<scenario>.yml), each on fresh emulators and ledgers: several inventories and main accounts, each with its own
# settings; serial; the free strategy refused; stage tags; the summary; a ledger refused inside an installed
# collection. Every check is made against the emulators' state. One scenario (or a few, comma-separated):
# SCENARIO=free_strategy_is_refused ./runme.sh (docs/testing.md).
set -euo pipefail
source ../setup_emulator/emulator.sh

# Distinctive secrets, passed through the environment (an -e would be echoed at -vvvv): the keys of the two main
# accounts, and a marker that every password of the test carries. None may show in the output of the play (which
# holds the output of every run it makes) nor in any file under the work dir.
export SMSBOX_ITEST_KEY_EU=itest-role-eu-key-3c1e9a
export SMSBOX_ITEST_KEY_US=itest-role-us-key-8d4f20
export SMSBOX_ITEST_SECRET_MARK=Rl7mQ2
# The scenarios write their inventories here: inputs, not scanned; and build the collection from here.
export SMSBOX_ITEST_INPUT_DIR=$INPUT_DIR SMSBOX_ITEST_COLLECTION_ROOT=$COLLECTION_ROOT

# Each main account holds one sub-account made elsewhere; only eu sets smsbox_adopt (test.yml).
cat > "$INPUT_DIR/eu.json" <<JSON
{"$SMSBOX_ITEST_KEY_EU": {"balance": 10000, "subaccounts": {"eu-legacy": {"password": "legacy-$SMSBOX_ITEST_SECRET_MARK"}}}}
JSON
cat > "$INPUT_DIR/us.json" <<JSON
{"$SMSBOX_ITEST_KEY_US": {"balance": 10000, "subaccounts": {"us-legacy": {"password": "legacy-$SMSBOX_ITEST_SECRET_MARK"}}}}
JSON
export SMSBOX_ITEST_ACCOUNTS_EU="$INPUT_DIR/eu.json" SMSBOX_ITEST_ACCOUNTS_US="$INPUT_DIR/us.json"

# The role's ledgers are files (a ledger in PostgreSQL is the module targets' and controllers_postgresql's).
run_scenarios file "$SMSBOX_ITEST_KEY_EU" "$SMSBOX_ITEST_KEY_US" "$SMSBOX_ITEST_SECRET_MARK" -- "$@"
