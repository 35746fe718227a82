#!/usr/bin/env bash
# 26-sink-chat-copy-fallback.t: the chat sink's COPY fast path and its ON CONFLICT fallback.
#
# The sink stores a batch with COPY; when a row of the batch is already in PostgreSQL (written
# by another worker during a rebalance, or an operator replay) COPY fails with unique_violation
# and the batch is redone with INSERT ... ON CONFLICT DO NOTHING. Proves (real Kafka,
# PostgreSQL in a per-run schema, Redis):
#   - a batch stream in which every 7th message was stored beforehand ends exact: one row per
#     id, the pre-stored rows untouched, the fallback taken and counted, the pre-stored
#     messages counted as duplicates and not published again;
#   - COPY keeps the data exact: received_at (binary timestamptz) equals the message's
#     milliseconds, the text is byte for byte the message's;
#   - clean batches take the COPY path (the fallback counter does not move);
#   - a record produced twice (same id, so possibly twice in one batch) is stored once.
# shellcheck source=t/integration/sink-common.sh
. "$(dirname "$0")/sink-common.sh"
plan 10

make_pg_schema || bail_out "cannot create schema $PG_SCHEMA"
make_topics
mport=$(free_port)
gen() { python3 "$SINK_T_DIR/sink-gen.py" chat --run "$RUN_ID" "$@"; }

# Another writer got there first: every 7th of the first 1000 messages is already stored,
# with a body the sink would never write.
gen --count 1000 | awk 'NR % 7 == 1' | cut -f2- | python3 -c '
import datetime, json, sys
for line in sys.stdin:
    m = json.loads(line)
    at = datetime.datetime.fromtimestamp(m["received_at"] / 1000, datetime.timezone.utc).isoformat()
    print("\t".join([m["id"], m["conversation"], m["from"], m["to"], "stored-before", at]))
' > "$TMPD/prestored.tsv"
prestored=$(wc -l < "$TMPD/prestored.tsv")
psql -X -q -v ON_ERROR_STOP=1 "$PG_CONNINFO options=-csearch_path=$PG_SCHEMA" \
    -c "\\copy messages (id, conversation, sender, recipient, body, received_at) FROM '$TMPD/prestored.tsv'" ||
    bail_out "cannot pre-store rows"
alice_expected=$(gen --count 1000 | awk 'NR % 7 != 1' | grep -c '"alice"')

redis-cli -p "$REDIS_PORT" subscribe "${PREFIX}chat:user:alice" > "$TMPD/alice.sub" 2>&1 & sub=$!
sleep 0.5
produce chat 0 1000
start_sink c chat --metrics-port "$mport"
wait_until 60 chat_exact
is "$(chat_state)" "$(chat_state_expected)" "$prestored of 1000 pre-stored: one row per message, offsets cover every record"
is "$(pq "SELECT count(*) FROM messages WHERE body = 'stored-before'")" "$prestored" \
   "the pre-stored rows are untouched"
ok "[ \"$(metric sink_copy_fallbacks_total)\" -gt 0 ]" "COPY hit stored ids and the batches were redone with ON CONFLICT (counted)"
is "$(metric sink_duplicates_skipped_total)/$(metric sink_messages_written_total)" "$prestored/$(( 1000 - prestored ))" \
   "pre-stored messages counted as duplicates, the others as written"
sleep 0.5
is "$(grep -c '"kind":"chat"' "$TMPD/alice.sub")" "$alice_expected" \
   "only the newly stored messages were published (alice's channel)"
kill "$sub" 2>/dev/null

fallbacks=$(metric sink_copy_fallbacks_total)
produce chat 1000 1000
wait_until 60 chat_exact
is "$(chat_state)" "$(chat_state_expected)" "1000 more, nothing stored before: exact"
is "$(metric sink_copy_fallbacks_total)" "$fallbacks" "clean batches take the COPY path (no fallback)"
want=$(gen --start 1500 --count 1 | cut -f2- | python3 -c 'import json,sys; m=json.loads(sys.stdin.read()); print(m["received_at"]); print(m["text"])')
is "$(pq "SELECT (extract(epoch FROM received_at) * 1000)::bigint FROM messages WHERE id = '01${RUN_ID}000000000000001500'"; \
      pq "SELECT body FROM messages WHERE id = '01${RUN_ID}000000000000001500'")" "$want" \
   "COPY stores received_at to the millisecond and the text byte for byte"

# The same 50 records produced twice, back to back: a batch may hold both copies of an id.
produce chat 2000 50
gen --start 2000 --count 50 | kcat -P -q -b "$KAFKA_BROKERS" -t "$TOPIC" -K $'\t' || bail_out "kcat produce failed"
echo "N_POISON=50" > "$TMPD/expect-2000-again"   # 50 more records in the topic, no new row
wait_until 60 chat_exact
is "$(chat_state)" "$(chat_state_expected)" "records produced twice: each id stored once"
stop_sink c
is "$STOP_RC" "0" "SIGTERM: the sink exits 0"
done_testing
