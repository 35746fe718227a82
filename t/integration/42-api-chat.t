#!/usr/bin/env bash
# 42-api-chat.t: chat history, conversations and the chat stream of the api daemon (issue 5).
#
# Messages go through the real path: POST /api/chat/messages at the edge -> Kafka -> chat sink
# -> PostgreSQL + Redis PUBLISH -> the api's stream. Without the edge the suite bails out.
#
# Proves: SQL-injection strings and non-ASCII text come back byte for byte; a third user cannot
# read the pair's conversation (his view of it is his own, empty conversation; a pair id as
# peer is refused); keyset pagination walks all messages newest first with no gap or repeat,
# and `after` pages forward; unread counts drop to 0 once the conversation is read; the
# recipient's SSE stream delivers a new message within 1 s of its 202; a stream resumed with
# Last-Event-ID gets exactly the messages after that id; logout ends an open stream.
. "$(dirname "$0")/../lib/tap.sh"
# shellcheck source=t/integration/api-lib.sh
. "$(dirname "$0")/api-lib.sh"

api_up || bail_out "api daemon not answering on $API_URL"
edge_up || bail_out "edge not answering on $EDGE_URL: the chat path needs it (./build.sh up)"
STREAM_URL=$EDGE_URL
plan 20

a="${RUN}al"; b="${RUN}bo"; c="${RUN}ca"
for x in "$a" "$b" "$c"; do register "$x"; done
req POST "$API_URL/api/auth/login" "{\"username\":\"$a\",\"password\":\"$PASSWORD\"}"; ta=$(jq -r .token <<<"$last_body")
req POST "$API_URL/api/auth/login" "{\"username\":\"$b\",\"password\":\"$PASSWORD\"}"; tb=$(jq -r .token <<<"$last_body")
req POST "$API_URL/api/auth/login" "{\"username\":\"$c\",\"password\":\"$PASSWORD\"}"; tc=$(jq -r .token <<<"$last_body")

texts=(
    "hello $RUN"
    "'; DROP TABLE users; --"
    "Robert'); DELETE FROM messages WHERE ''='"
    "\" OR 1=1 -- \\\\ %s %n \$1"
    "ñandú 🗳️ Quetzaltenango — ¿sí?"
    "line one
line two"
    "last of seven"
)
ids=()
for t in "${texts[@]}"; do
    send_chat "$ta" "$a" "$b" "$t"
    [ "$last_status" = 202 ] || diag "send failed: $last_status $last_body"
    ids+=("$sent_id")
done
ok "[ ${#ids[@]} = 7 ] && [ -n '${ids[6]}' ]" "seven messages accepted by the edge"
# Wait through alice's view: reading marks read for the reader only, bob's unread stays.
wait_stored "${ids[6]}" "$ta" "$b" 8000
is "$?" 0 "the last message is stored and listed within 8 s"

# Unread before reading (conversations does not mark read)
req GET "$API_URL/api/chat/conversations" "" -H "Authorization: Bearer $tb"
is "$(jq -r --arg p "$a" '.conversations[] | select(.peer == $p) | .unread' <<<"$last_body")" 7 \
   "bob's conversation list: peer alice with 7 unread"
is "$(jq -r --arg p "$a" '.conversations[] | select(.peer == $p) | .last_message.text' <<<"$last_body")" "last of seven" \
   "the conversation shows the last message"

req GET "$API_URL/api/chat/conversations/$a/messages?limit=200" "" -H "Authorization: Bearer $tb"
got=$(jq -r '[.messages[] | .text] | reverse | .[]' <<<"$last_body" | head -c 100000)
want=$(printf '%s\n' "${texts[@]}")
is "$got" "$want" "all texts, SQL-injection strings included, come back verbatim in order"
is "$(psql -X -tA "$PG_CONNINFO" -c "select count(*) from users where username in ('$a','$b','$c')")" 3 \
   "the users table survived the injection attempts"
req GET "$API_URL/api/chat/conversations" "" -H "Authorization: Bearer $tb"
is "$(jq -r --arg p "$a" '.conversations[] | select(.peer == $p) | .unread' <<<"$last_body")" 0 \
   "after reading, unread is 0"

# Another user cannot read the pair's conversation
req GET "$API_URL/api/chat/conversations/$a/messages" "" -H "Authorization: Bearer $tc"
is "$last_status:$(jq -r '.messages | length' <<<"$last_body")" "200:0" \
   "carol asking for peer alice gets her own (empty) conversation, none of alice:bob"
