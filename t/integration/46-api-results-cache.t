#!/usr/bin/env bash
# 46-api-results-cache.t: the results micro-cache at the edge and the daemon's ETag / 304.
#
# Proves: results answers say Cache-Control: public, max-age=1 with a weak ETag, and a
# matching If-None-Match gets 304 with no body, from the daemon and through the edge; the
# edge serves a second request from its cache (X-Cache-Status: HIT); an unknown poll's 404 is
# never cached; results through the edge show new votes within the documented bound
# (2 s of edge cache + the daemon's 250 ms + the sink's lag: 2.5 s); nothing per user lands in
# the cache: account and chat answers say private, no-store and carry no X-Cache-Status, each
# user still sees their own /api/auth/me, and every cache file under
# $STATE_DIR/nginx/api-cache is a results path holding no token.
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/api-lib.sh"

api_up || plan skip_all "api daemon not up on $API_URL"
edge_up || plan skip_all "edge (nginx + module) not up on $EDGE_URL"
plan 13

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

# A second request right after the first is a HIT unless the copy expired in between
# (a whole-second boundary): three tries.
second=""
for _ in 1 2 3; do
    curl -s -o /dev/null "$R"
    second=$(hdrs "$R" | hdr X-Cache-Status)
    [ "$second" = HIT ] && break
    sleep 0.3
done
is "$second" HIT "the edge answers a second results request from its micro-cache"
etag=$(hdrs "$R" | hdr ETag)
code=$(curl -s -o /dev/null -w '%{http_code} %{size_download}' -H "If-None-Match: $etag" "$R")
is "$code" "304 0" "through the edge, If-None-Match with the cached tag: 304 without a body"

s1=$(hdrs "$EDGE_URL/api/polls/no-such-poll/results")
s2=$(hdrs "$EDGE_URL/api/polls/no-such-poll/results")
is "$(awk 'NR==1 {print $2}' <<<"$s2"):$(hdr X-Cache-Status <<<"$s1"):$(hdr X-Cache-Status <<<"$s2")" \
   "404:MISS:MISS" "an unknown poll's 404 is not cached"

# Freshness: votes through the real pipeline, results read through the edge.
before=$(curl -s "$R")
choice=quetzal-punk
b_total=$(jq -r ".totals[\"$choice\"]" <<<"$before")
n=3; accepted=0
for i in $(seq $n); do
    req POST "$EDGE_URL/api/votes" "{\"poll\":\"$poll\",\"choice\":\"$choice\",\"voter\":\"cache-$RUN-$i\"}"
    [ "$last_status" = 202 ] && accepted=$((accepted + 1))
done
t202=$(now_ms)
seen=""
while [ $(( $(now_ms) - t202 )) -lt 6000 ]; do
    if curl -s "$R" | jq -e --argjson b "$b_total" --argjson n "$n" ".totals[\"$choice\"] >= \$b + \$n" >/dev/null; then
        seen=$(( $(now_ms) - t202 )); break
    fi
    sleep 0.05
done
diag "results through the edge showed the votes ${seen:-never (>6000)} ms after the last 202"
ok "[ '$accepted' = $n ] && [ -n '$seen' ] && [ '$seen' -le 2500 ]" \
   "results through the edge reflect new votes within the 2.5 s bound (${seen:-never} ms)"

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
st=$(hdrs -H "Authorization: Bearer $ta" -H "Cookie: session=$ta" "$R" | hdr X-Cache-Status)
ok "[ '$st' = HIT ] || [ '$st' = EXPIRED ] || [ '$st' = UPDATING ] || [ '$st' = STALE ] || [ '$st' = REVALIDATED ]" \
   "a results request with credentials shares the one public copy ($st)"

cache=${STATE_DIR:-.state}/nginx/api-cache
keys=$(find "$cache" -type f -exec grep -a -h -o '^KEY: .*' {} + 2>/dev/null | sort -u)
diag "cached keys: $(paste -sd' ' <<<"$keys")"
ok "[ -n '$keys' ] && ! grep -qv '^KEY: /api/polls/[a-z0-9._-]*/results$' <<<'$keys'" \
   "the edge cache holds results paths only"
ok "! grep -rqaF -e '$ta' -e '$tb' '$cache'" "no token appears anywhere in the edge cache"
done_testing
