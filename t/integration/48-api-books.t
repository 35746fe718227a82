#!/usr/bin/env bash
# 48-api-books.t: the bookstore's catalog on the api daemon (issue 14), on the real PostgreSQL.
#
# Proves: a seller publishes a book (201, the seller is the token's user, copies_left = copies);
# GET /api/books lists only books with stock, filtered by text (title or author, any case) and
# by seller, in keyset pages with no gap or repeat; another seller's PATCH and DELETE are
# refused 403 and change nothing; the owner's PATCH changes only what it names, and copies can
# not drop below what is sold; DELETE delists (404 afterwards, gone from the catalog). Bad input
# on every endpoint is a precise 4xx with nothing stored: hostile strings come back byte for
# byte, wrong types, negative and huge numbers, unknown fields, duplicate keys, oversized
# bodies, bad ids, no token. GET /api/orders needs a token and shows nobody else's orders.
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/api-lib.sh"

api_up || bail_out "api daemon not answering on $API_URL"
plan 50

s1="${RUN}s1"; s2="${RUN}s2"
for x in "$s1" "$s2"; do register "$x"; done
t1=$(login_token "$s1"); t2=$(login_token "$s2")
A1=(-H "Authorization: Bearer $t1"); A2=(-H "Authorization: Bearer $t2")
books_rows() { psql "$PG_CONNINFO" -tAc "SELECT count(*) FROM books WHERE seller IN ('$s1','$s2')"; }

# --- publish
hostile="'; DROP TABLE books; -- \" \\\\ %s ñandú 🗳️ $RUN"
body=$(jq -cn --arg t "$hostile" '{title:$t, author:"Gabriel García Márquez", condition:"good", price_cents:1500, copies:3}')
req POST "$API_URL/api/books" "$body" "${A1[@]}"
is "$last_status" 201 "POST /api/books publishes: 201"
b1=$(jq -r .id <<<"$last_body")
is "$(jq -r .title <<<"$last_body")" "$hostile" "a hostile title is stored and returned byte for byte"
is "$(jq -r '[.seller, .copies, .copies_left] | join(" ")' <<<"$last_body")" "$s1 3 3" "seller from the token, copies_left = copies"
for i in 1 2 3 4; do
    req POST "$API_URL/api/books" "{\"title\":\"Page $RUN $i\",\"author\":\"Anon $RUN\",\"condition\":\"new\",\"price_cents\":$((100 * i)),\"copies\":1}" "${A2[@]}"
done
req GET "$API_URL/api/books/$b1"
is "$last_status $(jq -r .id <<<"$last_body")" "200 $b1" "GET /api/books/{id} is public"

# --- list, filters, pages
req GET "$API_URL/api/books?q=M%C3%81RQUEZ&seller=$s1"
is "$(jq -r '[.books[].id] | join(",")' <<<"$last_body")" "$b1" "?q= matches the author in any case, ?seller= filters"
req GET "$API_URL/api/books?seller=$s2&limit=3"
p1=$(jq -r '[.books[].id] | join(",")' <<<"$last_body"); nb=$(jq -r .next_before <<<"$last_body")
is "$(jq -r .has_more <<<"$last_body") $(jq '.books | length' <<<"$last_body")" "true 3" "a page of 3 of 4 says has_more"
req GET "$API_URL/api/books?seller=$s2&limit=3&before=$nb"
p2=$(jq -r '[.books[].id] | join(",")' <<<"$last_body")
all=$(psql "$PG_CONNINFO" -tAc "SELECT string_agg(id::text, ',' ORDER BY id DESC) FROM books WHERE seller='$s2'")
is "$p1,$p2" "$all" "keyset pages walk every book newest first, no gap, no repeat"
is "$(jq -r .has_more <<<"$last_body")" false "the last page says so"

# --- another seller
req PATCH "$API_URL/api/books/$b1" '{"price_cents":1}' "${A2[@]}"
is "$last_status $(jq -r .error <<<"$last_body")" "403 not_owner" "another seller's PATCH: 403"
req DELETE "$API_URL/api/books/$b1" "" "${A2[@]}"
is "$last_status $(jq -r .error <<<"$last_body")" "403 not_owner" "another seller's DELETE: 403"
is "$(psql "$PG_CONNINFO" -tAc "SELECT price_cents, deleted_at IS NULL FROM books WHERE id=$b1")" "1500|t" "... and the book is unchanged"

# --- the owner's PATCH
req PATCH "$API_URL/api/books/$b1" '{"price_cents":1200,"copies":5}' "${A1[@]}"
is "$last_status $(jq -r '[.price_cents, .copies, .copies_left] | join(" ")' <<<"$last_body") $(jq -r .title <<<"$last_body")" "200 1200 5 5 $hostile" "the owner's PATCH changes only what it names (copies_left follows copies)"
psql "$PG_CONNINFO" -qtAc "UPDATE books SET copies_left = copies_left - 4 WHERE id=$b1"   # 4 sold
req PATCH "$API_URL/api/books/$b1" '{"copies":3}' "${A1[@]}"
is "$last_status $(jq -r .error <<<"$last_body")" "409 copies_below_sold" "copies below what is sold: 409"
req PATCH "$API_URL/api/books/$b1" '{"copies":4}' "${A1[@]}"
is "$last_status $(jq -r '[.copies, .copies_left] | join(" ")' <<<"$last_body")" "200 4 0" "copies down to what is sold: copies_left 0"
req GET "$API_URL/api/books?seller=$s1"
is "$(jq '.books | length' <<<"$last_body")" 0 "a book with no stock left is not listed"

