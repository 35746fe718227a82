#!/usr/bin/env bash
# bench-api.sh - the api daemon's benchmark (issue 5), printed as a markdown section.
#
#   ./build.sh bench api        # against the running stack (API_PORT, REDIS_PORT); it renders
#                               # the shipped nginx-conf/ into BENCH_API_DIR (render_edge_conf_at)
#
# 1. GET /api/polls/guatemala-2027/results through nginx (api-upstream.conf + api-locations.conf
#    as shipped: keep-alive upstream and the results micro-cache in 100 ms time buckets) vs nginx
#    answering the same body itself (a static file of the same bytes, open_file_cache, sendfile
#    off so it is written from memory as `return` would: a `return` string cannot hold a 30 kB
#    body): requests/s, p99 and the ratio (target >= 0.5), and how many requests the daemon got
#    meanwhile.  For reference: the same proxied path without the edge cache (every request
#    reaches the daemon) and the api direct (its own 250 ms cache).
# 2. SSE fan-out through nginx: SSE_CLIENTS clients (1000) on one poll stream, a `results:{p}`
#    PUBLISH, time until every client has the new snapshot; the same for 1000 chat streams of one
#    user and a `chat:user:{u}` PUBLISH (what the chat sink sends; the payload is a bench message,
#    nothing is stored).  p50/p99 over SSE_ROUNDS rounds (target p99 < 500 ms).
# nginx runs privately on a free port (state in BENCH_API_DIR, stopped at exit); the stack is
# only read from, apart from one bench account.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
API_PORT=${API_PORT:-8090}
REDIS_PORT=${REDIS_PORT:-6379}
SECS=${BENCH_SECONDS:-10}
CONNS=${BENCH_CONNECTIONS:-32}
SSE_CLIENTS=${SSE_CLIENTS:-1000}
SSE_ROUNDS=${SSE_ROUNDS:-5}
POLL=guatemala-2027
API=http://127.0.0.1:$API_PORT

curl -fs "$API/healthz" >/dev/null || { echo "bench-api: api not healthy on $API" >&2; exit 1; }
work=${BENCH_API_DIR:?BENCH_API_DIR: the shipped config rendered by ./build.sh bench api}
conf=$work/nginx/conf   # api-upstream.conf, api-locations.conf, edge-hsts.conf as shipped
[ -f "$conf/api-upstream.conf" ] || { echo "bench-api: no rendered config in $conf" >&2; exit 1; }
mkdir -p "$work/logs"
chmod 711 "$work"   # nginx workers (nobody when run as root) write the micro-cache below it
cleanup() {
    [ -f "$work/nginx.pid" ] && kill -QUIT "$(cat "$work/nginx.pid")" 2>/dev/null
    [ -n "${BENCH_KEEP:-}" ] || rm -rf "$work"
}
trap cleanup EXIT

port=$((30000 + RANDOM % 20000))
while ss -ltn | grep -q ":$port "; do port=$((port + 1)); done
body=$(curl -fs "$API/api/polls/$POLL/results")
printf '%s' "$body" >"$work/body.json"   # too big for a `return` string: served as a file
cat >"$conf/bench-api.conf" <<CONF
worker_processes auto;
worker_rlimit_nofile 20000;
pid $work/nginx.pid;
error_log $work/logs/error.log warn;
events { worker_connections 8192; }
http {
    access_log off;
    keepalive_requests 100000;
    include api-upstream.conf;
    server {
        listen 127.0.0.1:$port backlog=4096;
        include api-locations.conf;
        open_file_cache max=16 inactive=60s;
        location = /bench/bare {
            default_type application/json;
            alias $work/body.json;
            sendfile off;  # written from memory like a \`return\` body, not zero-copy
        }
        location = /bench/uncached {  # the results location minus the micro-cache
            proxy_buffer_size 64k;
            proxy_buffers 4 64k;
            proxy_busy_buffers_size 64k;
            proxy_pass http://vote_api/api/polls/$POLL/results;
        }
    }
}
CONF
nginx -p "$work" -c "$conf/bench-api.conf" -e "$work/logs/error.log"
sleep 0.5
EDGE=http://127.0.0.1:$port

