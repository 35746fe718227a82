#!/usr/bin/env bash
# 49-flash-sale.t: the bookstore's flash sale on the whole stack (issue 14): 1000 buyers order a
# book with 10 copies at the same moment through the edge (HTTPS), the order sink reserves.
#
# Proves, three times (a plain sale; the order sink killed with SIGKILL every 2 s during the
# sale and the payments that follow; PostgreSQL stopped and started again mid-sale):
#   - every buyer got 202 {"id","status":"pending"} (the edge needs neither the sink nor PostgreSQL);
#   - every 202 order id is stored exactly once, nothing else is stored for the book, and each
#     ends in exactly one final state (shipped, payment_failed or rejected), every state it went
#     through stored once;
#   - the stock: copies sold (shipped) + copies left == 10 published, never below 0 (sampled
#     during the sale; the CHECK constraint forbids it anyway), and every order that did not
#     get a copy ended rejected sold_out (copies a failed payment gave back may be sold again);
#   - a buyer reads their own order through the edge, another buyer gets 404 for it.
# Payment fails for the stack's default 10% of orders (decided by the order id).
. "$(dirname "$0")/../lib/tap.sh"
. "$(dirname "$0")/api-lib.sh"
ROOT=${ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
: "${FLASH_BUYERS:=1000}"
COPIES=10

api_up || bail_out "api daemon not answering on $API_URL"
edge_up || bail_out "edge not answering on $EDGE_URL"
[ -f "$JWT_SECRETS_FILE" ] || bail_out "no $JWT_SECRETS_FILE"
plan 23

TMPD=$(mktemp -d "/tmp/flash-$RUN.XXXX")
cleanup() {
    [ -n "${KILLER:-}" ] && kill "$KILLER" 2>/dev/null
    "$ROOT/build.sh" start-service order-sink >/dev/null 2>&1
    "$ROOT/build.sh" start-service postgres >/dev/null 2>&1
    rm -rf "$TMPD"
}
trap cleanup EXIT
pq() { psql -X -tA "$PG_CONNINFO" -c "$1"; }
wait_until() {   # wait_until SECONDS CMD...: poll CMD every 0.5 s
    local deadline=$(( $(date +%s) + $1 )); shift
    until "$@"; do [ "$(date +%s)" -ge "$deadline" ] && return 1; sleep 0.5; done
}
seller="${RUN}sel"
tseller=$(sign_jwt '{"alg":"HS256","typ":"JWT","kid":"'"$(awk 'NR==1{print $1}' "$JWT_SECRETS_FILE")"'"}' \
    '{"sub":"'"$seller"'","iat":'"$(date +%s)"',"exp":'"$(( $(date +%s) + 3600 ))"',"jti":"'"$seller"'-jti"}' \
    "$(awk 'NR==1{print $2}' "$JWT_SECRETS_FILE")")

new_book() {
    req POST "$EDGE_URL/api/books" "{\"title\":\"Flash $RUN $1\",\"author\":\"A\",\"condition\":\"new\",\"price_cents\":999,\"copies\":$COPIES}" \
        -H "Authorization: Bearer $tseller"
    jq -r .id <<<"$last_body"
}
# sale NAME BOOK WAVES: the buyers' answers in $TMPD/NAME.out; the lowest stock seen meanwhile
# in $TMPD/NAME.min
sale() {
    local name=$1 book=$2 waves=$3
    ( min=$COPIES; while [ ! -f "$TMPD/$name.done" ]; do
          v=$(pq "SELECT copies_left FROM books WHERE id = $book" 2>/dev/null)
          [ -n "$v" ] && [ "$v" -lt "$min" ] && min=$v; echo "$min" > "$TMPD/$name.min"; sleep 0.2
      done ) &
    local sampler=$!
    python3 "$(dirname "$0")/flash-sale.py" --secrets "$JWT_SECRETS_FILE" --book "$book" \
        --buyers "$FLASH_BUYERS" --prefix "${RUN}$name" --waves "$waves" --wave-gap 2 > "$TMPD/$name.out"
    touch "$TMPD/$name.done"; wait "$sampler"
}
settled() {   # every order of the book in a final state and all 202s stored
    [ "$(pq "SELECT count(*) FROM orders WHERE book_id = $1 AND status NOT IN ('reserved', 'paid')")" = "$2" ]
}
# check NAME BOOK: the assertions every scenario shares (6 tests)
check() {
    local name=$1 book=$2 n202 ids
    n202=$(awk '$2 == 202' "$TMPD/$name.out" | wc -l)
    is "$n202" "$FLASH_BUYERS" "$name: every buyer got 202 pending"
    ids=$(awk '$2 == 202 { printf "%s%s", sep, $3; sep = "," }' "$TMPD/$name.out")
    wait_until 90 settled "$book" "$n202" || diag "$name: not settled: $(pq "SELECT status, count(*) FROM orders WHERE book_id = $book GROUP BY 1")"
    is "$(pq "SELECT count(*) || ' ' || count(DISTINCT id) || ' ' || count(*) FILTER (WHERE id = ANY(string_to_array('$ids', ',')))
              FROM orders WHERE book_id = $book")" "$n202 $n202 $n202" \
       "$name: each 202 order id stored exactly once, nothing else for the book"
    is "$(pq "SELECT count(*) FROM orders o WHERE o.book_id = $book AND (o.status NOT IN ('shipped', 'payment_failed', 'rejected')
              OR (o.status = 'rejected' AND o.reason <> 'sold_out')
              OR (SELECT count(*) FROM order_events e WHERE e.order_id = o.id) <>
                 CASE o.status WHEN 'shipped' THEN 4 WHEN 'payment_failed' THEN 3 ELSE 2 END)")" 0 \
       "$name: each order in one final state (rejected ones sold_out), each state stored once"
    local shipped left failed
    shipped=$(pq "SELECT count(*) FROM orders WHERE book_id = $book AND status = 'shipped'")
    failed=$(pq "SELECT count(*) FROM orders WHERE book_id = $book AND status = 'payment_failed'")
    left=$(pq "SELECT copies_left FROM books WHERE id = $book")
    is "$((shipped + left))" "$COPIES" "$name: copies sold ($shipped shipped) + left ($left) == $COPIES published"
    ok "[ '$(cat "$TMPD/$name.min")' -ge 0 ] && [ '$left' -ge 0 ]" "$name: stock never below 0 (lowest seen $(cat "$TMPD/$name.min"))"
    is "$(pq "SELECT count(*) FROM orders WHERE book_id = $book AND status = 'rejected'")" "$((n202 - shipped - failed))" \
       "$name: every other order rejected sold_out ($failed payments failed, their copies released)"
}

# --- 1. plain sale
b1=$(new_book plain)
sale plain "$b1" 1
check plain "$b1"
read -r buyer _ oid < <(awk '$2 == 202' "$TMPD/plain.out" | head -1)
other=$(awk '$2 == 202' "$TMPD/plain.out" | sed -n 2p | cut -d' ' -f1)
tok() { sign_jwt '{"alg":"HS256","typ":"JWT","kid":"'"$(awk 'NR==1{print $1}' "$JWT_SECRETS_FILE")"'"}' \
    '{"sub":"'"$1"'","iat":'"$(date +%s)"',"exp":'"$(( $(date +%s) + 3600 ))"',"jti":"'"$1"'-read"}' \
    "$(awk 'NR==1{print $2}' "$JWT_SECRETS_FILE")"; }
req GET "$EDGE_URL/api/orders/$oid" "" -H "Authorization: Bearer $(tok "$buyer")"
is "$last_status $(jq -r '.id + " " + (.events | map(.status) | join(","))' <<<"$last_body")" \
   "200 $oid $(pq "SELECT string_agg(status, ',' ORDER BY at, status) FROM order_events WHERE order_id = '$oid'")" \
   "the buyer reads their order and its states through the edge"
req GET "$EDGE_URL/api/orders/$oid" "" -H "Authorization: Bearer $(tok "$other")"
is "$last_status" 404 "another buyer cannot read it (404)"

# --- 2. the order sink killed with SIGKILL every 2 s, during the sale and the payments
b2=$(new_book kill)
: > "$TMPD/kills"
( while :; do
      sleep 2
      pid=$(cat "$STATE_DIR/run/order-sink.pid" 2>/dev/null) && kill -9 "$pid" 2>/dev/null && echo "$pid" >> "$TMPD/kills"
      rm -f "$STATE_DIR/run/order-sink.pid"
      sleep 0.3
      "$ROOT/build.sh" start-service order-sink >/dev/null 2>&1
  done ) &
KILLER=$!
sale kill "$b2" 5
sleep 6   # the payments and shipments of the sale, still under the killer
kill "$KILLER"; wait "$KILLER" 2>/dev/null; KILLER=""
"$ROOT/build.sh" start-service order-sink >/dev/null 2>&1
ok "[ $(wc -l < "$TMPD/kills") -ge 5 ]" "the order sink was killed $(wc -l < "$TMPD/kills") times"
check kill "$b2"

# --- 3. PostgreSQL stopped and started again mid-sale
b3=$(new_book pgrestart)
( sleep 3; "$ROOT/build.sh" stop-service postgres >/dev/null 2>&1 && echo stopped > "$TMPD/pg";
  sleep 4; "$ROOT/build.sh" start-service postgres >/dev/null 2>&1 && echo started >> "$TMPD/pg" ) &
pgjob=$!
sale pgrestart "$b3" 5
wait "$pgjob"
is "$(tr '\n' ' ' < "$TMPD/pg")" "stopped started " "PostgreSQL was stopped and started again during the sale"
check pgrestart "$b3"
# Every api thread met the restart too: the next suite must find the api healthy at once.
healthy=0
for _ in $(seq 20); do api_up && healthy=$((healthy + 1)); done
is "$healthy" 20 "after the restart the api answers healthy at once (sessions the server closed are replaced before use)"
done_testing
