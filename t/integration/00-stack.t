#!/usr/bin/env bash
# 00-stack.t: the running local stack answers with real clients (issue 2's acceptance).
#
# Proves: a record produced with kcat is consumed back from Kafka; redis-cli, psql and
# mongo-c-driver (mongo-ping) reach their servers; the topics and the schema exist.
# Needs the stack up (build.sh test starts it) and the environment build.sh exports.
. "$(dirname "$0")/../lib/tap.sh"

topic="selftest.stack.$$"
plan 8

"$KAFKA_TOPICS_CMD" create "$topic" 1
payload="stack-check-$$-$RANDOM"
printf '%s\n' "$payload" | kcat -q -b "$KAFKA_BROKERS" -P -t "$topic" -k "k$$"
got=$(kcat -q -b "$KAFKA_BROKERS" -C -t "$topic" -o beginning -c 1 -e -f '%k=%s\n' 2>/dev/null)
is "$got" "k$$=$payload" "a record produced with kcat is consumed back with its key"
"$KAFKA_TOPICS_CMD" delete "$topic"

topics=$("$KAFKA_TOPICS_CMD" list)
missing=""
for t in votes chat orders votes.dlq chat.dlq orders.dlq auth.revocations; do grep -qx "$t" <<<"$topics" || missing="$missing $t"; done
is "$missing" "" "topics votes, chat, orders, votes.dlq, chat.dlq, orders.dlq and auth.revocations exist"
parts=$(kcat -b "$KAFKA_BROKERS" -L -t votes 2>/dev/null | grep -c 'partition [0-9]*,')
is "$parts" "$VOTE_PARTITIONS" "votes has VOTE_PARTITIONS=$VOTE_PARTITIONS partitions"

is "$(redis-cli -p "$REDIS_PORT" ping)" "PONG" "redis-cli ping answers PONG"
is "$(psql -X -tA "$PG_CONNINFO" -c 'select 1')" "1" "psql select 1 as user vote on database vote"
tables=$(psql -X -tA "$PG_CONNINFO" -c "select string_agg(tablename, ',' order by tablename) from pg_tables where schemaname='public'")
is "$tables" "books,conversation_reads,messages,order_events,orders,sink_offsets,users" "stack/schema.sql is applied"
ok '"$BUILD_DIR/bin/mongo-ping" "$MONGO_URI"' "mongo-c-driver pings the MongoDB-wire server"
ok '! "$BUILD_DIR/bin/mongo-ping" mongodb://127.0.0.1:1/' "mongo-ping fails against a port nobody listens on (the check can fail)"
done_testing
