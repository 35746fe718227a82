# shellcheck shell=bash disable=SC2034  # variables for the scripts that source it
# sink-common.sh - helpers for the sink integration tests (t/integration/*-sink-*.t).
#
# Source it from a test after nothing else. It loads t/lib/tap.sh, checks the stack
# environment exported by build.sh, gives the test a unique RUN_ID / topic / Redis prefix /
# Mongo database / PostgreSQL schema, and cleans every one of them up on exit (sinks and
# private servers it started included), so tests never see each other's or the dev data.
SINK_T_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$SINK_T_DIR/../lib/tap.sh"

for v in KAFKA_BROKERS REDIS_PORT PG_PORT MONGO_PORT BUILD_DIR KAFKA_TOPICS_CMD; do
    [ -n "${!v:-}" ] || plan skip_all "stack environment missing ($v): run through ./build.sh test"
done
for b in vote-sink chat-sink sink-inspect; do
    [ -x "$BUILD_DIR/bin/$b" ] || plan skip_all "$BUILD_DIR/bin/$b not built"
done
command -v kcat >/dev/null || plan skip_all "kcat missing"

RUN_ID=$(( ($$ * 31 + RANDOM) % 900000 + 100000 ))   # six digits: part of every ULID we make
TAG="sinkt$RUN_ID"
TOPIC="$TAG.in"
PREFIX="$TAG:"                                      # Redis keys and channels
MONGO_DB="$TAG"
PG_SCHEMA="$TAG"
TMPD=$(mktemp -d "/tmp/$TAG.XXXX")
POLL_CATALOG=${POLL_CATALOG:-$SINK_T_DIR/../../stack/polls.json}
MONGO_URI=${MONGO_URI:-mongodb://127.0.0.1:$MONGO_PORT/}
PG_CONNINFO=${PG_CONNINFO:-host=127.0.0.1 port=$PG_PORT dbname=vote user=vote}
declare -A SINK_PID=()
PRIVATE_PIDS=()
PRIVATE_PG_DATA=""
TOPICS_MADE=()

sink_cleanup() {
    local n
    for n in "${!SINK_PID[@]}"; do kill -9 "${SINK_PID[$n]}" 2>/dev/null; done
    for n in "${PRIVATE_PIDS[@]}"; do kill "$n" 2>/dev/null; done
    [ -n "$PRIVATE_PG_DATA" ] && pg_private_ctl stop >/dev/null 2>&1
    for n in "${TOPICS_MADE[@]}"; do "$KAFKA_TOPICS_CMD" delete "$n" >/dev/null 2>&1; done
    redis-cli -p "$REDIS_PORT" --scan --pattern "$PREFIX*" 2>/dev/null | xargs -r -n 500 redis-cli -p "$REDIS_PORT" del >/dev/null 2>&1
    "$BUILD_DIR/bin/sink-inspect" "$MONGO_URI" "$MONGO_DB" votes drop >/dev/null 2>&1
    psql -X -q "$PG_CONNINFO" -c "DROP SCHEMA IF EXISTS $PG_SCHEMA CASCADE" >/dev/null 2>&1
    [ -n "${KEEP_TMP:-}" ] || rm -rf "$TMPD"
}
trap sink_cleanup EXIT

# metric NAME : the value of metric NAME (a labelled sink metric) of the sink whose metrics
# port is $mport (a test sets mport before it starts the sink).
metric() { curl -fsS "http://127.0.0.1:${mport:?set mport first}/metrics" 2>/dev/null | awk -v m="$1" '$1 ~ "^"m"[{]" { print $2 }'; }

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# make_topics NAME... : the input topic with 2 partitions, its DLQ with 1.
make_topics() {
    "$KAFKA_TOPICS_CMD" create "$TOPIC" 2 && "$KAFKA_TOPICS_CMD" create "$TOPIC.dlq" 1 || bail_out "cannot create topics"
    TOPICS_MADE+=("$TOPIC" "$TOPIC.dlq")
}

# produce KIND START COUNT [POISON] : append generated records to $TOPIC; expectations
# accumulate in $TMPD/expect-* (one file per call) and are summed by expect_total.
produce() {
    local kind=$1 start=$2 count=$3 poison=${4:-0}
    python3 "$SINK_T_DIR/sink-gen.py" "$kind" --run "$RUN_ID" --start "$start" --count "$count" \
        --poison "$poison" --expect "$TMPD/expect-$start" |
        kcat -P -q -b "$KAFKA_BROKERS" -t "$TOPIC" -K $'\t' -X enable.idempotence=true ||
        bail_out "kcat produce failed"
}
expect_total() { cat "$TMPD"/expect-* | awk -F= -v k="$1" '$1 == k { s += $2 } END { print s + 0 }'; }
messages_in_topic() { echo $(( $(expect_total N_VALID) + $(expect_total N_POISON) )); }

# start_sink NAME vote|chat [extra flags] : background sink with the test's isolation flags.
start_sink() {
    local name=$1 kind=$2; shift 2
    local common=(--brokers "$KAFKA_BROKERS" --topic "$TOPIC" --dlq-topic "$TOPIC.dlq" --group "$TAG"
                  --client-id "$TAG-$name" --redis-prefix "$PREFIX" --metrics-port 0
                  --batch-max 200 --batch-ms 20 --backoff-base-ms 50 --backoff-cap-ms 1000
                  --kafka-props session.timeout.ms=6000)   # the broker's minimum: crashed members leave fast
    if [ "$kind" = vote ]; then
        "$BUILD_DIR/bin/vote-sink" "${common[@]}" --redis-port "${SINK_REDIS_PORT:-$REDIS_PORT}" \
            --mongo-uri "${SINK_MONGO_URI:-$MONGO_URI}" --mongo-db "$MONGO_DB" --catalog "$POLL_CATALOG" \
            "$@" >> "$TMPD/$name.log" 2>&1 &
    else
        "$BUILD_DIR/bin/chat-sink" "${common[@]}" --redis-port "$REDIS_PORT" \
            --pg "${SINK_PG_CONNINFO:-$PG_CONNINFO} options=-csearch_path=$PG_SCHEMA" \
            "$@" >> "$TMPD/$name.log" 2>&1 &
    fi
    SINK_PID[$name]=$!
}

# stop_sink NAME : SIGTERM and wait (at most 30 s) for a clean exit; sets STOP_RC (a
# function, not $(...), because only this shell can wait for its children).
stop_sink() {
    local pid=${SINK_PID[$1]}
    kill -TERM "$pid" 2>/dev/null
    for _ in $(seq 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && kill -9 "$pid"
    wait "$pid"; STOP_RC=$?
    unset "SINK_PID[$1]"
}
kill9_sink() { kill -9 "${SINK_PID[$1]}" 2>/dev/null; wait "${SINK_PID[$1]}" 2>/dev/null; unset "SINK_PID[$1]"; }
sink_alive() { kill -0 "${SINK_PID[$1]}" 2>/dev/null; }

# wait_until SECONDS CMD... : poll CMD every 0.2 s; status 0 when it succeeded in time.
wait_until() {
    local deadline=$(( $(date +%s) + $1 )); shift
    while :; do
        "$@" && return 0
        [ "$(date +%s)" -ge "$deadline" ] && return 1
        sleep 0.2
    done
}

# ---- vote state ----
rcli() { redis-cli -p "${SINK_REDIS_PORT:-$REDIS_PORT}" "$@"; }
POLLS="guatemala-2027 band-contest"
sum_hash() { rcli hvals "$1" | awk '{ s += $1 } END { print s + 0 }'; }
vote_offsets_sum() { sum_hash "${PREFIX}sink:votes:offsets"; }
redis_totals_sum() { local p s=0; for p in $POLLS; do s=$((s + $(sum_hash "${PREFIX}poll:$p:totals"))); done; echo $s; }
redis_count_sum() { local p s=0; for p in $POLLS; do s=$((s + $(rcli get "${PREFIX}poll:$p:count" | awk '{print $1+0}'))); done; echo $s; }
redis_dupes_sum() { local p s=0; for p in $POLLS; do s=$((s + $(rcli get "${PREFIX}poll:$p:dupes" | awk '{print $1+0}'))); done; echo $s; }
mongo_counts() { "$BUILD_DIR/bin/sink-inspect" "${SINK_MONGO_URI:-$MONGO_URI}" "$MONGO_DB" votes count 2>/dev/null; }

# The headline equality, as one line so a failure shows every number.
vote_state() {
    echo "offsets=$(vote_offsets_sum) totals=$(redis_totals_sum) count=$(redis_count_sum) dupes=$(redis_dupes_sum) mongo:$(mongo_counts | tr ' ' ',')"
}
vote_state_expected() {
    echo "offsets=$(messages_in_topic) totals=$(expect_total N_TALLIED) count=$(expect_total N_TALLIED) dupes=$(expect_total N_DUP) mongo:total=$(expect_total N_VALID),duplicate=$(expect_total N_DUP)"
}
vote_exact() { [ "$(vote_state)" = "$(vote_state_expected)" ]; }

# Full dump of every Redis key of the run (values sorted where order is not semantic).
redis_snapshot() {
    local k
    rcli --scan --pattern "$PREFIX*" | sort | while read -r k; do
        case $(rcli type "$k") in
            hash) echo "$k $(rcli hgetall "$k" | paste - - | sort | tr '\n' ' ')" ;;
            set) echo "$k $(rcli smembers "$k" | sort | tr '\n' ' ')" ;;
            list) echo "$k $(rcli lrange "$k" 0 -1 | md5sum)" ;;
            string) echo "$k $(rcli get "$k")" ;;
        esac
    done
}

