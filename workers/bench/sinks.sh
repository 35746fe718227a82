#!/usr/bin/env bash
# sinks.sh - drain-rate benchmark of the vote and chat sinks (./build.sh bench sinks).
#
# Preloads BENCH_VOTES votes and BENCH_CHAT chat messages into fresh topics, times each sink
# draining them (first stored offset to last), and in the same run times an independent
# client doing the same writes in the same batch sizes: redis-cli --pipe (the sink's Redis
# writes), an unordered bulk insert with mongo-c-driver (sink-inspect bench), psql \copy.
# Prints rates and the ratios the issue targets (vote >= 0.8 x slower store, chat >= 0.7 x
# COPY) and the sinks' peak RSS. Needs the stack up: eval "$(./build.sh env)" first.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
: "${BENCH_VOTES:=200000}" "${BENCH_CHAT:=100000}" "${BENCH_BATCH:=1000}"
for v in KAFKA_BROKERS REDIS_PORT PG_PORT MONGO_PORT BUILD_DIR KAFKA_TOPICS_CMD; do
    [ -n "${!v:-}" ] || { echo "sinks.sh: $v not set (run via ./build.sh bench sinks)" >&2; exit 2; }
done
MONGO_URI=${MONGO_URI:-mongodb://127.0.0.1:$MONGO_PORT/}
PG_CONNINFO=${PG_CONNINFO:-host=127.0.0.1 port=$PG_PORT dbname=vote user=vote}
RUN=$(( ($$ * 31 + RANDOM) % 900000 + 100000 ))
TAG=bench$RUN
TMPD=$(mktemp -d "/tmp/$TAG.XXXX")
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; done
    for t in "$TAG.votes" "$TAG.votes.dlq" "$TAG.chat" "$TAG.chat.dlq"; do "$KAFKA_TOPICS_CMD" delete "$t" >/dev/null 2>&1 || true; done
    redis-cli -p "$REDIS_PORT" --scan --pattern "$TAG*" | xargs -r -n 1000 redis-cli -p "$REDIS_PORT" del >/dev/null 2>&1 || true
    "$BUILD_DIR/bin/sink-inspect" "$MONGO_URI" "$TAG" votes drop >/dev/null 2>&1 || true
    "$BUILD_DIR/bin/sink-inspect" "$MONGO_URI" "${TAG}base" votes drop >/dev/null 2>&1 || true
    psql -X -q "$PG_CONNINFO" -c "DROP SCHEMA IF EXISTS $TAG CASCADE; DROP SCHEMA IF EXISTS ${TAG}base CASCADE" >/dev/null 2>&1 || true
    rm -rf "$TMPD"
}
trap cleanup EXIT
now() { date +%s.%N; }
rate() { awk -v n="$1" -v a="$2" -v b="$3" 'BEGIN { printf "%.0f", n / (b - a) }'; }
peak_rss_mb() { awk '/VmHWM/ { printf "%.1f", $2 / 1024 }' "/proc/$1/status" 2>/dev/null || echo "?"; }

# drain_time NAME PID COUNT CMD : seconds from the first to the last stored offset (CMD prints it).
drain_time() {
    local pid=$2 count=$3; shift 3
    local t0="" cur
    while :; do
        cur=$("$@" 2>/dev/null || echo 0)
        [ -z "$t0" ] && [ "${cur:-0}" -gt 0 ] && t0=$(now)
        [ "${cur:-0}" -ge "$count" ] && break
        kill -0 "$pid" 2>/dev/null || { echo "sink died" >&2; return 1; }
        sleep 0.05
    done
    echo "$t0 $(now)"
}

echo "== preloading $BENCH_VOTES votes and $BENCH_CHAT chat messages (run $RUN)"
for t in votes chat; do "$KAFKA_TOPICS_CMD" create "$TAG.$t" 2; "$KAFKA_TOPICS_CMD" create "$TAG.$t.dlq" 1; done
python3 "$ROOT/t/integration/sink-gen.py" vote --run "$RUN" --count "$BENCH_VOTES" |
    kcat -P -q -b "$KAFKA_BROKERS" -t "$TAG.votes" -K $'\t' -X linger.ms=50 -X batch.num.messages=10000
python3 "$ROOT/t/integration/sink-gen.py" chat --run "$RUN" --count "$BENCH_CHAT" |
    kcat -P -q -b "$KAFKA_BROKERS" -t "$TAG.chat" -K $'\t' -X linger.ms=50 -X batch.num.messages=10000

echo "== vote sink"
"$BUILD_DIR/bin/vote-sink" --brokers "$KAFKA_BROKERS" --topic "$TAG.votes" --dlq-topic "$TAG.votes.dlq" \
    --group "$TAG" --redis-port "$REDIS_PORT" --redis-prefix "$TAG:" --mongo-uri "$MONGO_URI" --mongo-db "$TAG" \
    --catalog "$ROOT/stack/polls.json" --metrics-port 0 --batch-max "$BENCH_BATCH" --log-level warn 2> "$TMPD/vote.log" &
vpid=$!; PIDS+=("$vpid")
offsets_sum() { redis-cli -p "$REDIS_PORT" hvals "$TAG:sink:votes:offsets" | awk '{ s += $1 } END { print s + 0 }'; }
read -r a b < <(drain_time vote "$vpid" "$BENCH_VOTES" offsets_sum)
sleep 0.5
vote_rate=$(rate "$BENCH_VOTES" "$a" "$b"); vote_rss=$(peak_rss_mb "$vpid")
kill -TERM "$vpid"; wait "$vpid" || true
echo "vote-sink: $vote_rate votes/s, peak RSS $vote_rss MB ($("$BUILD_DIR/bin/sink-inspect" "$MONGO_URI" "$TAG" votes count))"

