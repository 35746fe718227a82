#!/usr/bin/env bash
# 45-api-via-edge.t: the api behind nginx (nginx-conf/api-upstream.conf, api-locations.conf).
#
# Proves: through the edge, register / login / me / conversations / polls / results / the
# daemon's health (/api/healthz) are proxied with their status codes and JSON bodies intact;
# an SSE stream arrives unbuffered (the first event within 1 s) and says X-Accel-Buffering: no
# to any proxy in front of the edge (k8s/README.md, gateway); the daemon's /metrics is not
# reachable from outside; a burst of logins beyond limit_req answers 429 with a JSON body and
# Retry-After (the burst uses malformed bodies, so no password hashing is spent).
. "$(dirname "$0")/../lib/tap.sh"
# shellcheck source=t/integration/api-lib.sh
. "$(dirname "$0")/api-lib.sh"

edge_up || plan skip_all "edge (nginx + module) not up on $EDGE_URL"
plan 12

u="${RUN}e"
req POST "$EDGE_URL/api/auth/register" "{\"username\":\"$u\",\"password\":\"$PASSWORD\"}"
is "$last_status" 201 "register through the edge: 201"
req POST "$EDGE_URL/api/auth/register" "{\"username\":\"$u\",\"password\":\"$PASSWORD\"}"
is "$last_status:$(jq -r .error <<<"$last_body")" "409:username_taken" "duplicate through the edge: 409 with the daemon's JSON"
req POST "$EDGE_URL/api/auth/login" "{\"username\":\"$u\",\"password\":\"$PASSWORD\"}"
token=$(jq -r '.token // empty' <<<"$last_body")
is "$last_status" 200 "login through the edge: 200"
req GET "$EDGE_URL/api/auth/me" "" -H "Authorization: Bearer $token"
is "$last_status:$(jq -r .username <<<"$last_body")" "200:$u" "/api/auth/me through the edge"
req GET "$EDGE_URL/api/chat/conversations" "" -H "Authorization: Bearer $token"
is "$last_status" 200 "conversations through the edge: 200"
req GET "$EDGE_URL/api/polls/band-contest/results"
ok "[ '$last_status' = 200 ] && jq -e '.poll == \"band-contest\"' <<<'$last_body'" "results through the edge: 200 JSON"
req GET "$EDGE_URL/api/healthz"
is "$last_status:$(jq -r .status <<<"$last_body")" "200:ok" "the daemon's health as /api/healthz"
is "$(curl -s -o /dev/null -w '%{http_code}' "$EDGE_URL/api/metrics")" 404 "the daemon's metrics are not proxied"

out=$(mktemp); trap 'rm -f "$out" "$out.h"' EXIT
t0=$(now_ms)
curl -sN -m 5 -D "$out.h" "$EDGE_URL/api/polls/band-contest/stream" >"$out" &
spid=$!
took=""
while [ $(( $(now_ms) - t0 )) -lt 3000 ]; do
    if grep -q '^event: results' "$out"; then took=$(( $(now_ms) - t0 )); break; fi
    sleep 0.02
done
kill "$spid" 2>/dev/null; wait "$spid" 2>/dev/null
ok "[ -n '$took' ] && [ '$took' -le 1000 ]" "SSE through the edge is unbuffered: first event after ${took:-never} ms"
# (over HTTP/2 header names arrive in lower case)
ok "tr -d '\r' < '$out.h' | grep -qix 'X-Accel-Buffering: no'" "the stream tells a proxy in front of the edge not to buffer (X-Accel-Buffering: no)"
ok "tr -d '\r' < '$out.h' | grep -qi '^strict-transport-security: max-age='" "the stream carries HSTS like every HTTPS answer"

# Fire the burst from one curl over one HTTP/2 connection (16 streams at a time), so it outruns
# the 20 r/s refill even on a loaded box (160 separate TLS handshakes may not); keep every
# answer's headers and body (-i), then inspect the first 429.
burst=$(mktemp -d)
seq 160 | awk -v u="$EDGE_URL/api/auth/login" -v d="$burst" '{ printf "url = \"%s\"\noutput = \"%s/%d.r\"\n", u, d, $1 }' > "$burst/cfg"
curl -s -i -Z --parallel-max 16 -H "$JSON" -d '{' -K "$burst/cfg" >/dev/null 2>&1
codes=$(cat "$burst"/*.r | tr -d '\r' | awk '/^HTTP\// {print $2}' | sort | uniq -c | awk '{print $2 "x" $1}' | paste -sd' ')
diag "160 rapid logins: $codes"
first429=$(grep -lE '^HTTP/[0-9.]+ 429' "$burst"/*.r | head -1)
ok "[ -n '$first429' ] && grep -qi '^Retry-After: 1' '$first429' && grep -q '\"error\":\"rate_limited\"' '$first429'" \
   "a login burst beyond limit_req: 429, Retry-After, JSON body ($codes)"
rm -rf "$burst"
sleep 3 # let the bucket refill for whoever logs in next
done_testing