# ---- chat state ----
pq() { psql -X -tA "${SINK_PG_CONNINFO:-$PG_CONNINFO} options=-csearch_path=$PG_SCHEMA" -c "$1"; }
make_pg_schema() {
    psql -X -q -v ON_ERROR_STOP=1 "${SINK_PG_CONNINFO:-$PG_CONNINFO}" -c "CREATE SCHEMA IF NOT EXISTS $PG_SCHEMA" &&
    PGOPTIONS="-csearch_path=$PG_SCHEMA" psql -X -q -v ON_ERROR_STOP=1 "${SINK_PG_CONNINFO:-$PG_CONNINFO}" \
        -f "$SINK_T_DIR/../../stack/schema.sql" 2>&1 | grep -v NOTICE
    return "${PIPESTATUS[0]}"
}
chat_state() {
    pq "SELECT 'rows=' || (SELECT count(*) FROM messages) || ' distinct=' || (SELECT count(DISTINCT id) FROM messages)
        || ' offsets=' || (SELECT coalesce(sum(next_offset), 0) FROM sink_offsets WHERE topic = '$TOPIC')" 2>/dev/null
}
chat_state_expected() { local n; n=$(expect_total N_VALID); echo "rows=$n distinct=$n offsets=$(messages_in_topic)"; }
chat_exact() { [ "$(chat_state)" = "$(chat_state_expected)" ]; }

