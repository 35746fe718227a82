# shellcheck shell=bash disable=SC2034  # variables for the scripts that source it
# common.sh: settings, progress output and process helpers shared by every build.sh step.
#
# Sourced by build.sh; every setting can be overridden from the environment.

ROOT=${ROOT:?build.sh sets ROOT}
STACK_DIR=$ROOT/stack
# shellcheck source=../versions.env
. "$STACK_DIR/versions.env"

: "${STATE_DIR:=$ROOT/.state}"
: "${BUILD_DIR:=$ROOT/.build}"
: "${CACHE_DIR:=$ROOT/.cache}"
: "${EDGE_PORT:=8080}"
: "${EDGE_TLS_PORT:=8443}"
: "${API_PORT:=8090}"
: "${KAFKA_PORT:=9092}"
: "${KAFKA_CONTROLLER_PORT:=9093}"
: "${REDIS_PORT:=6379}"
: "${PG_PORT:=5432}"
: "${MONGO_PORT:=27017}"
: "${VOTE_SINK_METRICS_PORT:=9101}"
: "${CHAT_SINK_METRICS_PORT:=9102}"
: "${ORDER_SINK_METRICS_PORT:=9103}"
: "${VOTE_PARTITIONS:=2}"
: "${KAFKA_HEAP:=512m}"
: "${KAFKA_GC_OPTS:=-XX:+UseG1GC -XX:MaxGCPauseMillis=20}"
: "${READY_TIMEOUT:=60}"
: "${POLL_CATALOG:=$STACK_DIR/polls.json}"
# The address Redis, PostgreSQL and FerretDB listen on; the cluster test (stack/lib/cluster.sh)
# runs them in a network namespace of their own and opens them to its network.
: "${STORE_BIND:=127.0.0.1}"
# The edge's certificate and key (nginx.conf's ssl_certificate / ssl_certificate_key): by default
# a server certificate that `up` issues from a local CA under $STATE_DIR/tls (stack/lib/tls.sh);
# set both to use your own, and EDGE_CA_FILE to the CA that signed it.
: "${EDGE_TLS_CERT:=$STATE_DIR/tls/edge.crt}"
: "${EDGE_TLS_KEY:=$STATE_DIR/tls/edge.key}"
: "${EDGE_CA_FILE:=$STATE_DIR/tls/ca.crt}"
# Where tests, Locust, the audit and benchmarks reach the shipped edge (HTTPS; plain HTTP on
# EDGE_PORT redirects there except /healthz and /metrics).
: "${EDGE_URL:=https://127.0.0.1:$EDGE_TLS_PORT}"

