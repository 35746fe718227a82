#!/usr/bin/env bash
# 01-stack-lifecycle.t: build.sh up/down/clean/status on a second, isolated stack.
#
# Proves, without touching the stack the other suites use: `up` starts every store on the
# ports it is given and is a no-op when repeated; `down` + `up` keep Redis, PostgreSQL, MongoDB
# and Kafka data; a busy port makes `up` fail with one clear line and leaves nothing running;
# `clean` removes the state. Uses its own STATE_DIR and ports 19xxx/18xxx.
. "$(dirname "$0")/../lib/tap.sh"

ROOT=${ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
export STATE_DIR; STATE_DIR=$(mktemp -d /tmp/stack-lifecycle.XXXXXX)
chmod 755 "$STATE_DIR"   # PostgreSQL runs as the postgres user and must reach its data
export KAFKA_PORT=19092 KAFKA_CONTROLLER_PORT=19093 REDIS_PORT=16390 PG_PORT=15440 MONGO_PORT=27090
export EDGE_PORT=18080 EDGE_TLS_PORT=18443 API_PORT=18090 VOTE_SINK_METRICS_PORT=19101 CHAT_SINK_METRICS_PORT=19102 ORDER_SINK_METRICS_PORT=19103
# the edge's URL, CA and certificate follow this stack's port and state directory
unset EDGE_URL EDGE_CA_FILE EDGE_TLS_CERT EDGE_TLS_KEY
export KAFKA_BROKERS=127.0.0.1:$KAFKA_PORT PG_CONNINFO="host=127.0.0.1 port=$PG_PORT dbname=vote user=vote"
export MONGO_URI=mongodb://127.0.0.1:$MONGO_PORT/ KAFKA_HEAP=256m
build=$ROOT/build.sh
log=$STATE_DIR.log
cleanup() { "$build" clean >/dev/null 2>&1; rm -rf "$STATE_DIR" "$log"; [ -n "${blocker:-}" ] && kill "$blocker" 2>/dev/null; }
trap cleanup EXIT
plan 10

export build log
ok '"$build" up > "$log" 2>&1' "up starts the second stack" || diag "$(tail -20 "$log")"
up_count=$("$build" status | awk '$1 ~ /^(kafka|redis|postgres|mongo)$/ && $2 == "up"' | wc -l)
is "$up_count" 4 "status reports kafka, redis, postgres and mongo up"
again=$("$build" up 2>&1 | grep -c 'already up')
ok "test $again -ge 4" "a second up is a no-op (every running service reported 'already up')"

redis-cli -p "$REDIS_PORT" set lifecycle:key kept >/dev/null
psql -X -q "$PG_CONNINFO" -c "insert into users(username, password_hash) values ('lifecycle', 'x')"
printf 'kept-record\n' | kcat -q -b "$KAFKA_BROKERS" -P -t chat.dlq
"$build" down > "$log" 2>&1
ok '! "$build" status >/dev/null && [ -z "$(ls "$STATE_DIR"/run/*.pid 2>/dev/null)" ]' "down stops everything (status exits non-zero, no pid file left)"
"$build" up > "$log" 2>&1
is "$(redis-cli -p "$REDIS_PORT" get lifecycle:key)" "kept" "Redis data survives down + up"
is "$(psql -X -tA "$PG_CONNINFO" -c "select count(*) from users where username='lifecycle'")" "1" "PostgreSQL data survives down + up"
is "$(kcat -q -b "$KAFKA_BROKERS" -C -t chat.dlq -o beginning -c 1 -e 2>/dev/null)" "kept-record" "Kafka records survive down + up"
"$build" down > "$log" 2>&1

# Something else listens on the Redis port: up must refuse with one clear line, start nothing.
python3 -c "import socket,time; s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(('127.0.0.1', $REDIS_PORT)); s.listen(); time.sleep(120)" &
blocker=$!
sleep 0.5
out=$("$build" up 2>&1); rc=$?
ok "test $rc -ne 0" "up fails when a port is busy"
like "$out" "port $REDIS_PORT for redis is busy: used by pid $blocker.*REDIS_PORT" "the error names the port, the process and the setting"
kill "$blocker"; blocker=
sleep 0.5
alive=$(ls "$STATE_DIR"/run/*.pid 2>/dev/null | wc -l)
"$build" clean > "$log" 2>&1
ok "test $alive -eq 0 -a ! -e $STATE_DIR" "nothing was left running after the failed up, and clean removed the state"
done_testing
