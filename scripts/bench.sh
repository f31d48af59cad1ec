#!/usr/bin/env bash
# make bench: speed and memory figures of the role smsbox.account.subaccounts on the local SMSBOX emulator, printed
# as one table with the targets of the issue "Speed at scale". Figures, not a pass/fail test: it exits non-zero only
# when a run it needs failed. docs/performance.md explains each row and holds a run's table.
#
#   1  first run, N sub-accounts + credits over 2 main accounts, vs an ansible.builtin.uri loop (a sample, extrapolated)
#   2  re-run with nothing to do and its --check, vs an empty play (one run_once debug) on the same inventories;
#      the POST requests the emulator received meanwhile
#   3  first runs at each scale point (500 sub-accounts per main account, one inventory each); peak memory of the
#      largest: the summed RSS of ansible-playbook and all its children, sampled every 50 ms, and /usr/bin/time's %M
#   4  TLS with latency, concurrency 1, 4, 8, with and without keep-alive, vs requests x latency / concurrency + the
#      same run at 0 ms
#   5  the PostgreSQL ledger vs the file ledger, first run and re-run
#
# Usage: scripts/bench.sh [N] [URI_SAMPLE]      (make bench [BENCH_QUICK=1] ...)
# Environment (all optional):
#   BENCH_QUICK=1            a smaller run: N=100, uri sample 10, scale 250 and 500 (one main account), concurrency 1 and 8
#   BENCH_N=500              sub-accounts of rows 1, 2, 4 and 5 (over 2 main accounts)
#   BENCH_URI_SAMPLE=40      sub-accounts the uri loop runs (2 requests each); its time is extrapolated per sub-account
#   BENCH_SCALE="500 1000 2000 5000"   the scale points (500 sub-accounts per main account)
#   BENCH_REPEAT=2           runs of each short run (re-run, --check, empty play): the fastest counts
#   BENCH_LATENCY_MS=20      the emulator's latency per request in row 4
#   BENCH_CONCURRENCY="1 4 8"
#   BENCH_POSTGRESQL=0       skip row 5 (by default a throwaway PostgreSQL cluster, or SMSBOX_TEST_POSTGRESQL_URI)
#   BENCH_PROFILE=1          also print where the time goes in each run (start-up, each task, exit; wall and CPU)
#   BENCH_KEEP=1             keep the work directory (inventories, logs, results) and print its path
#   CORE=2.21                the ansible-core line (default: that of make demo)
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
source "$(dirname "${BASH_SOURCE[0]}")/postgresql.sh"

if [[ ${BENCH_QUICK:-0} == 1 ]]; then
    N=${BENCH_N:-100} SAMPLE=${BENCH_URI_SAMPLE:-10} SCALE=${BENCH_SCALE:-"250 500"} CONCURRENCY=${BENCH_CONCURRENCY:-"1 8"}
else
    N=${BENCH_N:-500} SAMPLE=${BENCH_URI_SAMPLE:-40} SCALE=${BENCH_SCALE:-"500 1000 2000 5000"} CONCURRENCY=${BENCH_CONCURRENCY:-"1 4 8"}
fi
N=${1:-$N}
SAMPLE=${2:-$SAMPLE}
REPEAT=${BENCH_REPEAT:-2}
LATENCY_MS=${BENCH_LATENCY_MS:-20}
PER_ACCOUNT=500
POSTGRESQL=${BENCH_POSTGRESQL:-1}
# The variable of the previous bench: a store list without postgresql skips row 5.
[[ -z ${SMSBOX_BENCH_STORES:-} || " $SMSBOX_BENCH_STORES " == *" postgresql "* ]] || POSTGRESQL=0
read -r -a SCALE_POINTS <<< "$SCALE"
read -r -a CONCURRENCIES <<< "$CONCURRENCY"

LINE=${CORE:-$DEFAULT_CORE}
ensure_venv "$LINE"
use_core "$LINE"
stage_collection
export PYTHON=$VENV/bin/python  # postgresql.sh runs it
EMULATOR=$ROOT/tests/emulator/smsbox_emulator.py
HELPER=$ROOT/scripts/bench_helper.py
LOAD_START=$(cut -d' ' -f1 /proc/loadavg)
STARTED=$(date -u +%FT%TZ)

