#!/usr/bin/env bash
# 50-order-stream.t: a buyer's order states arrive live on their existing stream (issue 14).
#
# Proves, on the whole stack (edge -> Kafka -> order sink -> Redis pub/sub -> api SSE): with
# GET /api/chat/stream open through the edge, two orders for a book with one copy bring
# `event: order` frames in order: the first order reserved, then paid or payment_failed (then
# shipped when paid), the second rejected sold_out; the frames carry no `id:` line (the stream's
# Last-Event-ID stays a chat message id); another user's stream gets none of them.
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/api-lib.sh"
api_up || bail_out "api daemon not answering on $API_URL"
edge_up || bail_out "edge not answering on $EDGE_URL"
plan 6

TMPD=$(mktemp -d "/tmp/ostream-$RUN.XXXX")
PIDS=()
trap 'for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done; rm -rf "$TMPD"' EXIT
kid=$(awk 'NR==1{print $1}' "$JWT_SECRETS_FILE"); key=$(awk 'NR==1{print $2}' "$JWT_SECRETS_FILE")
tok() { sign_jwt '{"alg":"HS256","typ":"JWT","kid":"'"$kid"'"}' \
    '{"sub":"'"$1"'","iat":'"$(date +%s)"',"exp":'"$(( $(date +%s) + 3600 ))"',"jti":"'"$1"'-s"}' "$key"; }
buyer="${RUN}buy"; other="${RUN}oth"
req POST "$EDGE_URL/api/books" '{"title":"One copy","author":"A","condition":"good","price_cents":500,"copies":1}' \
    -H "Authorization: Bearer $(tok "${RUN}sel")"
book=$(jq -r .id <<<"$last_body")
curl -sN -m 30 -H "Authorization: Bearer $(tok "$buyer")" "$EDGE_URL/api/chat/stream" > "$TMPD/buyer.sse" & PIDS+=($!)
curl -sN -m 30 -H "Authorization: Bearer $(tok "$other")" "$EDGE_URL/api/chat/stream" > "$TMPD/other.sse" & PIDS+=($!)
sleep 1
req POST "$EDGE_URL/api/orders" "{\"book\":$book,\"copies\":1}" -H "Authorization: Bearer $(tok "$buyer")"
first=$(jq -r .id <<<"$last_body")
req POST "$EDGE_URL/api/orders" "{\"book\":$book,\"copies\":1}" -H "Authorization: Bearer $(tok "$buyer")"
second=$(jq -r .id <<<"$last_body")
events() { grep '^data: ' "$TMPD/buyer.sse" | sed 's/^data: //' | jq -r 'select(.status) | .id + " " + .status + " " + (.reason // "-")'; }
final_seen() { events | grep -q "^$first \(shipped\|payment_failed\)"; }
for _ in $(seq 60); do final_seen && break; sleep 0.5; done
states=$(events | awk -v f="$first" '$1 == f { printf "%s%s", sep, $2; sep = "," }')
like "$states" '^reserved,(paid,shipped|payment_failed)$' "the first order's states arrive live, in order ($states)"
is "$(events | awk -v s="$second" '$1 == s { print $2, $3 }')" "rejected sold_out" "the second order: rejected sold_out"
is "$(grep -c '^event: order' "$TMPD/buyer.sse")" "$(events | wc -l)" "every state is an 'event: order' frame"
ok "! grep -B1 '^event: order' '$TMPD/buyer.sse' | grep -q '^id:'" "order frames carry no id: line"
is "$(grep -c '^event: order' "$TMPD/other.sse")" 0 "another user's stream gets none of them"
req GET "$EDGE_URL/api/orders/$first" "" -H "Authorization: Bearer $(tok "$buyer")"
is "$(jq -r .status <<<"$last_body")" "${states##*,}" "the stream's last state is the stored one"
done_testing