KAFKA_BROKERS=127.0.0.1:$KAFKA_PORT
KAFKA_LIBS=$CACHE_DIR/kafka-$KAFKA_VERSION/libs
# Named after the launcher's sources too, so that a change to them rebuilds it (see
# stack/ferretdb/vendor-patched.sh for the patch it carries).
FERRETDB_BIN=$CACHE_DIR/bin/ferretdb-local-$FERRETDB_VERSION-$(cat "$STACK_DIR"/ferretdb/* | sha256sum | cut -c1-12)
PG_BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
PG_CONNINFO="host=127.0.0.1 port=$PG_PORT dbname=vote user=vote"
MONGO_URI=mongodb://127.0.0.1:$MONGO_PORT/
KAFKA_TOPICS_CMD=$STACK_DIR/bin/kafka-topics
# The stack's Kafka topics as NAME:PARTITIONS (docs/CONTRACT.md, "Kafka topics").
KAFKA_TOPICS="votes:$VOTE_PARTITIONS chat:$VOTE_PARTITIONS orders:$VOTE_PARTITIONS votes.dlq:1 chat.dlq:1 orders.dlq:1 auth.revocations:1"
RUN_DIR=$STATE_DIR/run
LOG_DIR=$STATE_DIR/logs
# The settings every step and test sees: exported here, printed by `./build.sh env`.
EXPORTED_SETTINGS="ROOT STATE_DIR BUILD_DIR CACHE_DIR EDGE_PORT EDGE_TLS_PORT EDGE_TLS_CERT
    EDGE_TLS_KEY EDGE_CA_FILE EDGE_URL API_PORT KAFKA_PORT KAFKA_CONTROLLER_PORT REDIS_PORT PG_PORT
    MONGO_PORT VOTE_SINK_METRICS_PORT CHAT_SINK_METRICS_PORT ORDER_SINK_METRICS_PORT
    VOTE_PARTITIONS KAFKA_BROKERS
    KAFKA_LIBS KAFKA_HEAP PG_CONNINFO MONGO_URI KAFKA_TOPICS_CMD POLL_CATALOG STORE_BIND"
# shellcheck disable=SC2086,SC2163 # a word list on purpose
export $EXPORTED_SETTINGS

# ---- progress output ---------------------------------------------------------------------
if [ -t 1 ]; then C_B=$'\e[1m'; C_G=$'\e[32m'; C_R=$'\e[31m'; C_Y=$'\e[33m'; C_0=$'\e[0m'
else C_B=; C_G=; C_R=; C_Y=; C_0=; fi
step() { printf '%s==>%s %s\n' "$C_B" "$C_0" "$*"; }
info() { printf '    %s\n' "$*"; }
ok()   { printf '    %sok%s %s\n' "$C_G" "$C_0" "$*"; }
warn() { printf '    %swarning:%s %s\n' "$C_Y" "$C_0" "$*" >&2; }
die()  { printf '%sbuild.sh: %s%s\n' "$C_R" "$*" "$C_0" >&2; exit 1; }

# ---- processes and ports -----------------------------------------------------------------
pidfile() { echo "$RUN_DIR/$1.pid"; }

# Prints the pid of service $1 when its pid file names a live process; cleans a stale file.
live_pid() {
    local f; f=$(pidfile "$1")
    [ -f "$f" ] || return 1
    local pid; pid=$(tr -dc 0-9 < "$f")
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then echo "$pid"; return 0; fi
    rm -f "$f"
    return 1
}

port_busy() { ss -Hltn "sport = :$1" 2>/dev/null | grep -q .; }

# Who listens on a port, for error messages ("pid 123 (redis-server)").
port_owner() {
    local line; line=$(ss -Hltnp "sport = :$1" 2>/dev/null | head -n 1)
    local who; who=$(printf '%s' "$line" | grep -o 'users:((.*))' | sed -E 's/users:\(\("([^"]*)",pid=([0-9]+).*/pid \2 (\1)/')
    echo "${who:-an unknown process}"
}

# Refuses to start service $1 on port $2 when something else already listens there.
require_free_port() {
    local name=$1 port=$2 var=$3
    if port_busy "$port"; then
        die "port $port for $name is busy: used by $(port_owner "$port"). Stop it, or set $var to another port."
    fi
}

# Starts a long-running command in its own session with output to the service's log and a pid file.
spawn() {
    local name=$1; shift
    mkdir -p "$RUN_DIR" "$LOG_DIR"
    # In a subshell, so the service is not a job of this shell (no "Killed" notices in chaos runs).
    ( setsid "$@" >>"$LOG_DIR/$name.log" 2>&1 < /dev/null & echo $! > "$(pidfile "$name")" )
}

# Stops service $1: SIGTERM, then SIGKILL after $2 seconds (default 20).
stop_pid() {
    local name=$1 grace=${2:-20} pid
    pid=$(live_pid "$name") || return 0
    kill -TERM "$pid" 2>/dev/null
    local deadline=$((SECONDS + grace))
    while kill -0 "$pid" 2>/dev/null; do
        if [ $SECONDS -ge $deadline ]; then
            warn "$name (pid $pid) did not stop within ${grace}s; killing it"
            kill -KILL "$pid" 2>/dev/null
            sleep 0.2
            break
        fi
        sleep 0.2
    done
    rm -f "$(pidfile "$name")"
}

# Renders ${VAR} references of template $1 into file $2 with the current settings.
render() { mkdir -p "$(dirname "$2")"; envsubst < "$1" > "$2"; }

# Runs a command as the PostgreSQL owner: "postgres" when we are root (the server refuses root),
# from / since the working directory may be out of its reach.
as_pg() {
    if [ "$(id -u)" = 0 ]; then (cd / && runuser -u postgres -- "$@"); else "$@"; fi
}

# ./build.sh env: the exported settings, for running one test by hand.
cmd_env() {
    local v
    for v in $EXPORTED_SETTINGS; do
        printf 'export %s=%q\n' "$v" "${!v}"
    done
}
