#!/usr/bin/env bash
# mongo-backends.sh - the MongoDB-wire server's cost per vote on each backend it can run on here.
#
# For each backend (FerretDB 1.24 on SQLite, the stack's default; FerretDB 1.24 on the stack's
# PostgreSQL) a fresh server on a spare port takes, from mongo-c-driver:
#   1. the vote sink's writes: unordered bulk inserts of MONGO_BENCH_DOCS vote documents (the
#      sink's document shape and batch size, `sink-inspect bench`), timed, with the CPU each
#      process spent (FerretDB, and PostgreSQL's backends for that backend);
#   2. the audit's reads: MONGO_BENCH_LOOKUPS `_id` equality look-ups (what locust/audit.py
#      sends), the same ids as `$in` queries of 250, and one count by poll.
# Prints one table; ./build.sh bench mongo writes it into docs/BENCHMARKS.md. Needs the stack up
# (PostgreSQL for the second backend): eval "$(./build.sh env)" first.
# Settings: MONGO_BENCH_DOCS (100000), MONGO_BENCH_BATCH (1000, the sink's), MONGO_BENCH_LOOKUPS
# (5000), MONGO_BENCH_PORT (MONGO_PORT + 100; +1 for the second backend), MONGO_BENCH_BACKENDS
# ("sqlite postgresql").
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../../.." && pwd)
for v in PG_PORT MONGO_PORT BUILD_DIR STATE_DIR CACHE_DIR; do
    [ -n "${!v:-}" ] || { echo "mongo-backends.sh: $v not set (run via ./build.sh bench mongo)" >&2; exit 2; }
done
. "$ROOT/stack/versions.env"
: "${MONGO_BENCH_DOCS:=100000}" "${MONGO_BENCH_BATCH:=1000}" "${MONGO_BENCH_LOOKUPS:=5000}"
: "${MONGO_BENCH_PORT:=$((MONGO_PORT + 100))}" "${MONGO_BENCH_BACKENDS:=sqlite postgresql}"
FERRETDB_BIN=${FERRETDB_BIN:-$CACHE_DIR/bin/ferretdb-local-$FERRETDB_VERSION-$(cat "$ROOT"/stack/ferretdb/* | sha256sum | cut -c1-12)}
PY=$CACHE_DIR/venv/bin/python
SNAP=$ROOT/stack/bench/sinks/cpu-snap.py
RUN=mb$$
TMPD=$(mktemp -d "/tmp/$RUN.XXXX")
PG_SUPER="host=127.0.0.1 port=$PG_PORT dbname=postgres user=postgres"
server_pid=
cleanup() {
    [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
    psql -X -q "$PG_SUPER" -c "DROP DATABASE IF EXISTS $RUN" >/dev/null 2>&1 || true
    rm -rf "$TMPD"
}
trap cleanup EXIT
[ -x "$FERRETDB_BIN" ] || { echo "mongo-backends.sh: $FERRETDB_BIN missing (./build.sh setup)" >&2; exit 2; }
postmaster=$(psql -X -Atq "$PG_SUPER" -c "SELECT pg_postmaster_start_time() IS NOT NULL" >/dev/null \
             && head -n 1 "$(psql -X -Atq "$PG_SUPER" -c 'SHOW data_directory')/postmaster.pid")

# start BACKEND PORT: a fresh FerretDB on that backend; waits until it answers.
start() {
    local port=$2
    case $1 in
        sqlite) "$FERRETDB_BIN" --listen-addr "127.0.0.1:$port" --sqlite-dir "$TMPD/sqlite" \
                    > "$TMPD/$1.log" 2>&1 & ;;
        postgresql)
            psql -X -q "$PG_SUPER" -c "CREATE DATABASE $RUN OWNER vote" >/dev/null
            "$FERRETDB_BIN" --listen-addr "127.0.0.1:$port" \
                --postgresql-url "postgres://vote@127.0.0.1:$PG_PORT/$RUN" > "$TMPD/$1.log" 2>&1 & ;;
        *) echo "mongo-backends.sh: unknown backend $1 (sqlite, postgresql)" >&2; exit 2 ;;
    esac
    server_pid=$!
    for _ in $(seq 1 100); do
        "$BUILD_DIR/bin/sink-inspect" "mongodb://127.0.0.1:$port/" "$RUN" votes count >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    echo "mongo-backends.sh: FerretDB on $1 did not answer (log: $(cat "$TMPD/$1.log"))" >&2
    exit 1
}

# snap NAME: the CPU ticks of FerretDB and of PostgreSQL (every child of its postmaster) now.
snap() { "$PY" "$SNAP" snap "$TMPD/$1.json" ferretdb="$server_pid" ${postmaster:+postgresql="$postmaster/pg"}; }

port=$MONGO_BENCH_PORT
printf '| backend | inserts/s | FerretDB us/doc | PostgreSQL us/doc | `_id` look-ups/s | `$in` (250) ids/s | count by poll ms |\n'
printf '| --- | ---: | ---: | ---: | ---: | ---: | ---: |\n'
for b in $MONGO_BENCH_BACKENDS; do
    start "$b" "$port"
    uri="mongodb://127.0.0.1:$port/"
    snap w0
    rate=$("$BUILD_DIR/bin/sink-inspect" "$uri" "$RUN" votes bench "$MONGO_BENCH_DOCS" "$MONGO_BENCH_BATCH" \
           | sed -n 's/.*docs_per_sec=\([0-9]*\).*/\1/p')
    snap w1
    reads=$("$PY" "$HERE/mongo-reads.py" "$uri" "$RUN" "$MONGO_BENCH_DOCS" "$MONGO_BENCH_LOOKUPS")
    w_f=$("$PY" "$SNAP" per "$TMPD/w0.json" "$TMPD/w1.json" ferretdb "$MONGO_BENCH_DOCS")
    w_p=$("$PY" "$SNAP" per "$TMPD/w0.json" "$TMPD/w1.json" postgresql "$MONGO_BENCH_DOCS")
    read -r lk inr cnt <<<"$reads"
    printf '| FerretDB %s on %s, batches of %s | %s | %s | %s | %s | %s | %s |\n' "$FERRETDB_VERSION" "$b" \
        "$MONGO_BENCH_BATCH" "$rate" "$w_f" "$([ "$b" = postgresql ] && echo "$w_p" || echo "-")" "$lk" "$inr" "$cnt"
    kill "$server_pid"; wait "$server_pid" 2>/dev/null || true; server_pid=
    port=$((port + 1))
done
