# shellcheck shell=bash disable=SC2034  # variables for the functions of cluster.sh
# cluster_run.sh: ./build.sh cluster-test: fault scenarios on the multi-host topology of cluster.sh.
#
# Each scenario runs a Locust load in broker mode through the load balancer, breaks one part of
# the cluster for CLUSTER_FAULT_S seconds, heals it, and ends with the zero-loss audit; the
# scenario's figures come from stack/cluster/report.py. The whole topology is torn down at the
# end, also after a failure or Ctrl-C.

CLUSTER_ALL_SCENARIOS="broker-kill edge-cut worker-cut broker-partition slow-links"

cluster_usage() {
    cat <<EOF
usage: ./build.sh cluster-test [--profile short|full] [SCENARIO...]
scenarios: $CLUSTER_ALL_SCENARIOS
  short: broker-kill edge-cut, 10 s faults (what ./build.sh test runs); full (default): all, 15 s
settings: CLUSTER_SUBNET=$CLUSTER_SUBNET CLUSTER_BROKERS=$CLUSTER_BROKERS CLUSTER_RF=$CLUSTER_RF
  CLUSTER_MIN_ISR=$CLUSTER_MIN_ISR CLUSTER_PARTITIONS=$CLUSTER_PARTITIONS CLUSTER_EDGES=$CLUSTER_EDGES
  CLUSTER_WORKERS=$CLUSTER_WORKERS CLUSTER_KAFKA_HEAP=$CLUSTER_KAFKA_HEAP; CLUSTER_USERS,
  CLUSTER_FAULT_S, CLUSTER_SLOW_RATE override the profile
EOF
}

clog() { printf '    %s %s\n' "$(date -u +%H:%M:%S)" "$*"; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

# The broker that leads most partitions of votes and chat (a leader is what the faults hit).
leading_broker() {
    cluster_metadata -t votes; cluster_metadata -t chat
} 2>/dev/null
pick_leader() {
    leading_broker | awk '/partition .* leader / { sub(/.* leader /, ""); sub(/,.*/, ""); n[$0]++ }
                          END { for (b in n) if (n[b] > max) { max = n[b]; best = b }; print best }'
}

sw() { ip -n "$(cluster_ns sw)" "$@"; }
cut_host() { sw link set "$1" nomaster; }          # the host's cable out of the switch: silence
plug_host() { sw link set "$1" master br0; }

# Starts fault $1; prints what it did. Sets FAULT_TARGET.
fault_start() {
    local b
    case $1 in
        broker-kill)
            b=$(pick_leader); [ -n "$b" ] || return 1; FAULT_TARGET=b$b
            kill -KILL "$(broker_pid "$b")" && clog "kill -9 broker $b (leader of the most partitions, pid $(broker_pid "$b"))" ;;
        broker-partition)
            b=$(pick_leader); [ -n "$b" ] || return 1; FAULT_TARGET=b$b
            cut_host "b$b" && clog "broker $b (leader of the most partitions) cut off from the other brokers and every client" ;;
        edge-cut)
            FAULT_TARGET=e1; cut_host e1 && clog "edge host e1 cut off the network" ;;
        worker-cut)
            FAULT_TARGET=w1; cut_host w1 && clog "worker host w1 cut off the network" ;;
        slow-links)
            FAULT_TARGET=edges
            local i
            for ((i = 1; i <= CLUSTER_EDGES; i++)); do
                ip netns exec "$(cluster_ns "e$i")" tc qdisc add dev eth0 root tbf rate "$CLUSTER_SLOW_RATE" burst 8kb latency 200ms \
                    && ip netns exec "$(cluster_ns sw)" tc qdisc add dev "e$i" root tbf rate "$CLUSTER_SLOW_RATE" burst 8kb latency 200ms \
                    || return 1
            done
            clog "edge links slowed to $CLUSTER_SLOW_RATE each way (tbf: queueing delay, drops past 200 ms)" ;;
    esac
}