WORK=$(mktemp -d "${TMPDIR:-/tmp}/smsbox-bench.XXXXXX")
RESULTS=$WORK/results
mkdir -p "$RESULTS" "$WORK/logs"
EMULATORS=()
cleanup() {
    local ready
    for ready in "${EMULATORS[@]}"; do
        "$PYTHON" "$EMULATOR" stop --ready-file "$ready" >/dev/null 2>&1 || true
    done
    postgresql_stop
    if [[ ${BENCH_KEEP:-0} == 1 ]]; then
        echo "kept: $WORK" >&2
    else
        rm -rf "$WORK"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# The runs see only the bench's settings: no ansible.cfg of the caller, the timing callback on, no retry files.
export ANSIBLE_CONFIG=$WORK/ansible.cfg
printf '[defaults]\nretry_files_enabled = False\n' > "$ANSIBLE_CONFIG"
export ANSIBLE_CALLBACK_PLUGINS=$ROOT/scripts/bench_callbacks ANSIBLE_CALLBACKS_ENABLED=smsbox_bench_timing
export ANSIBLE_LOCAL_TEMP=$WORK/ansible-local ANSIBLE_REMOTE_TEMP=$WORK/ansible-remote
export ANSIBLE_FORCE_COLOR=0 ANSIBLE_NOCOLOR=1

emulator() {  # emulator NAME [serve options]: starts one; its ready file is $WORK/NAME.json
    local name=$1
    shift
    "$PYTHON" "$EMULATOR" serve --background --ready-file "$WORK/$name.json" "$@" >/dev/null
    EMULATORS+=("$WORK/$name.json")
}

inventories() {  # inventories EMULATOR PREFIX REGIONS PER_REGION [--ledger-uri URI]: sets INV (the -i options)
    local emulator=$1 prefix=$2 regions=$3 per_region=$4 path
    shift 4
    INV=()
    while read -r path; do
        INV+=(-i "$path")
    done < <("$PYTHON" "$HELPER" inventories "$WORK/inventories" --ready "$WORK/$emulator.json" --prefix "$prefix" \
        --regions "$regions" --per-region "$per_region" "$@")
}

measure() {  # measure LABEL EMULATOR [--pss]: one measured run of COMMAND (an array); a failure stops the bench with its log
    local label=$1 emulator=$2 file
    shift 2
    file=${label//[^A-Za-z0-9#.-]/_}
    printf '  %-28s' "$label" >&2
    if ! "$PYTHON" "$HELPER" run --label "$label" --ready "$WORK/$emulator.json" "$@" \
        "$RESULTS/$file.json" "$WORK/logs/$file.log" -- "${COMMAND[@]}"; then
        echo " FAILED; the end of its log:" >&2
        tail -25 "$WORK/logs/$file.log" >&2
        exit 1
    fi
    "$PYTHON" -c 'import json, sys; r = json.load(open(sys.argv[1])); print(" %6.2f s  cpu %6.2f s" % (r["wall"], r["cpu"]))' \
        "$RESULTS/$file.json" >&2
}

provision() {  # provision ARGS...: the command an operator runs, with the bench's inventories
    COMMAND=(ansible-playbook smsbox.account.provision "${INV[@]}" --vault-password-file "$WORK/inventories/vault-password" "$@")
}

echo "SMSBOX benchmark: the runs (progress on stderr; the table follows)" >&2
emulator plain
PG_URI=
if [[ $POSTGRESQL == 1 ]]; then
    if postgresql_start "$WORK/postgresql-uri" 2>"$WORK/logs/postgresql.log" && [[ $(cat "$WORK/postgresql-uri") != skip ]]; then
        PG_URI=$(cat "$WORK/postgresql-uri")
    else
        echo "  PostgreSQL could not be started: row 5 is skipped ($(tail -1 "$WORK/logs/postgresql.log"))" >&2
        POSTGRESQL=0
    fi
fi

# 1, 2, 5: N sub-accounts over 2 main accounts, a file ledger and a PostgreSQL ledger.
inventories plain main 2 $((N / 2))
MAIN_INV=("${INV[@]}")
provision
measure first-file plain
if [[ -n $PG_URI ]]; then
    inventories plain pg 2 $((N / 2)) --ledger-uri "$PG_URI"
    PG_INV=("${INV[@]}")
    provision
    measure first-postgresql plain
fi
cat > "$WORK/empty.yml" <<'YML'
- name: An empty play over the same inventories
  hosts: all
  gather_facts: false
  tasks:
    - name: One task, once
      ansible.builtin.debug:
        msg: nothing
      run_once: true
YML
for round in $(seq "$REPEAT"); do
    INV=("${MAIN_INV[@]}")
    provision
    measure "rerun-file#$round" plain
    provision --check
    measure "check-file#$round" plain
    COMMAND=(ansible-playbook "$WORK/empty.yml" "${INV[@]}" --vault-password-file "$WORK/inventories/vault-password")
    measure "empty#$round" plain
    if [[ -n $PG_URI ]]; then
        INV=("${PG_INV[@]}")
        provision
        measure "rerun-postgresql#$round" plain
    fi
done

URL=$("$PYTHON" -c 'import json, sys; print(json.load(open(sys.argv[1]))["url"])' "$WORK/plain.json")
"$PYTHON" -c 'import json, sys, urllib.request
request = urllib.request.Request(sys.argv[1], data=json.dumps({"bench-uri-key": 10000000}).encode(), method="POST")
urllib.request.build_opener(urllib.request.ProxyHandler({})).open(request).read()' "${URL%/1.1/api.php}/_emulator/accounts"
cat > "$WORK/uri.yml" <<YML
- name: Baseline, one uri task iteration per request
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Create
      ansible.builtin.uri:
        url: "$URL?action=utilisateur"
        method: POST
        headers: {Authorization: App bench-uri-key}
        body_format: form-urlencoded
        body: {do: add, pseudo: "uri-{{ item }}", mdp: "pw-{{ item }}-secret", nolimit: "no"}
        return_content: true
      loop: "{{ range($SAMPLE) | list }}"
    - name: Credit
      ansible.builtin.uri:
        url: "$URL?action=credit"
        method: POST
        headers: {Authorization: App bench-uri-key}
        body_format: form-urlencoded
        body: {to: "uri-{{ item }}", credit: "10"}
        return_content: true
      loop: "{{ range($SAMPLE) | list }}"
YML
COMMAND=(ansible-playbook -i "localhost," -c local -e "ansible_python_interpreter=$PYTHON" "$WORK/uri.yml")
measure uri plain

# 3: the scale points, 500 sub-accounts per main account, one inventory each; the last one with PSS too.
for n in "${SCALE_POINTS[@]}"; do
    regions=$(((n + PER_ACCOUNT - 1) / PER_ACCOUNT))
    inventories plain "s$n" "$regions" $((n / regions))
    provision
    extra=()
    [[ $n != "${SCALE_POINTS[-1]}" ]] || extra=(--pss)
    measure "scale-$n" plain "${extra[@]}"
done

# 4: TLS; per concurrency the same first run at 0 ms (the fixed cost), then with latency, with and without keep-alive.
emulator tls0 --tls --cert-dir "$WORK/certs"
emulator tls-keep-alive --tls --cert-dir "$WORK/certs" --latency "$(awk "BEGIN {print $LATENCY_MS / 1000}")"
emulator tls-no-keep-alive --tls --cert-dir "$WORK/certs" --latency "$(awk "BEGIN {print $LATENCY_MS / 1000}")" --no-keep-alive
for concurrency in "${CONCURRENCIES[@]}"; do
    for name in tls0 tls-keep-alive tls-no-keep-alive; do
        inventories "$name" "c$concurrency-$name" 2 $((N / 2))
        provision -e "smsbox_concurrency=$concurrency"
        case $name in
            tls0) measure "fixed-c$concurrency" "$name" ;;
            *) measure "latency-${name#tls-}-c$concurrency" "$name" ;;
        esac
    done
