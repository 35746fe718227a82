# shellcheck shell=bash
# bench.sh: ./build.sh bench [edge|sinks|mongo|api|pipeline|orders|all]: performance as ratios against a baseline
# measured in the same run, written into docs/BENCHMARKS.md.
#
# Each benchmark prints its table and replaces its own section of docs/BENCHMARKS.md (between
# "<!-- NAME:begin -->" and "<!-- NAME:end -->"), stamped with the machine, the command and the
# date, so the file always holds the latest figure of every benchmark.

BENCH_DOC=$ROOT/docs/BENCHMARKS.md
: "${BENCH_SECONDS:=10}"
: "${BENCH_CONNECTIONS:=128}"
: "${BENCH_ROUNDS:=3}"

machine_line() {
    local cpu mem kernel
    cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')
    mem=$(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo)
    kernel=$(uname -r)
    echo "$(nproc) cores ($cpu), $mem, Linux $kernel, $(. /etc/os-release; echo "$PRETTY_NAME")"
}

# Replaces section $1 of docs/BENCHMARKS.md with the contents of file $2.
bench_write_section() {
    local name=$1 body=$2
    [ -f "$BENCH_DOC" ] || die "missing $BENCH_DOC"
    python3 "$STACK_DIR/lib/bench_section.py" "$BENCH_DOC" "$name" "$body"
}

# Header lines every section starts with.
bench_stamp() {
    printf -- '- date: %s\n- machine: %s\n- Kafka: %s\n- command: `%s`\n\n' \
        "$(date -u '+%Y-%m-%d %H:%M UTC')" "$(machine_line)" "$KAFKA_VERSION" "$1"
}

# wrk with keep-alive: prints "RPS P50_MS P99_MS REQUESTS WRK_CPU_SECONDS NON_2XX" for a POST of file $2
# to URL $1. The load generator's own CPU (from the shell's `times`: its only child is wrk) lets
# the edge bench say where each request's CPU went on a machine that also runs the load.
wrk_post() {
    local url=$1 body=$2 conns=${3:-$BENCH_CONNECTIONS} secs=${4:-$BENCH_SECONDS} extra_header=${5:-}
    local out
    out=$(BODY_FILE=$body EXTRA_HEADER=$extra_header wrk -t1 -c"$conns" -d"${secs}s" --latency \
          -s "$ROOT/stack/bench/edge/post.lua" "$url" 2>&1 && times) || { echo "wrk failed: $out" >&2; return 1; }
    echo "$out" >> "$STATE_DIR/bench/wrk.log"
    local rps p50 p99 non2xx n cpu
    rps=$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")
    p50=$(awk '$1=="50%" {print $2}' <<<"$out"); p99=$(awk '$1=="99%" {print $2}' <<<"$out")
    n=$(awk '/requests in/ {print $1}' <<<"$out")
    # last line of `times`: children's user and system time, as 0m1.234s 0m0.567s
    cpu=$(tail -n 1 <<<"$out" | awk '{ t = 0; for (i = 1; i <= 2; i++) { split($i, a, /[ms]/); t += a[1] * 60 + a[2] } printf "%.3f", t }')
    non2xx=$(awk '/Non-2xx or 3xx responses:/ {print $NF}' <<<"$out")
    [ -z "$non2xx" ] || warn "$url: $non2xx answers were not 2xx"
    echo "$rps $(to_ms "$p50") $(to_ms "$p99") ${n:-0} $cpu ${non2xx:-0}"
}

# wrk prints latencies as 812.00us, 1.20ms or 2.01s; this turns them into milliseconds.
to_ms() {
    awk -v v="$1" 'BEGIN { n = v + 0;
        if (v ~ /us$/) n /= 1000; else if (v ~ /ms$/) n = n; else if (v ~ /s$/) n *= 1000;
        printf "%.3f", n }'
}