fault_heal() {
    case $1 in
        broker-kill)
            start_broker "${FAULT_TARGET#b}" && clog "broker ${FAULT_TARGET#b} started again (pid $(broker_pid "${FAULT_TARGET#b}"))" ;;
        broker-partition|edge-cut|worker-cut)
            plug_host "$FAULT_TARGET" && clog "$FAULT_TARGET back on the network" ;;
        slow-links)
            local i
            for ((i = 1; i <= CLUSTER_EDGES; i++)); do
                ip netns exec "$(cluster_ns "e$i")" tc qdisc del dev eth0 root \
                    && ip netns exec "$(cluster_ns sw)" tc qdisc del dev "e$i" root || return 1
            done
            clog "edge links at full speed again" ;;
    esac
}

# Seconds after epoch $2 of the first "partition assigned" in sink log $1 after it ("-": none).
first_assignment() {
    local ts t
    while read -r ts; do
        t=$(date -d "$ts" +%s.%N) || continue
        awk -v t="$t" -v s="$2" 'BEGIN { exit !(t >= s) }' && { awk -v t="$t" -v s="$2" 'BEGIN { printf "%.1f", t - s }'; return; }
    done < <(awk '/partition assigned/ {print $1}' "$1")
    echo -
}

# Sum of the edges' vote 202 counters (their /metrics, loopback only: read inside each host).
edges_vote_202s() {
    local i n sum=0
    for ((i = 1; i <= CLUSTER_EDGES; i++)); do
        n=$(edge_vote_202s ip netns exec "$(cluster_ns "e$i")"); sum=$((sum + ${n:-0}))
    done
    echo "$sum"
}

cluster_load() {   # output directory, seconds
    local dir=$1
    mkdir -p "$dir"
    on_host cl env STATE_DIR="$CLUSTER_DIR/cl" LOAD_HOST="https://$(cluster_ip lb):$LB_PORT" \
        LOAD_DATASET="$CLUSTER_DIR/cl/dataset.json" KAFKA_BROKERS="$CLUSTER_KAFKA_BROKERS" \
        REDIS_HOST="$CLUSTER_STORES_IP" MONGO_URI="mongodb://$CLUSTER_STORES_IP:$MONGO_PORT/" \
        PG_CONNINFO="host=$CLUSTER_STORES_IP port=$PG_PORT dbname=vote user=vote" \
        "$ROOT/locust/run.sh" smoke --users "$CLUSTER_USERS" --duration "$2" --allow-unknown \
        --audit-timeout 180 --out "$dir" > "$dir/run.log" 2>&1
}

# Stops a load run that a failed scenario leaves behind (its processes run in the client host).
stop_load() {
    [ -n "${CLUSTER_LOAD_PID:-}" ] || return 0
    local p; for p in $(ip netns pids "$(cluster_ns cl)"); do kill -TERM "$p" 2>/dev/null; done
    wait "$CLUSTER_LOAD_PID" 2>/dev/null
    CLUSTER_LOAD_PID=
}

