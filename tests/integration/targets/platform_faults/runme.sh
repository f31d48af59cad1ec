#!/usr/bin/env bash
# Jobs run as AWX runs them (ansible-runner on private data dirs in AWX's layout) while the platform fails under them:
# cancelled at random points of both stages, a lock backend terminated, the database restarted and away for 8 s, a
# real PgBouncer in transaction and session pooling, too few connections. harness.py runs them and checks what SMSBOX
# received against what the ledger holds; this script gives it a PostgreSQL cluster and an emulator of its own, and
# fails if a key or a password shows in anything the jobs wrote (their artifacts: stdout and job events).
set -euo pipefail
source ../setup_emulator/emulator.sh

command -v ansible-runner > /dev/null || { echo "FAIL: ansible-runner is not installed (the main line's pin file, tests/requirements/core-<line>.txt)" >&2; exit 1; }
PGBOUNCER=$(command -v pgbouncer || echo /usr/sbin/pgbouncer)
[[ -x $PGBOUNCER ]] || { echo "FAIL: pgbouncer is not installed (scripts/test.sh installs Debian's package)" >&2; exit 1; }

# A cluster of this target's own: it is restarted and stopped here, which the shared test server must not be.
unset SMSBOX_TEST_POSTGRESQL_URI SMSBOX_TEST_POSTGRESQL
source "$COLLECTION_ROOT/scripts/postgresql.sh"
export PYTHON
trap 'postgresql_stop; stop_emulators' EXIT
postgresql_start "$INPUT_DIR/postgresql-uri"
DB_URI=$(cat "$INPUT_DIR/postgresql-uri")
DB_PASSWORD=$("$PYTHON" -c 'import sys; from urllib.parse import urlsplit, unquote; print(unquote(urlsplit(sys.argv[1]).password))' "$DB_URI")
PG_PORT=$("$PYTHON" -c 'import sys; from urllib.parse import urlsplit; print(urlsplit(sys.argv[1]).port)' "$DB_URI")
# The test role may create databases of its own (one per scenario family) only through the superuser's socket.
SECRET_MARK=Pf7xQ2

start_emulator main --latency 0.08
PG_BIN=$(postgresql_bindir)
PGBOUNCER_DIR=$(dirname "$PGBOUNCER")
export HARNESS_WORK=$WORK_DIR HARNESS_INPUTS=$INPUT_DIR HARNESS_EMULATOR=$SMSBOX_EMULATOR_MAIN HARNESS_PASSWORD_MARK=$SECRET_MARK \
    HARNESS_DB_PASSWORD=$DB_PASSWORD HARNESS_PG_HOST=127.0.0.1 HARNESS_PG_PORT=$PG_PORT HARNESS_PG_SOCKET=$SMSBOX_PG_DIR \
    HARNESS_PG_CTL="${SMSBOX_PG_AS[*]} $PG_BIN/pg_ctl --pgdata=$SMSBOX_PG_DIR/data --log=$SMSBOX_PG_DIR/server.log" \
    HARNESS_AS_POSTGRES="${SMSBOX_PG_AS[*]}" PATH="$PGBOUNCER_DIR:$PATH" \
    PYTHONPATH="${ANSIBLE_COLLECTIONS_PATH%%:*}${PYTHONPATH:+:$PYTHONPATH}"
SCENARIO=${SCENARIO:-}
[[ -z $SCENARIO ]] || export HARNESS_SCENARIOS=$SCENARIO

started=$SECONDS
# Every key the harness makes holds KEY_MARK, every sub-account password SECRET_MARK: neither, nor the database password,
# may show, in any encoding, in the harness's output or in any file the jobs wrote (their artifacts).
export HARNESS_KEY_MARK=Kq4+/z
run_and_check_secrets "$DB_PASSWORD" "$SECRET_MARK" "$HARNESS_KEY_MARK" -- "$PYTHON" harness.py > "$INPUT_DIR/harness.out" \
    || { tail -60 "$INPUT_DIR/harness.out"; echo "FAIL: the platform faults harness failed" >&2; exit 1; }
grep -v '^COUNT ' "$INPUT_DIR/harness.out"
echo "platform faults: $((SECONDS - started)) s"
while IFS='|' read -r name value; do
    report_count "platform faults, $name" "$value"
done < <(sed -n 's/^COUNT \(.*\): \([0-9]*\)$/\1|\2/p' "$INPUT_DIR/harness.out")
