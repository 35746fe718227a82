#!/usr/bin/env bash
# 51-orders-bad-input.t: POST /api/orders on the real stack (edge -> Kafka -> order sink) refuses
# what it must, and nothing refused reaches Kafka or PostgreSQL (issue 14).
#
# Proves: hostile strings, wrong types, fractions, zero/negative/huge numbers, duplicate keys,
# unknown and missing fields, an oversized and a non-JSON body, no token and a forged token
# are each a precise 4xx; the orders topic's end offsets and the orders table are unchanged
# afterwards; a token that logged out (POST /api/auth/logout) is refused by the edge for orders
# as it is for chat; an order for an unknown book is accepted (the edge never looks a book up)
# and ends rejected unknown_book, stored once.
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/api-lib.sh"
api_up || bail_out "api daemon not answering on $API_URL"
edge_up || bail_out "edge not answering on $EDGE_URL"
plan 24

pq() { psql -X -tA "$PG_CONNINFO" -c "$1"; }
ends() {   # the orders topic's end offsets, summed over its partitions
    local p args=()
    for p in $(kcat -b "$KAFKA_BROKERS" -L -t orders 2>/dev/null | awk '/partition [0-9]+,/ { sub(",", "", $2); print $2 }'); do
        args+=(-t "orders:$p:-1")
    done
    kcat -b "$KAFKA_BROKERS" -Q "${args[@]}" 2>/dev/null | awk '{ s += $NF } END { print s + 0 }'
}
user="${RUN}ob"
register "$user"; tok=$(login_token "$user")
[ -n "$tok" ] || bail_out "no token for $user"
A=(-H "Authorization: Bearer $tok")
offsets_before=$(ends); rows_before=$(pq "SELECT count(*) FROM orders")

bad() {   # bad BODY STATUS ERROR FIELD DESC
    req POST "$EDGE_URL/api/orders" "$1" "${A[@]}"
    is "$last_status $(jq -r '.error + " " + (.field // "-")' <<<"$last_body" 2>/dev/null)" "$2 $3 $4" "$5"
}
bad '{"book":"1; DROP TABLE books; --","copies":1}' 422 wrong_type book "a hostile string as the book"
bad '{"book":1,"copies":"1"}' 422 wrong_type copies "copies as a string"
bad '{"book":1.5,"copies":1}' 422 wrong_type book "a fractional book id"
bad '{"book":[1],"copies":1}' 422 wrong_type book "an array as the book"
bad '{"book":0,"copies":1}' 422 bad_value book "book 0"
bad '{"book":-7,"copies":1}' 422 bad_value book "a negative book id"
bad '{"book":1,"copies":0}' 422 bad_value copies "zero copies"
bad '{"book":1,"copies":-1}' 422 bad_value copies "negative copies"
bad '{"book":1,"copies":1000000}' 422 bad_value copies "a huge number of copies"
bad '{"book":123456789012345678901234567890,"copies":1}' 400 malformed_json - "a number past any integer"
bad '{"book":1,"copies":1,"copies":2}' 400 malformed_json - "duplicate keys"
bad '{"book":1,"copies":1,"buyer":"mallory"}' 422 unknown_field buyer "a buyer in the body"
bad '{"copies":1}' 422 missing_field book "no book"
bad '"book"' 400 malformed_json - "not an object"
bad "{\"book\":1,\"copies\":1,\"x\":\"$(printf '%02000d' 0)\"}" 413 body_too_large - "an oversized body"
is "$(curl -s -o /dev/null -w '%{http_code}' "${A[@]}" -H 'Content-Type: text/plain' --data-binary '{"book":1,"copies":1}' "$EDGE_URL/api/orders")" 415 "a body that is not JSON: 415"
req POST "$EDGE_URL/api/orders" '{"book":1,"copies":1}'
is "$last_status $(jq -r .error <<<"$last_body")" "401 missing_token" "no token: 401"
req POST "$EDGE_URL/api/orders" '{"book":1,"copies":1}' -H "Authorization: Bearer ${tok%?}x"
is "$last_status $(jq -r .error <<<"$last_body")" "401 invalid_token" "a forged token: 401"
sleep 1
is "$(ends)" "$offsets_before" "nothing refused reached the orders topic"
is "$(pq "SELECT count(*) FROM orders")" "$rows_before" "nor the orders table"

# an unknown book: accepted by the edge, rejected by the order sink
req POST "$EDGE_URL/api/orders" '{"book":9007199254740991,"copies":1}' "${A[@]}"
oid=$(jq -r .id <<<"$last_body")
is "$last_status $(jq -r .status <<<"$last_body")" "202 pending" "an unknown book is accepted by the edge (no look-up there)"
for _ in $(seq 50); do [ -n "$(pq "SELECT 1 FROM orders WHERE id = '$oid'")" ] && break; sleep 0.2; done
is "$(pq "SELECT status || ' ' || reason || ' ' || count(*) OVER () FROM orders WHERE id = '$oid'")" "rejected unknown_book 1" \
   "... and ends rejected unknown_book, stored once"

# logout: the edge refuses the token for orders
req POST "$API_URL/api/auth/logout" "" "${A[@]}" -H 'Content-Type: application/json'
is "$last_status" 204 "logout: 204"
for _ in $(seq 20); do
    req POST "$EDGE_URL/api/orders" '{"book":1,"copies":1}' "${A[@]}"
    [ "$last_status" = 401 ] && break; sleep 0.1
done
is "$last_status $(jq -r .detail <<<"$last_body")" "401 token was revoked (logged out)" "a logged-out token is refused by the edge for orders"
done_testing
