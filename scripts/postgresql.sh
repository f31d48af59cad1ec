# shellcheck shell=bash
# Sourced by scripts/test.sh: a throwaway PostgreSQL cluster for the tests of the PostgreSQL ledger store.
#
#   postgresql_start FILE   initdb in a temporary directory, start it on a free loopback port with password
#                           (scram) authentication for a test role, create a database, export its URI as
#                           SMSBOX_TEST_POSTGRESQL_URI and write it to FILE (ansible-test gives the unit tests
#                           it runs no environment variable of ours, so they read it from there). The cluster is
#                           stopped and removed when the calling shell exits, whatever happens (a caller that
#                           has an EXIT trap of its own calls postgresql_stop from it).
#   postgresql_stop         stop and remove it now.
#   pgbouncer_install       PgBouncer on this machine (the platform_faults target starts its own, in both pooling modes).
#
# SMSBOX_TEST_POSTGRESQL_URI already set: that server is used instead (the tests make and drop their own schemas).
# SMSBOX_TEST_POSTGRESQL=skip: no server; the tests of the PostgreSQL store are skipped (for developers only:
# without either, those tests fail).

SMSBOX_PG_DIR=""
SMSBOX_PG_AS=()

postgresql_bindir() {
    local found
    if command -v initdb >/dev/null 2>&1; then
        dirname "$(readlink -f "$(command -v initdb)")"
        return
    fi
    found=$(find /usr/lib/postgresql -maxdepth 2 -name bin -type d 2>/dev/null | sort -V | tail -n 1)
    if [[ -z $found ]]; then
        if [[ $(id -u) -ne 0 ]]; then
            echo "postgresql.sh: initdb not found; install PostgreSQL (apt-get install postgresql) or set SMSBOX_TEST_POSTGRESQL_URI" >&2
            return 1
        fi
        echo "postgresql.sh: installing PostgreSQL (apt-get install postgresql)" >&2
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql >&2 || return 1
        found=$(find /usr/lib/postgresql -maxdepth 2 -name bin -type d 2>/dev/null | sort -V | tail -n 1)
    fi
    [[ -n $found && -x $found/initdb ]] || { echo "postgresql.sh: no initdb under /usr/lib/postgresql" >&2; return 1; }
    echo "$found"
}

# pgbouncer_install: PgBouncer for the tests that go through a pooler (Debian's package, when missing and root).
pgbouncer_install() {
    command -v pgbouncer >/dev/null 2>&1 || [[ -x /usr/sbin/pgbouncer ]] && return 0
    if [[ $(id -u) -ne 0 ]]; then
        echo "postgresql.sh: pgbouncer not found; install it (apt-get install pgbouncer)" >&2
        return 1
    fi
    echo "postgresql.sh: installing PgBouncer (apt-get install pgbouncer)" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q pgbouncer >&2
}

postgresql_free_port() {
    "$PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

postgresql_start() {
    local uri_file=$1 bin port password uri
    mkdir -p "$(dirname "$uri_file")"
    rm -f "$uri_file"
    if [[ ${SMSBOX_TEST_POSTGRESQL:-} == skip ]]; then
        echo "skip" > "$uri_file"
        echo "postgresql.sh: SMSBOX_TEST_POSTGRESQL=skip: the tests of the PostgreSQL ledger store are skipped" >&2
        return 0
    fi
    if [[ -n ${SMSBOX_TEST_POSTGRESQL_URI:-} ]]; then
        (umask 077 && printf '%s\n' "$SMSBOX_TEST_POSTGRESQL_URI" > "$uri_file")
        return 0
    fi
    bin=$(postgresql_bindir) || return 1
    SMSBOX_PG_DIR=$(mktemp -d "${TMPDIR:-/tmp}/smsbox-pg.XXXXXX") || return 1
    [[ -n $(trap -p EXIT) ]] || trap postgresql_stop EXIT
    SMSBOX_PG_AS=()
    if [[ $(id -u) -eq 0 ]]; then
        # initdb refuses to run as root: the cluster belongs to the postgres user.
        id postgres >/dev/null 2>&1 || useradd --system --home-dir "$SMSBOX_PG_DIR" postgres || return 1
        chown postgres: "$SMSBOX_PG_DIR" || return 1
        SMSBOX_PG_AS=(runuser -u postgres --)
    fi
    chmod 700 "$SMSBOX_PG_DIR"
    # A password with characters a URI or a shell would mangle: '$' (expandvars), ':' and '@' (percent-encoded).
    password="Pw\$$("$PYTHON" -c 'import secrets; print(secrets.token_hex(10))'):@x"
    port=$(postgresql_free_port) || return 1
    "${SMSBOX_PG_AS[@]}" "$bin/initdb" --pgdata="$SMSBOX_PG_DIR/data" --username=postgres --auth-local=trust \
        --auth-host=scram-sha-256 --encoding=UTF8 --locale=C.UTF-8 --no-sync >"$SMSBOX_PG_DIR/initdb.log" 2>&1 \
        || { cat "$SMSBOX_PG_DIR/initdb.log" >&2; return 1; }
    "${SMSBOX_PG_AS[@]}" "$bin/pg_ctl" --pgdata="$SMSBOX_PG_DIR/data" --log="$SMSBOX_PG_DIR/server.log" --wait --silent \
        -o "-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories=$SMSBOX_PG_DIR -c max_connections=200" \
        start || { cat "$SMSBOX_PG_DIR/server.log" >&2; return 1; }
    # The local socket trusts (it sits in a 0700 directory); the test role logs in over TCP with its password.
    "$bin/psql" --quiet --no-psqlrc --set ON_ERROR_STOP=1 --host="$SMSBOX_PG_DIR" --port="$port" --username=postgres \
        --dbname=postgres --set password="$password" >/dev/null <<'SQL' || return 1
SET password_encryption = 'scram-sha-256';
CREATE ROLE smsbox_test LOGIN PASSWORD :'password';
CREATE DATABASE smsbox_test OWNER smsbox_test;
SQL
    uri="postgresql://smsbox_test:$("$PYTHON" -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1], safe="$"))' "$password")@127.0.0.1:$port/smsbox_test"
    export SMSBOX_TEST_POSTGRESQL_URI=$uri
    (umask 077 && printf '%s\n' "$uri" > "$uri_file")
    echo "postgresql.sh: PostgreSQL $("$bin/postgres" --version | awk '{print $3}') on 127.0.0.1:$port (cluster in $SMSBOX_PG_DIR)" >&2
}

postgresql_stop() {
    [[ -n $SMSBOX_PG_DIR ]] || return 0
    if [[ -f $SMSBOX_PG_DIR/data/postmaster.pid ]]; then
        "${SMSBOX_PG_AS[@]}" "$(postgresql_bindir)/pg_ctl" --pgdata="$SMSBOX_PG_DIR/data" --mode=immediate --wait --silent stop \
            >/dev/null 2>&1 || true
    fi
    rm -rf "$SMSBOX_PG_DIR"
    SMSBOX_PG_DIR=""
}