# Latency at about $3 req/s for $4 seconds: wrk with $BENCH_CONNECTIONS connections, each
# pausing a random time between requests (stack/bench/edge/paced.lua), so that the offered rate is
# about $3. wrk is light enough to stay out of the tail it measures: hey, which this used before,
# needed most of a core at these rates and its own scheduling showed up as server latency
# (bare `return` had a 2.1 ms p99 at half rate). Prints "P50_MS P99_MS ERRORS ACHIEVED_RPS".
wrk_paced() {
    local url=$1 body=$2 rate=$3 secs=${4:-$BENCH_SECONDS} conns=$BENCH_CONNECTIONS out
    out=$(BODY_FILE=$body CONNS=$conns RATE=$rate wrk -t1 -c"$conns" -d"${secs}s" --latency \
          -s "$ROOT/stack/bench/edge/paced.lua" "$url" 2>&1) || { echo "wrk failed: $out" >&2; return 1; }
    echo "$out" >> "$STATE_DIR/bench/wrk-paced.log"
    local p50 p99 errors rps
    p50=$(awk '$1=="50%" {print $2}' <<<"$out"); p99=$(awk '$1=="99%" {print $2}' <<<"$out")
    errors=$(awk '/Non-2xx or 3xx responses:/ {n += $NF} /Socket errors:/ {n += $4 + $6 + $8 + $10} END {print n + 0}' <<<"$out")
    rps=$(awk '/^Requests\/sec:/ {printf "%.0f", $2}' <<<"$out")
    echo "$(to_ms "$p50") $(to_ms "$p99") $errors $rps"
}

# Median of the numbers given as arguments.
median() { printf '%s\n' "$@" | sort -g | awk '{v[NR] = $1} END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }

cmd_bench() {
    local what=${1:-all}
    mkdir -p "$STATE_DIR/bench"
    case "$what" in
        edge|sinks|mongo|api|pipeline|orders) ;;
        all) ;;
        *) die "unknown benchmark '$what' (edge, sinks, mongo, api, pipeline, orders, all)" ;;
    esac
    cmd_setup >/dev/null && cmd_build >/dev/null || die "setup/build failed"
    ( cmd_up ) >/dev/null || die "the stack did not come up"
    local b rc=0
    # edge last: it writes over a million records to Kafka and drops its topic at the end, and
    # that writeback and deletion (1-2 GB, the broker deletes 60 s later) landed in the sinks'
    # timed drains when edge ran first.
    for b in sinks mongo api pipeline orders edge; do
        [ "$what" = all ] || [ "$what" = "$b" ] || continue
        if type "bench_$b" >/dev/null 2>&1; then bench_"$b" || rc=1
        else warn "benchmark '$b' is not available yet"; [ "$what" = all ] || rc=1; fi
    done
    return $rc
}

# ./build.sh bench api: stack/bench/api/bench-api.sh measures, the section is written here.
bench_api() {
    step "bench api: results through the edge vs nginx serving the same body; SSE fan-out"
    local f=$STATE_DIR/bench/api.md body dir
    # the shipped api-*.conf as the edge renders them, its micro-cache under $dir/nginx
    dir=$(mktemp -d) && render_edge_conf_at "$dir" "$EDGE_PORT" "$EDGE_TLS_PORT" \
        || { warn "cannot render the edge config for bench api"; return 1; }
    body=$(BENCH_API_DIR=$dir BENCH_SECONDS=$BENCH_SECONDS BENCH_CONNECTIONS=$BENCH_CONNECTIONS \
           "$ROOT/stack/bench/api/bench-api.sh") || { warn "bench-api.sh failed"; rm -rf "$dir"; return 1; }
    rm -rf "$dir"
    {
        echo "## Api daemon: results and live streams"
        echo
        bench_stamp "./build.sh bench api"
        echo "$body"
    } > "$f"
    cat "$f"
    bench_write_section api "$f"
    ok "docs/BENCHMARKS.md updated (section api)"
}

