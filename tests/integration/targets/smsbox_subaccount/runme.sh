#!/usr/bin/env bash
# smsbox_subaccount against the emulator: check, apply, re-apply, check again; ERREUR, adopt,
# faults on create, input refused before any request, a refused key. See test.yml.
set -euo pipefail
source ../setup_emulator/emulator.sh

# Distinctive secrets, passed through the environment (an -e would be echoed at -vvvv): the key,
# a wrong key, and a marker that every password of the test carries. None may show anywhere.
export SMSBOX_ITEST_KEY=itest-sub-key-4b9e2d71c0
export SMSBOX_ITEST_WRONG_KEY=itest-sub-wrong-key-19ad0e
SECRET_MARK=Zq8vK3

# legacy-* exist at SMSBOX already, made outside this collection (the dashboard, another tool).
cat > "$WORK_DIR/accounts.json" <<JSON
{"$SMSBOX_ITEST_KEY": {"balance": 1000, "subaccounts": {
    "legacy-hq": {"password": "legacy-$SECRET_MARK-hq"},
    "legacy-ops": {"password": "legacy-$SECRET_MARK-ops"},
    "legacy-bulk": {"password": "legacy-$SECRET_MARK-bulk"}}}}
JSON
# A little latency makes the concurrent creates of the bulk form overlap for real.
start_emulator main --accounts-file "$WORK_DIR/accounts.json" --latency 0.02

run_and_check_secrets "$SMSBOX_ITEST_KEY" "$SMSBOX_ITEST_WRONG_KEY" "$SECRET_MARK" -- \
    ansible-playbook -i "$INVENTORY" -vvvv test.yml "$@"
