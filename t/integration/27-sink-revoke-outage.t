#!/usr/bin/env bash
# 27-sink-revoke-outage.t: a rebalance during a store outage does not leave a sink paused forever.
#
# Proves: when a revoke arrives while a sink holds an unwritten batch and its store (Redis,
# private, on a free port) has just gone down, the revoke's own write attempt fails and the
# batch is dropped uncommitted; after the reassignment the sink still resumes by itself once
# the store is back, and the final state is exact. Before the fix the failed attempt in the
# revoke callback left the loop "failing" with no batch to retry: the new partitions were
# paused and never resumed, so the partition it got back was never drained.
# Setup: sink a alone with a long --batch-ms (its batch is pending, not yet due, when the
# rebalance comes), Redis stopped, sink b joins the group, Redis restarted.
# shellcheck source=t/integration/sink-common.sh
. "$(dirname "$0")/sink-common.sh"
plan 4

start_private_redis || bail_out "private redis did not start"
make_topics
mport=$(free_port)
# 10 s batches (50 messages never fill --batch-max 200): a batch is still pending when b joins.
start_sink a vote --batch-ms 10000 --metrics-port "$mport" --redis-timeout-ms 1000
produce vote 0 50
wait_until 60 vote_exact
is "$(vote_state)" "$(vote_state_expected)" "before the outage: exact"

stop_private_redis
produce vote 50 60          # sink a holds these in a pending batch (due in 10 s)
sleep 1
start_sink b vote --batch-ms 10000 --redis-timeout-ms 1000   # join => revoke on a with Redis down
wait_until 30 grep -q 'partition revoked' "$TMPD/a.log"
sleep 4
start_private_redis || bail_out "private redis did not restart"
produce vote 110 40
wait_until 90 vote_exact
is "$(vote_state)" "$(vote_state_expected)" "after revoke during the outage and Redis back: exact (both partitions drained)"
is "$(metric sink_paused)" "0" "sink a is not left paused"
ok "kill -0 ${SINK_PID[a]} && kill -0 ${SINK_PID[b]}" "both sinks still running"
done_testing
