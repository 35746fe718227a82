# bench_edge.sh: ./build.sh bench edge: the vote endpoint against nginx's bare `return`.
#
# One nginx (stack/bench/edge-bench.conf) serves the three locations; wrk measures the maximum
# rate of each with keep-alive; paced wrk then measures latency at half of each maximum; finally the
# worker's RSS is read before and after one million votes in local mode.

: "${BENCH_EDGE_PORT:=18180}"
: "${BENCH_RSS_REQUESTS:=1000000}"

bench_edge_nginx() {
    local dir=$STATE_DIR/bench/nginx
    mkdir -p "$dir/logs"
    export BENCH_EDGE_PORT VOTE_MODULE_SO=$BUILD_DIR/modules/ngx_http_vote_module.so
    envsubst '${VOTE_MODULE_SO} ${STATE_DIR} ${KAFKA_BROKERS} ${POLL_CATALOG} ${BENCH_EDGE_PORT}' \
        < "$STACK_DIR/bench/edge-bench.conf" > "$dir/nginx.conf"
    nginx -p "$dir" -c "$dir/nginx.conf" -e "$dir/error.log" "$@"
}

bench_edge_worker_rss_kb() {
    local master; master=$(cat "$STATE_DIR/bench/nginx/nginx.pid")
    local w; w=$(pgrep -P "$master" | head -n 1)
    awk '/^VmRSS:/ {print $2}' "/proc/$w/status"
}

# CPU ticks so far of the parties of a run: "MAIN WORKER KAFKA MACHINE" = the nginx worker's main
# thread (where requests are handled), the whole worker (main + librdkafka's threads), the Kafka
# broker's JVM and the whole machine (user, nice, system, irq, softirq of /proc/stat).
bench_edge_cpu_ticks() {
    local w=$1 k=$2
    printf '%s %s %s %s\n' "$(awk '{print $14 + $15}' "/proc/$w/task/$w/stat")" \
        "$(awk '{print $14 + $15}' "/proc/$w/stat")" "$(awk '{print $14 + $15}' "/proc/$k/stat")" \
        "$(awk '/^cpu / {print $2 + $3 + $4 + $7 + $8}' /proc/stat)"
}

# CPU microseconds per request of each party between two bench_edge_cpu_ticks snapshots $1 $2,
# for $3 requests of which wrk used $4 CPU seconds: "MAIN LIBRDKAFKA KAFKA WRK REST MACHINE".
bench_edge_cpu_per_request() {
    awk -v a="$1" -v b="$2" -v n="$3" -v wrk="$4" -v hz="$(getconf CLK_TCK)" 'BEGIN {
        split(a, x, " "); split(b, y, " "); us = 1e6 / hz / n
        main = (y[1] - x[1]) * us; rdk = (y[2] - x[2]) * us - main; kafka = (y[3] - x[3]) * us
        machine = (y[4] - x[4]) * us; w = wrk * 1e6 / n
        printf "%.1f %.1f %.1f %.1f %.1f %.1f\n", main, rdk, kafka, w, machine - main - rdk - kafka - w, machine }'
}

# Medians over the rounds of each party's us/request; $1 names an array of per-round lines.
bench_edge_cpu_medians() {
    local -n rows=$1
    local party out=()
    for party in 1 2 3 4 5 6; do
        out+=("$(printf '%.1f' "$(median $(printf '%s\n' "${rows[@]}" | cut -d' ' -f"$party"))")")
    done
    echo "${out[*]}"
}