# --- bad input: a precise 4xx, nothing stored
before=$(books_rows)
bad() {   # bad METHOD PATH BODY STATUS ERROR FIELD DESC
    req "$1" "$API_URL$2" "$3" "${A1[@]}"
    is "$last_status $(jq -r '.error + " " + (.field // "-")' <<<"$last_body" 2>/dev/null)" "$4 $5 $6" "$7"
}
B='"title":"t","author":"a","condition":"good","price_cents":100'
bad POST /api/books "{$B}" 422 missing_field copies "missing copies"
bad POST /api/books "{$B,\"copies\":\"3\"}" 422 wrong_type copies "copies as a string"
bad POST /api/books "{$B,\"copies\":1.5}" 422 wrong_type copies "copies as a fraction"
bad POST /api/books "{$B,\"copies\":-1}" 422 bad_value copies "negative copies"
bad POST /api/books "{$B,\"copies\":99999999999}" 422 bad_value copies "huge copies"
bad POST /api/books "{$B,\"copies\":1e400}" 400 malformed_json - "a number beyond any integer"
bad POST /api/books "{$B,\"copies\":1,\"copies\":2}" 400 malformed_json - "duplicate keys"
bad POST /api/books "{$B,\"copies\":1,\"seller\":\"$s2\"}" 422 unknown_field seller "a seller in the body is refused, never used"
bad POST /api/books "{\"title\":\"\",\"author\":\"a\",\"condition\":\"good\",\"price_cents\":1,\"copies\":1}" 422 bad_length title "empty title"
bad POST /api/books "{\"title\":\"a\\u0007b\",\"author\":\"a\",\"condition\":\"good\",\"price_cents\":1,\"copies\":1}" 422 bad_value title "control characters in the title"
bad POST /api/books "{\"title\":\"t\",\"author\":\"a\",\"condition\":\"mint\",\"price_cents\":1,\"copies\":1}" 422 bad_value condition "unknown condition"
bad POST /api/books "{\"title\":\"t\",\"author\":\"a\",\"condition\":\"new\",\"price_cents\":0,\"copies\":1}" 422 bad_value price_cents "zero price"
bad POST /api/books "[1,2]" 422 wrong_type - "not an object"
bad POST /api/books "{\"title\":\"$(printf '%0250d' 0)\",\"author\":\"a\",\"condition\":\"new\",\"price_cents\":1,\"copies\":1}" 422 bad_length title "a title over 200 characters"
bad POST /api/books "{\"title\":\"$(printf '%05000d' 0)\"}" 413 too_large - "an oversized body"
bad PATCH "/api/books/$b1" '{}' 422 missing_field - "an empty PATCH"
bad PATCH "/api/books/$b1" '{"id":7}' 422 unknown_field id "PATCH of the id"
bad PATCH /api/books/0 '{"copies":1}' 422 bad_book_id id "book id 0"
bad PATCH /api/books/-1 '{"copies":1}' 422 bad_book_id id "negative book id"
bad GET /api/books/99999999999999999999 '' 422 bad_book_id id "a book id past 2^53"
bad GET /api/books/9007199254740991 '' 404 book_not_found id "unknown book"
bad GET "/api/books?q=%01x" '' 422 bad_query q "control characters in ?q="
bad GET "/api/books?seller=NOT%20A%20USER" '' 422 bad_seller seller "a seller that is no username"
bad GET "/api/books?before=abc" '' 422 bad_cursor before "a cursor that is no book id"
req POST "$API_URL/api/books" "{$B,\"copies\":1}"
is "$last_status $(jq -r .error <<<"$last_body")" "401 unauthorized" "publishing needs a token"
is "$(curl -s -o /dev/null -w '%{http_code}' -H 'Content-Type: text/plain' "${A1[@]}" --data-binary "{$B,\"copies\":1}" "$API_URL/api/books")" 415 "a body that is not JSON: 415"
is "$(books_rows)" "$before" "nothing was stored by any refused request"

# --- delete
req DELETE "$API_URL/api/books/$b1" "" "${A1[@]}"
is "$last_status" 204 "the owner's DELETE: 204"
req GET "$API_URL/api/books/$b1"
is "$last_status" 404 "a deleted book is gone (404)"

# --- orders: own only
oid=$(printf '01%024d' "$(date +%s%N | tail -c 19)")   # a ULID of digits
psql "$PG_CONNINFO" -qtAc "INSERT INTO orders (id, book_id, buyer, copies, status, received_at) VALUES ('$oid', $b1, '$s1', 1, 'shipped', now())"
req GET "$API_URL/api/orders/$oid" "" "${A1[@]}"
is "$last_status $(jq -r .status <<<"$last_body")" "200 shipped" "the buyer reads their order"
req GET "$API_URL/api/orders/$oid" "" "${A2[@]}"
is "$last_status $(jq -r .error <<<"$last_body")" "404 order_not_found" "another user cannot read it (404)"
req GET "$API_URL/api/orders" "" "${A2[@]}"
is "$last_status $(jq '.orders | length' <<<"$last_body")" "200 0" "nor see it in their list"
req GET "$API_URL/api/orders" "" "${A1[@]}"
is "$(jq -r '[.orders[].id] | join(",")' <<<"$last_body")" "$oid" "the buyer's list has it"
req GET "$API_URL/api/orders"
is "$last_status" 401 "GET /api/orders needs a token"
req GET "$API_URL/api/orders/not-an-id" "" "${A1[@]}"
is "$last_status $(jq -r .error <<<"$last_body")" "422 bad_order_id" "a malformed order id: 422"
psql "$PG_CONNINFO" -qtAc "DELETE FROM orders WHERE buyer='$s1'; DELETE FROM order_events WHERE order_id='$oid'"
done_testing
