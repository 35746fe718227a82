#!/usr/bin/env bash
# 28-sink-chat-pipeline.t: the chat sink writes two batches at once (one PostgreSQL
# connection each) and still commits them strictly in order.
#
# Proves (real Kafka, PostgreSQL in a per-run schema, Redis):
#   - a batch that keeps failing (a real trigger rejects one of its rows) is never passed:
#     while it fails, no later batch commits (rows == offsets, the failing partition's stored
#     offset stays at or below the rejected record), and after kill -9, the fault removed and
#     a restart, the drain is exact with no duplicate id. A sink that let the later batch
#     commit would store offsets past rows that were never written, and lose them here;
#   - terminating one of the sink's two PostgreSQL backends again and again mid-stream (the
#     batch on it fails, with its COMMIT outcome sometimes unknown; the batch on the other
#     connection must then roll back too) ends exact, no duplicate id;
#   - ids produced twice in adjacent batches (written at the same time on the two
#     connections, where the earlier batch's COPY can wait on the later one's transaction)
#     are stored once and the drain does not stall.
# shellcheck source=t/integration/sink-common.sh
. "$(dirname "$0")/sink-common.sh"
plan 8

make_pg_schema || bail_out "cannot create schema $PG_SCHEMA"
make_topics
mport=$(free_port)
gen() { python3 "$SINK_T_DIR/sink-gen.py" chat --run "$RUN_ID" "$@"; }
id_of() { printf '01%06d%018d' "$RUN_ID" "$1"; }

# ---- a failing batch holds back every later one ----
pq "CREATE TABLE fault (id text PRIMARY KEY);
    CREATE FUNCTION reject_marked() RETURNS trigger LANGUAGE plpgsql AS \$\$
    BEGIN
        IF EXISTS (SELECT 1 FROM fault WHERE id = NEW.id) THEN
            RAISE EXCEPTION 'injected failure for %', NEW.id;
        END IF;
        RETURN NEW;
    END \$\$;
    CREATE TRIGGER reject_marked BEFORE INSERT ON messages FOR EACH ROW EXECUTE FUNCTION reject_marked();" >/dev/null ||
    bail_out "cannot install the fault trigger"
marked=$(id_of 1500)
pq "INSERT INTO fault VALUES ('$marked')" >/dev/null
produce chat 0 3000
read -r mpart moff < <(kcat -C -q -b "$KAFKA_BROKERS" -t "$TOPIC" -o beginning -e -f '%p %o %s\n' 2>/dev/null | awk -v id="$marked" 'index($0, id) { print $1, $2; exit }')
[ -n "$moff" ] || bail_out "marked record not found in the topic"
start_sink c chat --batch-max 50 --metrics-port "$mport" --log-level debug
wait_until 60 bash -c "[ \"\$(curl -fsS http://127.0.0.1:$mport/metrics | awk '/^sink_paused/ {print \$2}')\" = 1 ]"
sleep 2   # time for a wrongly committed later batch to show
offsets_now() { pq "SELECT coalesce(sum(next_offset), 0) FROM sink_offsets WHERE topic = '$TOPIC'"; }
rows_now() { pq "SELECT count(*) FROM messages"; }
state_now="rows=$(rows_now) offsets=$(offsets_now) marked_partition_offset=$(pq "SELECT coalesce(max(next_offset), 0) FROM sink_offsets WHERE topic = '$TOPIC' AND partition = $mpart")"
ok "[ \"$(rows_now)\" = \"$(offsets_now)\" ] && [ \"$(pq "SELECT coalesce(max(next_offset), 0) FROM sink_offsets WHERE topic = '$TOPIC' AND partition = $mpart")\" -le $moff ]" \
   "while the batch with the rejected record fails, nothing after it commits ($state_now; rejected at partition $mpart offset $moff)"
ok "grep -q 'conn=1' '$TMPD/c.log' && grep -q 'conn=0' '$TMPD/c.log'" "batches were stored on both connections before the failure"
kill9_sink c
pq "DELETE FROM fault" >/dev/null
start_sink c chat --batch-max 50 --metrics-port "$mport"
wait_until 90 chat_exact
is "$(chat_state)" "$(chat_state_expected)" "kill -9 while failing, fault removed, restart: exact, no duplicate id"
pq "DROP TRIGGER reject_marked ON messages" >/dev/null

# ---- one of the two backends terminated again and again mid-stream ----
sinkpid=${SINK_PID[c]}
backend_ports() {   # the sink's local ports of its PostgreSQL connections
    ss -Htnp state established "( dport = :${PG_PORT} )" 2>/dev/null |
        awk -v p="pid=$sinkpid," 'index($0, p) { n = split($3, a, ":"); print a[n] }'
}
fails_before=$(grep -c 'batch write failed' "$TMPD/c.log")
# A stream that lasts through the terminations (the sink drains 20000 records in well under a
# second; a backend it never uses again is not reconnected and cannot be terminated again).
( for k in $(seq 0 9); do produce chat $((3000 + k * 2000)) 2000; sleep 0.3; done ) & producer=$!
terminated=0
for round in $(seq 1 16); do   # a backend missing at a round (reconnecting) is skipped
    sleep 0.$(( 2 + RANDOM % 5 ))
    ports=$(backend_ports)
    [ -n "$ports" ] || continue
    port=$(sed -n "$(( round % $(wc -l <<< "$ports") + 1 ))p" <<< "$ports")
    t=$(pq "SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE client_port = $port AND client_addr = '127.0.0.1') x")
    terminated=$(( terminated + ${t:-0} ))
    kill -0 "$producer" 2>/dev/null || break
done
wait "$producer"
ok "[ $terminated -ge 5 ]" "terminated $terminated of the sink's PostgreSQL backends mid-stream"
ok "[ \"\$(grep -c 'batch write failed' '$TMPD/c.log')\" -gt $fails_before ]" "the terminations made batches fail (and be retried)"
wait_until 120 chat_exact
is "$(chat_state)" "$(chat_state_expected)" "backends terminated mid-stream: exact, no duplicate id"

# ---- ids produced twice in adjacent batches ----
# Blocks of 30 records, each block produced twice in a row: with --batch-max 50 the two
# copies of an id land in the same batch or in two batches written at the same time.
gen --start 23000 --count 3000 | awk '{ blk[++n] = $0 } n == 30 { for (r = 0; r < 2; r++) for (i = 1; i <= n; i++) print blk[i]; n = 0 }
                                     END { for (r = 0; r < 2; r++) for (i = 1; i <= n; i++) print blk[i] }' |
    kcat -P -q -b "$KAFKA_BROKERS" -t "$TOPIC" -K $'\t' || bail_out "kcat produce failed"
gen --start 23000 --count 3000 --expect "$TMPD/expect-23000" >/dev/null
echo "N_POISON=3000" > "$TMPD/expect-23000-again"   # 3000 more records in the topic, no new row
wait_until 120 chat_exact
is "$(chat_state)" "$(chat_state_expected)" "ids produced twice in adjacent batches: each stored once, no stall"
stop_sink c
is "$STOP_RC" "0" "SIGTERM: the sink exits 0"
done_testing
