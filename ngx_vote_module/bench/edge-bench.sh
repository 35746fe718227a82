#!/usr/bin/env bash
# edge-bench.sh - the edge benchmark of issue 3 (what `build.sh bench edge` runs):
# wrk with keep-alive against one private nginx (port BENCH_PORT, default 1997), in one
# run: (a) a location answering the same POST with a bare `return 202`, (b) the vote
# endpoint in local mode, (c) in broker mode; then p99 at half of each max rate
# (wrk2-style fixed rate is not available: wrk -R is not in Debian's wrk, so the
# half-rate run uses half the connections) and the worker RSS growth over
# BENCH_RSS_REQUESTS (default 1000000) local-mode requests.
# BENCH_LINGER_MS (default 1) sets librdkafka linger.ms.  Prints a Markdown table.  Needs Kafka (KAFKA_BROKERS) and the module built.
#
#   ngx_vote_module/bench/edge-bench.sh                 # defaults
#   BENCH_SECONDS=20 BENCH_CONNS=64 ngx_vote_module/bench/edge-bench.sh
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
: "${BUILD_DIR:=$root/.build}"
: "${KAFKA_BROKERS:=127.0.0.1:9092}"
port=${BENCH_PORT:-1997}
secs=${BENCH_SECONDS:-10}
conns=${BENCH_CONNS:-32}
threads=${BENCH_THREADS:-2}
workers=${BENCH_WORKERS:-2}
rss_requests=${BENCH_RSS_REQUESTS:-1000000}
so="$BUILD_DIR/modules/ngx_http_vote_module.so"
[ -f "$so" ] || { echo "module not built: $so" >&2; exit 1; }
topic="bench-edge-$$-$(date +%s)"
if [ -n "${KAFKA_TOPICS_CMD:-}" ]; then "$KAFKA_TOPICS_CMD" create "$topic" 2 >/dev/null
else java -cp '/tmp/kprobe/libs/*' org.apache.kafka.tools.TopicCommand --bootstrap-server "$KAFKA_BROKERS" \
         --create --topic "$topic" --partitions 2 --if-not-exists >/dev/null 2>&1; fi

dir=$(mktemp -d /tmp/edge-bench.XXXXXX)
delete_topic() {
    if [ -n "${KAFKA_TOPICS_CMD:-}" ]; then "$KAFKA_TOPICS_CMD" delete "$topic" >/dev/null 2>&1
    else java -cp '/tmp/kprobe/libs/*' org.apache.kafka.tools.TopicCommand --bootstrap-server "$KAFKA_BROKERS" \
             --delete --topic "$topic" >/dev/null 2>&1; fi
    true
}
trap '[ -f "$dir/logs/nginx.pid" ] && kill -QUIT "$(cat "$dir/logs/nginx.pid")" 2>/dev/null; sleep 1; rm -rf "$dir"; delete_topic' EXIT
mkdir -p "$dir/logs" "$dir/conf"
cat > "$dir/conf/nginx.conf" <<EOF2
load_module $so;
worker_processes $workers;
error_log $dir/logs/error.log warn;
pid $dir/logs/nginx.pid;
events { worker_connections 4096; }
http {
    access_log off;
    keepalive_requests 1000000;
    client_body_temp_path $dir/body;
    vote_kafka_brokers $KAFKA_BROKERS;
    vote_kafka_property linger.ms ${BENCH_LINGER_MS:-1};
    vote_poll_catalog $root/stack/polls.json;
    server {
        listen 127.0.0.1:$port backlog=4096;
        location = /a { return 202 '{"id":"01KAMXS8BV0000000000000000"}'; }
        location = /b { vote_enqueue vote; vote_topic $topic; }
        location = /c { vote_enqueue vote; vote_topic $topic; vote_durability broker; }
    }
}
EOF2
cat > "$dir/post.lua" <<'LUA'
wrk.method = "POST"
wrk.body = '{"poll":"guatemala-2027","choice":"SEMILLA","attrs":{"department":"Guatemala","municipality":"Mixco","station":"0101-001"}}'
wrk.headers["Content-Type"] = "application/json"
function done(summary, latency, requests)
    io.write(string.format("RESULT rps=%.0f p50_ms=%.3f p99_ms=%.3f non2xx=%d errors=%d\n",
        summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1000,
        latency:percentile(99) / 1000, summary.errors.status,
        summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
LUA
/usr/sbin/nginx -p "$dir" -c conf/nginx.conf
sleep 1

run() {  # run PATH CONNS SECONDS -> "rps p50 p99 non2xx errors"
    wrk -t"$threads" -c"$2" -d"$3"s -s "$dir/post.lua" "http://127.0.0.1:$port$1" \
        | awk '/^RESULT/ { for (i = 2; i <= NF; i++) { split($i, kv, "="); printf "%s ", kv[2] } print "" }'
}
rss() { ps -o rss= --ppid "$(cat "$dir/logs/nginx.pid")" | awk '{s += $1} END {print s}'; }

run /b "$conns" 2 > /dev/null    # warm up: connections to Kafka, topic metadata
declare -A R H
for loc in a b c; do R[$loc]=$(run /$loc "$conns" "$secs"); done
half=$(( conns / 2 > 0 ? conns / 2 : 1 ))
for loc in b c; do H[$loc]=$(run /$loc "$half" "$secs"); done

rss0=$(rss)
rss_secs=$(awk -v n="$rss_requests" -v r="$(echo "${R[b]}" | cut -d' ' -f1)" 'BEGIN { s = int(n / (r > 0 ? r : 1)) + 1; print s }')
run /b "$conns" "$rss_secs" > "$dir/rss-run"
rss1=$(rss)

a=$(echo "${R[a]}" | cut -d' ' -f1)
echo "| machine | $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -r) |"
echo "| date | $(date -u +%Y-%m-%dT%H:%MZ) |"
echo "| command | wrk -t$threads -c$conns -d${secs}s, $workers nginx workers, linger.ms ${BENCH_LINGER_MS:-1} |"
echo
echo "| location | req/s | ratio to (a) | p50 ms | p99 ms | non-2xx | socket errors | p99 ms at half the connections |"
echo "| --- | --- | --- | --- | --- | --- | --- | --- |"
for loc in a b c; do
    set -- ${R[$loc]}
    ratio=$(awk -v x="$1" -v a="$a" 'BEGIN { printf "%.2f", x / a }')
    hp=""
    [ "$loc" != a ] && hp=$(echo "${H[$loc]}" | cut -d' ' -f3)
    echo "| ($loc) $( [ $loc = a ] && echo 'return 202' || ([ $loc = b ] && echo 'vote, local' || echo 'vote, broker')) | $1 | $ratio | $2 | $3 | $4 | $5 | $hp |"
done
echo
echo "worker RSS (sum of $workers workers): ${rss0} KiB before, ${rss1} KiB after ~$rss_requests more local-mode requests ($(cut -d' ' -f1 "$dir/rss-run") req/s for ${rss_secs}s): growth $(( rss1 - rss0 )) KiB"
