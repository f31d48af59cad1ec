#!/usr/bin/env bash
# Every YAML, JSON and shell example of the README, the guides, the role's README and examples/README.md runs as
# written against the SMSBOX emulator, adapted only by the substitution table of doc_blocks.py (the API URL, keys,
# /srv paths, vault values): run_examples.py, which fails on an example it cannot classify (docs/testing.md).
set -euo pipefail
source ../setup_emulator/emulator.sh

# The docs' own test keys (vault_smsbox_*_key, SMSBOX_API_KEY) and the mark of every test password, all made here
# (a copy of the repository under the work dir holds this file); the examples'
# inventories keep the demo keys of examples/emulator-accounts.json, which is in git (so not a secret to look for).
SMSBOX_DOCS_KEY_EU="docs-eu-$("$PYTHON" -c 'import secrets; print(secrets.token_hex(6))')"
SMSBOX_DOCS_KEY_US="docs-us-$("$PYTHON" -c 'import secrets; print(secrets.token_hex(6))')"
SMSBOX_DOCS_MARK="m$("$PYTHON" -c 'import secrets; print(secrets.token_hex(4))')"
export SMSBOX_DOCS_KEY_EU SMSBOX_DOCS_KEY_US SMSBOX_DOCS_MARK
SECRETS=("$SMSBOX_DOCS_KEY_EU" "$SMSBOX_DOCS_KEY_US" "$SMSBOX_DOCS_MARK")

"$PYTHON" - "$COLLECTION_ROOT/examples/emulator-accounts.json" > "$INPUT_DIR/accounts.json" <<'PY'
import json, os, sys
accounts = json.load(open(sys.argv[1]))
accounts.update({os.environ['SMSBOX_DOCS_KEY_EU']: {'balance': 10000}, os.environ['SMSBOX_DOCS_KEY_US']: {'balance': 10000}})
print(json.dumps(accounts))
PY
start_emulator docs --accounts-file "$INPUT_DIR/accounts.json"

# The PostgreSQL examples run where the write targets run on PostgreSQL (the newest line); parsed only elsewhere.
postgresql=()
postgresql_uri=$(cat "$POSTGRESQL_URI_FILE" 2>/dev/null || true)
if [[ -n $postgresql_uri && $postgresql_uri != skip && " $(ledger_stores) " == *" postgresql "* ]]; then
    postgresql=(--postgresql "$postgresql_uri")
fi
counts=()
if [[ -n ${OUTPUT_DIR:-} && -d $OUTPUT_DIR/../.. ]]; then
    counts=(--counts "$OUTPUT_DIR/../../smsbox-counts-docs-examples.txt")
fi

rc=0
run_and_check_secrets "${SECRETS[@]}" -- "$PYTHON" run_examples.py --root "$COLLECTION_ROOT" --work "$WORK_DIR" \
    --inputs "$INPUT_DIR" --emulator "$SMSBOX_EMULATOR_DOCS" "${postgresql[@]}" "${counts[@]}" || rc=$?

# The passwords SMSBOX received (run_examples.py kept them, the examples' vaulted ones too) and the PostgreSQL
# ledgers' rows: no secret either. The demo keys are in git, and so in a collection the examples install: only the
# output must not show them.
mapfile -t passwords < <(sort -u "$INPUT_DIR/passwords.txt" 2>/dev/null)
if [[ ${#postgresql[@]} -gt 0 ]]; then
    # shellcheck disable=SC2046  # one URI a line, without spaces
    postgresql_dump $(postgresql_ledger_uris | grep 'itest_docs_' || true) > "$WORK_DIR/postgresql-rows.txt"
fi
run_and_check_secrets "${SECRETS[@]}" "${passwords[@]}" -- true
"$PYTHON" -c 'import json, sys; print("\n".join(json.load(open(sys.argv[1]))))' "$COLLECTION_ROOT/examples/emulator-accounts.json" \
    > "$INPUT_DIR/demo-keys.txt"
if grep -nF -f "$INPUT_DIR/demo-keys.txt" "$WORK_DIR/output.log"; then
    echo "FAIL: a demo key appears in the output above" >&2
    exit 1
fi
exit "$rc"
