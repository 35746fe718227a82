#!/usr/bin/env bash
# 92-audit-at-scale.t: the zero-loss audit stays fast with an election's worth of votes stored.
#
# Proves: with >= AUDIT_SCALE_VOTES (1 M) documents already in MongoDB vote.votes (bulk-loaded
# by locust/preload.py in the vote sink's document shape, topped up only when fewer are there),
# a short worker-kill chaos run (sinks killed with SIGKILL under a smoke load) ends with the
# audit PASSing, within its bound (--audit-timeout AUDIT_SCALE_BOUND, 30 s: issue 17's target
# for a 60 s run), by its own clock. An audit that counts or scans the whole collection
# (the previous one took more than 10 minutes at 311k documents) FAILs at the bound here.
# Needs the whole stack up and quiet (build.sh test runs the suites one after the other).
. "$(dirname "$0")/../lib/tap.sh"
ROOT=${ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
py=${CACHE_DIR:-$ROOT/.cache}/venv/bin/python
[ -x "$py" ] || plan skip_all "no venv (run locust/setup.sh)"
: "${AUDIT_SCALE_VOTES:=1000000}" "${AUDIT_SCALE_BOUND:=30}" "${CHAOS_TEST_SECONDS:=30}"
plan 5

out=$("$py" "$ROOT/locust/preload.py" --target "$AUDIT_SCALE_VOTES" 2>&1)
is "$?" 0 "preload to $AUDIT_SCALE_VOTES documents: $(tail -1 <<<"$out")"
have=$(sed -n 's/^preload: \([0-9]*\) preloaded votes present.*/\1/p' <<<"$out")
ok "[ ${have:-0} -ge $AUDIT_SCALE_VOTES ]" "MongoDB holds ${have:-?} >= $AUDIT_SCALE_VOTES preloaded votes"

out=$(CHAOS_PERIOD=4 CHAOS_DOWN=0 "$ROOT/build.sh" chaos worker-kill --duration "$CHAOS_TEST_SECONDS" smoke \
      --audit-timeout "$AUDIT_SCALE_BOUND" 2>&1)
rc=$?
echo "$out" > "$STATE_DIR/logs/chaos-at-scale.log"
like "$out" 'kill -9 vote-sink.*kill -9 chat-sink' "the sinks were killed (log: \$STATE_DIR/logs/chaos-at-scale.log)"
if ! is "$rc:$(grep -c '^PASS: every 202 is stored exactly once' <<<"$out")" "0:1" "audit PASS (0 lost, 0 double)"; then
    diag "$(grep -E 'MISMATCH|FAIL|NOT|lost|unknown|took' <<<"$out" | head -20)"
fi
took=$(sed -n "s/^audit took \([0-9.]*\) s (bound $AUDIT_SCALE_BOUND s).*/\1/p" <<<"$out")
ok "awk 'BEGIN { exit !(${took:-999} <= $AUDIT_SCALE_BOUND) }'" \
   "the audit finished within its ${AUDIT_SCALE_BOUND} s bound: $(grep '^audit took' <<<"$out")"
done_testing
