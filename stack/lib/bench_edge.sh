# shellcheck shell=bash disable=SC2206,SC2207  # splits lines of numbers (wrk, ps) into arrays on purpose
# bench_edge.sh: ./build.sh bench edge: the vote endpoint against nginx's bare `return`.
#
# Subjects, measured in one run with wrk keep-alive POSTs of the same body, in interleaved
# rounds (medians): nginx's `return 202` (the baseline), the module in queued (durability local)
# and acked (durability broker, acks=all) mode with the bench config (stack/bench/edge/edge-bench.conf,
# one worker), `return 202` over HTTPS (the HTTPS baseline) and the two modes with the shipped
# nginx-conf/ over its HTTPS listener (rendered by render_edge_conf_at as for the stack's edge,
# on private ports, producing to the bench topic; its plain listener only redirects). Then the broker's own ingest limit for
# the records the module produced (Kafka's ProducerPerformance and `kcat -P`), latency at
# fractions of each bench-config subject's maximum rate (paced wrk; drawn as a PNG), and the
# bench worker's RSS growth over BENCH_RSS_REQUESTS requests in each mode.

# Private ports next to the stack's (18180-18185 with the default EDGE_PORT), kept below Linux's
# ephemeral range (32768-60999), where a client connection's port could already hold one.
: "${BENCH_EDGE_PORT:=$(((EDGE_PORT + 10100) % 32768))}"
: "${BENCH_SHIPPED_PORT:=$(((EDGE_PORT + 10101) % 32768))}"
: "${BENCH_SHIPPED_LOCAL_PORT:=$(((EDGE_PORT + 10102) % 32768))}"
: "${BENCH_EDGE_TLS_PORT:=$(((EDGE_PORT + 10103) % 32768))}"
: "${BENCH_SHIPPED_TLS_PORT:=$(((EDGE_PORT + 10104) % 32768))}"
: "${BENCH_SHIPPED_LOCAL_TLS_PORT:=$(((EDGE_PORT + 10105) % 32768))}"
: "${BENCH_RSS_REQUESTS:=1000000}"
: "${BENCH_INGEST_RECORDS:=1000000}"
: "${BENCH_CURVE_SECONDS:=5}"
: "${BENCH_CURVE_FRACTIONS:=0.1 0.25 0.5 0.75 0.9}"

BENCH_EDGE_SUBJECTS="return local broker return-tls shipped-local shipped-broker"
BENCH_EDGE_PNG=$ROOT/docs/bench-edge-latency.png

bench_edge_nginx() {
    local dir=$STATE_DIR/bench/nginx
    mkdir -p "$dir/logs"
    export BENCH_EDGE_PORT BENCH_EDGE_TLS_PORT VOTE_MODULE_SO=$BUILD_DIR/modules/ngx_http_vote_module.so
    envsubst '${VOTE_MODULE_SO} ${STATE_DIR} ${KAFKA_BROKERS} ${POLL_CATALOG} ${BENCH_EDGE_PORT} ${BENCH_EDGE_TLS_PORT} ${EDGE_TLS_CERT} ${EDGE_TLS_KEY}' \
        < "$ROOT/stack/bench/edge/edge-bench.conf" > "$dir/nginx.conf"
    nginx -p "$dir" -c "$dir/nginx.conf" -e "$dir/error.log" "$@"
}

# The shipped nginx-conf/ in its own state directory $STATE_DIR/bench/NAME (pid, logs, caches),
# plain port $2, HTTPS port $3, producing votes to the bench topic; $4 = local turns /api/votes
# into queued mode, the only change to the shipped settings.
bench_edge_shipped_render() {
    local name=$1 durability=$4 sdir=$STATE_DIR/bench/$1
    render_edge_conf_at "$sdir" "$2" "$3" || return 1
    sed -i -e 's/vote_topic votes;/vote_topic bench.votes;/' \
        -e "/location = \/api\/votes/,/^}/ s/vote_durability broker;/vote_durability $durability;/" \
        "$sdir/nginx/conf/vote-edge-locations.conf"
    grep -q 'vote_topic bench.votes;' "$sdir/nginx/conf/vote-edge-locations.conf" \
        || { warn "$name: the shipped /api/votes no longer says 'vote_topic votes;'"; return 1; }
}

