#!/usr/bin/env bash
# 44-api-ops.t: the daemon's operational contract, on a private instance of vote-api started
# by this test against the stack's real PostgreSQL, Redis and Kafka.
#
# Proves: --help exits 0 and a bad flag exits 2; /healthz reports every store; /metrics is
# Prometheus text with per-route counters; unknown paths answer a JSON 404, wrong methods a
# JSON 405 with Allow; too many query parameters are a 400; the SSE client limit answers 503
# with Retry-After once reached and the gauge shows the open streams; a second instance on a
# busy port exits non-zero; SIGHUP is survived; SIGTERM with streams open ends them and exits 0 within 3 s.
. "$(dirname "$0")/../lib/tap.sh"
# shellcheck source=t/integration/api-lib.sh
. "$(dirname "$0")/api-lib.sh"

BIN=${BUILD_DIR:-$(dirname "$0")/../../.build}/bin/vote-api
[ -x "$BIN" ] || bail_out "no $BIN (build it: make -C workers/api)"
[ -r "$JWT_SECRETS_FILE" ] || bail_out "cannot read the secrets file $JWT_SECRETS_FILE"
CATALOG=${POLL_CATALOG:-$(dirname "$0")/../../stack/polls.json}
plan 16

ok "'$BIN' --help | grep -q -- '--max-sse-clients'" "--help exits 0 and documents the flags"
"$BIN" --port nope >/dev/null 2>&1
is "$?" 2 "a malformed flag value exits 2"

port=$((20000 + RANDOM % 20000))
while ss -ltn | grep -q ":$port "; do port=$((port + 1)); done
log=$(mktemp)
"$BIN" --port "$port" --max-sse-clients 2 --jwt-secrets "$JWT_SECRETS_FILE" --catalog "$CATALOG" \
    --brokers "${KAFKA_BROKERS:-127.0.0.1:9092}" --redis-port "${REDIS_PORT:-6379}" \
    --pg "$PG_CONNINFO" 2>"$log" &
pid=$!
streams=()
cleanup() { kill "${streams[@]}" 2>/dev/null; kill "$pid" 2>/dev/null; rm -f "$log"; }
trap cleanup EXIT
URL=http://127.0.0.1:$port
for i in $(seq 100); do curl -fs "$URL/healthz" >/dev/null 2>&1 && break; sleep 0.1; done

req GET "$URL/healthz"
is "$last_status:$(jq -c . <<<"$last_body")" \
   '200:{"status":"ok","postgres":"ok","redis":"ok","revocations":"ok"}' "/healthz: 200, every store ok"
req GET "$URL/metrics"
ok "grep -q '^# TYPE vote_api_requests_total counter' <<<'$last_body' && grep -q 'vote_api_requests_total{route=\"healthz\",code=\"2xx\"} [1-9]' <<<'$last_body'" \
   "/metrics: Prometheus text counting the health check"
req GET "$URL/api/nothing-here"
is "$last_status:$(jq -r .error <<<"$last_body")" "404:not_found" "unknown path: JSON 404"
allow=$(curl -s -D - -o /dev/null -X DELETE "$URL/api/polls" | tr -d '\r' | sed -n 's/^Allow: //Ip')
is "$allow" "GET" "wrong method: 405 with Allow: GET"
req GET "$URL/api/polls/band-contest/recent?a=1&b=2&c=3&d=4&e=5&f=6&g=7&h=8&i=9"
is "$last_status" 400 "nine query parameters: 400"

for _ in 1 2; do
    curl -sN -m 30 "$URL/api/polls/band-contest/stream" >/dev/null &
    streams+=($!)
done
sleep 0.5
hdrs=$(curl -s -D - -o /dev/null -m 3 "$URL/api/polls/band-contest/stream" | tr -d '\r')
like "$hdrs" '^HTTP/1.1 503' "a third stream over --max-sse-clients 2: 503"
like "$hdrs" $'Retry-After: 1' "the 503 carries Retry-After"
ok "curl -s '$URL/metrics' | grep -q '^vote_api_sse_clients{stream=\"poll\"} 2$'" "the SSE gauge shows the 2 open streams"

"$BIN" --port "$port" --jwt-secrets "$JWT_SECRETS_FILE" --catalog "$CATALOG" --pg "$PG_CONNINFO" \
    --redis-port "${REDIS_PORT:-6379}" >/dev/null 2>&1 &
p2=$!
( sleep 5; kill $p2 2>/dev/null ) & watchdog=$!
wait $p2; rc2=$?
kill $watchdog 2>/dev/null
is "$rc2" 1 "a second instance on the busy port exits 1"

kill -HUP "$pid"; sleep 0.3
ok "curl -fs '$URL/api/polls' >/dev/null" "SIGHUP does not stop the daemon"
t0=$(now_ms)
kill -TERM "$pid"
wait "$pid"; rc=$?
took=$(( $(now_ms) - t0 ))
is "$rc" 0 "SIGTERM: exit status 0"
ok "[ $took -le 3000 ]" "SIGTERM with 2 open streams: stopped in ${took} ms (<= 3000)"
sleep 0.2
ok "! kill -0 ${streams[0]} 2>/dev/null && ! kill -0 ${streams[1]} 2>/dev/null" "the open streams were ended by the shutdown"
ok "grep -q ' vote-api stopped ' '$log'" "the log records the orderly stop"
done_testing
