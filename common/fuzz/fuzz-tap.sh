#!/usr/bin/env bash
# fuzz-tap.sh - a TAP test that runs one libFuzzer target briefly (FUZZ_SECONDS, default 5) on
# a scratch corpus seeded from its committed one, replaying its past findings.  Any crash, leak,
# UB or invariant failure is a "not ok".  Called by the wrappers fuzz.mk writes.
env_file=$1
secs=${FUZZ_SECONDS:-5}
. "$env_file"
work=$(mktemp -d "/tmp/fuzz-$FUZZ_NAME.XXXXXX")
trap 'rm -rf "$work"' EXIT
echo "1..1"
if line=$("$(dirname "$0")/fuzz-run.sh" "$env_file" "$secs" "$work/corpus" "$work/out"); then
    echo "ok 1 - $line"
else
    echo "not ok 1 - $line"
    sed 's/^/# /' "$work/out/$FUZZ_NAME.log" | grep -v '^# #[0-9]' | tail -40
    for a in "$work"/out/crash-* "$work"/out/leak-* "$work"/out/timeout-* "$work"/out/oom-*; do
        [ -f "$a" ] && echo "# artifact: $(basename "$a"): $(od -An -c "$a" | head -3 | tr -s ' ')"
    done
    exit 1
fi
