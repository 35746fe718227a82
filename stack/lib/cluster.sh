# shellcheck shell=bash
# cluster.sh: the cluster test's topology: settings, hosts as network namespaces, the servers on them.
#
# Every "host" is a network namespace named vc-<run id>-<host> with one veth (eth0) plugged into
# a bridge in a switch namespace; addresses come from CLUSTER_SUBNET and exist only inside the
# run's namespaces. Hosts: lb (nginx stream), cl (Locust and the audit), st (Redis, PostgreSQL,
# FerretDB), b1.. (Kafka, KRaft broker + controller), e1.. (nginx + module, api daemon),
# w1.. (vote sink + chat sink). The scenarios are in cluster_run.sh.

: "${CLUSTER_SUBNET:=10.77.0.0/24}"
: "${CLUSTER_BROKERS:=3}"
: "${CLUSTER_RF:=3}"
: "${CLUSTER_MIN_ISR:=2}"
: "${CLUSTER_PARTITIONS:=6}"
: "${CLUSTER_EDGES:=2}"
: "${CLUSTER_WORKERS:=2}"
: "${CLUSTER_KAFKA_HEAP:=256m}"
CLUSTER_DIR=$STATE_DIR/cluster
LB_STREAM_MODULE=/usr/lib/nginx/modules/ngx_stream_module.so
LB_PORT=8443

# Fails at once, with one line, on settings that cannot work.
cluster_check_settings() {
    local v
    for v in CLUSTER_BROKERS CLUSTER_RF CLUSTER_MIN_ISR CLUSTER_PARTITIONS CLUSTER_EDGES CLUSTER_WORKERS; do
        [[ ${!v} =~ ^[0-9]+$ ]] && [ "${!v}" -ge 1 ] || die "cluster-test: $v must be a whole number of at least 1, not '${!v}'"
    done
    [ "$CLUSTER_BROKERS" -ge "$CLUSTER_RF" ] \
        || die "cluster-test: CLUSTER_BROKERS=$CLUSTER_BROKERS is fewer than the replication factor CLUSTER_RF=$CLUSTER_RF (each partition needs $CLUSTER_RF brokers)"
    [ "$CLUSTER_MIN_ISR" -le "$CLUSTER_RF" ] \
        || die "cluster-test: CLUSTER_MIN_ISR=$CLUSTER_MIN_ISR is above the replication factor CLUSTER_RF=$CLUSTER_RF (no write could ever be acknowledged)"
    [ "$CLUSTER_BROKERS" -le 19 ] && [ "$CLUSTER_EDGES" -le 19 ] && [ "$CLUSTER_WORKERS" -le 19 ] \
        || die "cluster-test: at most 19 brokers, edges and workers each (addresses per kind in CLUSTER_SUBNET)"
    [[ $CLUSTER_SUBNET =~ ^(10|172|192)\.([0-9]{1,3})\.([0-9]{1,3})\.0/24$ ]] \
        || die "cluster-test: CLUSTER_SUBNET must be a private /24 such as 10.77.0.0/24, not '$CLUSTER_SUBNET'"
    CLUSTER_NET=${CLUSTER_SUBNET%.0/24}
    local used; used=$(cluster_subnet_user) \
        && die "cluster-test: CLUSTER_SUBNET $CLUSTER_SUBNET is in use ($used); set CLUSTER_SUBNET to a free /24"
    [ "$(id -u)" = 0 ] || die "cluster-test: needs root (it creates network namespaces)"
    command -v ip >/dev/null && command -v tc >/dev/null || die "cluster-test: ip and tc (iproute2) are missing: run ./build.sh setup"
    [ -f "$LB_STREAM_MODULE" ] || die "cluster-test: nginx's stream module is missing ($LB_STREAM_MODULE): run ./build.sh setup"
    [ -f "$KAFKA_LIBS/.complete" ] && [ -x "$FERRETDB_BIN" ] && [ -x "$BUILD_DIR/bin/vote-sink" ] \
        || die "cluster-test: the stack is not set up and built: run ./build.sh setup && ./build.sh build"
}

