#!/usr/bin/env bash
# Figures, not a pass/fail test: the role converging N sub-accounts (default 500) across two main
# accounts on the local emulator, first run and re-run, against an ansible.builtin.uri loop that
# makes the same requests one task iteration at a time.
# Usage: scripts/bench.sh [N] [URI_SAMPLE]   (the uri loop runs URI_SAMPLE items, default 40, and is extrapolated)
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
EMULATOR=$ROOT/tests/emulator/smsbox_emulator.py
N=${1:-500}
SAMPLE=${2:-40}
ensure_venv
use_core
stage_collection

WORK=$(mktemp -d)
READY=$WORK/emulator.json
trap '"$VENV/bin/python" "$EMULATOR" stop --ready-file "$READY" >/dev/null 2>&1 || true; rm -rf "$WORK"' EXIT
"$VENV/bin/python" "$EMULATOR" serve --background --ready-file "$READY" \
    --account bench-key-a=1000000 --account bench-key-b=1000000 --account bench-key-uri=1000000 > /dev/null
URL=$("$VENV/bin/python" -c 'import json,sys; print(json.load(open(sys.argv[1]))["url"])' "$READY")

"$VENV/bin/python" - "$WORK" "$N" "$URL" <<'PY'
import os, sys
work, n, url = sys.argv[1], int(sys.argv[2]), sys.argv[3]
for region, key, count in (('a', 'bench-key-a', n // 2), ('b', 'bench-key-b', n - n // 2)):
    with open(os.path.join(work, 'inventory-%s.yml' % region), 'w') as out:
        out.write('%s:\n  vars:\n    smsbox_api_key: %s\n    smsbox_api_url: %s\n    smsbox_ledger: %s/ledger-%s.json\n'
                  '    smsbox_account_label: bench-%s\n  hosts:\n' % (region, key, url, work, region, region))
        for i in range(count):
            out.write('    shop-%s-%04d:\n      smsbox_subaccount: {name: bench-%s-%04d, password: pw-%04d-secret, credit: %d}\n'
                      % (region, i, region, i, i, 10 + i % 7))
PY

run() {  # run LABEL COMMAND...: prints seconds and peak RSS of the whole command
    local label=$1
    shift
    /usr/bin/time -f "%e %M" -o "$WORK/time" "$@" > "$WORK/$label.log" 2>&1 || { tail -20 "$WORK/$label.log"; exit 1; }
    read -r seconds rss < "$WORK/time"
    "$VENV/bin/python" -c 'import sys; label, s, rss, n = sys.argv[1:]; print("%-34s %7.2f s  %6.1f ms per sub-account  peak RSS %d MB" % (label, float(s), float(s) * 1000 / int(n), int(rss) // 1024))' \
        "$label" "$seconds" "$rss" "$N"
    echo "$seconds" > "$WORK/$label.seconds"
}

echo "SMSBOX role benchmark: $N sub-accounts, 2 main accounts, local emulator ($(nproc) cores)"
run "role, first run (create+credit)" ansible-playbook smsbox.account.provision -i "$WORK/inventory-a.yml" -i "$WORK/inventory-b.yml"
run "role, re-run (nothing to do)" ansible-playbook smsbox.account.provision -i "$WORK/inventory-a.yml" -i "$WORK/inventory-b.yml"
grep -h "main balance" "$WORK"/role*.log | sed 's/^ *"/    /; s/",\?$//'

cat > "$WORK/uri.yml" <<YML
- name: Baseline, one uri task iteration per request
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Create
      ansible.builtin.uri:
        url: "$URL?action=utilisateur"
        method: POST
        headers: {Authorization: App bench-key-uri}
        body_format: form-urlencoded
        body: {do: add, pseudo: "uri-{{ item }}", mdp: "pw-{{ item }}", nolimit: "no"}
        return_content: true
      loop: "{{ range($SAMPLE) | list }}"
    - name: Credit
      ansible.builtin.uri:
        url: "$URL?action=credit"
        method: POST
        headers: {Authorization: App bench-key-uri}
        body_format: form-urlencoded
        body: {to: "uri-{{ item }}", credit: "10"}
        return_content: true
      loop: "{{ range($SAMPLE) | list }}"
YML
N_SAVED=$N
N=$SAMPLE
run "uri loop, $SAMPLE sub-accounts" ansible-playbook -i localhost, -c local -e "ansible_python_interpreter=$VENV/bin/python" "$WORK/uri.yml"
N=$N_SAVED
"$VENV/bin/python" - "$WORK" "$N" "$SAMPLE" <<'PY'
import sys
work, n, sample = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
seconds = lambda label: float(open('%s/%s.seconds' % (work, label)).read())
role = seconds('role, first run (create+credit)') / n
uri = seconds('uri loop, %d sub-accounts' % sample) / sample
print('per sub-account: role %.1f ms, uri loop %.1f ms (%.2f s per request): the role is %.0fx faster'
      % (role * 1000, uri * 1000, uri / 2, uri / role))
PY