dlq_count() { kcat -C -q -b "$KAFKA_BROKERS" -t "$TOPIC.dlq" -o beginning -e -f '%h\n' 2>/dev/null | grep -c 'dlq-reason='; }

# ---- private servers for outage tests (real servers on free ports, owned by the test) ----
start_private_redis() {   # persistent (AOF, fsync always) so a restart loses nothing
    SINK_REDIS_PORT=${SINK_REDIS_PORT:-$(free_port)}
    mkdir -p "$TMPD/redis"
    redis-server --port "$SINK_REDIS_PORT" --bind 127.0.0.1 --dir "$TMPD/redis" --appendonly yes \
        --appendfsync always --save '' --daemonize no >> "$TMPD/redis.log" 2>&1 &
    REDIS_PRIVATE_PID=$!; PRIVATE_PIDS+=("$REDIS_PRIVATE_PID")
    wait_until 10 bash -c "[ \"\$(redis-cli -p $SINK_REDIS_PORT ping 2>/dev/null)\" = PONG ]"
}
stop_private_redis() { kill -TERM "$REDIS_PRIVATE_PID"; wait "$REDIS_PRIVATE_PID" 2>/dev/null; }

ferretdb_bin() {
    local c
    for c in "${FERRETDB_BIN:-}" "${CACHE_DIR:-$SINK_T_DIR/../../.cache}"/bin/ferretdb-local-* "$(command -v ferretdb 2>/dev/null)"; do
        [ -n "$c" ] && [ -x "$c" ] && { echo "$c"; return 0; }
    done
    return 1
}
start_private_mongo() {
    SINK_MONGO_PORT=${SINK_MONGO_PORT:-$(free_port)}
    SINK_MONGO_URI="mongodb://127.0.0.1:$SINK_MONGO_PORT/"
    mkdir -p "$TMPD/mongo"
    "$(ferretdb_bin)" --listen-addr "127.0.0.1:$SINK_MONGO_PORT" --sqlite-dir "$TMPD/mongo" >> "$TMPD/mongo.log" 2>&1 &
    MONGO_PRIVATE_PID=$!; PRIVATE_PIDS+=("$MONGO_PRIVATE_PID")
    wait_until 15 bash -c "'$BUILD_DIR/bin/sink-inspect' '$SINK_MONGO_URI' ping x count >/dev/null 2>&1"
}
stop_private_mongo() { kill -TERM "$MONGO_PRIVATE_PID"; wait "$MONGO_PRIVATE_PID" 2>/dev/null; }

pg_bin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1; }
as_postgres() { if [ "$(id -u)" = 0 ]; then su postgres -s /bin/bash -c "$*"; else bash -c "$*"; fi; }
pg_private_ctl() { as_postgres "'$(pg_bin)/pg_ctl' -D '$PRIVATE_PG_DATA' -w -t 20 -l '$TMPD/pg/log' $1 ${2:+-o \"$2\"}"; }
start_private_pg() {
    SINK_PG_PORT=${SINK_PG_PORT:-$(free_port)}
    PRIVATE_PG_DATA=$TMPD/pg/data
    if [ ! -d "$PRIVATE_PG_DATA" ]; then
        mkdir -p "$TMPD/pg"; [ "$(id -u)" = 0 ] && chown postgres "$TMPD" "$TMPD/pg"
        as_postgres "'$(pg_bin)/initdb' -D '$PRIVATE_PG_DATA' -U vote --auth=trust -E UTF8 >/dev/null" || return 1
    fi
    pg_private_ctl start "-p $SINK_PG_PORT -k $TMPD/pg -c listen_addresses=127.0.0.1 -c fsync=off" >/dev/null || return 1
    SINK_PG_CONNINFO="host=127.0.0.1 port=$SINK_PG_PORT dbname=postgres user=vote"
}
stop_private_pg() { pg_private_ctl "stop -m fast" >/dev/null; }