# wrk -> "RPS P99"
run_wrk() {
    local out rps p99
    curl -fs -o /dev/null "$1" || true   # warm-up: open_file_cache, the micro-cache, keep-alive
    out=$(wrk -t2 -c"$CONNS" -d"${SECS}s" --latency "$1")
    rps=$(awk '/^Requests\/sec:/ {printf "%.0f", $2}' <<<"$out")
    p99=$(awk '$1=="99%" {print $2}' <<<"$out")
    echo "$rps $p99"
}
read -r bare_rps bare_p99 < <(run_wrk "$EDGE/bench/bare")
daemon_results() {   # how many results answers the daemon gave so far
    curl -s "$API/metrics" | awk '/^vote_api_requests_total\{route="poll_results",code="[23]xx"\}/ {n += $2} END {print n + 0}'
}
m0=$(daemon_results)
read -r prox_rps prox_p99 < <(run_wrk "$EDGE/api/polls/$POLL/results")
miss_per_s=$(( ($(daemon_results) - m0) / SECS ))
read -r unc_rps unc_p99 < <(run_wrk "$EDGE/bench/uncached")
read -r direct_rps direct_p99 < <(run_wrk "$API/api/polls/$POLL/results")
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }'; }
ratio=$(ratio "$prox_rps" "$bare_rps")

fanout() {   # fanout URL EVENT TRIGGER [HEADER] -> JSON line
    python3 "$HERE/sse-fanout.py" --url "$1" --event "$2" --trigger "$3" ${4:+--header "$4"} \
        --clients "$SSE_CLIENTS" --rounds "$SSE_ROUNDS"
}
poll_json=$(fanout "$EDGE/api/polls/band-contest/stream" results \
    "redis-cli -p $REDIS_PORT publish results:band-contest '{\"poll\":\"band-contest\",\"count\":0}'") || true
user="bench$(date +%s)$$"
curl -fs -o /dev/null -H 'Content-Type: application/json' \
    -d "{\"username\":\"$user\",\"password\":\"bench password 123\"}" "$API/api/auth/register"
token=$(curl -fs -H 'Content-Type: application/json' \
    -d "{\"username\":\"$user\",\"password\":\"bench password 123\"}" "$API/api/auth/login" | jq -r .token)
msg="{\"v\":1,\"kind\":\"chat\",\"id\":\"01JBENCH000000000000000000\",\"conversation\":\"bench:$user\",\"from\":\"bench\",\"to\":\"$user\",\"text\":\"fan-out\",\"received_at\":0}"
chat_json=$(fanout "$EDGE/api/chat/stream" message \
    "redis-cli -p $REDIS_PORT publish chat:user:$user '$msg'" "Authorization: Bearer $token") || true

field() { jq -r ".$2 // \"n/a\"" <<<"$1" 2>/dev/null || echo n/a; }
cat <<MD
| measurement | value |
| --- | --- |
| nginx serving the same ${#body}-byte body itself (static file) | $bare_rps req/s (p99 $bare_p99) |
| GET /api/polls/$POLL/results through nginx (micro-cache in 100 ms buckets; $miss_per_s daemon requests/s during the run) | $prox_rps req/s (p99 $prox_p99) |
| **ratio results / bare** (target >= 0.5) | **$ratio** |
| reference: the same through nginx without the micro-cache (every request reaches the daemon) | $unc_rps req/s (p99 $unc_p99), ratio $(ratio "$unc_rps" "$bare_rps") |
| reference: GET results from the api directly (its 250 ms snapshot cache) | $direct_rps req/s (p99 $direct_p99) |
| SSE poll stream, $SSE_CLIENTS clients, results snapshot after PUBLISH | p50 $(field "$poll_json" p50_ms) ms, **p99 $(field "$poll_json" p99_ms) ms**, missing $(field "$poll_json" missing) |
| SSE chat streams, $SSE_CLIENTS clients, message after PUBLISH | p50 $(field "$chat_json" p50_ms) ms, **p99 $(field "$chat_json" p99_ms) ms**, missing $(field "$chat_json" missing) |

wrk -t2 -c$CONNS -d${SECS}s; SSE: $SSE_ROUNDS rounds, python asyncio clients on the same machine.
Freshness: results through the edge are at most ~0.45 s older than the tallies (the edge's 100 ms
cache bucket + the daemon's 250 ms + 100 ms grace), ~0.65 s after a vote's 202 with the sink's lag;
the poll stream's latency includes the coalescing tick (--sse-coalesce-ms, 250 ms).
MD
