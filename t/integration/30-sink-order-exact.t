#!/usr/bin/env bash
# 30-sink-order-exact.t: the order sink reserves stock exactly once, in partition order, and
# never below zero (issue 14).
#
# Proves (real Kafka, PostgreSQL in a per-run schema; a private PostgreSQL for the restart):
#   - drained: every valid order has exactly the outcome a sequential replay of its book's
#     orders predicts (reserved, or rejected sold_out / unknown_book), stock == published -
#     reserved copies, sink_offsets cover every record; poison records are in the DLQ;
#   - replay from offset 0 (another group) changes no order, no book and no event;
#   - kill -9 every 1.5 s while orders arrive still ends with exactly the predicted outcome;
#   - PostgreSQL restarted under the sink: nothing lost or doubled, the sink resumes by itself;
#   - the simulated payment and shipping: every reserved order ends shipped or payment_failed,
#     each state stored once, a failed payment's copies are back on the shelf, so per book
#     copies sold (reserved/paid/shipped) + copies left == copies published, stock never < 0;
#   - --help lists the simulation options; SIGTERM exits 0.
. "$(dirname "$0")/sink-common.sh"
[ -x "$BUILD_DIR/bin/order-sink" ] || plan skip_all "$BUILD_DIR/bin/order-sink not built"
plan 11

STOCK=40,40,40,40
ORDERS=1200

make_topics
ok "'$BUILD_DIR/bin/order-sink' --help | grep -q -- --payment-failure-pct" "--help lists the simulation options"