# Prints where an address or route of CLUSTER_SUBNET already exists (this machine, or any
# network namespace on it, such as one a killed run left behind); fails when there is none.
cluster_subnet_user() {
    local ns hit
    hit=$( { ip -o -4 addr show; ip -4 route show; } 2>/dev/null | grep -F " $CLUSTER_NET." | head -n 1)
    [ -n "$hit" ] && { echo "on this host: $(awk '{print $2, $4}' <<<"$hit")"; return 0; }
    for ns in $(ip netns list 2>/dev/null | awk '{print $1}'); do
        hit=$(ip -n "$ns" -o -4 addr show 2>/dev/null | grep -F " $CLUSTER_NET." | head -n 1)
        [ -n "$hit" ] && { echo "$(awk '{print $4}' <<<"$hit") in network namespace $ns; 'ip netns del $ns' removes it"; return 0; }
    done
    return 1
}

# ---- hosts -----------------------------------------------------------------------------------
cluster_hosts() {
    local i
    echo lb cl st
    for ((i = 1; i <= CLUSTER_BROKERS; i++)); do echo "b$i"; done
    for ((i = 1; i <= CLUSTER_EDGES; i++)); do echo "e$i"; done
    for ((i = 1; i <= CLUSTER_WORKERS; i++)); do echo "w$i"; done
}
cluster_ns() { echo "vc-$CLUSTER_RUN-$1"; }
cluster_ip() {
    case $1 in
        lb) echo "$CLUSTER_NET.2" ;; cl) echo "$CLUSTER_NET.3" ;; st) echo "$CLUSTER_NET.4" ;;
        b*) echo "$CLUSTER_NET.$((10 + ${1#b}))" ;;
        e*) echo "$CLUSTER_NET.$((30 + ${1#e}))" ;;
        w*) echo "$CLUSTER_NET.$((50 + ${1#w}))" ;;
    esac
}
cluster_brokers_list() {
    local i sep="" out=""
    for ((i = 1; i <= CLUSTER_BROKERS; i++)); do out+="$sep$(cluster_ip "b$i"):9092"; sep=,; done
    echo "$out"
}

# Runs a command on host $1 (in its namespace) with that host's state directory.
on_host() {
    local h=$1; shift
    ip netns exec "$(cluster_ns "$h")" env STATE_DIR="$CLUSTER_DIR/$h" "$@"
}
# Runs a function of the stack's scripts on host $1 (stack/cluster/host.sh).
host_step() { local h=$1; shift; on_host "$h" "$STACK_DIR/cluster/host.sh" "$@"; }

cluster_net_up() {
    local sw h ns
    sw=$(cluster_ns sw)
    ip netns add "$sw" && ip -n "$sw" link set lo up && ip -n "$sw" link add br0 type bridge \
        && ip -n "$sw" link set br0 up || die "cluster-test: cannot create the switch namespace $sw"
    for h in $(cluster_hosts); do
        ns=$(cluster_ns "$h")
        ip netns add "$ns" && ip -n "$ns" link set lo up \
            && ip -n "$ns" link add eth0 type veth peer name "$h" netns "$sw" \
            && ip -n "$ns" addr add "$(cluster_ip "$h")/24" dev eth0 && ip -n "$ns" link set eth0 up \
            && ip -n "$sw" link set "$h" master br0 up || die "cluster-test: cannot create host $h ($ns)"
    done
    ok "$(cluster_hosts | wc -l) hosts on $CLUSTER_SUBNET (namespaces $(cluster_ns '*'))"
}

# Stops every process in the run's namespaces (TERM, then KILL after 10 s) and removes them.
cluster_teardown() {
    local spaces ns pids deadline
    [ -n "${CLUSTER_RUN:-}" ] || return 0
    spaces=$(ip netns list 2>/dev/null | awk -v p="vc-$CLUSTER_RUN-" 'index($1, p) == 1 {print $1}')
    [ -n "$spaces" ] || return 0
    [ -n "${CLUSTER_LOAD_PID:-}" ] && kill -TERM "$CLUSTER_LOAD_PID" 2>/dev/null
    pids=$(for ns in $spaces; do ip netns pids "$ns"; done)
    [ -n "$pids" ] && kill -TERM $pids 2>/dev/null
    deadline=$((SECONDS + 10))
    while [ $SECONDS -lt $deadline ]; do
        pids=$(for ns in $spaces; do ip netns pids "$ns"; done)
        [ -z "$pids" ] && break
        sleep 0.5
    done
    [ -n "$pids" ] && kill -KILL $pids 2>/dev/null
    for ns in $spaces; do ip netns del "$ns" 2>/dev/null; done
    local outside; outside=$(STATE_DIR=$CLUSTER_DIR/st pg_outside_dir) && rm -rf "$outside"
    echo "    cluster torn down: namespaces $(cluster_ns '*') and their processes"
}

