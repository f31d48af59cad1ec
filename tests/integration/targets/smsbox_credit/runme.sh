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
# Once per ledger store, each on a fresh emulator: the same play, the same assertions.
# A little latency makes the concurrent transfers of the bulk form overlap for real.
DB_PASSWORD=$(postgresql_password)
for store in $(ledger_stores); do
    echo "=== ledger store: $store"
    start_emulator "main_$store" --accounts-file "$INPUT_DIR/accounts.json" --latency 0.02
    ready=SMSBOX_EMULATOR_MAIN_${store^^}
    export SMSBOX_EMULATOR_MAIN=${!ready}
    if [[ $store == postgresql ]]; then
        SMSBOX_ITEST_LEDGER_MAIN=$(postgresql_ledger main) || { echo "FAIL: no test PostgreSQL (run scripts/test.sh integration)" >&2; exit 1; }
        export SMSBOX_ITEST_LEDGER_MAIN
    fi
    run_and_check_secrets "$SMSBOX_ITEST_KEY" "$SMSBOX_ITEST_WRONG_KEY" "$SECRET_MARK" ${DB_PASSWORD:+"$DB_PASSWORD"} -- \
        ansible-playbook -i "$INVENTORY" -vvvv test.yml "$@"
    if [[ $store == postgresql ]]; then
        # The database is a ledger too: it must hold no key and no password either.
        postgresql_dump "$SMSBOX_ITEST_LEDGER_MAIN" > "$SMSBOX_LEDGER_DIR/postgresql-rows.txt"
        [[ -s $SMSBOX_LEDGER_DIR/postgresql-rows.txt ]] || { echo "FAIL: the PostgreSQL ledger is empty" >&2; exit 1; }
        run_and_check_secrets "$SMSBOX_ITEST_KEY" "$SMSBOX_ITEST_WRONG_KEY" "$SECRET_MARK" ${DB_PASSWORD:+"$DB_PASSWORD"} -- true
    fi
done