bench_edge_shipped() {
    local sdir=$STATE_DIR/bench/$1; shift
    nginx -p "$sdir/nginx" -c "$sdir/nginx/conf/nginx.conf" -e "$sdir/logs/edge.log" "$@"
}

bench_edge_master_pid() {
    case $1 in
        return|local|broker|return-tls) cat "$STATE_DIR/bench/nginx/nginx.pid" ;;
        *) cat "$STATE_DIR/bench/$1/run/edge.pid" ;;
    esac
}

bench_edge_url() {
    case $1 in
        return|local|broker) echo "http://127.0.0.1:$BENCH_EDGE_PORT/bench/$1" ;;
        return-tls) echo "https://127.0.0.1:$BENCH_EDGE_TLS_PORT/bench/return" ;;
        shipped-local) echo "https://127.0.0.1:$BENCH_SHIPPED_LOCAL_TLS_PORT/api/votes" ;;
        shipped-broker) echo "https://127.0.0.1:$BENCH_SHIPPED_TLS_PORT/api/votes" ;;
    esac
}

bench_edge_label() {
    case $1 in
        return) echo '(a) `return 202`' ;;
        local) echo '(b) module, queued (durability local), bench config' ;;
        broker) echo '(c) module, acked (durability broker, acks=all), bench config' ;;
        return-tls) echo '(d) `return 202` over HTTPS (bench nginx, the shipped TLS settings)' ;;
        shipped-local) echo '(e) module, queued, shipped nginx-conf/ over HTTPS (durability local)' ;;
        shipped-broker) echo '(f) module, acked, shipped nginx-conf/ over HTTPS, as shipped' ;;
    esac
}

# the subject a ratio is taken against: the `return` over the same protocol
bench_edge_baseline() {
    case $1 in return-tls|shipped-*) echo return-tls ;; *) echo return ;; esac
}

bench_edge_target() {
    case $1 in
        local) echo '>= 0.85' ;; broker) echo '>= 0.50' ;; shipped-broker) echo '>= 0.40' ;; *) echo '' ;;
    esac
}

# "SUM COUNT" of the bench nginx's produce-to-delivery-report latency of votes (seconds)
bench_edge_delivery_latency() {
    curl -s "http://127.0.0.1:$BENCH_EDGE_PORT/bench/metrics" | awk '
        /^vote_edge_delivery_latency_seconds_sum\{kind="vote"\}/ { s = $2 }
        /^vote_edge_delivery_latency_seconds_count\{kind="vote"\}/ { c = $2 }
        END { printf "%s %s\n", s + 0, c + 0 }'
}

bench_edge_worker_rss_kb() {
    local w; w=$(pgrep -P "$(bench_edge_master_pid return)" | head -n 1)
    awk '/^VmRSS:/ {print $2}' "/proc/$w/status"
}

# CPU ticks so far of the parties of a run: "MAIN WORKER KAFKA MACHINE" = the nginx workers' main
# threads (where requests are handled), the whole workers (main + librdkafka's threads), the
# Kafka broker's JVM and the whole machine (user, nice, system, irq, softirq of /proc/stat).
# $1 = the nginx master pid (or - for none), $2 = the broker's pid.
bench_edge_cpu_ticks() {
    local master=$1 k=$2 w main=0 whole=0
    if [ "$master" != - ]; then
        for w in $(pgrep -P "$master"); do
            main=$((main + $(awk '{print $14 + $15}' "/proc/$w/task/$w/stat")))
            whole=$((whole + $(awk '{print $14 + $15}' "/proc/$w/stat")))
        done
    fi
    printf '%s %s %s %s\n' "$main" "$whole" "$(awk '{print $14 + $15}' "/proc/$k/stat")" \
        "$(awk '/^cpu / {print $2 + $3 + $4 + $7 + $8}' /proc/stat)"
}

