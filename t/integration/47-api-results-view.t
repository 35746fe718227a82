#!/usr/bin/env bash
# 47-api-results-view.t: the results document's optional parameters (issue 20).
#
# Proves (always): without a query the answer is the default document (no "breakdown", ten
# entries per top list); ?top=N cuts every top list to N; ?attr=A&value=V adds that value's
# tallies for every choice, equal to by_attr's; each bad parameter gets its precise 4xx
# ({"error","field"}), an unknown one 400; a poll without attributes refuses attr.
# Proves (edge + vote sink up; votes the real way): the breakdown of a station that only these
# votes use counts exactly them (read from Redis when by_attr does not list stations, as with
# more than 500 of them); through the edge, views and the default answer never share a cache
# entry.
. "$(dirname "$0")/../lib/tap.sh"
# shellcheck source=t/integration/api-lib.sh
. "$(dirname "$0")/api-lib.sh"

api_up || bail_out "api daemon not answering on $API_URL"
plan 20
poll=guatemala-2027
R="$API_URL/api/polls/$poll/results"

req GET "$R"
is "$last_status" 200 "default results: 200"
ok "jq -e '(has(\"breakdown\") | not) and all(.top[]; length <= 10)' <<<'$last_body'" \
   "the default answer has no breakdown and at most 10 entries per top list"
dep=$(jq -r '.top.department[0].value // empty' <<<"$last_body")

req GET "$R?top=2"
is "$last_status" 200 "?top=2: 200"
ok "jq -e 'all(.top[]; length <= 2) and (.top.department | length) == ([.by_attr.department | keys[]] | if length < 2 then length else 2 end)' <<<'$last_body'" \
   "?top=2 cuts every top list to 2"

if [ -n "$dep" ]; then
    req GET "$R?attr=department&value=$(jq -rn --arg v "$dep" '$v|@uri')"
    is "$last_status" 200 "?attr=department&value=$dep: 200"
    ok "jq -e --arg d '$dep' '.breakdown.attr == \"department\" and .breakdown.value == \$d and
           (.breakdown.choices | keys) == (.totals | keys) and
           ([.breakdown.choices[]] | add) == .breakdown.total' <<<'$last_body'" \
       "the breakdown lists every choice and its total is their sum"
    ok "jq -e --arg d '$dep' '. as \$s | all(\$s.by_attr.department[\$d] | to_entries[]; \$s.breakdown.choices[.key] == .value)' <<<'$last_body'" \
       "the breakdown equals by_attr's tallies of the department"
else
    skip "no election votes in the stack yet: department breakdown" 3
fi
req GET "$R?attr=department&value=No%20such%20place"
ok "jq -e '.breakdown.total == 0 and all(.breakdown.choices[]; . == 0)' <<<'$last_body'" \
   "an unseen value breaks down to zeros"

bad() {   # bad QUERY STATUS ERROR FIELD
    req GET "$R?$1"
    is "$last_status $(jq -r '"\(.error) \(.field)"' <<<"$last_body")" "$2 $3 $4" "?$1: $2 $3 ($4)"
}
bad "top=0" 422 bad_top top
bad "top=11" 422 bad_top top
bad "top=2x" 422 bad_top top
bad "top" 422 missing_value top
bad "attr=department" 422 missing_value value
bad "value=Guatemala" 422 missing_attr attr
bad "attr=party&value=x" 422 unknown_attr attr
bad "attr=department&value=" 422 bad_value value
bad "sort=desc" 400 unknown_parameter sort
req GET "$API_URL/api/polls/band-contest/results?attr=department&value=x"
is "$last_status $(jq -r .error <<<"$last_body")" "422 unknown_attr" "a poll without attributes refuses attr"

if ! edge_up; then
    skip "edge (nginx + module) not up on $EDGE_URL: votes can only go the real way" 2
    done_testing
fi
station="view-$RUN"; n=3; accepted=0
for i in $(seq $n); do
    body=$(jq -cn --arg s "$station" --arg c "$([ "$i" = 1 ] && echo UNE || echo VAMOS)" \
           '{poll: "guatemala-2027", choice: $c, attrs: {department: "Jalapa", municipality: "Jalapa", station: $s}}')
    req POST "$EDGE_URL/api/votes" "$body"
    [ "$last_status" = 202 ] && accepted=$((accepted + 1))
done
seen=""
for _ in $(seq 50); do
    req GET "$EDGE_URL/api/polls/$poll/results?attr=station&value=$station"
    if jq -e ".breakdown.total == $accepted" <<<"$last_body" >/dev/null 2>&1; then seen=1; break; fi
    sleep 0.1
done
diag "stations in by_attr: $(jq -r 'if .by_attr | has("station") then "yes" else "no (more than 500: breakdown read from Redis)" end' <<<"$last_body")"
ok "[ -n '$seen' ] && jq -e '.breakdown.choices.UNE == 1 and .breakdown.choices.VAMOS == $((accepted - 1))' <<<'$last_body'" \
   "through the edge, the new station's breakdown counts exactly its $accepted votes (1 UNE, the rest VAMOS)"
req GET "$EDGE_URL/api/polls/$poll/results"
ok "jq -e 'has(\"breakdown\") | not' <<<'$last_body'" \
   "right after, the default answer through the edge is not the cached view"
done_testing