done

CONFIG=$("$PYTHON" -c 'import json, sys
n, sample, scale, latency, concurrency, postgresql, quick, load, started, line = sys.argv[1:]
from ansible.release import __version__
print(json.dumps({"n": int(n), "uri_sample": int(sample), "scale": [int(x) for x in scale.split()], "per_account": 500,
                  "latency_ms": int(latency), "latency_n": int(n), "concurrency": [int(x) for x in concurrency.split()],
                  "postgresql": postgresql == "1", "quick": quick == "1", "load_start": float(load), "started": started,
                  "ansible_core": __version__}))' \
    "$N" "$SAMPLE" "$SCALE" "$LATENCY_MS" "$CONCURRENCY" "$POSTGRESQL" "${BENCH_QUICK:-0}" "$LOAD_START" "$STARTED" "$LINE")
echo >&2
rc=0
"$PYTHON" "$HELPER" table "$RESULTS" --config "$CONFIG" || rc=$?
if [[ ${BENCH_PROFILE:-0} == 1 ]]; then
    echo
    echo "Where the time goes in each run, seconds wall / CPU (CPU: ansible-playbook and all its descendants):"
    echo "start-up (interpreter, CLI, inventory) until the first task; each task until the next one starts [its loop items,"
    echo "wall] (result at: when its result came; after it the strategy's own work: for the last task, the end of the role"
    echo "and of the play, the implicit meta tasks of every host);"
    echo "exit after the recap"
    echo
    "$PYTHON" "$HELPER" profile "$RESULTS"
    # Inside the modules: one more re-run of rows 1-2 that keeps the modules as Ansible ran them, each then run again
    # alone (a re-run has nothing to write: running them again changes nothing).
    INV=("${MAIN_INV[@]}")
    provision
    ANSIBLE_KEEP_REMOTE_FILES=1 ANSIBLE_REMOTE_TEMP=$WORK/kept measure profile-rerun plain
    echo
    echo "Inside the module processes of a re-run (one main account each, $((N / 2)) sub-accounts):"
    echo
    mapfile -t KEPT < <(find "$WORK/kept" -name 'AnsiballZ_*.py' 2>/dev/null | sort)
    if [[ ${#KEPT[@]} -eq 0 ]]; then
        echo "no module process ran: the role converged in the controller's own processes (see the tasks above)"
    else
        "$PYTHON" "$ROOT/scripts/bench_module_profile.py" "${KEPT[@]}" || rc=1
    fi
fi
trap - EXIT
cleanup
exit $rc
