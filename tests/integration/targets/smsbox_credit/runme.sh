#!/usr/bin/env bash
# smsbox_credit against the emulator: allocated and amount, check, apply, re-apply, check again;
# balance cover, lost and dropped answers settled with resolve, ERREUR, ERROR 05, input refused
# before any request, a refused key. See test.yml.
set -euo pipefail
source ../setup_emulator/emulator.sh

# Distinctive secrets, passed through the environment (an -e would be echoed at -vvvv): the key,
# a wrong key, and a marker that every password of the test carries. None may show anywhere.
export SMSBOX_ITEST_KEY=itest-credit-key-e5a90b37d2
export SMSBOX_ITEST_WRONG_KEY=itest-credit-wrong-key-6f0c1a
SECRET_MARK=Kx4pW9

# ext-made exists at SMSBOX under this main account, made outside this collection.
cat > "$INPUT_DIR/accounts.json" <<JSON
{"$SMSBOX_ITEST_KEY": {"balance": 5000, "subaccounts": {
    "ext-made": {"credits": 0, "password": "ext-$SECRET_MARK-made"}}}}
JSON
# A little latency makes the concurrent transfers of the bulk form overlap for real.
start_emulator main --accounts-file "$INPUT_DIR/accounts.json" --latency 0.02

run_and_check_secrets "$SMSBOX_ITEST_KEY" "$SMSBOX_ITEST_WRONG_KEY" "$SECRET_MARK" -- \
    ansible-playbook -i "$INVENTORY" -vvvv test.yml "$@"
