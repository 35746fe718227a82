#!/usr/bin/env bash
# fuzz-tap.sh - template (filled in by common/Makefile) of a TAP test that runs the
# validator's libFuzzer target briefly: FUZZ_SECONDS (default 10) on a scratch copy
# of the seed corpus.  Any crash, leak, UB or invariant failure is a "not ok".
secs=${FUZZ_SECONDS:-10}
work=$(mktemp -d /tmp/fuzz-validate.XXXXXX)
trap 'rm -rf "$work"' EXIT
echo "1..1"
if @FUZZBIN@ -max_total_time="$secs" -max_len=8192 -timeout=5 -dict=@DICT@ \
        -artifact_prefix="$work/" "$work" @CORPUS@ > "$work/log" 2>&1; then
    echo "ok 1 - validator fuzzed for ${secs}s without a finding ($(grep -o 'Done [0-9]* runs' "$work/log"))"
else
    echo "not ok 1 - validator fuzz run found a problem"
    sed 's/^/# /' "$work/log" | tail -40
    for a in "$work"/crash-* "$work"/leak-* "$work"/timeout-*; do
        [ -f "$a" ] && echo "# artifact: $(basename "$a"): $(od -An -c "$a" | head -3 | tr -s ' ')"
    done
    exit 1
fi
