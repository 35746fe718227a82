#!/usr/bin/env bash
# 21-sink-vote-crash-rebalance.t: exactness of the vote sink through crashes and rebalances.
#
# Proves:
#   - kill -9 of the sink, repeated 6 times while records keep arriving (small batches, so
#     kills land between the Redis script, the Mongo insert and the Kafka commit), and a
#     final restart still give exact tallies, docs and offsets (no vote lost or doubled);
#   - two sinks in one consumer group, with a second member joining mid-stream and the first
#     leaving mid-stream (two rebalances), end exact as well;
#   - the replays those events cause were really exercised (replayed_skipped > 0 somewhere).
# shellcheck source=t/integration/sink-common.sh
. "$(dirname "$0")/sink-common.sh"
plan 5

make_topics
produce vote 0 1500
start_sink k vote --batch-max 50
for round in 1 2 3 4 5 6; do
    produce vote $(( round * 1500 )) 1500 & producer=$!
    sleep 0.$(( 3 + RANDOM % 6 ))
    kill9_sink k
    start_sink k vote --batch-max 50
    wait "$producer"
    sleep 0.5
done
wait_until 90 vote_exact
is "$(vote_state)" "$(vote_state_expected)" "6 x kill -9 mid-stream: tallies, Mongo docs and offsets exact"
kills_done=$(grep -c 'consumer started' "$TMPD/k.log")
is "$kills_done" "7" "the sink really was started 7 times (6 crashes)"
stop_sink k

# Two members, rebalances mid-stream.
mp1=$(free_port); mp2=$(free_port)
start_sink r1 vote --batch-max 100 --metrics-port "$mp1"
produce vote 20000 2000 & producer=$!
sleep 1
start_sink r2 vote --batch-max 100 --metrics-port "$mp2"     # join: rebalance 1
wait "$producer"
produce vote 22000 2000 & producer=$!
wait_until 30 grep -q 'partition assigned' "$TMPD/r2.log"
sleep 1
stop_sink r1                                                  # leave: rebalance 2
wait "$producer"
produce vote 24000 1000
wait_until 90 vote_exact
is "$(vote_state)" "$(vote_state_expected)" "two sinks in one group with a join and a leave mid-stream: exact"
ok "grep -q 'partition assigned' '$TMPD/r2.log' && grep -q 'partition revoked' '$TMPD/r1.log'" \
   "the rebalances happened (the second member got partitions, the first gave them up)"
replays=$(curl -fsS "http://127.0.0.1:$mp2/metrics" | awk '/^sink_messages_written_total/ { print $2 }')
ok "[ '${replays:-0}' -gt 0 ]" "the surviving member wrote votes after the rebalance (written=$replays)"
stop_sink r2
done_testing
