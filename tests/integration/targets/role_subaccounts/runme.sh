#!/usr/bin/env bash
# The role smsbox.account.subaccounts as operators run it: several inventories and main accounts, each
# with its own settings; serial; the free strategy refused; stage tags; the summary; a ledger refused
# inside an installed collection. Every check is made against the emulator's state.
set -euo pipefail
source ../setup_emulator/emulator.sh

export SMSBOX_ITEST_KEY_EU=itest-role-eu-key-3c1e9a
export SMSBOX_ITEST_KEY_US=itest-role-us-key-8d4f20
SECRET_MARK=Rl7mQ2
SECRETS=("$SMSBOX_ITEST_KEY_EU" "$SMSBOX_ITEST_KEY_US" "$SECRET_MARK")

# eu: plain http; us: TLS with its own CA, which only the us hosts name (smsbox_ca_path).
# Each holds one sub-account made elsewhere; only eu sets smsbox_adopt.
cat > "$INPUT_DIR/eu.json" <<JSON
{"$SMSBOX_ITEST_KEY_EU": {"balance": 10000, "subaccounts": {"eu-legacy": {"password": "legacy-$SECRET_MARK"}}}}
JSON
cat > "$INPUT_DIR/us.json" <<JSON
{"$SMSBOX_ITEST_KEY_US": {"balance": 10000, "subaccounts": {"us-legacy": {"password": "legacy-$SECRET_MARK"}}}}
JSON
start_emulator eu --accounts-file "$INPUT_DIR/eu.json"
start_emulator us --tls --accounts-file "$INPUT_DIR/us.json"
EU_URL=$(emulator_field "$SMSBOX_EMULATOR_EU")
US_URL=$(emulator_field "$SMSBOX_EMULATOR_US")
US_CA=$(emulator_field "$SMSBOX_EMULATOR_US" ca_cert)

emulator() {  # emulator NAME EXPRESSION: evaluates a Python expression over that emulator's state (s) and prints it
    local ready="SMSBOX_EMULATOR_${1^^}"
    emulator_eval "${!ready}" "$2"
}
posts() { emulator "$1" "sum(1 for r in s['requests'] if r['method'] == 'POST')"; }
playbook() {  # playbook NAME ARGS...: runs $WORK_DIR/NAME.yml, its output checked for secrets; returns its rc
    local name=$1
    shift
    local rc=0
    run_and_check_secrets "${SECRETS[@]}" -- ansible-playbook -i "$INPUT_DIR/inventory" "$WORK_DIR/$name.yml" "$@" > "$WORK_DIR/$name.out" || rc=$?
    return "$rc"
}
write_playbook() {  # write_playbook NAME [play keywords...]
    local name=$1
    shift
    {
        echo '- name: Provision'
        echo '  hosts: all'
        echo '  gather_facts: false'
        for keyword in "$@"; do echo "  $keyword"; done
        echo '  tasks:'
        echo '    - name: Converge'
        echo '      ansible.builtin.import_role:'
        echo '        name: smsbox.account.subaccounts'
        echo '        rolespec_validate: false'
    } > "$WORK_DIR/$name.yml"
}

# us hosts first: the first host of the play is in us, whose settings must not leak to eu.
write_inventory() {  # write_inventory [extra host line for eu-paris]
    cat > "$INPUT_DIR/inventory" <<YML
all:
  vars:
    ansible_connection: local
    ansible_python_interpreter: $PYTHON
  children:
    us:
      vars:
        smsbox_api_key: "{{ lookup('env', 'SMSBOX_ITEST_KEY_US') }}"
        smsbox_api_url: $US_URL
        smsbox_ca_path: $US_CA
        smsbox_ledger: $SMSBOX_LEDGER_DIR/us.json
        smsbox_account_label: us
      hosts:
        us-nyc: {smsbox_subaccount: {name: us-nyc, password: "nyc-$SECRET_MARK", credit: 30}}
        us-sfo: {smsbox_subaccount: {name: us-sfo, password: "sfo-$SECRET_MARK", credit: 40}}
    eu:
      vars:
        smsbox_api_key: "{{ lookup('env', 'SMSBOX_ITEST_KEY_EU') }}"
        smsbox_api_url: $EU_URL
        smsbox_ledger: $SMSBOX_LEDGER_DIR/eu.json
        smsbox_account_label: eu
        smsbox_adopt: true
      hosts:
        eu-paris: {smsbox_subaccount: {name: eu-paris, password: "paris-$SECRET_MARK", credit: 10}${1:-}}
        eu-lyon: {smsbox_subaccount: {name: eu-lyon, password: "lyon-$SECRET_MARK", credit: 20}}
        eu-old: {smsbox_subaccount: {name: eu-legacy}}
YML
}

