# Sourced by .ci/run: PostgreSQL for the service and database tests. Installs the Debian package
# when its binaries are missing, starts a throwaway server in a temporary folder (as the
# postgres user: PostgreSQL refuses to run as root), exports CAC_TEST_POSTGRES_URL for the
# tests, and stops the server and removes the folder when .ci/run exits.
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
fi
CI_PG_BIN="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)"
CI_PG_DIR="$(mktemp -d /tmp/cac-ci-pg.XXXXXX)"
CI_PG_PORT="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
chmod 755 "$CI_PG_DIR"
ci_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
if [ "$(id -u)" = 0 ]; then chown postgres: "$CI_PG_DIR"; fi
ci_pg "$CI_PG_BIN/initdb" -D "$CI_PG_DIR/data" -U postgres -A trust -E UTF8 --no-sync >/dev/null
ci_pg "$CI_PG_BIN/pg_ctl" -D "$CI_PG_DIR/data" -l "$CI_PG_DIR/server.log" -w -t 60 \
    -o "-p $CI_PG_PORT -k $CI_PG_DIR -c listen_addresses=127.0.0.1 -c max_connections=200" start >/dev/null
ci_pg_stop() {
    ci_pg "$CI_PG_BIN/pg_ctl" -D "$CI_PG_DIR/data" -m fast stop >/dev/null 2>&1 || true
    rm -rf "$CI_PG_DIR"
}
trap ci_pg_stop EXIT
export CAC_TEST_POSTGRES_URL="postgresql://postgres@127.0.0.1:$CI_PG_PORT/postgres"
echo "PostgreSQL $("$CI_PG_BIN/postgres" --version | awk '{print $3}') for the tests at 127.0.0.1:$CI_PG_PORT"