# One scenario: load, fault, heal, the load's end and audit, the figures. Returns 1 on FAIL.
cluster_scenario() {
    local name=$1 dir=$CLUSTER_DIR/runs/$1 t0 start tf th rejoin="" i logs=() rc
    local duration=$((5 + CLUSTER_FAULT_S + 25))
    step "Scenario $name: ${duration}s of load ($CLUSTER_USERS users), fault ${CLUSTER_FAULT_S}s, then the audit"
    rm -rf "$dir"
    t0=$(now)
    start=$(edges_vote_202s)
    cluster_load "$dir" "$duration" &
    CLUSTER_LOAD_PID=$!
    local deadline=$((SECONDS + 90))
    until [ "$(edges_vote_202s)" -gt $((start + 20)) ]; do
        kill -0 "$CLUSTER_LOAD_PID" 2>/dev/null && [ $SECONDS -lt $deadline ] \
            || { clog "no vote was answered 202 within 90 s of starting the load (log: $dir/run.log)"; stop_load; return 1; }
        sleep 0.5
    done
    clog "load is flowing through the load balancer"
    sleep 5
    tf=$(now)
    fault_start "$name" || { clog "the fault could not be injected"; stop_load; return 1; }
    sleep "$CLUSTER_FAULT_S"
    fault_heal "$name" || { clog "the fault could not be healed"; stop_load; return 1; }
    th=$(now)
    case $name in broker-*)
        if cluster_wait_healthy "$CLUSTER_BROKERS" 120; then
            rejoin=$(since "$th"); clog "every partition has its full ISR again ($rejoin s after the heal)"
        else
            clog "the partitions did not regain their full ISR within 120 s"
        fi ;;
    esac
    wait "$CLUSTER_LOAD_PID"; rc=$?
    CLUSTER_LOAD_PID=
    if [ "$name" = worker-cut ] && [ "$CLUSTER_WORKERS" -ge 2 ]; then
        clog "vote sink partitions: w2 took w1's $(first_assignment "$CLUSTER_DIR/w2/logs/vote-sink.log" "$tf") s after the cut, w1 took its share back $(first_assignment "$CLUSTER_DIR/w1/logs/vote-sink.log" "$th") s after the heal"
    fi
    grep -E '^(PASS|FAIL)' "$dir/run.log" | sed 's/^/    audit: /'
    [ $rc -le 1 ] || { tail -n 5 "$dir/run.log" | sed 's/^/    /'; }
    for ((i = 1; i <= CLUSTER_EDGES; i++)); do logs+=("$CLUSTER_DIR/e$i/logs/edge-access.log"); done
    "$CACHE_DIR/venv/bin/python" "$STACK_DIR/cluster/report.py" scenario --name "$name" --run "$dir" \
        --since "$t0" --fault-start "$tf" --heal "$th" ${rejoin:+--rejoin "$rejoin"} \
        --table "$CLUSTER_DIR/scenarios.jsonl" "${logs[@]}"
}

cmd_cluster_test() {
    local profile=full scenarios=() s failed=0
    while [ $# -gt 0 ]; do
        case $1 in
            --profile) profile=${2:-}; shift ;;
            -h|--help) cluster_usage; return 0 ;;
            *) case " $CLUSTER_ALL_SCENARIOS " in *" $1 "*) scenarios+=("$1") ;;
                   *) die "cluster-test: unknown scenario '$1' (scenarios: $CLUSTER_ALL_SCENARIOS)" ;; esac ;;
        esac
        shift
    done
    case $profile in
        short) : "${CLUSTER_FAULT_S:=10}" "${CLUSTER_USERS:=8}"
               [ ${#scenarios[@]} -gt 0 ] || scenarios=(broker-kill edge-cut) ;;
        full)  : "${CLUSTER_FAULT_S:=15}" "${CLUSTER_USERS:=12}"
               [ ${#scenarios[@]} -gt 0 ] || read -ra scenarios <<<"$CLUSTER_ALL_SCENARIOS" ;;
        *) die "cluster-test: --profile must be short or full, not '$profile'" ;;
    esac
    : "${CLUSTER_SLOW_RATE:=1mbit}"
    cluster_check_settings
    CLUSTER_RUN=$(head -c 3 /dev/urandom | od -An -tx1 | tr -d ' \n')
    trap cluster_teardown EXIT
    trap 'exit 130' INT TERM
    rm -rf "$CLUSTER_DIR"
    step "Cluster test ($profile): ${scenarios[*]}"
    local t0=$SECONDS
    cluster_up
    info "up in $((SECONDS - t0)) s"
    for s in "${scenarios[@]}"; do
        cluster_scenario "$s" || failed=$((failed + 1))
        cluster_wait_healthy "$CLUSTER_BROKERS" 120 || { clog "the cluster did not become healthy again"; failed=$((failed + 1)); break; }
    done
    step "Cluster test results ($CLUSTER_BROKERS brokers RF $CLUSTER_RF min.insync $CLUSTER_MIN_ISR, $CLUSTER_EDGES edges, $CLUSTER_WORKERS workers, $CLUSTER_PARTITIONS partitions; $((SECONDS - t0)) s)"
    "$CACHE_DIR/venv/bin/python" "$STACK_DIR/cluster/report.py" table "$CLUSTER_DIR/scenarios.jsonl" | sed 's/^/    /'
    [ "${PIPESTATUS[0]}" = 0 ] && [ $failed = 0 ] || { echo "FAIL: $failed scenario(s) failed (runs in $CLUSTER_DIR/runs)"; return 1; }
    echo "PASS: every scenario (0 lost, 0 double, no false 202)"
}