echo "=== Hosts of one account that disagree on a setting are refused, naming them, before any request"
write_inventory ", smsbox_adopt: false"
write_playbook provision
if playbook provision; then echo "FAIL: the play should have failed" >&2; exit 1; fi
says "$WORK_DIR/provision.out" 'hosts eu-paris and eu-lyon belong to the same main account'
says "$WORK_DIR/provision.out" 'disagree on smsbox_adopt'
expect "eu requests after a refused plan" "$(emulator eu "len(s['requests'])")" 0
expect "us requests after a refused plan" "$(emulator us "len(s['requests'])")" 0

echo "=== Two main accounts on one ledger are refused before any request"
write_inventory
sed -i "s|$SMSBOX_LEDGER_DIR/us.json|$SMSBOX_LEDGER_DIR/eu.json|" "$INPUT_DIR/inventory"
if playbook provision; then echo "FAIL: the play should have failed" >&2; exit 1; fi
says "$WORK_DIR/provision.out" 'main accounts us (hosts us-nyc, us-sfo) and eu (hosts eu-paris, eu-lyon, eu-old) share one ledger'
expect "requests after a shared ledger" "$(emulator eu "len(s['requests'])")/$(emulator us "len(s['requests'])")" 0/0

echo "=== strategy: free is refused before any request"
write_inventory
write_playbook free "strategy: free"
if playbook free; then echo "FAIL: the free strategy should have been refused" >&2; exit 1; fi
says "$WORK_DIR/free.out" 'cannot run with strategy: free'
expect "requests under strategy free" "$(emulator eu "len(s['requests'])")/$(emulator us "len(s['requests'])")" 0/0

echo "=== --tags smsbox_plan validates and sends nothing"
playbook provision --tags smsbox_plan
expect "requests with --tags smsbox_plan" "$(emulator eu "len(s['requests'])")/$(emulator us "len(s['requests'])")" 0/0

echo "=== --start-at-task past the plan says how to select stages instead"
if playbook provision --start-at-task 'Allocate the credits of each main account'; then echo "FAIL: expected a clear failure" >&2; exit 1; fi
says "$WORK_DIR/provision.out" '--tags smsbox_credits'
expect "requests with --start-at-task" "$(posts eu)/$(posts us)" 0/0

echo "=== Each main account converges with its own settings, whatever the inventory order"
# us: its CA (TLS) and no adopt, so us-legacy is not touched; eu: adopt, so eu-legacy is adopted.
playbook provision --tags smsbox_subaccounts
expect "eu creates" "$(emulator eu "sorted(a['creates'])")" "['eu-lyon', 'eu-paris']"
expect "us creates" "$(emulator us "sorted(a['creates'])")" "['us-nyc', 'us-sfo']"
expect "transfers with --tags smsbox_subaccounts" "$(emulator eu "len(a['transfers'])")/$(emulator us "len(a['transfers'])")" 0/0
says "$WORK_DIR/provision.out" "eu: 2 created, 1 adopted, 0 unchanged"
says "$WORK_DIR/provision.out" "us: 2 created, 0 adopted, 0 unchanged"

echo "=== --tags smsbox_credits moves the credits alone"
playbook provision --tags smsbox_credits
expect "eu credits" "$(emulator eu "sorted((n, int(x['credits'])) for n, x in a['subaccounts'].items())")" \
    "[('eu-legacy', 0), ('eu-lyon', 20), ('eu-paris', 10)]"
