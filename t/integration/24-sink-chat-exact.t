#!/usr/bin/env bash
# 24-sink-chat-exact.t: the chat sink stores every message exactly once in PostgreSQL and
# pushes each new message once on Redis pub/sub.
#
# Proves (real Kafka, PostgreSQL in a per-run schema, Redis):
#   - drained: rows == messages produced, no duplicate ids, sink_offsets cover every record;
#   - poison records go to chat.dlq with a dlq-reason header;
#   - each new message is published on chat:user:{to} and chat:user:{from} (counted for one
#     user against the produced messages that involve her);
#   - replay from offset 0 adds no row and publishes nothing again;
#   - kill -9 repeated mid-stream still ends exact;
#   - SIGTERM exits 0.
# shellcheck source=t/integration/sink-common.sh
. "$(dirname "$0")/sink-common.sh"
plan 9

make_pg_schema || bail_out "cannot create schema $PG_SCHEMA"
make_topics
# Listen as alice before anything is produced (redis-cli prints 3 lines per message).
redis-cli -p "$REDIS_PORT" subscribe "${PREFIX}chat:user:alice" > "$TMPD/alice.sub" 2>&1 & sub=$!
sleep 0.5
produce chat 0 1000 3
alice_expected=$(python3 "$SINK_T_DIR/sink-gen.py" chat --run "$RUN_ID" --count 1000 | grep -c '"alice"')
start_sink c chat
wait_until 60 chat_exact
is "$(chat_state)" "$(chat_state_expected)" "drained: one row per message, no duplicate ids, offsets cover every record"
is "$(dlq_count)" "3" "the 3 poison records are in the DLQ with a dlq-reason header"
# Quotes, braces, commas, backslashes, tabs and non-ASCII survive the array-parameter encoding.
first_text=$(python3 "$SINK_T_DIR/sink-gen.py" chat --run "$RUN_ID" --count 1 | cut -f2- |
             python3 -c 'import json,sys; print(json.loads(sys.stdin.read())["text"])')
is "$(pq "SELECT body FROM messages WHERE id = '01${RUN_ID}000000000000000000'")" "$first_text" \
   "message text is stored byte for byte"
sleep 0.5
alice_got() { grep -c '"kind":"chat"' "$TMPD/alice.sub"; }
is "$(alice_got)" "$alice_expected" "each message involving alice was published once on her channel"
stop_sink c
is "$STOP_RC" "0" "SIGTERM: the sink exits 0"

start_sink replay chat --replay-from-start 1 --group "$TAG-replay"
sleep 4
stop_sink replay
is "$(chat_state)" "$(chat_state_expected)" "replay from offset 0: no row added"
is "$(alice_got)" "$alice_expected" "replay from offset 0: nothing published again"
ok "grep -q 'replaying assigned partitions from the start' '$TMPD/replay.log'" "the replay really re-read the partitions"
kill "$sub" 2>/dev/null

start_sink k chat --batch-max 50
for round in 1 2 3 4 5; do
    produce chat $(( round * 1000 )) 1000 & producer=$!
    sleep 0.$(( 3 + RANDOM % 6 ))
    kill9_sink k
    start_sink k chat --batch-max 50
    wait "$producer"
    sleep 0.5
done
wait_until 90 chat_exact
is "$(chat_state)" "$(chat_state_expected)" "5 x kill -9 mid-stream: rows and offsets exact"
stop_sink k
done_testing
