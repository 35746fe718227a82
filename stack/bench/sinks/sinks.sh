#!/usr/bin/env bash
# sinks.sh - drain-rate benchmark of the vote and chat sinks (./build.sh bench sinks).
#
# Preloads BENCH_VOTES votes and BENCH_CHAT chat messages into fresh topics, times each sink
# draining them (first stored offset to last), and in the same run times an independent
# client doing the same writes in the same batch sizes: redis-cli --pipe (the sink's Redis
# writes), an unordered bulk insert with mongo-c-driver (sink-inspect bench), psql \copy.
# Prints rates and the ratios the issue targets (vote >= 0.8 x slower store, chat >= 0.7 x
# COPY) and the sinks' peak RSS. Needs the stack up: eval "$(./build.sh env)" first.
# The vote part runs BENCH_VOTE_ROUNDS (3) interleaved rounds (sink drain, the two clients), the
# chat part BENCH_SINK_ROUNDS (5) (sink drain, psql \copy); both compare medians. Each chat round
# also prints where the CPU went (cpu-snap.py).
# BENCH_SINKS="vote chat" (default) or just one of them.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../../.." && pwd)
: "${BENCH_VOTES:=200000}" "${BENCH_CHAT:=100000}" "${BENCH_BATCH:=1000}" "${BENCH_SINK_ROUNDS:=5}" "${BENCH_VOTE_ROUNDS:=3}" "${BENCH_SINKS:=vote chat}"
for v in KAFKA_BROKERS REDIS_PORT PG_PORT MONGO_PORT BUILD_DIR STATE_DIR KAFKA_TOPICS_CMD; do
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
    for r in $(seq 1 "$BENCH_VOTE_ROUNDS"); do
        "$BUILD_DIR/bin/sink-inspect" "$MONGO_URI" "${TAG}v$r" votes drop >/dev/null 2>&1 || true
        "$BUILD_DIR/bin/sink-inspect" "$MONGO_URI" "${TAG}base$r" votes drop >/dev/null 2>&1 || true
        "$BUILD_DIR/bin/sink-inspect" "$MONGO_URI" "${TAG}base${r}c2" votes drop >/dev/null 2>&1 || true
    done
    psql -X -q "$PG_CONNINFO" -Atc "SELECT nspname FROM pg_namespace WHERE nspname LIKE '$TAG%'" 2>/dev/null |
        while read -r ns; do psql -X -q "$PG_CONNINFO" -c "DROP SCHEMA $ns CASCADE" >/dev/null 2>&1; done || true
    rm -rf "$TMPD"
}
trap cleanup EXIT
want() { case " $BENCH_SINKS " in *" $1 "*) return 0;; esac; return 1; }
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

echo "== preloading $BENCH_VOTES votes and $BENCH_CHAT chat messages (run $RUN; parts: $BENCH_SINKS)"
for t in votes chat; do "$KAFKA_TOPICS_CMD" create "$TAG.$t" 2; "$KAFKA_TOPICS_CMD" create "$TAG.$t.dlq" 1; done
want vote && python3 "$ROOT/t/integration/sink-gen.py" vote --run "$RUN" --count "$BENCH_VOTES" |
    kcat -P -q -b "$KAFKA_BROKERS" -t "$TAG.votes" -K $'\t' -X linger.ms=50 -X batch.num.messages=10000
want chat && python3 "$ROOT/t/integration/sink-gen.py" chat --run "$RUN" --count "$BENCH_CHAT" |
    kcat -P -q -b "$KAFKA_BROKERS" -t "$TAG.chat" -K $'\t' -X linger.ms=50 -X batch.num.messages=10000

PG_PID=$(tr -dc 0-9 < "$STATE_DIR/run/postgres.pid" 2>/dev/null || true)
KAFKA_PID=$(tr -dc 0-9 < "$STATE_DIR/run/kafka.pid" 2>/dev/null || true)
REDIS_PID=$(tr -dc 0-9 < "$STATE_DIR/run/redis.pid" 2>/dev/null || true)
MONGO_PID=$(tr -dc 0-9 < "$STATE_DIR/run/mongo.pid" 2>/dev/null || true)
# cpu_snap OUT [LABEL=PID...]: the stack's servers plus the given processes (cpu-snap.py).
cpu_snap() {
    local out=$1; shift
    python3 "$HERE/cpu-snap.py" snap "$out" ${PG_PID:+postgres=$PG_PID/pg} ${KAFKA_PID:+kafka=$KAFKA_PID} \
        ${REDIS_PID:+redis=$REDIS_PID} ${MONGO_PID:+mongo=$MONGO_PID} "$@" 2>/dev/null || true
}

