#!/usr/bin/env bash
# 02-stack-private-checkout.t: PostgreSQL comes up from a checkout the postgres user cannot enter.
#
# As root, build.sh runs PostgreSQL as "postgres". A clone under a 0700 directory (root's home)
# puts the default state directory ($checkout/.state) out of that user's reach, and initdb
# failed there with "Permission denied". Proves, with such a state directory (ports of its own,
# nothing else started): start-service postgres works and answers queries; the data lives in a
# directory postgres owns, linked from $STATE_DIR/postgres; it survives a stop and start; clean
# removes it too.
. "$(dirname "$0")/../lib/tap.sh"

ROOT=${ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
[ "$(id -u)" = 0 ] || plan skip_all "needs root: as another user PostgreSQL runs as that user"
id postgres >/dev/null 2>&1 || plan skip_all "no postgres user"
parent=$(mktemp -d /tmp/private-checkout.XXXXXX)   # mktemp makes it 0700
export STATE_DIR=$parent/checkout/.state
export PG_PORT=$(( ${PG_PORT:-5432} + 3 ))
export PG_CONNINFO="host=127.0.0.1 port=$PG_PORT dbname=postgres user=postgres"
build=$ROOT/build.sh
log=$parent.log
cleanup() { "$build" clean >/dev/null 2>&1; rm -rf "$parent" "$log"; }
trap cleanup EXIT
mkdir -p "$STATE_DIR"
plan 7

ok '! runuser -u postgres -- test -x "$STATE_DIR"' "precondition: the postgres user cannot enter $STATE_DIR"
export build log
ok '"$build" start-service postgres > "$log" 2>&1' "start-service postgres succeeds" || diag "$(tail -20 "$log")"
psql -X -q "$PG_CONNINFO" -c "create table kept(v text); insert into kept values ('private')" 2>&1
is "$(psql -X -tA "$PG_CONNINFO" -c "select v from kept" 2>&1)" "private" "PostgreSQL answers queries"
data=$(readlink "$STATE_DIR/postgres")
ok "test -L '$STATE_DIR/postgres' && [ \"\$(stat -c %U '$data')\" = postgres ] && runuser -u postgres -- test -f '$data/PG_VERSION'" \
    "the data directory ($data) is owned by and reachable for postgres, linked from the state directory"
"$build" stop-service postgres > "$log" 2>&1
"$build" start-service postgres > "$log" 2>&1
is "$(psql -X -tA "$PG_CONNINFO" -c "select v from kept" 2>&1)" "private" "the data survives stop-service + start-service"
"$build" clean > "$log" 2>&1
ok "test ! -e '$STATE_DIR' && test ! -e '$(dirname "$data")'" "clean removes the state directory and the data directory outside it"
pg_isready -q -h 127.0.0.1 -p "$PG_PORT"; is "$?" 2 "nothing listens on the port after clean"
done_testing
