#!/usr/bin/env bash
# 46-api-results-cache.t: the results micro-cache at the edge and the daemon's ETag / 304.
#
# Proves: results answers say Cache-Control: public, max-age=1 with a weak ETag, and a
# matching If-None-Match gets 304 with no body, from the daemon and through the edge (where
# clients are told "public, no-cache"); the edge serves a burst from its cache: of 50 quick
# requests most are HITs and the daemon sees at most about one request per 100 ms time bucket
# touched; an unknown poll's 404 is never cached; results through the edge show new votes within
# 1 s of the last 202, in each of 5 rounds (edge bucket 100 ms + the daemon's 250 ms + 100 ms
# grace + the sink's lag); nothing per user lands in the cache: account and chat answers say
# private, no-store and carry no X-Cache-Status, each user still sees their own /api/auth/me,
# and every cache file under $STATE_DIR/nginx/api-cache is a results path (with its time
# bucket) holding no token; old buckets' files are deleted (none older than 25 s).
. "$(dirname "$0")/../lib/tap.sh"
# shellcheck source=t/integration/api-lib.sh
. "$(dirname "$0")/api-lib.sh"

api_up || plan skip_all "api daemon not up on $API_URL"
edge_up || plan skip_all "edge (nginx + module) not up on $EDGE_URL"
plan 16

poll=band-contest
R="$EDGE_URL/api/polls/$poll/results"
hdrs() { curl -s -o /dev/null -D - "$@" | tr -d '\r'; }          # hdrs CURL_ARGS -> headers
hdr() { awk -F': ' -v h="$1" 'tolower($1) == tolower(h) {print $2}'; }  # hdr NAME < headers

h=$(hdrs "$API_URL/api/polls/$poll/results")
etag=$(hdr ETag <<<"$h")
is "$(hdr Cache-Control <<<"$h")" "public, max-age=1" "the daemon's results: Cache-Control: public, max-age=1"
ok "[[ '$etag' =~ ^W/\\\"[0-9a-f]{16}\\\"$ ]]" "the daemon's results carry a weak ETag ($etag)"

code=$(curl -s -o /dev/null -w '%{http_code} %{size_download}' -H "If-None-Match: $etag" "$API_URL/api/polls/$poll/results")
is "$code" "304 0" "If-None-Match with the current tag: 304 without a body from the daemon"
code=$(curl -s -o /dev/null -w '%{http_code}' -H 'If-None-Match: W/"0000000000000000"' "$API_URL/api/polls/$poll/results")
is "$code" 200 "If-None-Match with another tag: 200"

# A burst of 50 requests on one keep-alive connection: one MISS per 100 ms bucket touched, the
# rest HITs; the daemon's request counter grows by no more than the buckets touched (+1 slack).
daemon_results() {
    curl -s "$API_URL/metrics" |
        awk '/^vote_api_requests_total\{route="poll_results",code="[23]xx"\}/ {n += $2} END {print n + 0}'
}
urls=(); for _ in $(seq 50); do urls+=("$R"); done
m0=$(daemon_results); t0=$(now_ms)
st=$(curl -s -o /dev/null -D - "${urls[@]}" | tr -d '\r' | hdr X-Cache-Status)
t1=$(now_ms); m1=$(daemon_results)
hits=$(grep -c '^HIT$' <<<"$st"); misses=$(grep -c '^MISS$' <<<"$st")
buckets=$(( t1 / 100 - t0 / 100 + 1 ))
diag "50 requests in $((t1 - t0)) ms ($buckets buckets): $hits HIT, $misses MISS; daemon asked $((m1 - m0)) times"
ok "[ $((hits + misses)) = 50 ] && [ $hits -ge 25 ] && [ $misses -le $((buckets + 1)) ]" \
   "a burst through the edge is served from the micro-cache ($hits of 50 HIT, $misses MISS in $buckets buckets)"
ok "[ $((m1 - m0)) -le $((buckets + 1)) ]" \
   "the daemon sees at most one results request per 100 ms bucket of the burst ($((m1 - m0)) for $buckets)"
is "$(hdrs "$R" | hdr Cache-Control)" "public, no-cache" \
   "through the edge, results say Cache-Control: public, no-cache (clients revalidate)"
etag=$(hdrs "$R" | hdr ETag)
code=$(curl -s -o /dev/null -w '%{http_code} %{size_download}' -H "If-None-Match: $etag" "$R")
is "$code" "304 0" "through the edge, If-None-Match with the cached tag: 304 without a body"

s1=$(hdrs "$EDGE_URL/api/polls/no-such-poll/results")
s2=$(hdrs "$EDGE_URL/api/polls/no-such-poll/results")
is "$(awk 'NR==1 {print $2}' <<<"$s2"):$(hdr X-Cache-Status <<<"$s1"):$(hdr X-Cache-Status <<<"$s2")" \
   "404:MISS:MISS" "an unknown poll's 404 is not cached"

