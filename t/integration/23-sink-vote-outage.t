#!/usr/bin/env bash
# 23-sink-vote-outage.t: the vote sink rides out a Redis outage and a MongoDB outage.
#
# Uses its own real redis-server (AOF, fsync always) and its own FerretDB on free ports, so
# stopping them disturbs no one. For Redis down, MongoDB down and Redis hung (SIGSTOP, the
# slow-store case) in turn, mid-stream: stop it, keep producing,
# check that the sink is still running, has paused consumption (sink_paused=1), logged the
# outage once (not once per retry); restart the store,
# and check it resumes by itself and ends exact.
# shellcheck source=t/integration/sink-common.sh
. "$(dirname "$0")/sink-common.sh"
ferretdb_bin >/dev/null || plan skip_all "no FerretDB binary (run ./build.sh setup)"
plan 17

start_private_redis || bail_out "private redis did not start"
start_private_mongo || bail_out "private FerretDB did not start"
make_topics
mport=$(free_port)
start_sink v vote --metrics-port "$mport" --redis-timeout-ms 1000
produce vote 0 1000
wait_until 60 vote_exact
is "$(vote_state)" "$(vote_state_expected)" "before any outage: exact"

outage() {   # outage STORE STOP_FN START_FN START_INDEX
    local store=$1 stop_fn=$2 start_fn=$3 start=$4
    $stop_fn
    produce vote "$start" 1500
    wait_until 20 bash -c "[ \"\$(curl -fsS http://127.0.0.1:$mport/metrics | awk '/^sink_paused/ {print \$2}')\" = 1 ]"
    is "$(metric sink_paused)" "1" "$store down: consumption paused"
    sleep 3
    ok "kill -0 ${SINK_PID[v]}" "$store down: the sink is still running after retrying (no crash loop)"
    is "$(grep -c 'pausing consumption' "$TMPD/v.log")" "$5" "$store down: the outage is logged once, not once per retry"
    $start_fn || bail_out "$store did not restart"
    wait_until 90 vote_exact
    is "$(vote_state)" "$(vote_state_expected)" "$store back: the sink resumed by itself and caught up exactly"
    is "$(metric sink_paused)" "0" "$store back: consumption resumed"
}
outage redis stop_private_redis start_private_redis 1000 1
outage mongodb stop_private_mongo start_private_mongo 2500 2
# A hung Redis (SIGSTOP): commands time out (--redis-timeout-ms 1000), the script the sink
# sent may still run when Redis wakes up, and the retry must then be recognised as applied.
freeze_redis() { kill -STOP "$REDIS_PRIVATE_PID"; }
thaw_redis() { kill -CONT "$REDIS_PRIVATE_PID"; }
outage "redis (hung)" freeze_redis thaw_redis 4000 3
ok "grep -q 'store recovered, resuming' '$TMPD/v.log'" "recovery was logged"
stop_sink v
done_testing
