# Sourced by .ci/run: start a throw-away PostgreSQL 15 on loopback for the tests that need one (many workers on
# one study), export its URL as PROMPTOPT_TEST_POSTGRES, and stop it and delete its files when the shell exits.
# Installs PostgreSQL with apt when missing. PostgreSQL refuses to run as root: as root it runs as `nobody`.
PG_BIN=/usr/lib/postgresql/15/bin
if [ ! -x "$PG_BIN/pg_ctl" ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql-15 >/dev/null
fi
PG_DIR=$(mktemp -d "${TMPDIR:-/tmp}/promptopt-pg.XXXXXX")
PG_PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
AS_PG=()
if [ "$(id -u)" = 0 ]; then
    chown nobody "$PG_DIR"
    AS_PG=(runuser -u nobody --)
fi
stop_postgres() {
    "${AS_PG[@]}" "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m immediate -w stop >/dev/null 2>&1 || true
    rm -rf "$PG_DIR"
}
trap stop_postgres EXIT
"${AS_PG[@]}" "$PG_BIN/initdb" -D "$PG_DIR/data" -A trust -U promptopt >/dev/null
# max_connections: the test process opens a storage (a connection pool) per in-process search and per
# optuna.load_study, and the workers' pools and heartbeats add theirs; at the default 100 one CI run in two met
# "sorry, too many clients already" in tests/promptopt/search/test_workers.py.
"${AS_PG[@]}" "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/log" -w \
    -o "-k $PG_DIR -p $PG_PORT -h 127.0.0.1 -c max_connections=500" start >/dev/null
"$PG_BIN/createdb" -h 127.0.0.1 -p "$PG_PORT" -U promptopt promptopt_test
export PROMPTOPT_TEST_POSTGRES="postgresql://promptopt@127.0.0.1:$PG_PORT/promptopt_test"
echo "PostgreSQL for the tests: $PROMPTOPT_TEST_POSTGRES" >&2
