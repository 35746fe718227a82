#!/usr/bin/env bash
# 10-edge-reload.t: no accepted message is lost across `nginx -s reload` and `-s quit`.
#
# Starts a private nginx with ngx_http_vote_module (port EDGE_RELOAD_PORT, default 1996,
# 2 workers, its own unique topics), drives it with wrk (keep-alive POSTs, a Lua
# script that counts 202 answers), reloads it three times under load, quits it (the
# exiting workers flush their librdkafka queues), and then counts the records in
# Kafka with kcat: every 202 must be there.  Run once in local mode (202 = queued in
# a worker that then gets reloaded away: the exit flush is what saves it) and once in
# broker mode (202 = acknowledged).  Needs Kafka (KAFKA_BROKERS, KAFKA_TOPICS_CMD).
. "$(dirname "$0")/../lib/tap.sh"

root=$(cd "$(dirname "$0")/../.." && pwd)
: "${BUILD_DIR:=$root/.build}"
: "${KAFKA_BROKERS:=127.0.0.1:9092}"
port=${EDGE_RELOAD_PORT:-1996}
so="$BUILD_DIR/modules/ngx_http_vote_module.so"
[ -f "$so" ] || bail_out "module not built: $so"
command -v wrk >/dev/null || bail_out "wrk missing"

topics=${KAFKA_TOPICS_CMD:-$root/stack/bin/kafka-topics}
create_topic() { "$topics" create "$1" 2 >/dev/null; }
delete_topic() { "$topics" delete "$1" >/dev/null 2>&1; true; }

dir=$(mktemp -d /tmp/edge-reload.XXXXXX)
pidfile="$dir/logs/nginx.pid"
cleanup() {
    [ -f "$pidfile" ] && kill -QUIT "$(cat "$pidfile")" 2>/dev/null
    sleep 0.5; rm -rf "$dir"
}
trap cleanup EXIT
mkdir -p "$dir/logs" "$dir/conf"

cat > "$dir/post.lua" <<'LUA'
wrk.method = "POST"
wrk.body = '{"poll":"band-contest","choice":"quetzal-punk"}'
wrk.headers["Content-Type"] = "application/json"
local threads = {}
function setup(t) table.insert(threads, t) end
function init(args) accepted = 0; other = 0 end
function response(status, headers, body)
    if status == 202 then accepted = accepted + 1 else other = other + 1 end
end
function done(summary, latency, requests)
    local a, o = 0, 0
    for _, t in ipairs(threads) do a = a + t:get("accepted"); o = o + t:get("other") end
    io.write(string.format("ACCEPTED %d OTHER %d\n", a, o))
end
LUA

run_mode() {   # run_mode local|broker
    local mode=$1 topic
    topic="edge-reload-$1-$$-$(date +%s)"
    create_topic "$topic" || bail_out "cannot create topic $topic"
    cat > "$dir/conf/nginx.conf" <<EOF2
load_module $so;
worker_processes 2;
error_log $dir/logs/error.log notice;
pid $pidfile;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path $dir/body;
    vote_kafka_brokers $KAFKA_BROKERS;
    vote_poll_catalog $root/stack/polls.json;
    vote_flush_timeout 20s;
    server {
        listen 127.0.0.1:$port;
        location = /api/votes { vote_enqueue vote; vote_topic $topic; vote_durability $mode; }
    }
}
EOF2
    /usr/sbin/nginx -p "$dir" -c conf/nginx.conf || bail_out "nginx did not start"
    sleep 1
    wrk -t2 -c16 -d8s -s "$dir/post.lua" "http://127.0.0.1:$port/api/votes" > "$dir/wrk-$mode.out" 2>&1 &
    local wrk_pid=$!
    for _ in 1 2 3; do
        sleep 2
        /usr/sbin/nginx -p "$dir" -c conf/nginx.conf -s reload 2>/dev/null
    done
    wait "$wrk_pid"
    local master; master=$(cat "$pidfile")
    /usr/sbin/nginx -p "$dir" -c conf/nginx.conf -s quit 2>/dev/null
    for _ in $(seq 1 100); do kill -0 "$master" 2>/dev/null || break; sleep 0.2; done
    rm -f "$pidfile"

    local accepted other in_kafka
    accepted=$(awk '/^ACCEPTED/ {print $2}' "$dir/wrk-$mode.out")
    other=$(awk '/^ACCEPTED/ {print $4}' "$dir/wrk-$mode.out")
    in_kafka=$(kcat -q -b "$KAFKA_BROKERS" -C -t "$topic" -o beginning -e -f '%k\n' 2>/dev/null | wc -l)
    diag "$mode: $accepted answered 202, $other other answers, $in_kafka records in $topic"
    diag "$(grep -E 'Requests/sec|Socket errors' "$dir/wrk-$mode.out")"
    ok "[ '${accepted:-0}' -gt 1000 ]" "$mode: load ran across 3 reloads (${accepted:-0} x 202)"
    is "$other" "0" "$mode: no answer other than 202 during reloads"
    ok "[ '$in_kafka' -ge '${accepted:-0}' ]" "$mode: every 202 is in Kafka after reloads and quit ($in_kafka >= $accepted)"
    is "$(grep -c 'not delivered within' "$dir/logs/error.log")" "0" "$mode: no exit flush gave up"
    delete_topic "$topic"
}

plan 8
run_mode local
run_mode broker
