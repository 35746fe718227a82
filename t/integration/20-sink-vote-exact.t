#!/usr/bin/env bash
# 20-sink-vote-exact.t: the vote sink stores every vote exactly once, sends poison to the DLQ,
# stops gracefully on SIGTERM, and a replay of the whole topic from offset 0 changes nothing.
#
# Proves (against the real Kafka, Redis and MongoDB-wire server of the stack):
#   - after draining: sum of Redis totals == poll counts == votes - duplicate voters,
#     MongoDB holds every vote once (duplicates flagged), stored offsets cover every record;
#   - poison records land in the DLQ with a dlq-reason header and do not block the partition;
#   - SIGTERM exits 0 after committing; Kafka's committed offsets equal the stored ones;
#   - --replay-from-start re-reads all records: every Redis key and the Mongo counts are
#     byte-for-byte the same afterwards, and the replay was really consumed (metrics).
# shellcheck source=t/integration/sink-common.sh
. "$(dirname "$0")/sink-common.sh"
plan 11

make_topics
produce vote 0 3000 4
start_sink a vote --metrics-port "$(free_port)"
ok 'true' "vote sink started (run $RUN_ID)"
wait_until 60 vote_exact
is "$(vote_state)" "$(vote_state_expected)" "drained: Redis tallies, stored offsets and MongoDB docs are exact"
is "$(dlq_count)" "4" "the 4 poison records are in the DLQ with a dlq-reason header"
attr_sum=$(sum_hash "${PREFIX}poll:guatemala-2027:attr:department")
is "$attr_sum" "$(rcli get "${PREFIX}poll:guatemala-2027:count")" "per-department tallies add up to the poll count"
recent=$(rcli llen "${PREFIX}poll:guatemala-2027:recent")
is "$recent" "100" "the recent list is capped at 100"

stop_sink a
is "$STOP_RC" "0" "SIGTERM: the sink exits 0 within 30 s"
ok "grep -q 'stopped' '$TMPD/a.log'" "SIGTERM: it logged a clean stop"
committed=$("$KAFKA_TOPICS_CMD" lag "$TAG" | awk '{ s += $3 } END { print s + 0 }')
is "$committed" "$(vote_offsets_sum)" "Kafka's committed offsets equal the offsets stored with the tallies"

before=$(redis_snapshot; mongo_counts)
mport=$(free_port)
start_sink replay vote --replay-from-start 1 --group "$TAG-replay" --metrics-port "$mport"
wait_until 60 bash -c "[ \"\$(curl -fsS http://127.0.0.1:$mport/metrics 2>/dev/null | awk '/^sink_replayed_skipped_total/ { print \$2 }')\" = '$(expect_total N_VALID)' ]"
is "$(curl -fsS "http://127.0.0.1:$mport/metrics" | awk '/^sink_replayed_skipped_total/ { print $2 }')" "$(expect_total N_VALID)" \
   "replay from offset 0: every vote was re-read and recognised as already applied"
sleep 1
stop_sink replay
after=$(redis_snapshot; mongo_counts)
is "$(diff <(echo "$before") <(echo "$after") | head -5)" "" "replay changed no Redis key and no MongoDB count"
is "$(vote_state)" "$(vote_state_expected)" "state still exact after the replay"
done_testing
