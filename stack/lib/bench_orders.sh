# shellcheck shell=bash
# bench_orders.sh: ./build.sh bench orders: the bookstore (issue 14) as ratios measured in the
# same run: orders accepted per second at the edge vs votes (the shipped edge, both in broker
# mode, alternating rounds); the order sink's drain rate vs psql running the same reservation
# transactions (order_reserve() + the offsets, batches of 1000) on a private schema; and the
# time from the 202 to the order's reservation and to its final state at half the measured rate.

# An HS256 token for $1, signed with the stack's key (as a login would give).
bench_token() {
    python3 - "$(jwt_secrets)" "$1" <<'PY'
import base64, hashlib, hmac, json, sys, time
kid, key = open(sys.argv[1]).readline().split()
e = lambda o: base64.urlsafe_b64encode(json.dumps(o).encode()).rstrip(b"=").decode()
now = int(time.time())
h, p = e({"alg": "HS256", "typ": "JWT", "kid": kid}), e({"sub": sys.argv[2], "iat": now, "exp": now + 7200, "jti": sys.argv[2] + str(now)})
s = base64.urlsafe_b64encode(hmac.new(key.encode(), (h + "." + p).encode(), hashlib.sha256).digest()).rstrip(b"=").decode()
print(h + "." + p + "." + s)
PY
}

bench_orders_psql() { psql -X -q -tA "$PG_CONNINFO options=-csearch_path=benchorders" "$@"; }

# The drain part: prints "SINK_PER_S PSQL_PER_S"
bench_orders_drain() {
    local n=${BENCH_ORDERS:-50000} d=$STATE_DIR/bench/orders t0 t1 sink_s psql_s pid topic=bench.orders mport write_s
    mkdir -p "$d"
    psql -X -q "$PG_CONNINFO" -c "DROP SCHEMA IF EXISTS benchorders CASCADE; CREATE SCHEMA benchorders" >/dev/null &&
        PGOPTIONS=-csearch_path=benchorders psql -X -q -v ON_ERROR_STOP=1 "$PG_CONNINFO" -f "$ROOT/stack/schema.sql" >/dev/null 2>&1 ||
        { warn "cannot create schema benchorders"; return 1; }
    local seed="INSERT INTO books (seller, title, author, condition, price_cents, copies, copies_left)
                SELECT 'bench', 'B' || g, 'A', 'good', 100, 1000, 1000 FROM generate_series(1, 200) g"
    bench_orders_psql -c "$seed" || return 1
    python3 "$ROOT/t/integration/order-gen.py" --run 424242 --count "$n" --books 200 > "$d/orders.tsv"
    "$KAFKA_TOPICS_CMD" delete "$topic" >/dev/null 2>&1
    "$KAFKA_TOPICS_CMD" create "$topic" "$VOTE_PARTITIONS" >/dev/null || { warn "cannot create $topic"; return 1; }
    kcat -P -q -b "$KAFKA_BROKERS" -t "$topic" -K $'\t' < "$d/orders.tsv" || return 1
    mport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    "$BUILD_DIR/bin/order-sink" --brokers "$KAFKA_BROKERS" --topic "$topic" --dlq-topic "$topic.dlq" \
        --group "bench-orders-$$" --metrics-port "$mport" --pay-delay-ms 3600000 --redis-port "$REDIS_PORT" \
        --redis-prefix bench: --pg "$PG_CONNINFO options=-csearch_path=benchorders" > "$d/sink.log" 2>&1 &
    pid=$!
    # timed from the assignment on: the consumer group's join is no part of the drain rate
    until [ "$(grep -c 'partition assigned' "$d/sink.log")" -ge "$VOTE_PARTITIONS" ]; do
        kill -0 "$pid" 2>/dev/null || { warn "order-sink died (log: $d/sink.log)"; return 1; }
        sleep 0.01
    done
    t0=$(date +%s.%N)
    until [ "$(bench_orders_psql -c "SELECT coalesce(sum(next_offset), 0) FROM sink_offsets WHERE topic = '$topic'")" = "$n" ]; do
        kill -0 "$pid" 2>/dev/null || { warn "order-sink died (log: $d/sink.log)"; return 1; }
        sleep 0.05
    done
    t1=$(date +%s.%N)
    write_s=$(curl -s "http://127.0.0.1:$mport/metrics" | awk '/^sink_batch_seconds_sum/ {print $2}')
    kill -TERM "$pid"; wait "$pid"
    sink_s=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')
    # The baseline: the same orders, in the same per-partition batches of 1000, as psql runs them.
    bench_orders_psql -c "TRUNCATE orders, order_events; DELETE FROM sink_offsets; UPDATE books SET copies_left = copies" || return 1
    python3 - "$d/orders.tsv" "$VOTE_PARTITIONS" > "$d/psql.sql" <<'PY'
import json, sys, zlib
rows = [l.rstrip("\n").split("\t", 1) for l in open(sys.argv[1])]
parts = int(sys.argv[2])
by = {}
for k, v in rows:   # the partition the producer's hash would pick does not matter: order per book is kept
    by.setdefault(zlib.crc32(k.encode()) % parts, []).append(json.loads(v))
def arr(xs, q): return "'{" + ",".join(('"%s"' % x) if q else str(x) for x in xs) + "}'"
for p, ms in sorted(by.items()):
    for i in range(0, len(ms), 1000):
        b = ms[i:i + 1000]
        print("BEGIN;")
        print("SELECT count(*) FROM order_reserve(%s::text[], %s::bigint[], %s::text[], %s::int[], %s::bigint[], %s::boolean[], 3600000);" % (
            arr([m["id"] for m in b], 1), arr([m["book"] for m in b], 0), arr([m["buyer"] for m in b], 1),
            arr([m["copies"] for m in b], 0), arr([m["received_at"] for m in b], 0), arr(["f"] * len(b), 0)))
        print("INSERT INTO sink_offsets VALUES ('psql', %d, %d) ON CONFLICT (topic, partition) DO UPDATE SET next_offset = GREATEST(sink_offsets.next_offset, EXCLUDED.next_offset);" % (p, i + len(b)))
        print("COMMIT;")
PY
    t0=$(date +%s.%N)
    bench_orders_psql -f "$d/psql.sql" > /dev/null || { warn "psql baseline failed"; return 1; }
    t1=$(date +%s.%N)
    psql_s=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')
    [ "$(bench_orders_psql -c "SELECT count(*) FROM orders")" = "$n" ] || { warn "psql baseline stored a different count"; return 1; }
    "$KAFKA_TOPICS_CMD" delete "$topic" >/dev/null 2>&1
    psql -X -q "$PG_CONNINFO" -c "DROP SCHEMA benchorders CASCADE" >/dev/null 2>&1
    awk -v n="$n" -v s="$sink_s" -v p="$psql_s" -v w="${write_s:-0}" 'BEGIN { printf "%.0f %.0f %.0f\n", n / s, n / p, (w > 0 ? n / w : 0) }'
}