# Freshness: votes through the real pipeline, results read through the edge, 5 rounds; each
# must show the votes within 1 s of its last 202. The baseline comes from Redis itself (a read
# through the edge or the daemon may lag, which would let a round pass early). Meanwhile other
# votes keep coming (another choice, ~20/s) and another reader polls the edge, so the daemon's
# snapshot is always changing and re-read at most every --results-cache-ms: the slow path, not
# just the first read after a quiet spell.
choice=quetzal-punk; n=3; worst=0; failed=""; times=""
( i=0; while :; do
    i=$((i + 1))
    curl -s -o /dev/null -H 'Content-Type: application/json' \
         -d "{\"poll\":\"$poll\",\"choice\":\"ruta-sur\",\"voter\":\"bg-$RUN-$i\"}" "$EDGE_URL/api/votes"
    curl -s -o /dev/null "$R"
    sleep 0.05
  done ) &
background=$!
for round in 1 2 3 4 5; do
    b_total=$(redis-cli -p "${REDIS_PORT:-6379}" hget "poll:$poll:totals" "$choice"); b_total=${b_total:-0}
    accepted=0
    for i in $(seq $n); do
        req POST "$EDGE_URL/api/votes" "{\"poll\":\"$poll\",\"choice\":\"$choice\",\"voter\":\"cache-$RUN-$round-$i\"}"
        [ "$last_status" = 202 ] && accepted=$((accepted + 1))
    done
    t202=$(now_ms); seen=""
    while [ $(( $(now_ms) - t202 )) -lt 5000 ]; do
        if curl -s "$R" | jq -e --argjson b "$b_total" --argjson n "$n" ".totals[\"$choice\"] >= \$b + \$n" >/dev/null; then
            seen=$(( $(now_ms) - t202 )); break
        fi
        sleep 0.02
    done
    times="$times ${seen:-never}"
    if [ "$accepted" != $n ] || [ -z "$seen" ] || [ "$seen" -ge 1000 ]; then failed="$failed $round"; fi
    [ -n "$seen" ] && [ "$seen" -gt "$worst" ] && worst=$seen
    sleep 0.$((RANDOM % 10))   # start the next round at another point of the 100 ms buckets
done
kill "$background" 2>/dev/null; wait "$background" 2>/dev/null
diag "results through the edge showed the votes after (ms):$times"
ok "[ -z '$failed' ]" \
   "in each of 5 rounds results through the edge reflect new votes within 1 s of the last 202 (ms:$times)"

# Nothing per user is cached.
register "${RUN}ca"; register "${RUN}cb"
ta=$(login_token "${RUN}ca"); tb=$(login_token "${RUN}cb")
ha=$(hdrs -H "Authorization: Bearer $ta" "$EDGE_URL/api/auth/me")
hc=$(hdrs -H "Authorization: Bearer $ta" "$EDGE_URL/api/chat/conversations")
is "$(hdr Cache-Control <<<"$ha")|$(hdr Cache-Control <<<"$hc")|$(hdr X-Cache-Status <<<"$ha$hc")" \
   "private, no-store|private, no-store|" "per-user answers say private, no-store and never pass the cache"
me_a=$(curl -s -H "Authorization: Bearer $ta" "$EDGE_URL/api/auth/me" | jq -r .username)
me_b=$(curl -s -H "Authorization: Bearer $tb" "$EDGE_URL/api/auth/me" | jq -r .username)
is "$me_a:$me_b" "${RUN}ca:${RUN}cb" "each user sees their own /api/auth/me through the edge"
# A plain request then one with credentials on the same connection (curl --next): the second is
# a HIT on the first one's copy unless a bucket ended in between (three tries).
st=""
for _ in 1 2 3; do
    st=$(curl -s -o /dev/null "$R" --next -s -o /dev/null -D - -H "Authorization: Bearer $ta" \
         -H "Cookie: session=$ta" "$R" | tr -d '\r' | hdr X-Cache-Status)
    [ "$st" = HIT ] && break
done
is "$st" HIT "a results request with credentials shares the one public copy"

cache=${STATE_DIR:-.state}/nginx/api-cache
keys=$(find "$cache" -type f -exec grep -a -h -o '^KEY: .*' {} + 2>/dev/null | sort -u)
diag "cached keys: $(wc -l <<<"$keys"), e.g. $(head -1 <<<"$keys")"
ok "[ -n '$keys' ] && ! grep -Eqv '^KEY: /api/polls/[a-z0-9._-]*/results[|][0-9]+[.][0-9]$' <<<'$keys'" \
   "the edge cache holds results paths (with their 100 ms bucket) only"
ok "! grep -rqaF -e '$ta' -e '$tb' '$cache'" "no token appears anywhere in the edge cache"
# Each bucket leaves a file; inactive=3s and the cache manager (which wakes at least every 10 s)
# delete them, so none is much older than that.
old=$(find "$cache" -type f ! -newermt "25 seconds ago" 2>/dev/null | wc -l)
ok "[ '$old' = 0 ]" "old buckets leave the edge cache ($(find "$cache" -type f | wc -l) files, $old older than 25 s)"
done_testing