bench_edge() {
    step "bench edge: vote endpoint vs nginx's bare return (wrk -t1 -c$BENCH_CONNECTIONS, ${BENCH_SECONDS}s each)"
    require_free_port bench-nginx "$BENCH_EDGE_PORT" BENCH_EDGE_PORT
    "$KAFKA_TOPICS_CMD" create bench.votes "$VOTE_PARTITIONS" || die "cannot create topic bench.votes"
    bench_edge_nginx || die "bench nginx did not start (see $STATE_DIR/bench/nginx/error.log)"
    # The topic only holds bench traffic (over a million records a run): dropped at the end, so
    # that every run starts from an empty topic instead of gigabytes of earlier runs.
    trap 'bench_edge_nginx -s quit 2>/dev/null; sleep 2; "$KAFKA_TOPICS_CMD" delete bench.votes >/dev/null 2>&1' RETURN
    local body=$STATE_DIR/bench/vote.json base=http://127.0.0.1:$BENCH_EDGE_PORT/bench
    printf '%s' '{"poll":"band-contest","choice":"quetzal-punk"}' > "$body"
    wrk_post "$base/local" "$body" 8 2 >/dev/null   # warm-up: connections, metadata, JIT of the broker

    # Interleaved rounds (a b c a b c ...) and medians: drift on a shared machine hits all three.
    local ret loc bro r loc_name
    local -a rps_return=() rps_local=() rps_broker=() p50_return=() p50_local=() p50_broker=() \
             p99_return=() p99_local=() p99_broker=()
    # Where each request's CPU goes, per party (us/request), measured over the same runs.
    local worker kafka_pid t0 t1 cpu_now party
    local -a cpu_return=() cpu_local=() cpu_broker=()
    worker=$(pgrep -P "$(cat "$STATE_DIR/bench/nginx/nginx.pid")" | head -n 1)
    kafka_pid=$(cat "$STATE_DIR/run/kafka.pid")
    for r in $(seq "$BENCH_ROUNDS"); do
        for loc_name in return local broker; do
            t0=$(bench_edge_cpu_ticks "$worker" "$kafka_pid")
            local m; m=($(wrk_post "$base/$loc_name" "$body")) || return 1
            t1=$(bench_edge_cpu_ticks "$worker" "$kafka_pid")
            eval "rps_$loc_name+=(${m[0]}) p50_$loc_name+=(${m[1]}) p99_$loc_name+=(${m[2]})"
            cpu_now=$(bench_edge_cpu_per_request "$t0" "$t1" "${m[3]}" "${m[4]}")
            eval "cpu_$loc_name+=(\"$cpu_now\")"
        done
        info "round $r: return ${rps_return[-1]}, local ${rps_local[-1]}, broker ${rps_broker[-1]} req/s"
    done
    ret=($(median "${rps_return[@]}") $(median "${p50_return[@]}") $(median "${p99_return[@]}"))
    loc=($(median "${rps_local[@]}") $(median "${p50_local[@]}") $(median "${p99_local[@]}"))
    bro=($(median "${rps_broker[@]}") $(median "${p50_broker[@]}") $(median "${p99_broker[@]}"))
    info "medians: return ${ret[0]}, local ${loc[0]}, broker ${bro[0]} req/s"
    # per party, the median over the rounds of its us/request
    local cpu_med_return cpu_med_local cpu_med_broker
    cpu_med_return=$(bench_edge_cpu_medians cpu_return)
    cpu_med_local=$(bench_edge_cpu_medians cpu_local)
    cpu_med_broker=$(bench_edge_cpu_medians cpu_broker)

    local half_ret half_loc half_bro
    half_ret=($(wrk_paced "$base/return" "$body" "$(awk -v r="${ret[0]}" 'BEGIN{printf "%d", r/2}')")) || return 1
    half_loc=($(wrk_paced "$base/local" "$body" "$(awk -v r="${loc[0]}" 'BEGIN{printf "%d", r/2}')")) || return 1
    half_bro=($(wrk_paced "$base/broker" "$body" "$(awk -v r="${bro[0]}" 'BEGIN{printf "%d", r/2}')")) || return 1
    info "p99 at half rate: return ${half_ret[1]} ms (${half_ret[3]} req/s), local ${half_loc[1]} ms (${half_loc[3]} req/s), broker ${half_bro[1]} ms (${half_bro[3]} req/s)"

    local rss0 rss1 done_req=0 secs out n
    rss0=$(bench_edge_worker_rss_kb)
    secs=$(awk -v r="${loc[0]}" -v n="$BENCH_RSS_REQUESTS" 'BEGIN { s = int(n / r) + 1; print (s < 5 ? 5 : s) }')
    while [ "$done_req" -lt "$BENCH_RSS_REQUESTS" ]; do
        out=$(BODY_FILE=$body wrk -t1 -c"$BENCH_CONNECTIONS" -d"${secs}s" -s "$STACK_DIR/bench/post.lua" "$base/local" 2>&1)
        n=$(awk '/requests in/ {print $1}' <<<"$out"); done_req=$((done_req + ${n:-0}))
        [ "${n:-0}" -gt 0 ] || { warn "wrk made no requests: $out"; return 1; }
        secs=5
    done
    sleep 2   # let the producer drain its queue before reading the RSS
    rss1=$(bench_edge_worker_rss_kb)
    local growth_mb; growth_mb=$(awk -v a="$rss0" -v b="$rss1" 'BEGIN { printf "%.1f", (b - a) / 1024 }')
    info "worker RSS: $((rss0 / 1024)) MB -> $((rss1 / 1024)) MB after $done_req votes (+$growth_mb MB)"

    local r_loc r_bro; r_loc=$(ratio "${loc[0]}" "${ret[0]}"); r_bro=$(ratio "${bro[0]}" "${ret[0]}")
    local f=$STATE_DIR/bench/edge.md
    {
        echo "## Edge: vote endpoint vs nginx's bare \`return\`"
        echo
        bench_stamp "./build.sh bench edge"
        echo "One nginx worker (\`stack/bench/edge-bench.conf\`, linger.ms 2, acks=all), body \`$(cat "$body")\`, wrk -t1 -c$BENCH_CONNECTIONS keep-alive, ${BENCH_SECONDS}s per location per round, $BENCH_ROUNDS interleaved rounds, medians; latency at half of each location's own maximum rate by wrk with paced requests (\`stack/bench/paced.lua\`: $BENCH_CONNECTIONS connections, random pauses; achieved rates: return ${half_ret[3]}, local ${half_loc[3]}, broker ${half_bro[3]} req/s)."
        echo "Rounds (req/s): return ${rps_return[*]}; local ${rps_local[*]}; broker ${rps_broker[*]}."
        echo
        echo "| location | req/s | ratio to return | target | p50 ms at max | p99 ms at max | p99 ms at half rate | target |"
        echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
        echo "| (a) \`return 202\` | ${ret[0]} | 1.00 | | ${ret[1]} | ${ret[2]} | ${half_ret[1]} | |"
        echo "| (b) vote, durability local | ${loc[0]} | $r_loc | >= 0.80 | ${loc[1]} | ${loc[2]} | ${half_loc[1]} | < 2 |"
        echo "| (c) vote, durability broker (acks=all) | ${bro[0]} | $r_bro | >= 0.60 | ${bro[1]} | ${bro[2]} | ${half_bro[1]} | < 10 |"
        echo
        echo "Worker RSS: $((rss0 / 1024)) MB before, $((rss1 / 1024)) MB after $done_req votes in local mode: **+$growth_mb MB** (target < 5 MB)."
        echo "Errors at half rate: return ${half_ret[2]}, local ${half_loc[2]}, broker ${half_bro[2]}."
        echo
        echo "Where each request's CPU went at the maximum rate (us of CPU per request, medians over the rounds, from /proc tick counts; \"rest\" is everything else on the machine, including the kernel's softirq time not charged to a process):"
        echo
        echo "| location | nginx worker thread | librdkafka threads | Kafka broker | wrk | rest | whole machine |"
        echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"
        local loc_label cpu_row
        for loc_name in return local broker; do
            case $loc_name in return) loc_label='(a) `return 202`' ;; local) loc_label='(b) vote, local' ;; broker) loc_label='(c) vote, broker' ;; esac
            eval "cpu_row=(\$cpu_med_$loc_name)"
            echo "| $loc_label | ${cpu_row[0]} | ${cpu_row[1]} | ${cpu_row[2]} | ${cpu_row[3]} | ${cpu_row[4]} | ${cpu_row[5]} |"
        done
    } > "$f"
    cat "$f"
    bench_write_section edge "$f"
    ok "docs/BENCHMARKS.md updated (section edge)"
}