# ---- votes: BENCH_VOTE_ROUNDS rounds, each a sink drain of the whole preloaded topic (a new
# group, a fresh Redis prefix and MongoDB database, so it replays from offset 0 into empty
# stores) and the two independent clients into fresh keys/databases. One round was not enough:
# the MongoDB baseline alone swung 13k-19.6k docs/s between runs.
vote_sink_round() {
    local r=$1 pid a b
    "$BUILD_DIR/bin/vote-sink" --brokers "$KAFKA_BROKERS" --topic "$TAG.votes" --dlq-topic "$TAG.votes.dlq" \
        --group "$TAG-v$r" --redis-port "$REDIS_PORT" --redis-prefix "${TAG}v$r:" --mongo-uri "$MONGO_URI" --mongo-db "${TAG}v$r" \
        --catalog "$ROOT/stack/polls.json" --metrics-port 0 --batch-max "$BENCH_BATCH" --log-level warn 2>> "$TMPD/vote.log" &
    pid=$!; PIDS+=("$pid")
    local t0="" c0=0 cur
    while :; do   # from the first stored offset to the last; CPU snapshots at both ends
        cur=$(redis-cli -p "$REDIS_PORT" hvals "${TAG}v$r:sink:votes:offsets" 2>/dev/null | awk '{ s += $1 } END { print s + 0 }')
        if [ -z "$t0" ] && [ "${cur:-0}" -gt 0 ]; then
            t0=$(now); c0=$cur; cpu_snap "$TMPD/cpu.vsink.a" vote-sink="$pid/t"
        fi
        [ "${cur:-0}" -ge "$BENCH_VOTES" ] && break
        kill -0 "$pid" 2>/dev/null || { echo "vote-sink died" >&2; return 1; }
        sleep 0.05
    done
    b=$(now); cpu_snap "$TMPD/cpu.vsink.b" vote-sink="$pid/t"
    sleep 0.5
    local rss; rss=$(peak_rss_mb "$pid")
    kill -TERM "$pid"; wait "$pid" || true
    echo "$(rate $((BENCH_VOTES - c0)) "$t0" "$b") $rss $((BENCH_VOTES - c0)) $("$BUILD_DIR/bin/sink-inspect" "$MONGO_URI" "${TAG}v$r" votes count)"
}

# vote_base_round R: the independent clients, same writes in batches of BENCH_BATCH.
# Prints "REDIS_RATE MONGO_RATE MONGO_2CONN_RATE". The last is for context only (the sink
# writes MongoDB over as many connections as it has writers; the target is against one).
vote_base_round() {
    local r=$1 a b redis mongo mongo2
    python3 "$HERE/redis-baseline.py" "$BENCH_VOTES" "$BENCH_BATCH" "${TAG}base$r:" > "$TMPD/redis.resp"
    cpu_snap "$TMPD/cpu.redis.a" client="$$/self"
    a=$(now); redis-cli -p "$REDIS_PORT" --pipe < "$TMPD/redis.resp" > /dev/null; b=$(now)
    cpu_snap "$TMPD/cpu.redis.b" client="$$/self"
    redis=$(rate "$BENCH_VOTES" "$a" "$b")
    cpu_snap "$TMPD/cpu.mongo.a" client="$$/self"
    mongo=$("$BUILD_DIR/bin/sink-inspect" "$MONGO_URI" "${TAG}base$r" votes bench "$BENCH_VOTES" "$BENCH_BATCH" | sed -n 's/.*docs_per_sec=\([0-9]*\).*/\1/p')
    cpu_snap "$TMPD/cpu.mongo.b" client="$$/self"
    mongo2=$("$BUILD_DIR/bin/sink-inspect" "$MONGO_URI" "${TAG}base${r}c2" votes bench "$BENCH_VOTES" "$BENCH_BATCH" 2 | sed -n 's/.*docs_per_sec=\([0-9]*\).*/\1/p')
    echo "$redis $mongo ${mongo2:-0}"
}