expect "us credits" "$(emulator us "sorted((n, int(x['credits'])) for n, x in a['subaccounts'].items())")" \
    "[('us-legacy', 0), ('us-nyc', 30), ('us-sfo', 40)]"
expect "creates after --tags smsbox_credits" "$(emulator eu "len(a['creates'])")/$(emulator us "len(a['creates'])")" 2/2

echo "=== A second run changes nothing"
playbook provision
says "$WORK_DIR/provision.out" 'changed=0 ' -E
expect "POSTs after the re-run" "$(posts eu)/$(posts us)" "4/4"

echo "=== Failures speak the role's vocabulary"
cp "$INPUT_DIR/inventory" "$INPUT_DIR/inventory.saved"
sed -i "s|^        us-sfo: .*|&\n        us-dup: {smsbox_subaccount: {name: us-legacy, password: \"dup-$SECRET_MARK\"}}|" "$INPUT_DIR/inventory"
if playbook provision --tags smsbox_subaccounts; then echo "FAIL: creating an existing name should fail" >&2; exit 1; fi
says "$WORK_DIR/provision.out" 'to record it, set smsbox_adopt: true and baseline'
if grep -Eq '[^_]adopt: true' "$WORK_DIR/provision.out"; then echo "FAIL: a message names the module option adopt" >&2; exit 1; fi

echo "=== One refused new shop stops neither its account's other credits nor the other account; the summary prints"
sed -i 's/credit: 30}/credit: 35}/; s/credit: 10}/credit: 12}/' "$INPUT_DIR/inventory"
if playbook provision; then echo "FAIL: a refused create should fail the play" >&2; exit 1; fi
says "$WORK_DIR/provision.out" 'us: 0 created, 0 adopted, 2 unchanged; \+5 credits moved in 1 transfers; .*; sub-accounts FAILED' -E
says "$WORK_DIR/provision.out" 'eu: 0 created, 0 adopted, 3 unchanged; +2 credits moved in 1 transfers'
expect "credits after one refused shop" "$(emulator us "int(a['subaccounts']['us-nyc']['credits'])")/$(emulator eu "int(a['subaccounts']['eu-paris']['credits'])")" 35/12
mv "$INPUT_DIR/inventory.saved" "$INPUT_DIR/inventory"
sed -i 's/credit: 30}/credit: 35}/; s/credit: 10}/credit: 12}/' "$INPUT_DIR/inventory"

echo "=== --skip-tags smsbox_credits creates and prints the summary, as --tags smsbox_subaccounts does"
playbook provision --skip-tags smsbox_credits
says "$WORK_DIR/provision.out" 'eu: 0 created, 0 adopted, 3 unchanged; \+0 credits moved in 0 transfers; main balance [0-9]+ -> [0-9]+; unsettled: none; credits not run' -E

echo "=== A host moved to another main account's group is refused before any request, naming both accounts"
cp "$INPUT_DIR/inventory" "$INPUT_DIR/inventory.saved"
sed -i '/^        eu-lyon: /d' "$INPUT_DIR/inventory"
sed -i "s|^        us-sfo: .*|&\n        eu-lyon: {smsbox_subaccount: {name: eu-lyon, password: \"lyon-$SECRET_MARK\", credit: 20}}|" "$INPUT_DIR/inventory"
requests_before=$(emulator eu "len(s['requests'])")/$(emulator us "len(s['requests'])")
if playbook provision; then echo "FAIL: a moved shop should be refused" >&2; exit 1; fi
says "$WORK_DIR/provision.out" "sub-account 'eu-lyon' would be created under main account us, but the ledger of main account eu"
says "$WORK_DIR/provision.out" 'holds it (created, present, 20 credits received in all, 20 declared)'
expect "requests after a moved shop" "$(emulator eu "len(s['requests'])")/$(emulator us "len(s['requests'])")" "$requests_before"
mv "$INPUT_DIR/inventory.saved" "$INPUT_DIR/inventory"

echo "=== Two inventories that share a group name are refused before any request, naming the group and both"
for region in eu us; do
    mkdir -p "$INPUT_DIR/clash/$region/group_vars"
    key_var="SMSBOX_ITEST_KEY_${region^^}"
    url_var="${region^^}_URL"
    cat > "$INPUT_DIR/clash/$region/hosts.yml" <<YML
