#!/usr/bin/env bash
# make demo: provision the two example inventories (examples/inventories/eu and us, two SMSBOX main
# accounts) on the local SMSBOX emulator, twice: the first run creates the sub-accounts and moves
# their credits, the second shows that nothing changes. No SMSBOX account, no network needed.
#
# The inventories name the real endpoint; -e smsbox_api_url=... (extra vars win over group_vars)
# points both at the emulator, and -e smsbox_ledger_dir=... keeps the two ledgers under .build/demo/
# instead of ~/.ansible/smsbox/. The emulator stops however this script ends.
#
#   scripts/demo.sh          (make demo)       the demo above
#   scripts/demo.sh up       (make demo-up)    the emulator and the first run, left up to play with:
#                                              .build/demo/play [ansible-playbook options], e.g. --check --diff
#   scripts/demo.sh down     (make demo-down)  stops that emulator
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"

DEMO=$BUILD/demo
EMULATOR=$ROOT/tests/emulator/smsbox_emulator.py
READY=$DEMO/emulator.json
LOG=$DEMO/output.log
EXAMPLES=$ROOT/examples

stop_emulator() {
    "$VENV/bin/python" "$EMULATOR" stop --ready-file "$READY" > /dev/null 2>&1 || true
}

provision() {
    # The command an operator runs, plus the two extra vars that point it at the emulator.
    (cd "$ROOT" && ansible-playbook smsbox.account.provision \
        -i examples/inventories/eu -i examples/inventories/us \
        --vault-password-file examples/demo-vault-password.txt \
        -e "smsbox_api_url=$URL" -e "smsbox_ledger_dir=$DEMO/ledgers")
}

ensure_venv
use_core
stage_collection

if [[ ${1:-} == down ]]; then
    stop_emulator
    echo "The demo emulator is stopped (its ledgers stay under $DEMO/ledgers until the next make demo or demo-up)."
    exit 0
fi

if [[ ${1:-} == up ]]; then
    stop_emulator
    rm -rf "$DEMO"
    mkdir -p "$DEMO/ledgers"
    python "$EMULATOR" serve --background --ready-file "$READY" --accounts-file "$EXAMPLES/emulator-accounts.json" > /dev/null
    URL=$(python -c 'import json, sys; print(json.load(open(sys.argv[1]))["url"])' "$READY")
    # The command an operator runs, pointed at this emulator: what `play` runs, with the options given to it.
    cat > "$DEMO/play" <<PLAY
#!/usr/bin/env bash
# The demo's provisioning command against the emulator make demo-up started ($URL); options are passed on.
set -euo pipefail
cd "$ROOT"
export PATH="$VENV/bin:\$PATH" ANSIBLE_COLLECTIONS_PATH="$COLLECTIONS"
exec ansible-playbook smsbox.account.provision -i examples/inventories/eu -i examples/inventories/us \\
    --vault-password-file examples/demo-vault-password.txt -e smsbox_api_url=$URL -e smsbox_ledger_dir=$DEMO/ledgers "\$@"
PLAY
    chmod +x "$DEMO/play"
    say "Run 1 against the emulator at $URL (left running)"
    "$DEMO/play"
    say "The emulator stays up. Edit a credit in examples/inventories/*/hosts.yml, then:"
    echo "  .build/demo/play --check --diff   # predicts the transfers, sends nothing"
    echo "  .build/demo/play                  # sends them"
    echo "  make demo-down                    # stops the emulator"
    exit 0
fi

trap stop_emulator EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
stop_emulator  # one left over by an interrupted demo
rm -rf "$DEMO"
mkdir -p "$DEMO/ledgers"
: > "$LOG"

say "Starting the SMSBOX emulator with the demo main accounts of examples/emulator-accounts.json" | tee -a "$LOG"
python "$EMULATOR" serve --background --ready-file "$READY" --accounts-file "$EXAMPLES/emulator-accounts.json" > /dev/null
URL=$(python -c 'import json, sys; print(json.load(open(sys.argv[1]))["url"])' "$READY")
echo "emulator: $URL; ledgers: $DEMO/ledgers" | tee -a "$LOG"

say "Run 1: create the sub-accounts of both inventories and allocate their credits" | tee -a "$LOG"
provision 2>&1 | tee -a "$LOG"