# ./build.sh bench mongo: stack/bench/mongo/mongo-backends.sh measures the MongoDB-wire server on
# each backend it can run on here; the section is written here.
bench_mongo() {
    step "bench mongo: the MongoDB-wire server's cost per vote, per backend (SQLite, PostgreSQL)"
    local f=$STATE_DIR/bench/mongo.md body batch
    body=$("$ROOT/stack/bench/mongo/mongo-backends.sh") || { warn "mongo-backends.sh failed"; return 1; }
    for batch in 100 5000; do
        body+=$'\n'$(MONGO_BENCH_BACKENDS=sqlite MONGO_BENCH_BATCH=$batch "$ROOT/stack/bench/mongo/mongo-backends.sh" | tail -n 1) \
            || { warn "mongo-backends.sh (batches of $batch) failed"; return 1; }
    done
    {
        echo "## MongoDB-wire server: cost per vote and audit reads, per backend"
        echo
        bench_stamp "./build.sh bench mongo"
        echo "${MONGO_BENCH_DOCS:-100000} vote documents of the sink's shape per backend, each server fresh; \`_id\` look-ups are the audit's reads (\`stack/bench/mongo/mongo-backends.sh\`)."
        echo
        echo "$body"
    } > "$f"
    cat "$f"
    bench_write_section mongo "$f"
    ok "docs/BENCHMARKS.md updated (section mongo)"
}

# ./build.sh bench pipeline: stack/bench/pipeline/pipeline.py measures the whole pipeline's sustained rate
# against the slowest store alone and audits what it sent; the section and its chart are
# written here.
bench_pipeline() {
    step "bench pipeline: offered vote rate steps through the shipped edge, every sink running"
    local out=$STATE_DIR/bench rc=0
    rm -f "$out/pipeline.md"
    PIPELINE_OUT=$out "$CACHE_DIR/venv/bin/python" "$ROOT/stack/bench/pipeline/pipeline.py" \
        || { rc=1; warn "pipeline.py failed or its audit did not pass (logs in $out/pipeline-*)"; }
    [ -f "$out/pipeline.md" ] || return 1
    cp "$out/pipeline-lag.png" "$ROOT/docs/bench-pipeline-lag.png" 2>/dev/null || true
    {
        echo "## Pipeline: sustained votes/s end to end vs the slowest store alone"
        echo
        bench_stamp "./build.sh bench pipeline"
        cat "$out/pipeline.md"
    } > "$out/pipeline-section.md"
    cat "$out/pipeline-section.md"
    bench_write_section pipeline "$out/pipeline-section.md"
    ok "docs/BENCHMARKS.md updated (section pipeline)"
    return $rc
}

# ./build.sh bench sinks: stack/bench/sinks/sinks.sh measures drain rates against independent
# clients doing the same writes in the same batch sizes; the section is written here.
bench_sinks() {
    step "bench sinks: drain rate vs redis-cli --pipe, a mongo-c-driver bulk insert, psql \\copy"
    local f=$STATE_DIR/bench/sinks.md out
    # The stores fsync on every batch: earlier dirty pages (a previous benchmark, a load run)
    # written back during a timed drain would be charged to whichever side was running.
    info "sync: flushing dirty pages before the timed drains"
    sync
    out=$(cd "$ROOT" && stack/bench/sinks/sinks.sh 2>&1) || { echo "$out" | tail -20 >&2; warn "sinks.sh failed"; return 1; }
    echo "$out" > "$STATE_DIR/bench/sinks.log"
    {
        echo "## Sinks: drain rate vs an independent client doing the same writes"
        echo
        bench_stamp "./build.sh bench sinks"
        echo "Preloaded ${BENCH_VOTES:-200000} votes and ${BENCH_CHAT:-100000} chat messages, batches of ${BENCH_BATCH:-1000}; baselines in the same run (\`stack/bench/sinks/sinks.sh\`)."
        echo
        echo '```'
        sed -n '/^== results/,$p' <<<"$out" | grep -v '^== results'
        grep -E '^(vote-sink|chat-sink|redis|mongo|psql)' <<<"$out" | grep -v ' = '
        echo '```'
    } > "$f"
    cat "$f"
    bench_write_section sinks "$f"
    ok "docs/BENCHMARKS.md updated (section sinks)"
}