bench_orders() {
    step "bench orders: orders/s at the edge vs votes; order sink drain vs psql; 202 -> final at half load"
    local f=$STATE_DIR/bench/orders.md d=$STATE_DIR/bench/orders tok book o v p99 non2xx orate=() vrate=() op99=() vp99=()
    mkdir -p "$d"
    tok=$(bench_token "bench$$") || return 1
    book=$(curl -s --cacert "$EDGE_CA_FILE" -H 'Content-Type: application/json' -H "Authorization: Bearer $tok" \
           -d '{"title":"Bench","author":"A","condition":"new","price_cents":100,"copies":10000}' \
           "$EDGE_URL/api/books" | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])') || { warn "cannot publish the bench book"; return 1; }
    printf '{"book":%s,"copies":1}' "$book" > "$d/order.json"
    printf '{"poll":"band-contest","choice":"%s"}' "$(python3 -c "import json; print(json.load(open('$POLL_CATALOG'))['polls'][1]['choices'][0])")" > "$d/vote.json"
    for _ in $(seq "$BENCH_ROUNDS"); do
        read -r o _ p99 _ _ non2xx < <(wrk_post "$EDGE_URL/api/orders" "$d/order.json" "$BENCH_CONNECTIONS" "$BENCH_SECONDS" "Authorization: Bearer $tok") || return 1
        orate+=("$o"); op99+=("$p99"); [ "${non2xx:-0}" = 0 ] || warn "orders: $non2xx answers were not 202"
        read -r v _ p99 _ _ non2xx < <(wrk_post "$EDGE_URL/api/votes" "$d/vote.json") || return 1
        vrate+=("$v"); vp99+=("$p99"); [ "${non2xx:-0}" = 0 ] || warn "votes: $non2xx answers were not 202"
    done
    o=$(median "${orate[@]}"); v=$(median "${vrate[@]}")
    # neither the drain nor the half-load latencies may share the machine with the rounds'
    # backlog: wait until every sink caught up (their lag gauges at 0)
    for _ in $(seq 300); do
        [ "$(curl -s "http://127.0.0.1:$VOTE_SINK_METRICS_PORT/metrics" "http://127.0.0.1:$ORDER_SINK_METRICS_PORT/metrics" |
             awk '/^sink_lag_messages/ { s += $2 } END { print s + 0 }')" = 0 ] && break
        sleep 1
    done
    # the order sink's drain rate bounds what the pipeline sustains on this machine
    local drain; drain=$(bench_orders_drain) || return 1
    read -r sink_rate psql_rate write_rate <<<"$drain"
    # half load: paced orders for a fresh book, then the times the order sink recorded
    book=$(curl -s --cacert "$EDGE_CA_FILE" -H 'Content-Type: application/json' -H "Authorization: Bearer $tok" \
           -d '{"title":"Bench half","author":"A","condition":"new","price_cents":100,"copies":10000}' \
           "$EDGE_URL/api/books" | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])') || return 1
    printf '{"book":%s,"copies":1}' "$book" > "$d/order-half.json"
    # half load: half of what the slower of the edge and the order sink sustains
    local half; half=$(awk -v r="$o" -v s="$sink_rate" 'BEGIN { printf "%d", (s < r ? s : r) / 2 }')
    read -r hp50 hp99 herr hrps < <(EXTRA_HEADER="Authorization: Bearer $tok" wrk_paced "$EDGE_URL/api/orders" "$d/order-half.json" "$half") || return 1
    local open_q="SELECT count(*) FROM orders WHERE book_id = $book AND status IN ('reserved', 'paid')"
    for _ in $(seq 120); do [ "$(psql -X -tA "$PG_CONNINFO" -c "$open_q")" = 0 ] && break; sleep 1; done
    local lat
    lat=$(psql -X -tA -F ' ' "$PG_CONNINFO" -c "
        SELECT count(*),
               round(1000 * percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM e.at - o.received_at))::numeric, 1),
               round(1000 * percentile_cont(0.99) WITHIN GROUP (ORDER BY extract(epoch FROM e.at - o.received_at))::numeric, 1),
               round(1000 * percentile_cont(0.99) WITHIN GROUP (ORDER BY extract(epoch FROM o.updated_at - o.received_at))::numeric, 1)
          FROM orders o JOIN order_events e ON e.order_id = o.id AND e.status IN ('reserved', 'rejected')
         WHERE o.book_id = $book")
    read -r nhalf rp50 rp99 fp99 <<<"$lat"
    {
        echo "## Bookstore: orders at the edge, the order sink, 202 to final state"
        echo
        bench_stamp "./build.sh bench orders"
        echo "Shipped edge, both locations in broker mode (202 once Kafka acknowledged), one token, one book; $BENCH_ROUNDS alternating rounds of ${BENCH_SECONDS} s with $BENCH_CONNECTIONS connections (medians). Drain: ${BENCH_ORDERS:-50000} orders for 200 books preloaded in a private topic and schema; the baseline is psql running the same \`order_reserve()\` + offsets transactions, 1000 orders each (\`stack/lib/bench_orders.sh\`)."
        echo
        echo "| measure | value |"
        echo "| --- | --- |"
        echo "| orders accepted/s at the edge (rounds: ${orate[*]}) | $o (p99 $(median "${op99[@]}") ms) |"
        echo "| votes accepted/s at the edge, same run (rounds: ${vrate[*]}) | $v (p99 $(median "${vp99[@]}") ms) |"
        echo "| orders/s : votes/s | $(ratio "$o" "$v") |"
        echo "| order sink drain, orders/s | $sink_rate |"
        echo "| psql, the same transactions, orders/s | $psql_rate |"
        echo "| order sink : psql | $(ratio "$sink_rate" "$psql_rate") |"
        echo "| the order sink's own transactions alone (orders / time inside its writes) | $write_rate |"
        echo "| half load (half the slower of edge and order sink): offered / achieved orders/s, errors | $half / $hrps, $herr |"
        echo "| half load: 202 latency p50 / p99 at the edge | $hp50 / $hp99 ms |"
        echo "| half load: 202 -> reserved or rejected (order sink) p50 / p99 over $nhalf orders | $rp50 / $rp99 ms |"
        echo "| half load: 202 -> final state p99 (includes the simulated 2 s payment + 3 s shipping of reserved orders) | $fp99 ms |"
    } > "$f"
    cat "$f"
    bench_write_section orders "$f"
    ok "docs/BENCHMARKS.md updated (section orders)"
}