all:
  vars:
    ansible_connection: local
    ansible_python_interpreter: $PYTHON
  children:
    shops:
      hosts:
        clash-$region: {smsbox_subaccount: {name: clash-$region, password: "clash-$SECRET_MARK", credit: 5}}
YML
    cat > "$INPUT_DIR/clash/$region/group_vars/shops.yml" <<YML
smsbox_api_key: "{{ lookup('env', '$key_var') }}"
smsbox_api_url: ${!url_var}
smsbox_ca_path: ${US_CA}
smsbox_ledger: $SMSBOX_LEDGER_DIR/clash-$region.json
smsbox_account_label: $region
YML
done
requests_before=$(emulator eu "len(s['requests'])")/$(emulator us "len(s['requests'])")
rc=0
run_and_check_secrets "${SECRETS[@]}" -- ansible-playbook -i "$INPUT_DIR/clash/eu" -i "$INPUT_DIR/clash/us" "$WORK_DIR/provision.yml" \
    > "$WORK_DIR/clash.out" || rc=$?
expect "rc with a shared group name" "$rc" 2
says "$WORK_DIR/clash.out" "group 'shops' is defined by inventories $INPUT_DIR/clash/eu and $INPUT_DIR/clash/us, which set smsbox_account_label, smsbox_api_key, smsbox_api_url, smsbox_ledger differently"
expect "requests with a shared group name" "$(emulator eu "len(s['requests'])")/$(emulator us "len(s['requests'])")" "$requests_before"
sed -i 's/^    shops:$/    us_shops:/' "$INPUT_DIR/clash/us/hosts.yml"
mv "$INPUT_DIR/clash/us/group_vars/shops.yml" "$INPUT_DIR/clash/us/group_vars/us_shops.yml"
run_and_check_secrets "${SECRETS[@]}" -- ansible-playbook -i "$INPUT_DIR/clash/eu" -i "$INPUT_DIR/clash/us" "$WORK_DIR/provision.yml" \
    > "$WORK_DIR/clash-renamed.out"
# Each inventory's templated group_vars (the key from a lookup) still reach its own hosts once the plan has read them.
says "$WORK_DIR/clash-renamed.out" 'eu: 1 created, 0 adopted, 0 unchanged; +5 credits moved in 1 transfers'
says "$WORK_DIR/clash-renamed.out" 'us: 1 created, 0 adopted, 0 unchanged; +5 credits moved in 1 transfers'
expect "clash shops at SMSBOX" "$(emulator eu "int(a['subaccounts']['clash-eu']['credits'])")/$(emulator us "int(a['subaccounts']['clash-us']['credits'])")" 5/5

echo "=== A lost transfer answer is unsettled with its id; a refused transfer is not"
cat > "$WORK_DIR/faults.py" <<'PY'
import json, sys, urllib.request
ready, faults = json.load(open(sys.argv[1])), json.loads(sys.argv[2])
request = urllib.request.Request(ready['control_url'] + '/faults', data=json.dumps(faults).encode(), method='POST')
urllib.request.build_opener(urllib.request.ProxyHandler({})).open(request, timeout=10).read()
PY
"$PYTHON" "$WORK_DIR/faults.py" "$SMSBOX_EMULATOR_EU" \
    '[{"operation": "transfer", "fault": "lost_answer", "match": {"to": "eu-paris"}}, {"operation": "transfer", "fault": "erreur", "match": {"to": "eu-lyon"}}]'
sed -i 's/credit: 12}/credit: 17}/; s/credit: 20}/credit: 25}/' "$INPUT_DIR/inventory"
if playbook provision; then echo "FAIL: a lost answer should fail the play" >&2; exit 1; fi
says "$WORK_DIR/provision.out" 'unsettled: eu-paris \(tx-[0-9a-f]{12}\); credits FAILED"' -E
if grep -q 'eu-lyon (tx-' "$WORK_DIR/provision.out"; then echo "FAIL: a refused transfer is listed as unsettled" >&2; exit 1; fi
expect "eu credits after the faults" "$(emulator eu "sorted((n, int(x['credits'])) for n, x in a['subaccounts'].items() if n.startswith('eu-'))")" \
    "[('eu-legacy', 0), ('eu-lyon', 20), ('eu-paris', 17)]"

