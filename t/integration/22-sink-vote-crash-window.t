#!/usr/bin/env bash
# 22-sink-vote-crash-window.t: a crash at the worst point of the vote sink's batch (after
# the Redis script applied tallies + offset, before the MongoDB insert) loses nothing.
#
# Proves: with --fault-exit-after-redis the sink dies exactly there (Redis ahead of MongoDB
# is observed), and a restarted sink resumes from the lower of the two stored offsets, so
# MongoDB gets the missing documents with the same duplicate flags while Redis tallies do
# not move: the final state is exact. A sink that resumed from Redis's offset alone would
# leave MongoDB short and fail the last check.
# The first round runs the default two writers (batch k+1's scripts may already have run
# while batch k's documents are not inserted). Second round, one writer and small chunks
# (--writers 1 --chunk-votes 7: many Redis/Mongo pipeline steps per batch): the crash comes
# after a chunk's script answered and the next chunk's script was sent, before the first
# chunk's insert; the restart must again end exact.
# shellcheck source=t/integration/sink-common.sh
. "$(dirname "$0")/sink-common.sh"
plan 7

make_topics
produce vote 0 2000
start_sink crash vote --batch-max 100 --fault-exit-after-redis 3
wait "${SINK_PID[crash]}"; rc=$?; unset "SINK_PID[crash]"
is "$rc" "137" "the sink died on purpose right after its 3rd Redis step"
redis_votes=$(( $(redis_totals_sum) + $(redis_dupes_sum) ))
mongo_total=$(mongo_counts | sed -n 's/.*total=\([0-9]*\).*/\1/p')
ok "[ $redis_votes -gt ${mongo_total:-0} ]" "Redis is ahead of MongoDB at the crash (redis=$redis_votes mongo=${mongo_total:-0})"
start_sink after vote --batch-max 100
wait_until 60 vote_exact
is "$(vote_state)" "$(vote_state_expected)" "after restart: MongoDB caught up, Redis unchanged by the replay, exact"
ok "grep -q 'start_offset=' '$TMPD/after.log'" "the restarted sink seeked to stored offsets"
stop_sink after

produce vote 2000 1500
start_sink crash2 vote --batch-max 100 --writers 1 --chunk-votes 7 --fault-exit-after-redis 11
wait "${SINK_PID[crash2]}"; rc=$?; unset "SINK_PID[crash2]"
is "$rc" "137" "small chunks: the sink died on purpose between a chunk's script and its insert"
redis_votes=$(( $(redis_totals_sum) + $(redis_dupes_sum) ))
mongo_total=$(mongo_counts | sed -n 's/.*total=\([0-9]*\).*/\1/p')
ok "[ $redis_votes -gt ${mongo_total:-0} ]" "small chunks: Redis ahead of MongoDB at the crash (redis=$redis_votes mongo=${mongo_total:-0})"
start_sink after2 vote --batch-max 100 --writers 1 --chunk-votes 7
wait_until 60 vote_exact
is "$(vote_state)" "$(vote_state_expected)" "small chunks: after restart exact (same duplicate flags, no tally moved twice)"
stop_sink after2
done_testing
