#!/usr/bin/env bash
# fuzz-run.sh - runs one libFuzzer target (described by the .env file common/fuzz/fuzz.mk wrote)
# for SECONDS, growing CORPUS, and prints one line: executions, coverage, findings.
#
#   fuzz-run.sh ENV_FILE SECONDS CORPUS_DIR ARTIFACT_DIR
#
# The seed corpus and the past findings (regress/) are read on every run, so a finding fixed
# once is replayed for ever.  Exit 0 when the run ended without a finding, 1 otherwise; the
# fuzzer's output is kept in ARTIFACT_DIR/NAME.log, each finding's input in ARTIFACT_DIR.
set -u
env_file=$1 secs=$2 corpus=$3 art=$4
. "$env_file"
mkdir -p "$corpus" "$art"
log="$art/$FUZZ_NAME.log"
dirs=("$corpus" "$FUZZ_SEEDS")
[ -d "$FUZZ_REGRESS" ] && dirs+=("$FUZZ_REGRESS")
start=$SECONDS
findings() { find "$art" -maxdepth 1 -type f \( -name 'crash-*' -o -name 'leak-*' -o -name 'timeout-*' -o -name 'oom-*' \) | wc -l; }
before=$(findings)
"$FUZZ_BIN" -max_total_time="$secs" -max_len=8192 -timeout=5 -rss_limit_mb=1024 \
    -dict="$FUZZ_DICT" -artifact_prefix="$art/" -print_final_stats=1 "${dirs[@]}" > "$log" 2>&1
rc=$?
took=$((SECONDS - start))
after=$(findings)
runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
last=$(grep -E '^#[0-9]+.* cov: ' "$log" | tail -1)
cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<< "$last")
ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<< "$last")
corp=$(sed -n 's/.* corp: \([0-9]*\).*/\1/p' <<< "$last")
findings=$((after - before))
[ $rc -ne 0 ] && [ $findings -eq 0 ] && findings=1
printf '%s: %s executions in %s s, coverage %s edges (%s features), corpus %s inputs, findings %s\n' \
    "$FUZZ_NAME" "${runs:-0}" "$took" "${cov:-?}" "${ft:-?}" "${corp:-?}" "$findings"
[ $rc -eq 0 ]