vote_part() {
    echo "== vote sink vs the slower of redis-cli --pipe and a mongo-c-driver bulk insert, $BENCH_VOTE_ROUNDS interleaved rounds"
    local r vr rss count rr mr mr2 slower_r order
    vote_rates=() slower_rates=() redis_rates=() mongo_rates=() mongo2_rates=() vote_ratios=()
    for r in $(seq 1 "$BENCH_VOTE_ROUNDS"); do
        if [ $((r % 2)) = 1 ]; then
            vote_sink_round "$r" > "$TMPD/vsink.res"; vote_base_round "$r" > "$TMPD/vbase.res"; order="sink first"
        else
            vote_base_round "$r" > "$TMPD/vbase.res"; vote_sink_round "$r" > "$TMPD/vsink.res"; order="clients first"
        fi
        read -r vr rss timed count < "$TMPD/vsink.res"; read -r rr mr mr2 < "$TMPD/vbase.res"
        [ -n "${vr:-}" ] && [ -n "${mr:-}" ] || { echo "vote round $r failed" >&2; exit 1; }
        slower_r=$(( rr < mr ? rr : mr ))
        vote_rates+=("$vr"); redis_rates+=("$rr"); mongo_rates+=("$mr"); mongo2_rates+=("$mr2"); slower_rates+=("$slower_r")
        vote_ratios+=("$(awk -v a="$vr" -v b="$slower_r" 'BEGIN { printf "%.2f", a / b }')")
        vote_rss=$(awk -v a="$vote_rss" -v b="$rss" 'BEGIN { print (b + 0 > a + 0) ? b : a }')
        echo "vote-sink round $r ($order): $vr votes/s ($count) vs redis-cli --pipe $rr, mongo bulk insert $mr docs/s (over 2 connections $mr2): ratio to the slower ${vote_ratios[-1]}, peak RSS $rss MB"
        echo "vote-sink round $r CPU us/vote, sink drain: $(python3 "$HERE/cpu-snap.py" brief "$TMPD/cpu.vsink.a" "$TMPD/cpu.vsink.b" "$timed" || true)"
        echo "vote-sink round $r CPU us/vote, redis-cli --pipe: $(python3 "$HERE/cpu-snap.py" brief "$TMPD/cpu.redis.a" "$TMPD/cpu.redis.b" "$BENCH_VOTES" || true)"
        echo "vote-sink round $r CPU us/vote, mongo bulk insert: $(python3 "$HERE/cpu-snap.py" brief "$TMPD/cpu.mongo.a" "$TMPD/cpu.mongo.b" "$BENCH_VOTES" || true)"
        "$BUILD_DIR/bin/sink-inspect" "$MONGO_URI" "${TAG}v$r" votes drop >/dev/null 2>&1 || true
        "$BUILD_DIR/bin/sink-inspect" "$MONGO_URI" "${TAG}base$r" votes drop >/dev/null 2>&1 || true
        "$BUILD_DIR/bin/sink-inspect" "$MONGO_URI" "${TAG}base${r}c2" votes drop >/dev/null 2>&1 || true
    done
    vote_rate=$(median "${vote_rates[@]}"); slower=$(median "${slower_rates[@]}")
    redis_rate=$(median "${redis_rates[@]}"); mongo_rate=$(median "${mongo_rates[@]}")
    vote_ratio=$(median "${vote_ratios[@]}"); mongo2_rate=$(median "${mongo2_rates[@]}")
    echo "vote-sink: median $vote_rate votes/s (rounds: ${vote_rates[*]}), peak RSS $vote_rss MB"
    echo "redis-cli --pipe: median $redis_rate votes/s (rounds: ${redis_rates[*]}); mongo-c-driver bulk insert: median $mongo_rate docs/s (rounds: ${mongo_rates[*]})"
    echo "mongo-c-driver bulk insert over 2 connections (context, not the target): median $mongo2_rate docs/s (rounds: ${mongo2_rates[*]}); the vote sink ran $vote_writers writer(s)"
}
vote_writers=${VOTE_SINK_WRITERS:-$("$BUILD_DIR/bin/vote-sink" --help 2>&1 | sed -n 's/.*env VOTE_SINK_WRITERS, default \([0-9]*\).*/\1/p')}
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
vote_rate=0 vote_rss=0 redis_rate=0 mongo_rate=0 mongo2_rate=0 slower=0 vote_ratio=0 vote_ratios=()
want vote && vote_part