echo "== independent clients, same writes, batches of $BENCH_BATCH"
python3 "$HERE/redis-baseline.py" "$BENCH_VOTES" "$BENCH_BATCH" "${TAG}base:" > "$TMPD/redis.resp"
a=$(now); redis-cli -p "$REDIS_PORT" --pipe < "$TMPD/redis.resp" > /dev/null; b=$(now)
redis_rate=$(rate "$BENCH_VOTES" "$a" "$b")
echo "redis-cli --pipe: $redis_rate votes/s"
mongo_rate=$("$BUILD_DIR/bin/sink-inspect" "$MONGO_URI" "${TAG}base" votes bench "$BENCH_VOTES" "$BENCH_BATCH" | sed -n 's/.*docs_per_sec=\([0-9]*\).*/\1/p')
echo "mongo-c-driver bulk insert: $mongo_rate docs/s"

echo "== chat sink"
psql -X -q -v ON_ERROR_STOP=1 "$PG_CONNINFO" -c "CREATE SCHEMA $TAG; CREATE SCHEMA ${TAG}base"
for s in "$TAG" "${TAG}base"; do
    PGOPTIONS="-csearch_path=$s" psql -X -q -v ON_ERROR_STOP=1 "$PG_CONNINFO" -f "$ROOT/stack/schema.sql" 2>&1 | grep -v NOTICE || true
done
"$BUILD_DIR/bin/chat-sink" --brokers "$KAFKA_BROKERS" --topic "$TAG.chat" --dlq-topic "$TAG.chat.dlq" \
    --group "$TAG" --redis-port "$REDIS_PORT" --redis-prefix "$TAG:" --pg "$PG_CONNINFO options=-csearch_path=$TAG" \
    --metrics-port 0 --batch-max "$BENCH_BATCH" --log-level warn 2> "$TMPD/chat.log" &
cpid=$!; PIDS+=("$cpid")
# One psql session answers every poll (through two FIFOs): a new psql + backend every 50 ms
# took ~0.3 of a core on a 2-core machine, from the sink under test only.
mkfifo "$TMPD/pq" "$TMPD/pr"
psql -X -tA -q "$PG_CONNINFO options=-csearch_path=$TAG" < "$TMPD/pq" > "$TMPD/pr" 2>/dev/null &
PIDS+=($!)
exec 7> "$TMPD/pq" 8< "$TMPD/pr"
chat_offsets() {
    local v
    echo "SELECT coalesce(sum(next_offset),0) FROM sink_offsets;" >&7
    read -r -t 5 v <&8 && echo "$v"
}
read -r a b < <(drain_time chat "$cpid" "$BENCH_CHAT" chat_offsets)
exec 7>&- 8<&-
chat_rate=$(rate "$BENCH_CHAT" "$a" "$b"); chat_rss=$(peak_rss_mb "$cpid")
kill -TERM "$cpid"; wait "$cpid" || true
echo "chat-sink: $chat_rate msgs/s, peak RSS $chat_rss MB"
python3 - "$RUN" "$BENCH_CHAT" > "$TMPD/chat.csv" <<'PY'
import csv, json, subprocess, sys
run, n = sys.argv[1], sys.argv[2]
gen = subprocess.run([sys.executable, "t/integration/sink-gen.py", "chat", "--run", run, "--count", n],
                     capture_output=True, text=True, check=True).stdout
w = csv.writer(sys.stdout)
for line in gen.splitlines():
    m = json.loads(line.split("\t", 1)[1])
    w.writerow([m["id"] + "B", m["conversation"], m["from"], m["to"], m["text"], "2026-11-22 00:00:00+00"])
PY
# Same batch size as the sink: one \copy (one transaction) per BENCH_BATCH rows, one session.
split -l "$BENCH_BATCH" -d -a 5 "$TMPD/chat.csv" "$TMPD/chunk."
for f in "$TMPD"/chunk.*; do
    echo "\\copy messages (id, conversation, sender, recipient, body, received_at) FROM '$f' WITH (FORMAT csv)"
done > "$TMPD/copy.sql"
a=$(now)
PGOPTIONS="-csearch_path=${TAG}base" psql -X -q -v ON_ERROR_STOP=1 "$PG_CONNINFO" -f "$TMPD/copy.sql"
b=$(now)
copy_rate=$(rate "$BENCH_CHAT" "$a" "$b")
echo "psql \\copy: $copy_rate rows/s"

slower=$(( redis_rate < mongo_rate ? redis_rate : mongo_rate ))
echo "== results"
awk -v v="$vote_rate" -v s="$slower" -v c="$chat_rate" -v p="$copy_rate" -v vr="$vote_rss" -v cr="$chat_rss" 'BEGIN {
    printf "vote-sink / slower store baseline = %d / %d = %.2f (target >= 0.80)\n", v, s, v / s
    printf "chat-sink / psql COPY            = %d / %d = %.2f (target >= 0.70)\n", c, p, c / p
    printf "peak RSS: vote-sink %s MB, chat-sink %s MB (target < 64 MB)\n", vr, cr }'