# ---- servers ---------------------------------------------------------------------------------
# Kafka's cluster id: 16 random bytes in URL-safe base64; one starting with '-' would read as an
# option to kafka-storage.
cluster_kafka_id() {
    local id=-
    while [ "${id:0:1}" = - ]; do id=$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '='); done
    echo "$id"
}
cluster_kafka_env() {
    local i voters="" sep=""
    for ((i = 1; i <= CLUSTER_BROKERS; i++)); do voters+="$sep$i@$(cluster_ip "b$i"):9093"; sep=,; done
    export KAFKA_QUORUM_VOTERS=$voters KAFKA_REPLICATION=$CLUSTER_RF KAFKA_MIN_ISR=$CLUSTER_MIN_ISR \
           KAFKA_PROPERTIES_TEMPLATE=$STACK_DIR/cluster/kafka.properties.template \
           KAFKA_HEAP=$CLUSTER_KAFKA_HEAP VOTE_PARTITIONS=$CLUSTER_PARTITIONS \
           KAFKA_CLUSTER_ID=${KAFKA_CLUSTER_ID:-$(cluster_kafka_id)}
}
start_broker() {   # broker number
    on_host "b$1" env KAFKA_NODE_ID="$1" KAFKA_HOST_IP="$(cluster_ip "b$1")" \
        "$STACK_DIR/cluster/host.sh" start_kafka
}
broker_pid() { tr -dc 0-9 < "$CLUSTER_DIR/b$1/run/kafka.pid" 2>/dev/null; }

# kcat's metadata of the cluster, as seen from the client host.
# shellcheck disable=SC2120 # cluster_run.sh passes kcat options, this file none
cluster_metadata() { on_host cl kcat -b "$CLUSTER_KAFKA_BROKERS" -L -m 3 "$@" 2>/dev/null; }

# Waits until broker count $1 is listed in the metadata and every partition has its full ISR,
# as every broker sees it: a broker that was cut off serves its stale view until it caught up.
cluster_wait_healthy() {
    local want=$1 limit=${2:-180} deadline i md views first
    deadline=$((SECONDS + limit))
    while [ $SECONDS -lt $deadline ]; do
        views=0 first=""
        for ((i = 1; i <= CLUSTER_BROKERS; i++)); do
            md=$(on_host cl kcat -b "$(cluster_ip "b$i"):9092" -L -m 3 2>/dev/null) || break
            [ "$(grep -c '^  broker [0-9]* at' <<<"$md")" -ge "$want" ] && grep -q 'partition' <<<"$md" || break
            awk '/partition .*replicas:/ { r = $0; sub(/.*replicas: /, "", r); sub(/, isrs:.*/, "", r)
                                          i = $0; sub(/.*isrs: /, "", i); sub(/[^0-9,].*$/, "", i)
                                          if (split(r, a, ",") != split(i, b, ",")) bad = 1 }
                 END { exit bad }' <<<"$md" || break
            md=$(grep -E '^  topic|partition' <<<"$md" | sort)
            [ -z "$first" ] && first=$md
            [ "$md" = "$first" ] || break
            views=$((views + 1))
        done
        [ "$views" = "$CLUSTER_BROKERS" ] && return 0
        sleep 1
    done
    return 1
}

