#!/usr/bin/env bash
# 91-load-hostile.t: a short ./build.sh load run of the hostile profile, then the audit.
#
# Proves: under load with votes, chat and ~10% malformed or hostile requests (bad JSON, invalid
# UTF-8, wrong types, unknown poll, oversized, deep nesting, forged / alg=none / expired tokens,
# SQL injection strings), every hostile request gets the contract's 4xx and none is accepted,
# while every 202 is stored exactly once (MongoDB == Redis == 202s, PostgreSQL == chat 202s).
# Needs the whole stack up and quiet (build.sh test runs the suites one after the other).
. "$(dirname "$0")/../lib/tap.sh"
ROOT=${ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
plan 4

out=$("$ROOT/build.sh" load hostile --duration "${LOAD_TEST_SECONDS:-25}" 2>&1); rc=$?
echo "$out" > "$STATE_DIR/logs/load-hostile.log"
like "$out" 'hostile +sent [1-9][0-9]*, refused as expected [1-9][0-9]*, unexpected 0, accepted 0' \
     "hostile requests were sent and every one was refused with its expected 4xx"
like "$out" 'vote guatemala-2027 +202: [1-9]' "election votes were accepted meanwhile"
like "$out" 'chat +202: [1-9]' "chat messages were accepted meanwhile"
if ! is "$rc:$(grep -c '^PASS: every 202 is stored exactly once' <<<"$out")" "0:1" "audit PASS (0 lost, 0 double; log: \$STATE_DIR/logs/load-hostile.log)"; then
    diag "$(grep -E 'MISMATCH|FAIL' <<<"$out" | head -20)"
fi
done_testing
