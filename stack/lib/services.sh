# shellcheck shell=bash
# services.sh: start, stop, readiness and status of each service of the local stack.
#
# Every service has start_<name>, ready_<name> and stop_<name>; state lives under $STATE_DIR
# (data, logs/<name>.log, run/<name>.pid). Order matters: stores and Kafka first, then the
# daemons that use them, then the edge.

SERVICES="kafka redis postgres mongo vote-sink chat-sink order-sink api edge"

service_port() {
    case $1 in
        kafka) echo "$KAFKA_PORT";; redis) echo "$REDIS_PORT";; postgres) echo "$PG_PORT";;
        mongo) echo "$MONGO_PORT";; edge) echo "$EDGE_PORT";; api) echo "$API_PORT";;
        vote-sink) echo "$VOTE_SINK_METRICS_PORT";; chat-sink) echo "$CHAT_SINK_METRICS_PORT";;
        order-sink) echo "$ORDER_SINK_METRICS_PORT";;
    esac
}
service_port_var() {
    case $1 in
        kafka) echo KAFKA_PORT;; redis) echo REDIS_PORT;; postgres) echo PG_PORT;; mongo) echo MONGO_PORT;;
        edge) echo EDGE_PORT;; api) echo API_PORT;; vote-sink) echo VOTE_SINK_METRICS_PORT;;
        chat-sink) echo CHAT_SINK_METRICS_PORT;; order-sink) echo ORDER_SINK_METRICS_PORT;;
    esac
}

# ---- Kafka (KRaft, one JVM) ----------------------------------------------------------------
kafka_java() { java -Xmx128m -Dlog4j2.configurationFile="$STACK_DIR/kafka/tools-log4j2.properties" -cp "$KAFKA_LIBS/*" "$@"; }

start_kafka() {
    [ -f "$KAFKA_LIBS/.complete" ] || die "Kafka jars missing: run ./build.sh setup"
    # The cluster test renders its own template (node id, quorum, replication) and gives every
    # broker the same cluster id.
    render "${KAFKA_PROPERTIES_TEMPLATE:-$STACK_DIR/kafka/server.properties.template}" "$STATE_DIR/kafka/server.properties"
    if [ ! -f "$STATE_DIR/kafka/data/meta.properties" ]; then
        mkdir -p "$STATE_DIR/kafka/data"
        local cluster_id=${KAFKA_CLUSTER_ID:-}
        [ -n "$cluster_id" ] || cluster_id=$(kafka_java kafka.tools.StorageTool random-uuid) || die "kafka: random-uuid failed"
        kafka_java kafka.tools.StorageTool format -t "$cluster_id" -c "$STATE_DIR/kafka/server.properties" \
            >> "$LOG_DIR/kafka.log" 2>&1 || die "kafka: formatting the log directory failed (see $LOG_DIR/kafka.log)"
    fi
    # shellcheck disable=SC2086 # KAFKA_GC_OPTS is a list of JVM flags
    spawn kafka java "-Xms$KAFKA_HEAP" "-Xmx$KAFKA_HEAP" $KAFKA_GC_OPTS \
        -Djava.awt.headless=true -Dlog4j2.configurationFile="$STACK_DIR/kafka/log4j2.properties" \
        -cp "$KAFKA_LIBS/*" kafka.Kafka "$STATE_DIR/kafka/server.properties"
}
ready_kafka() { kcat -b "$KAFKA_BROKERS" -L -m 2 -q 2>/dev/null | grep -q 'broker 1 at'; }
stop_kafka() { stop_pid kafka 60; }

create_topics() {
    local existing tp t; existing=$("$KAFKA_TOPICS_CMD" list 2>/dev/null)
    for tp in $KAFKA_TOPICS; do
        t=${tp%%:*}
        grep -qx "$t" <<<"$existing" || "$KAFKA_TOPICS_CMD" create "$t" "${tp#*:}" || die "cannot create topic $t"
    done
}
# "votes (2 partitions) chat (2 partitions) votes.dlq ...": KAFKA_TOPICS for people
topics_summary() {
    local tp out=""
    for tp in $KAFKA_TOPICS; do
        [ "${tp#*:}" = 1 ] && out="$out ${tp%%:*}" || out="$out ${tp%%:*} (${tp#*:} partitions)"
    done
    echo "${out# }"
}