echo "=== A removed shop's unknown transfer stays in the report"
cp "$INPUT_DIR/inventory" "$INPUT_DIR/inventory.saved"
sed -i '/^        eu-paris: /d' "$INPUT_DIR/inventory"
playbook provision
# ... and in the drift report, with what the ledger knows it received (the unknown +5 is not counted).
says "$WORK_DIR/provision.out" 'eu: 0 created, 0 adopted, 2 unchanged; .*unsettled: eu-paris \(tx-[0-9a-f]{12}\); drift: eu-paris \(12 received\)"' -E
mv "$INPUT_DIR/inventory.saved" "$INPUT_DIR/inventory"

echo "=== serial: each batch converges its own hosts, once"
cat > "$INPUT_DIR/serial-inventory" <<YML
all:
  vars:
    ansible_connection: local
    ansible_python_interpreter: $PYTHON
    smsbox_api_key: "{{ lookup('env', 'SMSBOX_ITEST_KEY_EU') }}"
    smsbox_api_url: $EU_URL
    smsbox_ledger: $SMSBOX_LEDGER_DIR/serial.json
    smsbox_account_label: serial
  hosts:
YML
for index in 1 2 3 4 5; do
    echo "    batch-$index: {smsbox_subaccount: {name: batch-$index, password: \"b$index-$SECRET_MARK\", credit: $index}}" >> "$INPUT_DIR/serial-inventory"
done
write_playbook serial "serial: 2"
creates_before=$(emulator eu "len(a['creates'])")
run_and_check_secrets "${SECRETS[@]}" -- ansible-playbook -i "$INPUT_DIR/serial-inventory" "$WORK_DIR/serial.yml" > "$WORK_DIR/serial.out"
expect "summaries, one per batch" "$(grep -Ec 'serial: [0-9] created' "$WORK_DIR/serial.out")" 3
expect "created per batch" "$(grep -Eo 'serial: [0-9] created' "$WORK_DIR/serial.out" | tr '\n' ' ')" "serial: 2 created serial: 2 created serial: 1 created "
expect "creates made by the serial play" "$(( $(emulator eu "len(a['creates'])") - creates_before ))" 5
expect "batch credits" "$(emulator eu "sorted((n, int(x['credits'])) for n, x in a['subaccounts'].items() if n.startswith('batch-'))")" \
    "[('batch-1', 1), ('batch-2', 2), ('batch-3', 3), ('batch-4', 4), ('batch-5', 5)]"

echo "=== A lost ledger, then adopt: nothing is paid; with the baselines, only the real differences"
rm -f "$SMSBOX_LEDGER_DIR"/serial.json*
transfers_before=$(emulator eu "len(a['transfers'])")
rc=0
run_and_check_secrets "${SECRETS[@]}" -- ansible-playbook -i "$INPUT_DIR/serial-inventory" "$WORK_DIR/provision.yml" \
    -e smsbox_adopt=true > "$WORK_DIR/adopt.out" || rc=$?
# Given passwords and no baselines, they look new: SMSBOX's ERREUR adopts none of them.
says "$WORK_DIR/adopt.out" 'serial: 0 created, 0 adopted, 0 unchanged; .*sub-accounts FAILED; credits not attempted: the sub-accounts it was for could not be created' -E
says "$WORK_DIR/adopt.out" 'SMSBOX refused to create it (ERREUR), and it was not adopted'
expect "rc when adoption waits for baselines" "$rc" 2
expect "transfers after adopting without baselines" "$(emulator eu "len(a['transfers'])")" "$transfers_before"
for index in 1 2 3 4 5; do
    credit=$index
    [[ $index == 5 ]] && credit=9   # the one real difference
    sed -i "s/{name: batch-$index, password: \(.*\), credit: $index}/{name: batch-$index, password: \1, credit: $credit, baseline: $index}/" \
        "$INPUT_DIR/serial-inventory"