# CPU microseconds per request of each party between two bench_edge_cpu_ticks snapshots $1 $2,
# for $3 requests of which the load generator (or client) used $4 CPU seconds:
# "MAIN LIBRDKAFKA KAFKA CLIENT REST MACHINE".
bench_edge_cpu_per_request() {
    awk -v a="$1" -v b="$2" -v n="$3" -v wrk="$4" -v hz="$(getconf CLK_TCK)" 'BEGIN {
        split(a, x, " "); split(b, y, " "); us = 1e6 / hz / n
        main = (y[1] - x[1]) * us; rdk = (y[2] - x[2]) * us - main; kafka = (y[3] - x[3]) * us
        machine = (y[4] - x[4]) * us; w = wrk * 1e6 / n
        printf "%.1f %.1f %.1f %.1f %.1f %.1f\n", main, rdk, kafka, w, machine - main - rdk - kafka - w, machine }'
}

# Medians over the rounds of each party's us/request; $1 holds one line per round.
bench_edge_cpu_medians() {
    local party out=()
    for party in 1 2 3 4 5 6; do
        # shellcheck disable=SC2046 # median takes the numbers as words
        out+=("$(printf '%.1f' "$(median $(cut -d' ' -f"$party" <<<"$1"))")")
    done
    echo "${out[*]}"
}

# The broker's ingest limit for the records in file $1 (one per line), by client $2
# (perf-test: Kafka's ProducerPerformance from the broker's jars; kcat: `kcat -P`, librdkafka),
# with the producer settings of broker mode (acks=all, idempotence, linger 2 ms, lz4).
# Prints "RECORDS_PER_S CLIENT_US KAFKA_US MACHINE_US" (CPU per record).
bench_edge_ingest() {
    local records=$1 client=$2 kafka_pid=$3 t0 t1 start end out cpu n=$BENCH_INGEST_RECORDS
    local lines=$STATE_DIR/bench/ingest-lines.txt
    if [ "$client" = kcat ] && [ ! -s "$lines" ]; then
        awk -v n="$n" '{ r[NR] = $0 } END { for (i = 0; i < n; i++) print r[i % NR + 1] }' "$records" > "$lines"
    fi
    t0=$(bench_edge_cpu_ticks - "$kafka_pid"); start=$(date +%s.%N)
    case $client in
        perf-test)
            out=$( (java -Xmx512m -Dlog4j.configuration="file:$STACK_DIR/kafka/tools-log4j.properties" \
                     -cp "$KAFKA_LIBS/*" org.apache.kafka.tools.ProducerPerformance --topic bench.votes \
                     --num-records "$n" --throughput -1 --payload-file "$records" \
                     --producer-props bootstrap.servers="$KAFKA_BROKERS" acks=all enable.idempotence=true \
                     linger.ms=2 compression.type=none 2>&1 && times) ) || { warn "ProducerPerformance failed: $out"; return 1; } ;;
        kcat)
            out=$( (kcat -P -q -b "$KAFKA_BROKERS" -t bench.votes -X acks=all -X enable.idempotence=true \
                     -X linger.ms=2 -X compression.codec=none -X queue.buffering.max.messages=500000 \
                     -l "$lines" 2>&1 && times) ) || { warn "kcat -P failed: $out"; return 1; } ;;
    esac
    end=$(date +%s.%N); t1=$(bench_edge_cpu_ticks - "$kafka_pid")
    echo "$out" >> "$STATE_DIR/bench/ingest.log"
    cpu=$(tail -n 1 <<<"$out" | awk '{ t = 0; for (i = 1; i <= 2; i++) { split($i, a, /[ms]/); t += a[1] * 60 + a[2] } printf "%.3f", t }')
    # ProducerPerformance's own figure leaves out its JVM's start; kcat's is the whole run
    local rate; rate=$(awk -F'[ ,]+' '/records sent, .* records\/sec/ { for (i = 1; i < NF; i++) if ($(i + 1) == "records/sec") r = $i } END { printf "%.0f", r }' <<<"$out")
    [ "$rate" != 0 ] || rate=$(awk -v n="$n" -v a="$start" -v b="$end" 'BEGIN { printf "%.0f", n / (b - a) }')
    local c; c=($(bench_edge_cpu_per_request "$t0" "$t1" "$n" "$cpu"))
    echo "$rate ${c[3]} ${c[2]} ${c[5]}"
}