# start_order_sink NAME [flags]: with the test's topic, group and schema; payment far away so
# the reservation outcome can be compared before anything moves on.
start_order_sink() {
    local name=$1; shift
    "$BUILD_DIR/bin/order-sink" --brokers "$KAFKA_BROKERS" --topic "$TOPIC" --dlq-topic "$TOPIC.dlq" \
        --group "$TAG" --client-id "$TAG-$name" --metrics-port 0 --batch-max 200 --batch-ms 20 \
        --backoff-base-ms 50 --backoff-cap-ms 1000 --kafka-props session.timeout.ms=6000 \
        --pg "${SINK_PG_CONNINFO:-$PG_CONNINFO} options=-csearch_path=$PG_SCHEMA" \
        --redis-port "$REDIS_PORT" --redis-prefix "$PREFIX" \
        --pay-delay-ms 3600000 "$@" >> "$TMPD/$name.log" 2>&1 &
    SINK_PID[$name]=$!
}
seed_books() {
    local n
    for n in ${STOCK//,/ }; do
        pq "INSERT INTO books (seller, title, author, condition, price_cents, copies, copies_left)
            VALUES ('seller', 'T', 'A', 'good', 100, $n, $n)" >/dev/null
    done
}
produce_lines() {   # produce_lines FILE FIRST LAST
    sed -n "$2,$3p" "$1" | kcat -P -q -b "$KAFKA_BROKERS" -t "$TOPIC" -K $'\t' || bail_out "kcat produce failed"
}
outcome() { pq "SELECT id || ' ' || CASE WHEN status IN ('reserved','paid','shipped','payment_failed') THEN 'reserved' ELSE status END
                || ' ' || coalesce(reason, '-') FROM orders ORDER BY id"; }
offsets() { pq "SELECT coalesce(sum(next_offset), 0) FROM sink_offsets WHERE topic = '$TOPIC'"; }
drained() { [ "$(offsets)" = "$1" ]; }
stock_ok() {   # published == left + copies of every order that holds stock; no negative stock
    pq "SELECT count(*) FROM books b WHERE b.copies_left < 0 OR b.copies <> b.copies_left +
          (SELECT coalesce(sum(o.copies), 0) FROM orders o WHERE o.book_id = b.id
            AND o.status IN ('reserved', 'paid', 'shipped'))"
}
snapshot() { pq "SELECT md5(string_agg(x, ',' ORDER BY x)) FROM (SELECT o::text AS x FROM orders o
                 UNION ALL SELECT b::text FROM books b UNION ALL SELECT e::text FROM order_events e) s"; }

# --- 1. plain run
make_pg_schema || bail_out "cannot create schema $PG_SCHEMA"
seed_books
python3 "$SINK_T_DIR/order-gen.py" --run "$RUN_ID" --count "$ORDERS" --stock "$STOCK" --poison 3 \
    --expect "$TMPD/expect" > "$TMPD/orders"
produce_lines "$TMPD/orders" 1 '$'
start_order_sink a
wait_until 60 drained $((ORDERS + 3))
is "$(outcome | md5sum)" "$(md5sum < "$TMPD/expect")" "drained: every order has the outcome its book's sequence predicts"
is "$(stock_ok)" 0 "stock == published - reserved copies for every book, never below 0"
is "$(dlq_count)" 3 "the 3 poison records are in the DLQ"
stop_sink a
is "$STOP_RC" 0 "SIGTERM: the sink exits 0"

# --- 2. replay
before=$(snapshot)
start_order_sink replay --replay-from-start 1 --group "$TAG-replay"
sleep 5
stop_sink replay
is "$(snapshot)" "$before" "replay from offset 0 changes no order, book or event"

# --- 3. kill -9 while orders arrive (a fresh topic and schema)
TOPIC="$TAG.k9"; "$KAFKA_TOPICS_CMD" create "$TOPIC" 2 && "$KAFKA_TOPICS_CMD" create "$TOPIC.dlq" 1 || bail_out "topics"
TOPICS_MADE+=("$TOPIC" "$TOPIC.dlq")
pq "TRUNCATE orders, order_events, books RESTART IDENTITY; DELETE FROM sink_offsets" >/dev/null
seed_books
python3 "$SINK_T_DIR/order-gen.py" --run "$RUN_ID" --count "$ORDERS" --stock "$STOCK" --seed 99 \
    --expect "$TMPD/expect-k9" > "$TMPD/orders-k9"
kills=0
for chunk in 0 1 2 3 4 5; do
    produce_lines "$TMPD/orders-k9" $((chunk * 200 + 1)) $((chunk * 200 + 200))
    start_order_sink k9
    sleep 1.5
    kill9_sink k9; kills=$((kills + 1))
done
start_order_sink k9
wait_until 60 drained "$ORDERS"
is "$(outcome | md5sum)" "$(md5sum < "$TMPD/expect-k9")" "kill -9 $kills times mid-stream: still exactly the predicted outcome"
stop_sink k9

# --- 4. PostgreSQL restarted under the sink (a private server: the stack's is shared)
start_private_pg || bail_out "cannot start a private PostgreSQL"
psql -X -q "$SINK_PG_CONNINFO" -c "CREATE SCHEMA $PG_SCHEMA" &&
    PGOPTIONS="-csearch_path=$PG_SCHEMA" psql -X -q -v ON_ERROR_STOP=1 "$SINK_PG_CONNINFO" \
        -f "$SINK_T_DIR/../../stack/schema.sql" >/dev/null 2>&1 || bail_out "private schema"
TOPIC="$TAG.pg"; "$KAFKA_TOPICS_CMD" create "$TOPIC" 2 && "$KAFKA_TOPICS_CMD" create "$TOPIC.dlq" 1 || bail_out "topics"
TOPICS_MADE+=("$TOPIC" "$TOPIC.dlq")
seed_books
python3 "$SINK_T_DIR/order-gen.py" --run "$RUN_ID" --count "$ORDERS" --stock "$STOCK" --seed 7 \
    --expect "$TMPD/expect-pg" > "$TMPD/orders-pg"
start_order_sink pg
produce_lines "$TMPD/orders-pg" 1 400
sleep 1
stop_private_pg
produce_lines "$TMPD/orders-pg" 401 800
sleep 3
start_private_pg || bail_out "cannot restart the private PostgreSQL"
produce_lines "$TMPD/orders-pg" 801 '$'
wait_until 60 drained "$ORDERS"
is "$(outcome | md5sum)" "$(md5sum < "$TMPD/expect-pg")" "PostgreSQL restarted mid-stream: exactly the predicted outcome"
if sink_alive pg; then pass "the sink rode out the outage by itself"; else fail "the sink rode out the outage by itself"; fi
stop_sink pg

# --- 5. payment and shipping, while orders arrive (released copies may be sold again)
TOPIC="$TAG.pay"; "$KAFKA_TOPICS_CMD" create "$TOPIC" 2 && "$KAFKA_TOPICS_CMD" create "$TOPIC.dlq" 1 || bail_out "topics"
TOPICS_MADE+=("$TOPIC" "$TOPIC.dlq")
SINK_PG_CONNINFO=""
pq "TRUNCATE orders, order_events, books RESTART IDENTITY; DELETE FROM sink_offsets" >/dev/null
seed_books
python3 "$SINK_T_DIR/order-gen.py" --run "$RUN_ID" --count "$ORDERS" --stock "$STOCK" --seed 5 > "$TMPD/orders-pay"
start_order_sink pay --pay-delay-ms 200 --ship-delay-ms 200 --payment-failure-pct 30 --tick-ms 50
for chunk in 0 1 2 3 4 5; do produce_lines "$TMPD/orders-pay" $((chunk * 200 + 1)) $((chunk * 200 + 200)); sleep 0.3; done
settled() { drained "$ORDERS" && [ "$(pq "SELECT count(*) FROM orders WHERE status IN ('reserved', 'paid')")" = 0 ]; }
wait_until 60 settled
is "$(pq "SELECT count(*) FROM orders o WHERE o.status NOT IN ('shipped', 'payment_failed', 'rejected')
          OR (SELECT count(*) FROM order_events e WHERE e.order_id = o.id) <>
             CASE o.status WHEN 'shipped' THEN 4 WHEN 'payment_failed' THEN 3 ELSE 2 END")" 0 \
   "every order ends in one final state with each state it went through stored once"
is "$(stock_ok)" 0 "failed payments gave their copies back: sold + left == published per book"
failed=$(pq "SELECT count(*) FROM orders WHERE status = 'payment_failed'")
shipped=$(pq "SELECT count(*) FROM orders WHERE status = 'shipped'")
note "payment_failed=$failed shipped=$shipped (failure rate 30%)"
stop_sink pay
done_testing