# ---- Redis ---------------------------------------------------------------------------------
start_redis() {
    mkdir -p "$STATE_DIR/redis"
    render "$STACK_DIR/redis.conf.template" "$STATE_DIR/redis/redis.conf"
    redis-server "$STATE_DIR/redis/redis.conf" || die "redis-server failed to start (see $LOG_DIR/redis.log)"
}
ready_redis() { [ "$(redis-cli -p "$REDIS_PORT" ping 2>/dev/null)" = PONG ]; }
stop_redis() { stop_pid redis 20; }

# ---- PostgreSQL ----------------------------------------------------------------------------
# As root the server runs as "postgres", which must reach its data and socket directories.
# When it cannot enter $STATE_DIR (a checkout under a 0700 directory, such as root's home),
# they live under postgres' home, one directory per state directory, and $STATE_DIR/postgres
# is a symlink to the data directory, which also records the choice for later runs.
# Sets PG_DATA and PG_SOCKET.
pg_dirs() {
    local link=$STATE_DIR/postgres home base
    if [ -L "$link" ]; then
        PG_DATA=$(readlink "$link"); PG_SOCKET=$(dirname "$PG_DATA")/socket; return
    fi
    PG_DATA=$link; PG_SOCKET=$STATE_DIR/postgres-socket
    [ "$(id -u)" = 0 ] || return 0
    mkdir -p "$STATE_DIR"
    runuser -u postgres -- test -x "$STATE_DIR" && return 0
    [ -f "$link/PG_VERSION" ] && die "PostgreSQL's data in $link is out of reach of the postgres user: make every parent directory of $STATE_DIR enterable by it (chmod o+x) or run ./build.sh clean"
    home=$(getent passwd postgres | cut -d: -f6)
    base=$home/vote-stack/$(printf '%s' "$STATE_DIR" | sha256sum | cut -c1-16)
    (cd / && runuser -u postgres -- mkdir -p "$base/data" "$base/socket") 2>/dev/null \
        || die "the postgres user cannot enter $STATE_DIR nor create $base: set STATE_DIR to a directory it can enter (e.g. STATE_DIR=/var/tmp/vote-state)"
    rm -rf "$link"; ln -s "$base/data" "$link"
    PG_DATA=$base/data; PG_SOCKET=$base/socket
}

