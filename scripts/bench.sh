#!/usr/bin/env bash
# Figures, not a pass/fail test: the role converging N sub-accounts (default 500) across two main
# accounts on the local emulator, first run and re-run, against an ansible.builtin.uri loop that
# makes the same requests one task iteration at a time.
# Usage: scripts/bench.sh [N] [URI_SAMPLE]   (the uri loop runs URI_SAMPLE items, default 40, and is extrapolated)
# SMSBOX_BENCH_STORES="file postgresql" runs the role once per ledger store (default: file); the PostgreSQL
# ledgers go to a throwaway cluster (scripts/postgresql.sh), or to SMSBOX_TEST_POSTGRESQL_URI when set.
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
source "$(dirname "${BASH_SOURCE[0]}")/postgresql.sh"
EMULATOR=$ROOT/tests/emulator/smsbox_emulator.py
N=${1:-500}
SAMPLE=${2:-40}
read -r -a BENCH_STORES <<< "${SMSBOX_BENCH_STORES:-file}"
ensure_venv
use_core
stage_collection

WORK=$(mktemp -d)
READY=$WORK/emulator.json
cleanup() {
    "$VENV/bin/python" "$EMULATOR" stop --ready-file "$READY" >/dev/null 2>&1 || true
    postgresql_stop
    rm -rf "$WORK"
}
trap cleanup EXIT
ACCOUNTS=(--account bench-key-uri=1000000)
for store in "${BENCH_STORES[@]}"; do
    ACCOUNTS+=(--account "bench-key-a-$store=1000000" --account "bench-key-b-$store=1000000")
done
"$VENV/bin/python" "$EMULATOR" serve --background --ready-file "$READY" "${ACCOUNTS[@]}" > /dev/null
URL=$("$VENV/bin/python" -c 'import json,sys; print(json.load(open(sys.argv[1]))["url"])' "$READY")
PG_URI=
if [[ " ${BENCH_STORES[*]} " == *" postgresql "* ]]; then
    postgresql_start "$WORK/postgresql-uri" 2>/dev/null || { echo "PostgreSQL could not be started" >&2; exit 1; }
    PG_URI=$(cat "$WORK/postgresql-uri")
fi

for store in "${BENCH_STORES[@]}"; do
    "$VENV/bin/python" - "$WORK" "$N" "$URL" "$store" "$PG_URI" <<'PY'
import os, sys
work, n, url, store, pg_uri = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
for region, count in (('a', n // 2), ('b', n - n // 2)):
    ledger = pg_uri if store == 'postgresql' else '%s/ledger-%s.json' % (work, region)
    with open(os.path.join(work, 'inventory-%s-%s.yml' % (store, region)), 'w') as out:
        out.write('%s:\n  vars:\n    smsbox_api_key: bench-key-%s-%s\n    smsbox_api_url: %s\n    smsbox_ledger: "%s"\n'
                  '    smsbox_account_label: bench-%s\n  hosts:\n' % (region, region, store, url, ledger, region))
        for i in range(count):
            out.write('    shop-%s-%04d:\n      smsbox_subaccount: {name: bench-%s-%s-%04d, password: pw-%04d-secret, credit: %d}\n'
                      % (region, i, store[0], region, i, i, 10 + i % 7))
PY
done

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
for store in "${BENCH_STORES[@]}"; do
    suffix=""
    [[ ${#BENCH_STORES[@]} -eq 1 ]] || suffix=" [$store]"
    run "role, first run (create+credit)$suffix" ansible-playbook smsbox.account.provision \
        -i "$WORK/inventory-$store-a.yml" -i "$WORK/inventory-$store-b.yml"
    run "role, re-run (nothing to do)$suffix" ansible-playbook smsbox.account.provision \
        -i "$WORK/inventory-$store-a.yml" -i "$WORK/inventory-$store-b.yml"
    grep -h "main balance" "$WORK/role, first run (create+credit)$suffix.log" "$WORK/role, re-run (nothing to do)$suffix.log" \
        | sed 's/^ *"/    /; s/",\?$//'
done
if [[ ${#BENCH_STORES[@]} -gt 1 ]]; then
    "$VENV/bin/python" - "$WORK" "${BENCH_STORES[@]}" <<'PY'
import sys
work, stores = sys.argv[1], sys.argv[2:]
first = dict((store, float(open('%s/role, first run (create+credit) [%s].seconds' % (work, store)).read())) for store in stores)
print('role, first run: ' + ', '.join('%s store %.2fx the %s store' % (store, first[store] / first[stores[0]], stores[0])
                                     for store in stores[1:]))
PY
fi

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
import glob, sys
work, n, sample = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
seconds = lambda label: float(open('%s/%s.seconds' % (work, label)).read())
role = min(float(open(name).read()) for name in glob.glob('%s/role, first run (create+credit)*.seconds' % work)) / n
uri = seconds('uri loop, %d sub-accounts' % sample) / sample
print('per sub-account: role %.1f ms, uri loop %.1f ms (%.2f s per request): the role is %.0fx faster'
      % (role * 1000, uri * 1000, uri / 2, uri / role))
PY
