#!/usr/bin/env bash
# 29-sink-vote-tally-script.t: the vote sink's tally.lua, which sums a chunk's votes in Lua
# and writes each counter once, leaves Redis exactly as the plain one-command-per-vote
# script (t/integration/tally-reference.lua, the sink's script before that change) does.
#
# Proves, on the real Redis, for the same sequence of calls (two partitions, chunks of 1 to
# 600 votes, whole-chunk replays and re-chunked partly applied replays, duplicate voters):
#   - every reply (applied count and per-vote duplicate flags) is identical;
#   - every key (totals, per-attribute hashes, counts, dupes, voters, voter_first, the
#     recent list in order, the offsets hash) is identical, with recent caps below and
#     above the 500-value slice the script pushes in;
#   - the "results changed" events carry the same counts in the same order per poll.
# shellcheck source=t/integration/sink-common.sh
. "$(dirname "$0")/sink-common.sh"
plan 7

EQ="$SINK_T_DIR/tally-equivalence.py"
SCRIPT="$SINK_T_DIR/../../workers/vote-sink/tally.lua"
REFERENCE="$SINK_T_DIR/tally-reference.lua"

# snapshot P : every key under prefix P, with P cut off so two prefixes compare.
snapshot() {
    local k
    rcli --scan --pattern "$1*" | sort | while read -r k; do
        case $(rcli type "$k") in
            hash) echo "${k#"$1"} $(rcli hgetall "$k" | paste - - | sort | tr '\n' ' ')" ;;
            set) echo "${k#"$1"} $(rcli smembers "$k" | sort | tr '\n' ' ')" ;;
            list) echo "${k#"$1"} $(rcli llen "$k") $(rcli lrange "$k" 0 -1 | md5sum)" ;;
            string) echo "${k#"$1"} $(rcli get "$k")" ;;
        esac
    done
}

# events FILE P : the channel and payload of each pmessage in FILE, prefix P cut off, in
# order per channel (a stable sort by channel: the order between polls within one call
# is a Lua table walk in both scripts, not defined).
events() { awk '$0 == "pmessage" { getline; getline; c = $0; getline; print c " " $0 }' "$1" | sed "s/^$2//" | sort -s -k1,1; }

for cap in 100 700; do
    new="${PREFIX}new$cap:" ref="${PREFIX}ref$cap:"
    redis-cli -p "${SINK_REDIS_PORT:-$REDIS_PORT}" psubscribe "${new}results:*" > "$TMPD/events-new" & sub_new=$!
    redis-cli -p "${SINK_REDIS_PORT:-$REDIS_PORT}" psubscribe "${ref}results:*" > "$TMPD/events-ref" & sub_ref=$!
    PRIVATE_PIDS+=("$sub_new" "$sub_ref")
    wait_until 10 grep -q psubscribe "$TMPD/events-new" && wait_until 10 grep -q psubscribe "$TMPD/events-ref" ||
        bail_out "redis-cli psubscribe did not start"
    python3 "$EQ" "${SINK_REDIS_PORT:-$REDIS_PORT}" "$SCRIPT" "$new" "$RUN_ID" --recent-cap "$cap" > "$TMPD/replies-new" ||
        bail_out "tally.lua failed: $(tail -3 "$TMPD/replies-new")"
    python3 "$EQ" "${SINK_REDIS_PORT:-$REDIS_PORT}" "$REFERENCE" "$ref" "$RUN_ID" --recent-cap "$cap" > "$TMPD/replies-ref" ||
        bail_out "reference script failed"
    is "$(diff "$TMPD/replies-ref" "$TMPD/replies-new" | head -5)" "" \
       "recent cap $cap: same applied counts and duplicate flags on all $(wc -l < "$TMPD/replies-new") calls"
    is "$(diff <(snapshot "$ref") <(snapshot "$new") | head -5)" "" "recent cap $cap: every key identical"
    sleep 0.5
    kill "$sub_new" "$sub_ref" 2>/dev/null
    wait "$sub_new" "$sub_ref" 2>/dev/null
    is "$(diff <(events "$TMPD/events-ref" "$ref") <(events "$TMPD/events-new" "$new") | head -5)" "" \
       "recent cap $cap: the same $(events "$TMPD/events-new" "$new" | wc -l) results-changed events, in the same order per poll"
done
total=$(rcli hgetall "${PREFIX}new100:poll:guatemala-2027:totals" | paste - - | awk '{ s += $2 } END { print s + 0 }')
ok "[ '$total' -gt 0 ]" "the comparison covered real tallies ($total votes counted for guatemala-2027)"
done_testing
