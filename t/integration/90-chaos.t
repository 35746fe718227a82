#!/usr/bin/env bash
# 90-chaos.t: the short versions of ./build.sh chaos, each ending with the zero-loss audit.
#
# Proves, per scenario, under a smoke load of votes and chat: every 202 is stored exactly once
# (MongoDB == 202s == Redis totals + dupes, PostgreSQL rows == chat 202s, every 202 id found)
# while sinks are killed with SIGKILL, Kafka is stopped, each store is stopped, or nginx
# reloads; and, in broker mode, no 202 was given for a record Kafka did not take (a false 202
# would show up as a missing id). Each scenario also checks that its faults really happened.
# Needs the whole stack up and quiet (build.sh test runs the suites one after the other).
. "$(dirname "$0")/../lib/tap.sh"
ROOT=${ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
: "${CHAOS_TEST_SECONDS:=30}"
plan 8

run_scenario() {   # scenario, expected fault line (regex), period, down
    local scenario=$1 fault=$2 out
    out=$(CHAOS_PERIOD=$3 CHAOS_DOWN=$4 "$ROOT/build.sh" chaos "$scenario" --duration "$CHAOS_TEST_SECONDS" smoke 2>&1)
    local rc=$?
    echo "$out" > "$STATE_DIR/logs/chaos-$scenario.log"
    like "$out" "$fault" "$scenario: the faults were injected (log: \$STATE_DIR/logs/chaos-$scenario.log)"
    if ! is "$rc:$(grep -c '^PASS: every 202 is stored exactly once' <<<"$out")" "0:1" "$scenario: audit PASS (0 lost, 0 double)"; then
        diag "$(grep -E 'MISMATCH|FAIL|lost|unknown' <<<"$out" | head -20)"
    fi
}

run_scenario worker-kill    'kill -9 vote-sink.*kill -9 chat-sink' 4 0
run_scenario broker-restart 'kafka stopped for 6s.*kafka started again' 4 6
run_scenario store-restart  'redis stopped.*mongo stopped.*postgres stopped' 1 4
run_scenario nginx-reload   'nginx -s reload.*nginx -s reload.*nginx -s reload' 2 0
done_testing
