#!/usr/bin/env bash
set -euo pipefail
source ../setup_emulator/emulator.sh

KEY=itest-balance-key-7d1f0c
start_emulator plain --account "$KEY=1000" --account itest-fractional-key=22.5
start_emulator tls --tls --account "$KEY=1000"

# Every output is kept at the highest verbosity; the key must show in none of it.
# The key reaches the playbook through the environment: ansible-playbook prints extra vars at -vvvv.
SMSBOX_TEST_KEY=$KEY run_and_check_secrets "$KEY" -- ansible-playbook -i "$INVENTORY" -vvvv test.yml "$@"

# Ad hoc, with the key and the URL from the environment only.
URL=$("$PYTHON" -c 'import json,sys; print(json.load(open(sys.argv[1]))["url"])' "$SMSBOX_EMULATOR_PLAIN")
SMSBOX_API_KEY=$KEY SMSBOX_API_URL=$URL SMSBOX_LEDGER="$SMSBOX_LEDGER_DIR/adhoc.json" \
    run_and_check_secrets "$KEY" -- ansible localhost -i "$INVENTORY" -m smsbox.account.smsbox_balance_info -vvv
grep -q '"balance": 1000' "$WORK_DIR/output.log"