done
run_and_check_secrets "${SECRETS[@]}" -- ansible-playbook -i "$INPUT_DIR/serial-inventory" "$WORK_DIR/provision.yml" \
    -e smsbox_adopt=true > "$WORK_DIR/baselines.out"
says "$WORK_DIR/baselines.out" 'serial: 0 created, 5 adopted, 0 unchanged; +4 credits moved in 1 transfers'
run_and_check_secrets "${SECRETS[@]}" -- ansible-playbook -i "$INPUT_DIR/serial-inventory" "$WORK_DIR/provision.yml" \
    -e smsbox_adopt=true > "$WORK_DIR/baselines-again.out"
says "$WORK_DIR/baselines-again.out" 'serial: 0 created, 0 adopted, 5 unchanged; \+0 credits moved' -E
expect "batch credits after the baselines" "$(emulator eu "sorted((n, int(x['credits'])) for n, x in a['subaccounts'].items() if n.startswith('batch-'))")" \
    "[('batch-1', 1), ('batch-2', 2), ('batch-3', 3), ('batch-4', 4), ('batch-5', 9)]"
expect "transfers after the baselines" "$(( $(emulator eu "len(a['transfers'])") - transfers_before ))" 1

echo "=== Inline-vaulted key and password: read as they are (no template in them), decrypted, never shown"
echo "itest-vault-$SECRET_MARK" > "$INPUT_DIR/vault-password"
vaulted() {  # vaulted VALUE NAME INDENT: an inline !vault variable
    ansible-vault encrypt_string --vault-password-file "$INPUT_DIR/vault-password" "$1" --name "$2" 2> /dev/null | sed "s/^/$3/"
}
{
    echo 'all:'
    echo '  hosts:'
    echo '    eu-vaulted:'
    echo '      ansible_connection: local'
    echo "      ansible_python_interpreter: $PYTHON"
    echo "      smsbox_api_url: $EU_URL"
    echo "      smsbox_ledger: $SMSBOX_LEDGER_DIR/vaulted.json"
    vaulted "$SMSBOX_ITEST_KEY_EU" smsbox_api_key '      '
    echo '      smsbox_subaccount:'
    echo '        name: eu-vaulted'
    echo '        credit: 7'
    vaulted "vaulted-$SECRET_MARK" password '        '
} > "$INPUT_DIR/vaulted-inventory"
run_and_check_secrets "${SECRETS[@]}" -- ansible-playbook -i "$INPUT_DIR/vaulted-inventory" "$WORK_DIR/provision.yml" \
    --vault-password-file "$INPUT_DIR/vault-password" > "$WORK_DIR/vaulted.out"
says "$WORK_DIR/vaulted.out" '1 created, 0 adopted'
expect "the vaulted sub-account at SMSBOX" "$(emulator eu "(a['subaccounts']['eu-vaulted']['password'] == 'vaulted-$SECRET_MARK', int(a['subaccounts']['eu-vaulted']['credits']))")" \
    "(True, 7)"

echo "=== A ledger under {{ playbook_dir }} of the installed collection is refused"
(cd "$COLLECTION_ROOT" && ansible-galaxy collection build --force --output-path "$INPUT_DIR/build" > /dev/null)
ansible-galaxy collection install --force -p "$INPUT_DIR/installed" "$INPUT_DIR"/build/smsbox-account-*.tar.gz > /dev/null 2>&1
requests_before=$(emulator eu "len(s['requests'])")
rc=0
ANSIBLE_COLLECTIONS_PATH="$INPUT_DIR/installed" run_and_check_secrets "${SECRETS[@]}" -- ansible-playbook smsbox.account.provision \
    -i "$INPUT_DIR/serial-inventory" -e 'smsbox_ledger={{ playbook_dir }}/ledgers/main.json' > "$WORK_DIR/installed.out" || rc=$?
says "$WORK_DIR/installed.out" 'is inside the installed collection smsbox.account'
says "$WORK_DIR/installed.out" '{{ inventory_dir }}'
expect "rc with a ledger inside the installed collection" "$rc" 2
expect "requests with a ledger inside the installed collection" "$(emulator eu "len(s['requests'])")" "$requests_before"