# The directory pg_dirs made under postgres' home, if any (removed by ./build.sh clean).
pg_outside_dir() {
    local target
    target=$(readlink "$STATE_DIR/postgres" 2>/dev/null) || return 1
    case "$target" in */vote-stack/*/data) dirname "$target" ;; *) return 1 ;; esac
}

# The server's output goes to a log file opened here, not by the server: postgres may not be
# able to open a file under $STATE_DIR.
start_postgres() {
    [ -n "$PG_BIN" ] || die "PostgreSQL server binaries not found: run ./build.sh setup"
    pg_dirs
    if [ ! -f "$PG_DATA/PG_VERSION" ]; then
        mkdir -p "$PG_DATA"; [ "$(id -u)" = 0 ] && chown postgres: "$PG_DATA"
        as_pg "$PG_BIN/initdb" -D "$PG_DATA" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 \
            >> "$LOG_DIR/postgres.log" 2>&1 || die "initdb failed (see $LOG_DIR/postgres.log)"
    fi
    # PG_TRUST_NET: a network (CIDR) whose clients are trusted as on loopback (the cluster test's).
    if [ -n "${PG_TRUST_NET:-}" ] && ! as_pg grep -q "^host all all $PG_TRUST_NET trust" "$PG_DATA/pg_hba.conf"; then
        echo "host all all $PG_TRUST_NET trust" | as_pg tee -a "$PG_DATA/pg_hba.conf" >/dev/null \
            || die "cannot add $PG_TRUST_NET to $PG_DATA/pg_hba.conf"
    fi
    mkdir -p "$PG_SOCKET"; [ "$(id -u)" = 0 ] && chown postgres: "$PG_SOCKET"
    as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" -w -t "$READY_TIMEOUT" \
        -o "-p $PG_PORT -c listen_addresses=$STORE_BIND -k $PG_SOCKET -c max_connections=200 -c synchronous_commit=on -c fsync=on" \
        start >> "$LOG_DIR/postgres.log" 2>&1 || die "PostgreSQL failed to start (see $LOG_DIR/postgres.log)"
    head -n 1 "$PG_DATA/postmaster.pid" > "$(pidfile postgres)"
}
ready_postgres() { pg_isready -q -h 127.0.0.1 -p "$PG_PORT"; }
stop_postgres() {
    live_pid postgres >/dev/null || return 0
    pg_dirs
    as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" -m fast -w -t 30 stop >/dev/null 2>&1 || stop_pid postgres 30
    rm -f "$(pidfile postgres)"
}
psql_admin() { psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PG_PORT" -U postgres "$@"; }

apply_schema() {
    psql_admin -d postgres -tAc "SELECT 1 FROM pg_roles WHERE rolname='vote'" | grep -q 1 \
        || psql_admin -d postgres -c "CREATE ROLE vote LOGIN" || die "cannot create role vote"
    psql_admin -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname='vote'" | grep -q 1 \
        || psql_admin -d postgres -c "CREATE DATABASE vote OWNER vote" || die "cannot create database vote"
    PGOPTIONS="-c client_min_messages=warning" psql -X -q -v ON_ERROR_STOP=1 "$PG_CONNINFO" -f "$STACK_DIR/schema.sql" >/dev/null \
        || die "applying stack/schema.sql failed"
}

# ---- MongoDB-wire (FerretDB) ---------------------------------------------------------------
start_mongo() {
    [ -x "$FERRETDB_BIN" ] || die "FerretDB missing: run ./build.sh setup"
    spawn mongo "$FERRETDB_BIN" --listen-addr "$STORE_BIND:$MONGO_PORT" --sqlite-dir "$STATE_DIR/mongo"
}
ready_mongo() { "$BUILD_DIR/bin/mongo-ping" "$MONGO_URI" >/dev/null 2>&1; }
stop_mongo() { stop_pid mongo 20; }

# ---- our daemons ---------------------------------------------------------------------------
jwt_secrets() {
    local f=$STATE_DIR/jwt-secrets
    if [ ! -s "$f" ]; then
        umask 077
        printf 'k1 %s\n' "$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')" > "$f"
        [ "$(id -u)" = 0 ] && chmod 644 "$f"   # nginx workers run as nobody and must read it
    fi
    echo "$f"
}

start_vote-sink() {
    [ -x "$BUILD_DIR/bin/vote-sink" ] || die "vote-sink is not built: run ./build.sh build"
    spawn vote-sink "$BUILD_DIR/bin/vote-sink" --brokers "$KAFKA_BROKERS" \
        --redis-port "$REDIS_PORT" --mongo-uri "$MONGO_URI" --catalog "$POLL_CATALOG" \
        --metrics-port "$VOTE_SINK_METRICS_PORT"
}
start_chat-sink() {
    [ -x "$BUILD_DIR/bin/chat-sink" ] || die "chat-sink is not built: run ./build.sh build"
    spawn chat-sink "$BUILD_DIR/bin/chat-sink" --brokers "$KAFKA_BROKERS" \
        --redis-port "$REDIS_PORT" --pg "$PG_CONNINFO" --metrics-port "$CHAT_SINK_METRICS_PORT"
}
start_order-sink() {
    [ -x "$BUILD_DIR/bin/order-sink" ] || die "order-sink is not built: run ./build.sh build"
    spawn order-sink "$BUILD_DIR/bin/order-sink" --brokers "$KAFKA_BROKERS" \
        --redis-port "$REDIS_PORT" --pg "$PG_CONNINFO" --metrics-port "$ORDER_SINK_METRICS_PORT"
}
start_api() {
    [ -x "$BUILD_DIR/bin/vote-api" ] || die "vote-api is not built: run ./build.sh build"
    spawn api "$BUILD_DIR/bin/vote-api" --port "$API_PORT" --brokers "$KAFKA_BROKERS" \
        --redis-port "$REDIS_PORT" --pg "$PG_CONNINFO" --jwt-secrets "$(jwt_secrets)" --catalog "$POLL_CATALOG"
}
http_ok() { curl -fsS -o /dev/null --max-time 2 "$1"; }
ready_vote-sink() { http_ok "http://127.0.0.1:$VOTE_SINK_METRICS_PORT/metrics"; }
ready_chat-sink() { http_ok "http://127.0.0.1:$CHAT_SINK_METRICS_PORT/metrics"; }
ready_order-sink() { http_ok "http://127.0.0.1:$ORDER_SINK_METRICS_PORT/metrics"; }
ready_api() { http_ok "http://127.0.0.1:$API_PORT/healthz"; }
stop_vote-sink() { stop_pid vote-sink 30; }
stop_chat-sink() { stop_pid chat-sink 30; }
stop_order-sink() { stop_pid order-sink 30; }
stop_api() { stop_pid api 20; }

# ---- the edge (nginx + ngx_vote_module) -----------------------------------------------------
render_edge_conf() { render_edge_conf_files "$(jwt_secrets)"; }

# Renders nginx-conf/ into $STATE_DIR/nginx/conf with JWT secrets file $1.
render_edge_conf_files() {
    local dir=$STATE_DIR/nginx f
    mkdir -p "$dir/logs" "$dir/conf" "$dir/temp"
    export JWT_SECRETS_FILE=$1
    export VOTE_MODULE_SO=$BUILD_DIR/modules/ngx_http_vote_module.so WEB_ROOT=$ROOT/web
    # Only our variables are substituted: nginx's own $variables stay as they are.
    local vars='${EDGE_PORT} ${EDGE_TLS_PORT} ${EDGE_TLS_CERT} ${EDGE_TLS_KEY} ${API_PORT} ${KAFKA_BROKERS} ${POLL_CATALOG} ${JWT_SECRETS_FILE} ${VOTE_MODULE_SO} ${STATE_DIR} ${WEB_ROOT}'
    for f in "$ROOT"/nginx-conf/*.conf; do
        envsubst "$vars" < "$f" > "$dir/conf/$(basename "$f")"
    done
}
# Started as root, nginx runs its workers as "nobody", and they read web/ and write the results
# cache under $STATE_DIR. When nobody cannot reach those (a checkout under a 0700 directory,
# such as root's home), the workers run as root instead.
edge_user_args() {
    [ "$(id -u)" = 0 ] || return 0
    mkdir -p "$STATE_DIR/nginx"
    runuser -u nobody -- test -r "$ROOT/web/index.html" -a -x "$STATE_DIR/nginx" 2>/dev/null && return 0
    printf '%s\n' -g 'user root;'
}
nginx_cmd() {
    local user_args; mapfile -t user_args < <(edge_user_args)
    nginx -p "$STATE_DIR/nginx" -c "$STATE_DIR/nginx/conf/nginx.conf" -e "$LOG_DIR/edge.log" "${user_args[@]}" "$@"
}
# The shipped config rendered for a second edge next to the stack's (benchmarks): into $1/nginx/conf
# with plain port $2 and TLS port $3, its pid, logs and cache under $1, the stack's certificate and
# JWT secrets. Run it with: nginx -p $1/nginx -c $1/nginx/conf/nginx.conf -e $1/logs/edge.log
render_edge_conf_at() {
    local secrets; secrets=$(jwt_secrets)
    ( export STATE_DIR=$1 EDGE_PORT=$2 EDGE_TLS_PORT=$3
      mkdir -p "$1/run" "$1/logs"
      render_edge_conf_files "$secrets" )
}
start_edge() {
    [ -f "$BUILD_DIR/modules/ngx_http_vote_module.so" ] || die "ngx_vote_module is not built: run ./build.sh build"
    require_free_port edge-tls "$EDGE_TLS_PORT" EDGE_TLS_PORT
    edge_tls_files
    render_edge_conf
    nginx_cmd -t -q 2>>"$LOG_DIR/edge.log" || { tail -5 "$LOG_DIR/edge.log" >&2; die "nginx -t failed for the edge config"; }
    nginx_cmd || die "nginx failed to start (see $LOG_DIR/edge.log)"
}
ready_edge() {
    http_ok "http://127.0.0.1:$EDGE_PORT/healthz" \
        && curl -fsS -o /dev/null --max-time 2 --cacert "$EDGE_CA_FILE" "$EDGE_URL/healthz"
}
stop_edge() {
    live_pid edge >/dev/null || return 0
    nginx_cmd -s quit 2>/dev/null   # graceful: the module flushes its Kafka queue on exit
    stop_pid edge 30
}

# ---- orchestration -------------------------------------------------------------------------
STARTED_NOW=""

# What each of our own services runs from: when one of these files is newer than the running
# process (a rebuild, an edited nginx-conf/ or poll catalog), `up` and `test` restart it, so that
# they never test or serve yesterday's binary. The stores and Kafka are not ours: never restarted.
service_inputs() {
    case $1 in
        vote-sink) echo "$BUILD_DIR/bin/vote-sink" "$POLL_CATALOG" ;;
        chat-sink) echo "$BUILD_DIR/bin/chat-sink" ;;
        order-sink) echo "$BUILD_DIR/bin/order-sink" ;;
        api)       echo "$BUILD_DIR/bin/vote-api" "$POLL_CATALOG" ;;
        edge)      echo "$BUILD_DIR/modules/ngx_http_vote_module.so" "$ROOT"/nginx-conf/*.conf "$POLL_CATALOG" \
                        "$EDGE_TLS_CERT" ;;
    esac
}

# Prints the first input of service $1 (pid $2) that changed after the process started.
service_changed_input() {
    local name=$1 pid=$2 started f
    # start time: boot time + the process's start in clock ticks since boot (field 22)
    started=$(awk -v tck="$(getconf CLK_TCK)" -v btime="$(awk '/^btime/ {print $2}' /proc/stat)" \
        '{ sub(/^.*\) /, ""); printf "%d", btime + $20 / tck }' "/proc/$pid/stat" 2>/dev/null) || return 1
    [ -n "$started" ] || return 1
    for f in $(service_inputs "$name"); do
        [ -e "$f" ] && [ "$(stat -c %Y "$f")" -gt "$started" ] && { echo "$f"; return 0; }
    done
    return 1
}

# Starts service $1 unless it already runs (and runs current code); waits for readiness.
start_service() {
    local name=$1 pid port var changed
    if pid=$(live_pid "$name"); then
        if changed=$(service_changed_input "$name" "$pid"); then
            warn "$name (pid $pid) started before ${changed#"$ROOT"/} changed; restarting it"
            stop_"$name"
        elif ready_"$name"; then
            ok "$name already up (pid $pid)"; return 0
        else
            warn "$name (pid $pid) runs but is not ready; restarting it"
            stop_"$name"
        fi
    fi
    port=$(service_port "$name"); var=$(service_port_var "$name")
    require_free_port "$name" "$port" "$var"
    start_"$name" || die "$name failed to start (log: $LOG_DIR/$name.log)"
    STARTED_NOW="$name $STARTED_NOW"
    wait_ready "$name" || {
        tail -n 15 "$LOG_DIR/$name.log" >&2 2>/dev/null
        if live_pid "$name" >/dev/null; then
            die "$name did not become ready within ${READY_TIMEOUT}s (log: $LOG_DIR/$name.log)"
        fi
        die "$name exited while starting (log: $LOG_DIR/$name.log)"
    }
    ok "$name up (pid $(live_pid "$name"), port $port)"
}

# Waits until service $1 is ready; gives up at once when its process is gone.
wait_ready() {
    local name=$1 deadline=$((SECONDS + READY_TIMEOUT))
    until ready_"$name" >/dev/null 2>&1; do
        live_pid "$name" >/dev/null || return 1
        [ $SECONDS -lt $deadline ] || return 1
        sleep 0.3
    done
}

# When `up` fails half way, stop what this invocation started so nothing is left half-running.
abort_up() {
    local rc=$?
    [ $rc -eq 0 ] && return
    [ -n "$STARTED_NOW" ] || return
    printf 'build.sh: up failed; stopping what it started: %s\n' "$STARTED_NOW" >&2
    for s in $STARTED_NOW; do stop_"$s" >/dev/null 2>&1; done
}

cmd_up() {
    command -v nginx >/dev/null && [ -f "$KAFKA_LIBS/.complete" ] && [ -x "$FERRETDB_BIN" ] \
        || die "the stack is not set up: run ./build.sh setup (or ./build.sh up, which does it)"
    mkdir -p "$RUN_DIR" "$LOG_DIR"
    trap abort_up EXIT
    step "Starting the stack (state in $STATE_DIR)"
    for s in kafka redis postgres mongo; do start_service "$s"; done
    step "Kafka topics and PostgreSQL schema"
    create_topics; ok "topics: $(topics_summary)"
    apply_schema; ok "schema applied (stack/schema.sql)"
    step "Daemons and the edge"
    for s in vote-sink chat-sink order-sink api edge; do start_service "$s"; done
    trap - EXIT
    print_endpoints
}

print_endpoints() {
    step "Endpoints"
    cat <<EOF
    edge (nginx + ngx_vote_module)  $EDGE_URL   e.g. POST /api/votes, GET /api/polls (HTTP/2)
                                    http://127.0.0.1:$EDGE_PORT redirects there (except /healthz, /metrics)
    the edge's local CA             $EDGE_CA_FILE
                                    curl --cacert $EDGE_CA_FILE $EDGE_URL/healthz
                                    trust it machine-wide: sudo cp $EDGE_CA_FILE /usr/local/share/ca-certificates/vote-edge-local.crt && sudo update-ca-certificates
                                    browsers: import it as an authority (Firefox: Settings > Certificates; Chromium: chrome://settings/certificates)
    api daemon (behind the edge)    http://127.0.0.1:$API_PORT
    Kafka                           $KAFKA_BROKERS   topics: $(topics_summary)
    Redis                           127.0.0.1:$REDIS_PORT
    PostgreSQL                      $PG_CONNINFO
    MongoDB-wire (FerretDB)         $MONGO_URI   database vote
    sink metrics                    http://127.0.0.1:$VOTE_SINK_METRICS_PORT/metrics  http://127.0.0.1:$CHAT_SINK_METRICS_PORT/metrics
                                    http://127.0.0.1:$ORDER_SINK_METRICS_PORT/metrics (order sink)
    logs                            $LOG_DIR  (./build.sh logs SERVICE)
EOF
}

cmd_down() {
    step "Stopping the stack (data kept in $STATE_DIR)"
    local s rev=""
    for s in $SERVICES; do rev="$s $rev"; done
    for s in $rev; do
        if live_pid "$s" >/dev/null; then stop_"$s"; ok "$s stopped"; fi
    done
}

cmd_clean() {
    cmd_down
    step "Removing $STATE_DIR"
    local outside; outside=$(pg_outside_dir) && rm -rf "$outside"
    rm -rf "$STATE_DIR"; ok "removed"
}

cmd_status() {
    local s pid port state rc=0
    printf '%-10s %-5s %-8s %s\n' SERVICE STATE PID PORT
    for s in $SERVICES; do
        port=$(service_port "$s")
        if pid=$(live_pid "$s"); then
            if ready_"$s"; then state=up; else state=busy; rc=1; fi
        else pid=-; state=down; rc=1; fi
        printf '%-10s %-5s %-8s %s\n' "$s" "$state" "$pid" "$port"
    done
    return $rc
}

cmd_logs() {
    if [ $# -eq 0 ]; then ls -1 "$LOG_DIR" 2>/dev/null | sed 's/\.log$//'; return; fi
    local f=$LOG_DIR/$1.log
    [ -f "$f" ] || die "no log for '$1' (services: $SERVICES)"
    tail -n "${LINES_SHOWN:-100}" "$f"
}

# Stops or starts one service (used by fault tests: ./build.sh stop-service redis).
cmd_stop_service() { [ -n "${1:-}" ] || die "usage: build.sh stop-service SERVICE"; type "stop_$1" >/dev/null 2>&1 || die "unknown service '$1' (services: $SERVICES)"; stop_"$1"; ok "$1 stopped"; }
cmd_start_service() { [ -n "${1:-}" ] || die "usage: build.sh start-service SERVICE"; type "start_$1" >/dev/null 2>&1 || die "unknown service '$1' (services: $SERVICES)"; mkdir -p "$RUN_DIR" "$LOG_DIR"; start_service "$1"; }