# ---- chat: BENCH_SINK_ROUNDS interleaved rounds, each a sink drain and a psql \copy of the
# same rows into fresh schemas; the order inside a round alternates (odd rounds sink first)
# so neither side always runs right after the other's writes (checkpoints, autovacuum).
# Both sides run against the same server settings (synchronous_commit=on, fsync=on).
# The baseline's input, made once: CSV chunks of BENCH_BATCH rows and one \copy per chunk.
chat_copy_input() {
    python3 "$HERE/chat-copy-csv.py" "$RUN" "$BENCH_CHAT" > "$TMPD/chat.csv"
    # Same batch size as the sink: one \copy (one transaction) per BENCH_BATCH rows, one session.
    split -l "$BENCH_BATCH" -d -a 5 "$TMPD/chat.csv" "$TMPD/chunk."
    for f in "$TMPD"/chunk.*; do
        echo "\\copy messages (id, conversation, sender, recipient, body, received_at) FROM '$f' WITH (FORMAT csv)"
    done > "$TMPD/copy.sql"
}

make_schema() {
    {
        psql -X -q -v ON_ERROR_STOP=1 "$PG_CONNINFO" -c "CREATE SCHEMA $1"
        PGOPTIONS="-csearch_path=$1" psql -X -q -v ON_ERROR_STOP=1 "$PG_CONNINFO" -f "$ROOT/stack/schema.sql" 2>&1 | grep -v NOTICE || true
    } >&2
}

# chat_sink_round R: drain the whole chat topic with a new group into schema ${TAG}_rR.
# Prints "RATE RSS_MB TIMED_ROWS". The rate counts the rows stored after the first poll that saw any
# (the first batch is not timed, so it is not counted either).
chat_sink_round() {
    local r=$1 schema=${TAG}_r$1 pid poller a c0 b
    make_schema "$schema"
    "$BUILD_DIR/bin/chat-sink" --brokers "$KAFKA_BROKERS" --topic "$TAG.chat" --dlq-topic "$TAG.chat.dlq" \
        --group "$TAG-r$r" --redis-port "$REDIS_PORT" --redis-prefix "$TAG:" --pg "$PG_CONNINFO options=-csearch_path=$schema" \
        --metrics-port 0 --batch-max "$BENCH_BATCH" --log-level warn 2>> "$TMPD/chat.log" &
    pid=$!; PIDS+=("$pid")
    # One psql session answers every poll (through two FIFOs): a new psql + backend every
    # 50 ms took ~0.3 of a core on a 2-core machine, from the sink under test only.
    rm -f "$TMPD/pq" "$TMPD/pr"; mkfifo "$TMPD/pq" "$TMPD/pr"
    psql -X -tA -q "$PG_CONNINFO options=-csearch_path=$schema" < "$TMPD/pq" > "$TMPD/pr" 2>/dev/null &
    poller=$!; PIDS+=("$poller")
    exec 7> "$TMPD/pq" 8< "$TMPD/pr"
    local t0="" cur=0
    while :; do
        echo "SELECT coalesce(sum(next_offset),0) FROM sink_offsets;" >&7
        read -r -t 5 cur <&8 || cur=0
        if [ -z "$t0" ] && [ "${cur:-0}" -gt 0 ]; then
            t0=$(now); c0=$cur
            cpu_snap "$TMPD/cpu.sink.a" chat-sink="$pid/t" poll-psql="$poller"
        fi
        [ "${cur:-0}" -ge "$BENCH_CHAT" ] && break
        kill -0 "$pid" 2>/dev/null || { echo "chat-sink died" >&2; return 1; }
        sleep 0.05
    done
    b=$(now)
    cpu_snap "$TMPD/cpu.sink.b" chat-sink="$pid/t" poll-psql="$poller"
    exec 7>&- 8<&-
    wait "$poller" 2>/dev/null || true
    local rss; rss=$(peak_rss_mb "$pid")
    kill -TERM "$pid"; wait "$pid" || true
    echo "$(rate $((BENCH_CHAT - c0)) "$t0" "$b") $rss $((BENCH_CHAT - c0))"
}

# chat_copy_round R: the baseline, \copy of the same rows into schema ${TAG}base_rR. Prints RATE.
chat_copy_round() {
    local schema=${TAG}base_r$1 a b
    make_schema "$schema"
    cpu_snap "$TMPD/cpu.copy.a" psql="$$/self"
    a=$(now)
    PGOPTIONS="-csearch_path=$schema" psql -X -q -v ON_ERROR_STOP=1 "$PG_CONNINFO" -f "$TMPD/copy.sql"
    b=$(now)
    cpu_snap "$TMPD/cpu.copy.b" psql="$$/self"
    echo "$(rate "$BENCH_CHAT" "$a" "$b")"
}