say "Run 2: the same command again; nothing to do (changed=0)" | tee -a "$LOG"
provision 2>&1 | tee "$DEMO/run2.log" | tee -a "$LOG"
if grep -Eq 'changed=[1-9]' "$DEMO/run2.log"; then
    echo "FAIL: the second run changed something" >&2
    exit 1
fi

say "Run 3: the shop madrid-sol left the eu inventory; the summary reports its sub-account (drift), nothing is sent" | tee -a "$LOG"
# A copy of the inventories without that host (from its line to the next host's): the ledger still knows it.
cp -r "$EXAMPLES/inventories" "$DEMO/inventories"
sed -i '/^    madrid-sol:$/,/^    milano-duomo:$/{/^    milano-duomo:$/!d}' "$DEMO/inventories/eu/hosts.yml"
(cd "$ROOT" && ansible-playbook smsbox.account.provision -i "$DEMO/inventories/eu" -i "$DEMO/inventories/us" \
    --vault-password-file examples/demo-vault-password.txt -e "smsbox_api_url=$URL" -e "smsbox_ledger_dir=$DEMO/ledgers") \
    2>&1 | tee "$DEMO/run3.log" | tee -a "$LOG" > /dev/null
grep -o '"eu: [^"]*drift: [^"]*"' "$DEMO/run3.log" | head -1 | tee -a "$LOG"

say "A statement of the eu ledger, read without the key (smsbox_ledger_info), and its CSV" | tee -a "$LOG"
(cd "$ROOT" && SMSBOX_API_KEY='' ansible localhost -m smsbox.account.smsbox_ledger_info \
    -a "ledger=$DEMO/ledgers/eu.json period=month csv=$DEMO/eu-statement.csv" -o) 2>&1 \
    | "$VENV/bin/python" -c '
import json, sys
text = sys.stdin.read()
result = json.loads(text[text.index("{"):])
totals = result["totals"]
print("eu: %d credits given, %d taken back, %d net, in %d transfers; per month: %s" % (
    totals["given"], totals["taken_back"], totals["net"], totals["transfers"],
    ", ".join("%s %+d" % (period["period"], period["net"]) for period in result["periods"])))
for name, entry in sorted(result["subaccounts"].items())[:3]:
    print("  %-22s declared %5d, received %5d" % (name, entry["credits"]["allocated"], entry["credits"]["received"]))
print("  ... and the CSV, one row per transfer: %s" % result["csv"])
' | tee -a "$LOG"

say "What the emulator holds now, per main account" | tee -a "$LOG"
python "$EMULATOR" state --ready-file "$READY" > "$DEMO/state.json"
# Labels come from examples/emulator-accounts.json; keys are never printed.
python -c '
import json, sys
state, accounts = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
for index, (key, account) in enumerate(sorted(state["accounts"].items(), key=lambda item: str(accounts.get(item[0], {}).get("label")))):
    label = accounts.get(key, {}).get("label") or "main account %d" % (index + 1)
    start = accounts.get(key, {}).get("balance")
    credits = sum(sub["credits"] for sub in account["subaccounts"].values())
    print("%-3s balance %s -> %s, %d sub-accounts (%d creates applied), %d transfers applied (%s credits to sub-accounts)"
          % (label, start, account["balance"], len(account["subaccounts"]), len(account["creates"]), len(account["transfers"]), credits))
' "$DEMO/state.json" "$EXAMPLES/emulator-accounts.json" | tee -a "$LOG"

# The output must not show any demo key or password: check it against what the emulator received.
python -c '
import json, sys
state, output = json.load(open(sys.argv[1])), open(sys.argv[2]).read()
secrets = list(state["accounts"]) + [sub["password"] for account in state["accounts"].values()
                                     for sub in account["subaccounts"].values() if sub["password"]]
leaked = [index for index, secret in enumerate(secrets) if secret in output]
if leaked:
    sys.exit("FAIL: %d of the %d demo keys and passwords appear in the output" % (len(leaked), len(secrets)))
print("Checked: none of the %d demo keys and passwords appears in the output (%s)." % (len(secrets), sys.argv[2]))
' "$DEMO/state.json" "$LOG"
rm -f "$DEMO/state.json"  # it holds the demo passwords the emulator received
