#!/usr/bin/env bash
# 43-api-results.t: poll catalog, results, recent votes and the results stream (issue 5).
#
# Proves (always): GET /api/polls lists the catalog (stack/polls.json) ids, choices and attrs;
# results list every choice of the poll and count == sum of totals (a consistent snapshot);
# unknown polls are 404; a bad limit is 422; recent votes never expose the voter id.
# Proves (edge + vote sink up; votes go the real way: edge -> Kafka -> vote sink -> Redis):
# results reflect new votes within 1 s of the last 202, per attribute value (department,
# municipality) included; the results SSE stream pushes a snapshot showing them within 1 s.
# The test never writes tallies itself: the shared Redis totals must stay equal to MongoDB's.
. "$(dirname "$0")/../lib/tap.sh"
# shellcheck source=t/integration/api-lib.sh
. "$(dirname "$0")/api-lib.sh"

api_up || bail_out "api daemon not answering on $API_URL"
CATALOG=${POLL_CATALOG:-$(dirname "$0")/../../stack/polls.json}
plan 14

req GET "$API_URL/api/polls"
is "$last_status" 200 "GET /api/polls: 200"
is "$(jq -c '[.polls[] | {id, choices, attrs}]' <<<"$last_body")" \
   "$(jq -c '[.polls[] | {id, choices, attrs}]' "$CATALOG")" "it lists the catalog's polls, choices and attrs"

req GET "$API_URL/api/polls/guatemala-2027/results"
is "$last_status" 200 "results of the election: 200"
ok "jq -e '(.totals | keys | length) == $(jq '.polls[] | select(.id == "guatemala-2027") | .choices | length' "$CATALOG")' <<<'$last_body'" \
   "every choice of the catalog appears in totals"
ok "jq -e '.count == ([.totals[]] | add)' <<<'$last_body'" "count equals the sum of the totals"
ok "jq -e '(.by_attr | has(\"department\")) and (.top | has(\"station\"))' <<<'$last_body'" \
   "results have per-attribute tallies and top lists"
req GET "$API_URL/api/polls/no-such-poll/results"
is "$last_status:$(jq -r .error <<<"$last_body")" "404:unknown_poll" "unknown poll: 404"
req GET "$API_URL/api/polls/guatemala-2027/recent?limit=0"
is "$last_status" 422 "recent?limit=0: 422"

if ! edge_up; then
    skip "edge (nginx + module) not up on $EDGE_URL: votes can only go the real way" 6
    done_testing
fi
poll=guatemala-2027; choice=SEMILLA; dep="Sacatepéquez"; mun="Antigua Guatemala"; station="T-$RUN"
before=$(curl -s "$API_URL/api/polls/$poll/results")
b_total=$(jq -r ".totals.$choice" <<<"$before")
b_dep=$(jq -r --arg d "$dep" --arg c "$choice" '.by_attr.department[$d][$c] // 0' <<<"$before")
out=$(mktemp); trap 'rm -f "$out"' EXIT
curl -sN -m 20 "$EDGE_URL/api/polls/$poll/stream" >"$out" &
spid=$!
sleep 0.5
n=5; accepted=0
for i in $(seq $n); do
    body=$(jq -cn --arg p "$poll" --arg c "$choice" --arg d "$dep" --arg m "$mun" --arg s "$station" \
           --arg v "voter-$RUN-$i" '{poll: $p, choice: $c, voter: $v, attrs: {department: $d, municipality: $m, station: $s}}')
    req POST "$EDGE_URL/api/votes" "$body"
    [ "$last_status" = 202 ] && accepted=$((accepted + 1))
done
t202=$(now_ms)
is "$accepted" "$n" "$n votes accepted by the edge"
seen=""
while [ $(( $(now_ms) - t202 )) -lt 5000 ]; do
    now=$(curl -s "$API_URL/api/polls/$poll/results")
    if jq -e --argjson b "$b_total" --argjson n "$n" ".totals.$choice >= \$b + \$n" <<<"$now" >/dev/null; then
        seen=$(( $(now_ms) - t202 )); break
    fi
    sleep 0.05
done
diag "results showed the votes ${seen:-never (>5000)} ms after the last 202"
ok "[ -n '$seen' ] && [ '$seen' -le 1000 ]" "results reflect the votes within 1 s (${seen:-never} ms)"
ok "jq -e --arg d '$dep' --arg c $choice --argjson b $b_dep --argjson n $n '.by_attr.department[\$d][\$c] >= \$b + \$n' <<<'$now'" \
   "the department's tally for the choice grew by the votes"
ok "jq -e --arg m '$mun' --arg c $choice '.by_attr.municipality[\$m][\$c] >= $n' <<<'$now'" \
   "the municipality's tally has them"
req GET "$API_URL/api/polls/$poll/recent?limit=100"
ok "jq -e --arg s '$station' '([.votes[] | select(.attrs.station == \$s)] | length) >= 1 and all(.votes[]; has(\"voter\") | not)' <<<'$last_body'" \
   "recent votes include ours and never carry the voter id"
# The stream: some results event must show the new total within 1 s of the last 202.
sleep 1
kill "$spid" 2>/dev/null; wait "$spid" 2>/dev/null
ok "sed -n 's/^data: //p' '$out' | jq -e --argjson b $b_total --argjson n $n 'select(.totals.$choice >= \$b + \$n)' | grep -q ." \
   "the results stream pushed a snapshot with the new votes"
done_testing