chat_part() {
    chat_copy_input
    echo "== chat sink vs psql \\copy, $BENCH_SINK_ROUNDS interleaved rounds"
    chat_rates=() copy_rates=() round_ratios=() chat_rss=0
    for r in $(seq 1 "$BENCH_SINK_ROUNDS"); do
        if [ $((r % 2)) = 1 ]; then
            chat_sink_round "$r" > "$TMPD/sink.res"; chat_copy_round "$r" > "$TMPD/copy.res"; order="sink first"
        else
            chat_copy_round "$r" > "$TMPD/copy.res"; chat_sink_round "$r" > "$TMPD/sink.res"; order="copy first"
        fi
        read -r cr rss timed < "$TMPD/sink.res"; read -r cp < "$TMPD/copy.res"
        [ -n "${cr:-}" ] && [ -n "${cp:-}" ] || { echo "round $r failed" >&2; exit 1; }
        chat_rates+=("$cr"); copy_rates+=("$cp")
        round_ratios+=("$(awk -v a="$cr" -v b="$cp" 'BEGIN { printf "%.2f", a / b }')")
        chat_rss=$(awk -v a="$chat_rss" -v b="$rss" 'BEGIN { print (b + 0 > a + 0) ? b : a }')
        echo "chat-sink round $r ($order): $cr msgs/s vs psql \\copy $cp rows/s, ratio $(awk -v a="$cr" -v b="$cp" 'BEGIN { printf "%.2f", a / b }'), peak RSS $rss MB"
        echo "chat-sink round $r CPU us/msg, sink drain: $(python3 "$HERE/cpu-snap.py" brief "$TMPD/cpu.sink.a" "$TMPD/cpu.sink.b" "$timed" || true)"
        echo "chat-sink round $r CPU us/msg, psql \\copy: $(python3 "$HERE/cpu-snap.py" brief "$TMPD/cpu.copy.a" "$TMPD/cpu.copy.b" "$BENCH_CHAT" || true)"
        echo "  CPU during the chat-sink drain (from the first stored batch to the last):"
        python3 "$HERE/cpu-snap.py" diff "$TMPD/cpu.sink.a" "$TMPD/cpu.sink.b" "$timed" || true
        echo "  CPU during the psql \\copy baseline:"
        python3 "$HERE/cpu-snap.py" diff "$TMPD/cpu.copy.a" "$TMPD/cpu.copy.b" "$BENCH_CHAT" || true
        psql -X -q "$PG_CONNINFO" -c "DROP SCHEMA ${TAG}_r$r CASCADE; DROP SCHEMA ${TAG}base_r$r CASCADE" >/dev/null 2>&1 || true
    done
    chat_rate=$(median "${chat_rates[@]}"); copy_rate=$(median "${copy_rates[@]}")
    echo "chat-sink: median $chat_rate msgs/s (rounds: ${chat_rates[*]}), peak RSS $chat_rss MB"
    echo "psql \\copy: median $copy_rate rows/s (rounds: ${copy_rates[*]})"
    round_ratio=$(median "${round_ratios[@]}")
}
chat_rate=0 copy_rate=0 chat_rss=0 round_ratio=0 round_ratios=()
want chat && chat_part

echo "== results"
awk -v v="$vote_rate" -v s="$slower" -v c="$chat_rate" -v p="$copy_rate" -v vr="$vote_rss" -v cr="$chat_rss" \
    -v wv="$(want vote && echo 1)" -v wc="$(want chat && echo 1)" -v rr="$round_ratio" -v rl="${round_ratios[*]}" \
    -v vrr="$vote_ratio" -v vrl="${vote_ratios[*]}" 'BEGIN {
    if (wv) printf "vote-sink / slower store baseline = %d / %d = %.2f (target >= 0.80; medians of the rounds, the baseline per round the slower of Redis and MongoDB; median of the per-round ratios %s: %s)\n", v, s, v / s, vrr, vrl
    if (wc) printf "chat-sink / psql COPY            = %d / %d = %.2f (target >= 0.70; medians of the rounds; median of the per-round ratios %s: %s)\n", c, p, c / p, rr, rl
    printf "peak RSS: vote-sink %s MB, chat-sink %s MB (target < 64 MB)\n", vr, cr }'