bench_edge_stop() {
    trap - RETURN
    bench_edge_nginx -s quit 2>/dev/null
    bench_edge_shipped shipped-local -s quit 2>/dev/null
    bench_edge_shipped shipped-broker -s quit 2>/dev/null
    sleep 2
    "$KAFKA_TOPICS_CMD" delete bench.votes >/dev/null 2>&1
}

bench_edge() {
    step "bench edge: vote endpoint vs nginx's bare return (wrk -t1 -c$BENCH_CONNECTIONS, ${BENCH_SECONDS}s each)"
    require_free_port bench-nginx "$BENCH_EDGE_PORT" BENCH_EDGE_PORT
    require_free_port bench-shipped "$BENCH_SHIPPED_PORT" BENCH_SHIPPED_PORT
    require_free_port bench-shipped-local "$BENCH_SHIPPED_LOCAL_PORT" BENCH_SHIPPED_LOCAL_PORT
    require_free_port bench-nginx-tls "$BENCH_EDGE_TLS_PORT" BENCH_EDGE_TLS_PORT
    require_free_port bench-shipped-tls "$BENCH_SHIPPED_TLS_PORT" BENCH_SHIPPED_TLS_PORT
    require_free_port bench-shipped-local-tls "$BENCH_SHIPPED_LOCAL_TLS_PORT" BENCH_SHIPPED_LOCAL_TLS_PORT
    "$KAFKA_TOPICS_CMD" create bench.votes "$VOTE_PARTITIONS" || die "cannot create topic bench.votes"
    bench_edge_shipped_render shipped-local "$BENCH_SHIPPED_LOCAL_PORT" "$BENCH_SHIPPED_LOCAL_TLS_PORT" local \
        || die "cannot render the shipped config"
    bench_edge_shipped_render shipped-broker "$BENCH_SHIPPED_PORT" "$BENCH_SHIPPED_TLS_PORT" broker \
        || die "cannot render the shipped config"
    # The topic only holds bench traffic (millions of records a run): dropped at the end, so
    # that every run starts from an empty topic instead of gigabytes of earlier runs.
    trap bench_edge_stop RETURN
    # warn and return (not die): the RETURN trap then stops what did start
    local s
    bench_edge_nginx || { warn "bench nginx did not start (see $STATE_DIR/bench/nginx/error.log)"; return 1; }
    for s in shipped-local shipped-broker; do
        bench_edge_shipped "$s" || { warn "shipped-config nginx did not start (see $STATE_DIR/bench/$s/logs/edge.log)"; return 1; }
    done
    local body=$STATE_DIR/bench/vote.json
    printf '%s' '{"poll":"band-contest","choice":"quetzal-punk"}' > "$body"
    # warm-up: connections, metadata, the broker's JIT
    for s in local shipped-local shipped-broker; do wrk_post "$(bench_edge_url "$s")" "$body" 8 2 >/dev/null; done
    rm -f "$STATE_DIR/bench/ingest-lines.txt" "$STATE_DIR/bench/ingest.log"

    # Interleaved rounds (a b c d e a b c d e ...) and medians: drift on a shared machine hits
    # every subject alike. Rates count 2xx answers only (the shipped limit_req may answer 429).
    local r m kafka_pid t0 t1 load d0 ack_ms=""
    local -A rps=() p50=() p99=() non2xx=() cpu=() med=()
    kafka_pid=$(cat "$STATE_DIR/run/kafka.pid")
    for r in $(seq "$BENCH_ROUNDS"); do
        for s in $BENCH_EDGE_SUBJECTS; do
            t0=$(bench_edge_cpu_ticks "$(bench_edge_master_pid "$s")" "$kafka_pid")
            d0=$(bench_edge_delivery_latency)
            m=($(wrk_post "$(bench_edge_url "$s")" "$body")) || return 1
            t1=$(bench_edge_cpu_ticks "$(bench_edge_master_pid "$s")" "$kafka_pid")
            # acked mode: how much of each request's wait is produce -> delivery report
            [ "$s" != broker ] || ack_ms+=" $(awk -v a="$d0" -v b="$(bench_edge_delivery_latency)" 'BEGIN {
                split(a, x, " "); split(b, y, " "); n = y[2] - x[2]
                printf "%.3f", (n > 0 ? (y[1] - x[1]) / n * 1000 : 0) }')"
            rps[$s]+=" $(awk -v r="${m[0]}" -v n="${m[3]}" -v e="${m[5]}" 'BEGIN { printf "%.0f", (n > 0 ? r * (n - e) / n : 0) }')"
            p50[$s]+=" ${m[1]}"; p99[$s]+=" ${m[2]}"; non2xx[$s]=$(( ${non2xx[$s]:-0} + ${m[5]} ))
            cpu[$s]+="$(bench_edge_cpu_per_request "$t0" "$t1" "${m[3]}" "${m[4]}")"$'\n'
        done
        load=$(cut -d' ' -f1-3 /proc/loadavg)
        info "round $r: $(for s in $BENCH_EDGE_SUBJECTS; do printf '%s %s, ' "$s" "${rps[$s]##* }"; done)load $load"
    done
    for s in $BENCH_EDGE_SUBJECTS; do
        med[$s]="$(median ${rps[$s]}) $(median ${p50[$s]}) $(median ${p99[$s]})"
        cpu[$s]=$(bench_edge_cpu_medians "$(sed '/^$/d' <<<"${cpu[$s]}")")
    done
    info "medians (req/s): $(for s in $BENCH_EDGE_SUBJECTS; do printf '%s %s, ' "$s" "${med[$s]%% *}"; done)"

    # The broker's own limit for the same records: those the module just produced.
    local records=$STATE_DIR/bench/records.txt ing_perf ing_kcat
    kcat -C -q -b "$KAFKA_BROKERS" -t bench.votes -c 1000 -e -f '%s\n' > "$records" 2>/dev/null
    [ -s "$records" ] || { warn "could not read records back from bench.votes"; return 1; }
    ing_perf=($(bench_edge_ingest "$records" perf-test "$kafka_pid")) || return 1
    ing_kcat=($(bench_edge_ingest "$records" kcat "$kafka_pid")) || return 1
    info "broker ingest: ProducerPerformance ${ing_perf[0]} records/s, kcat -P ${ing_kcat[0]} records/s"

    # Rate against latency: paced wrk at fractions of each bench-config subject's maximum; the
    # half rate runs BENCH_SECONDS, the other points BENCH_CURVE_SECONDS. Acked mode with the
    # shipped config gets its half-rate point too.
    local curve=$STATE_DIR/bench/edge-curve.tsv f half rate secs
    local -A half=()
    printf 'subject\tfraction\tachieved\tp50_ms\tp99_ms\terrors\n' > "$curve"
    for f in $BENCH_CURVE_FRACTIONS; do
        for s in return local broker; do
            rate=$(awk -v r="${med[$s]%% *}" -v f="$f" 'BEGIN { printf "%d", r * f }')
            secs=$BENCH_CURVE_SECONDS; [ "$f" = 0.5 ] && secs=$BENCH_SECONDS
            m=($(wrk_paced "$(bench_edge_url "$s")" "$body" "$rate" "$secs")) || return 1
            printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$s" "$f" "${m[3]}" "${m[0]}" "${m[1]}" "${m[2]}" >> "$curve"
            [ "$f" = 0.5 ] && half[$s]="${m[*]}"
        done
    done
    rate=$(awk -v r="${med[shipped-broker]%% *}" 'BEGIN { printf "%d", r / 2 }')
    half[shipped-broker]=$(wrk_paced "$(bench_edge_url shipped-broker)" "$body" "$rate") || return 1
    info "p99 at half rate: $(for s in return local broker shipped-broker; do m=(${half[$s]}); printf '%s %s ms (%s req/s), ' "$s" "${m[1]}" "${m[3]}"; done)"

    # Worker RSS growth over BENCH_RSS_REQUESTS requests in each mode (bench config, one worker).
    local -A rss=()
    local mode rss0 rss1 done_req n out
    for mode in local broker; do
        rss0=$(bench_edge_worker_rss_kb); done_req=0
        secs=$(awk -v r="${med[$mode]%% *}" -v n="$BENCH_RSS_REQUESTS" 'BEGIN { s = int(n / r) + 1; print (s < 5 ? 5 : s) }')
        while [ "$done_req" -lt "$BENCH_RSS_REQUESTS" ]; do
            out=$(BODY_FILE=$body wrk -t1 -c"$BENCH_CONNECTIONS" -d"${secs}s" -s "$ROOT/stack/bench/edge/post.lua" "$(bench_edge_url "$mode")" 2>&1)
            n=$(awk '/requests in/ {print $1}' <<<"$out"); done_req=$((done_req + ${n:-0}))
            [ "${n:-0}" -gt 0 ] || { warn "wrk made no requests: $out"; return 1; }
            secs=5
        done
        sleep 2   # let the producer drain its queue before reading the RSS
        rss1=$(bench_edge_worker_rss_kb)
        rss[$mode]="$rss0 $rss1 $done_req $(awk -v a="$rss0" -v b="$rss1" 'BEGIN { printf "%.1f", (b - a) / 1024 }')"
        info "worker RSS, $mode: $((rss0 / 1024)) MB -> $((rss1 / 1024)) MB after $done_req requests"
    done

    local png_note=""
    if "$CACHE_DIR/venv/bin/python" "$ROOT/stack/bench/edge/plot_edge.py" "$curve" "$BENCH_EDGE_PNG" 2>>"$STATE_DIR/bench/plot.log"; then
        png_note="![rate against latency](bench-edge-latency.png)"
    else
        warn "no chart drawn (matplotlib missing? see $STATE_DIR/bench/plot.log)"
    fi

    local ret=${med[return]%% *} out_f=$STATE_DIR/bench/edge.md c
    {
        echo "## Edge: the module against nginx's bare \`return\`"
        echo
        bench_stamp "./build.sh bench edge"
        echo "Body \`$(cat "$body")\`, wrk -t1 -c$BENCH_CONNECTIONS keep-alive, ${BENCH_SECONDS}s per subject per round, $BENCH_ROUNDS interleaved rounds, medians; req/s count 2xx answers. Bench config: \`stack/bench/edge/edge-bench.conf\` (one worker, acks=all, linger.ms 2; queued mode's producer linger.ms 10). Shipped config: \`nginx-conf/\` rendered as for the stack's edge (\`worker_processes auto\`, access log, \`limit_req\`, TLS; wrk speaks HTTP/1.1 over TLS, one handshake per connection), on its own ports, producing to the bench topic, the rest of the stack running and idle; its plain listener only redirects, so it is measured over HTTPS and against \`return\` over HTTPS. Load average at the end of the rounds: $load (shared machine: figures are noisy)."
        echo
        echo "Rounds (req/s):$(for s in $BENCH_EDGE_SUBJECTS; do printf ' %s%s;' "$s" "${rps[$s]}"; done)"
        echo
        echo "| subject | req/s | ratio to \`return\` (same protocol) | target | p50 ms at max | p99 ms at max | p99 ms at half rate | non-2xx |"
        echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
        for s in $BENCH_EDGE_SUBJECTS; do
            m=(${med[$s]}); local h=(${half[$s]:-})
            echo "| $(bench_edge_label "$s") | ${m[0]} | $(ratio "${m[0]}" "${med[$(bench_edge_baseline "$s")]%% *}") | $(bench_edge_target "$s") | ${m[1]} | ${m[2]} | ${h[1]:-} | ${non2xx[$s]} |"
        done
        echo "| (g) broker ingest, Kafka's ProducerPerformance (same records, acks=all, no HTTP) | ${ing_perf[0]} records/s | $(ratio "${ing_perf[0]}" "$ret") | | | | | |"
        echo "| (h) broker ingest, \`kcat -P\` (librdkafka, same records, acks=all, no HTTP) | ${ing_kcat[0]} records/s | $(ratio "${ing_kcat[0]}" "$ret") | | | | | |"
        echo
        m=(${med[broker]}); echo "Acked mode, bench config: of each request's wait (p50 ${m[1]} ms at the maximum rate), produce to delivery report (librdkafka's linger and batching, the broker's handling and acknowledgement) took $(median $ack_ms) ms on average (rounds:$ack_ms; from the module's own histogram "'`vote_edge_delivery_latency_seconds`'")."
        echo
        echo "Targets at half rate: acked mode p99 < 5 ms (achieved rates: $(for s in return local broker shipped-broker; do m=(${half[$s]}); printf '%s %s, ' "$s" "${m[3]}"; done | sed 's/, $//') req/s; errors $(for s in return local broker shipped-broker; do m=(${half[$s]}); printf '%s %s, ' "$s" "${m[2]}"; done | sed 's/, $//'))."
        echo
        for mode in local broker; do
            m=(${rss[$mode]})
            echo "Worker RSS, $mode mode (bench config): $((m[0] / 1024)) MB before, $((m[1] / 1024)) MB after ${m[2]} requests: **+${m[3]} MB** (target < 5 MB)."
        done
        echo
        echo "CPU per request (us, medians over the rounds, from /proc tick counts; \"client\" is wrk or the ingest client, \"rest\" everything else on the machine including softirq time not charged to a process):"
        echo
        echo "| subject | nginx worker threads | librdkafka threads | Kafka broker | client | rest | whole machine |"
        echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"
        for s in $BENCH_EDGE_SUBJECTS; do
            c=(${cpu[$s]})
            echo "| $(bench_edge_label "$s") | ${c[0]} | ${c[1]} | ${c[2]} | ${c[3]} | ${c[4]} | ${c[5]} |"
        done
        echo "| (g) ProducerPerformance | | | ${ing_perf[2]} | ${ing_perf[1]} | | ${ing_perf[3]} |"
        echo "| (h) \`kcat -P\` | | | ${ing_kcat[2]} | ${ing_kcat[1]} | | ${ing_kcat[3]} |"
        echo
        echo "Latency against offered rate (paced wrk at $(echo "$BENCH_CURVE_FRACTIONS" | sed 's/ /, /g') of each subject's maximum, bench config; raw: \`\$STATE_DIR/bench/edge-curve.tsv\`):"
        echo
        echo "| subject | fraction | achieved req/s | p50 ms | p99 ms | errors |"
        echo "| --- | ---: | ---: | ---: | ---: | ---: |"
        tail -n +2 "$curve" | sort -k1,1 -k2,2g | awk -F'\t' '{ printf "| %s | %s | %s | %s | %s | %s |\n", $1, $2, $3, $4, $5, $6 }'
        [ -z "$png_note" ] || { echo; echo "$png_note"; }
    } > "$out_f"
    cat "$out_f"
    bench_write_section edge "$out_f"
    ok "docs/BENCHMARKS.md updated (section edge)"
}