req GET "$API_URL/api/chat/conversations/$(printf '%s:%s' "$a" "$b")/messages" "" -H "Authorization: Bearer $tc"
is "$last_status" 422 "a conversation id as peer is refused: 422"
req GET "$API_URL/api/chat/conversations" "" -H "Authorization: Bearer $tc"
is "$(jq -r '.conversations | length' <<<"$last_body")" 0 "carol's conversation list is empty"

# Keyset pagination, newest first
seen=(); cursor=""; pages=0
while :; do
    req GET "$API_URL/api/chat/conversations/$b/messages?limit=3${cursor:+&before=$cursor}" "" -H "Authorization: Bearer $ta"
    pages=$((pages + 1))
    mapfile -t page < <(jq -r '.messages[].id' <<<"$last_body")
    seen+=("${page[@]}")
    [ "$(jq -r .has_more <<<"$last_body")" = true ] || break
    cursor=$(jq -r .next_before <<<"$last_body")
    [ $pages -lt 10 ] || break
done
expect_desc=$(printf '%s\n' "${ids[@]}" | sort -r)
is "$pages" 3 "limit=3 over 7 messages: 3 pages (3, 3, 1)"
is "$(printf '%s\n' "${seen[@]}")" "$expect_desc" "pages hold every id once, newest first"
req GET "$API_URL/api/chat/conversations/$b/messages?limit=2&after=${ids[2]}" "" -H "Authorization: Bearer $ta"
is "$(jq -r '[.messages[].id] | join(",")' <<<"$last_body")" "${ids[4]},${ids[3]}" \
   "after=<3rd id>&limit=2 gives the 5th and 4th messages (forward page, newest first)"
req GET "$API_URL/api/chat/conversations/$b/messages?limit=201" "" -H "Authorization: Bearer $ta"
is "$last_status" 422 "limit above 200: 422"
req GET "$API_URL/api/chat/conversations/$b/messages?before=not-an-id" "" -H "Authorization: Bearer $ta"
is "$last_status" 422 "a malformed cursor: 422"

# Live stream: bob listens, alice sends, bob must have it within 1 s of the 202.
out=$(mktemp); trap 'rm -f "$out" "$out.r"' EXIT
curl -sN -m 20 -H "Authorization: Bearer $tb" "$STREAM_URL/api/chat/stream" >"$out" &
spid=$!
for _ in $(seq 50); do grep -q '^retry:' "$out" && break; sleep 0.05; done
ok "grep -q '^retry:' '$out'" "bob's chat stream is open (via $STREAM_URL)"
send_chat "$ta" "$a" "$b" "live $RUN"
t202=$(now_ms); live_id=$sent_id; arrived=""
while [ $(( $(now_ms) - t202 )) -lt 3000 ]; do
    if grep -q "^id: $live_id\$" "$out"; then arrived=$(( $(now_ms) - t202 )); break; fi
    sleep 0.02
done
kill "$spid" 2>/dev/null; wait "$spid" 2>/dev/null
diag "SSE delivery after 202: ${arrived:-never (>3000)} ms (edge -> Kafka -> chat sink -> api)"
ok "[ -n '$arrived' ] && [ '$arrived' -le 1000 ]" "the stream delivers the message within 1 s of its 202 (${arrived:-never} ms)"
data=$(grep -A2 "^id: $live_id\$" "$out" | sed -n 's/^data: //p')
is "$(jq -r '.from + ">" + .to + " " + .text' <<<"$data")" "$a>$b live $RUN" "the event carries the message JSON"

# Resume: Last-Event-ID = the 5th message -> backlog of messages 6, 7 and the live one.
curl -sN -m 2 -H "Authorization: Bearer $tb" -H "Last-Event-ID: ${ids[4]}" "$STREAM_URL/api/chat/stream" >"$out.r"
is "$(sed -n 's/^id: //p' "$out.r" | paste -sd,)" "${ids[5]},${ids[6]},$live_id" \
   "a stream resumed with Last-Event-ID first replays exactly the later messages, in order"

# Logging out ends the streams opened with that token.
curl -sN -m 20 -H "Authorization: Bearer $tb" "$STREAM_URL/api/chat/stream" >/dev/null &
spid=$!
sleep 0.3
req POST "$API_URL/api/auth/logout" "{}" -H "Authorization: Bearer $tb"
t0=$(now_ms); ended=""
while [ $(( $(now_ms) - t0 )) -lt 3000 ]; do
    if ! kill -0 "$spid" 2>/dev/null; then ended=$(( $(now_ms) - t0 )); break; fi
    sleep 0.05
done
kill "$spid" 2>/dev/null; wait "$spid" 2>/dev/null
ok "[ -n '$ended' ] && [ '$ended' -le 1000 ]" "logout ends the user's open chat stream within 1 s (${ended:-never} ms)"
done_testing