# Brokers (all at once: the controller quorum needs a majority), topics, stores, workers,
# edges, load balancer.
cluster_up() {
    local i h
    mkdir -p "$CLUSTER_DIR"
    cluster_net_up
    CLUSTER_KAFKA_BROKERS=$(cluster_brokers_list)
    CLUSTER_STORES_IP=$(cluster_ip st)
    export CLUSTER_KAFKA_BROKERS CLUSTER_STORES_IP
    cluster_kafka_env

    step "Kafka: $CLUSTER_BROKERS brokers (KRaft, heap $CLUSTER_KAFKA_HEAP), RF $CLUSTER_RF, min.insync.replicas $CLUSTER_MIN_ISR"
    for ((i = 1; i <= CLUSTER_BROKERS; i++)); do start_broker "$i" || die "cluster-test: broker $i failed to start"; done
    local deadline=$((SECONDS + READY_TIMEOUT * 2))
    until [ "$(cluster_metadata | grep -c '^  broker [0-9]* at')" -ge "$CLUSTER_BROKERS" ]; do
        for ((i = 1; i <= CLUSTER_BROKERS; i++)); do
            kill -0 "$(broker_pid "$i")" 2>/dev/null || die "cluster-test: broker $i exited while starting (log: $CLUSTER_DIR/b$i/logs/kafka.log)"
        done
        [ $SECONDS -lt $deadline ] || die "cluster-test: the brokers did not form a cluster within $((READY_TIMEOUT * 2))s (logs: $CLUSTER_DIR/b*/logs/kafka.log)"
        sleep 1
    done
    host_step cl create_topics || die "cluster-test: creating the topics failed"
    cluster_wait_healthy "$CLUSTER_BROKERS" 60 || die "cluster-test: the topics' replicas did not come in sync"
    ok "brokers $CLUSTER_KAFKA_BROKERS; votes and chat with $CLUSTER_PARTITIONS partitions"

    step "Stores on $(cluster_ip st)"
    for h in redis postgres mongo; do
        on_host st env STORE_BIND=0.0.0.0 PG_TRUST_NET="$CLUSTER_SUBNET" "$STACK_DIR/cluster/host.sh" start_service "$h" \
            || die "cluster-test: $h failed to start on the stores host (logs: $CLUSTER_DIR/st/logs)"
    done
    host_step st apply_schema || die "cluster-test: applying the schema failed"

    step "Workers: vote sink + chat sink on $CLUSTER_WORKERS hosts (one consumer group each)"
    for ((i = 1; i <= CLUSTER_WORKERS; i++)); do
        for h in vote-sink chat-sink; do
            host_step "w$i" start_service "$h" || die "cluster-test: $h failed on w$i (logs: $CLUSTER_DIR/w$i/logs)"
        done
    done

    step "Edges: nginx + ngx_vote_module (broker mode) and the api daemon on $CLUSTER_EDGES hosts"
    export EDGE_TLS_CERT=$CLUSTER_DIR/tls/edge.crt EDGE_TLS_KEY=$CLUSTER_DIR/tls/edge.key EDGE_CA_FILE=$CLUSTER_DIR/tls/ca.crt
    EDGE_TLS_SAN="DNS:localhost,IP:127.0.0.1,IP:$(cluster_ip lb)" STATE_DIR=$CLUSTER_DIR "$STACK_DIR/cluster/host.sh" edge_tls_files \
        || die "cluster-test: cannot issue the edges' certificate"
    STATE_DIR=$CLUSTER_DIR "$STACK_DIR/cluster/host.sh" jwt_secrets >/dev/null
    for ((i = 1; i <= CLUSTER_EDGES; i++)); do
        mkdir -p "$CLUSTER_DIR/e$i"; cp "$CLUSTER_DIR/jwt-secrets" "$CLUSTER_DIR/e$i/jwt-secrets"
        host_step "e$i" start_service api || die "cluster-test: the api daemon failed on e$i"
        host_step "e$i" start_cluster_edge || die "cluster-test: the edge failed on e$i (log: $CLUSTER_DIR/e$i/logs/edge.log)"
    done

    step "Load balancer: nginx stream on $(cluster_ip lb):$LB_PORT"
    cluster_start_lb || die "cluster-test: the load balancer failed to start (log: $CLUSTER_DIR/lb/logs/lb.log)"
    ok "https://$(cluster_ip lb):$LB_PORT -> edges $(for ((i = 1; i <= CLUSTER_EDGES; i++)); do printf '%s ' "$(cluster_ip "e$i")"; done)"
}

cluster_start_lb() {
    local dir=$CLUSTER_DIR/lb i ups=""
    mkdir -p "$dir/run" "$dir/logs"
    for ((i = 1; i <= CLUSTER_EDGES; i++)); do
        ups+="        server $(cluster_ip "e$i"):$EDGE_TLS_PORT max_fails=1 fail_timeout=5s;"$'\n'
    done
    LB_UPSTREAMS=$ups LB_DIR=$dir LB_IP=$(cluster_ip lb) LB_PORT=$LB_PORT LB_STREAM_MODULE=$LB_STREAM_MODULE \
        envsubst '${LB_UPSTREAMS} ${LB_DIR} ${LB_IP} ${LB_PORT} ${LB_STREAM_MODULE}' \
        < "$STACK_DIR/cluster/lb.conf.template" > "$dir/lb.conf" || return 1
    on_host lb nginx -p "$dir" -c "$dir/lb.conf" -e "$dir/logs/lb.log" || return 1
    local deadline=$((SECONDS + 20))
    until on_host cl curl -fsS -o /dev/null --max-time 2 --cacert "$EDGE_CA_FILE" "https://$(cluster_ip lb):$LB_PORT/healthz"; do
        [ $SECONDS -lt $deadline ] || return 1
        sleep 0.5
    done
}
