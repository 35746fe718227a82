#!/usr/bin/env bash
# host.sh: runs one step of the stack's scripts on a host of the cluster test, inside its namespace.
#
#   ip netns exec NS env STATE_DIR=... CLUSTER_KAFKA_BROKERS=... CLUSTER_STORES_IP=... \
#       stack/cluster/host.sh FUNCTION [ARGS]
#
# FUNCTION is one of stack/lib/services.sh (start_service redis, start_kafka, create_topics, ...)
# or start_cluster_edge below. The host's clients reach Kafka and the stores at the cluster's
# addresses instead of loopback, so the same functions serve one machine and the cluster.
set -uo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
export ROOT
. "$ROOT/stack/lib/common.sh"
. "$ROOT/stack/lib/tls.sh"
. "$ROOT/stack/lib/services.sh"

if [ -n "${CLUSTER_KAFKA_BROKERS:-}" ]; then KAFKA_BROKERS=$CLUSTER_KAFKA_BROKERS; fi
if [ -n "${CLUSTER_STORES_IP:-}" ]; then
    PG_CONNINFO="host=$CLUSTER_STORES_IP port=$PG_PORT dbname=vote user=vote"
    MONGO_URI=mongodb://$CLUSTER_STORES_IP:$MONGO_PORT/
    REDIS_HOST=$CLUSTER_STORES_IP
    export REDIS_HOST
fi
export KAFKA_BROKERS PG_CONNINFO MONGO_URI

# The shipped edge config with the container's adjustments (docker/edge-entrypoint.sh): it
# listens on every address of its host, not loopback; one worker (the machine is shared), and
# the access log stamps requests in milliseconds, from which the run measures recovery times.
start_cluster_edge() {
    render_edge_conf
    sed -i -e 's/listen 127\.0\.0\.1:/listen 0.0.0.0:/' -e 's/^worker_processes auto;/worker_processes 1;/' \
        -e 's/\[\$time_iso8601\]/[$msec]/' "$STATE_DIR"/nginx/conf/*.conf || die "cannot adjust the edge config"
    nginx_cmd -t -q 2>>"$LOG_DIR/edge.log" || { tail -5 "$LOG_DIR/edge.log" >&2; die "nginx -t failed for the edge config"; }
    nginx_cmd || die "nginx failed to start (see $LOG_DIR/edge.log)"
    wait_ready edge || die "the edge did not become ready (see $LOG_DIR/edge.log)"
}

mkdir -p "$RUN_DIR" "$LOG_DIR"
"$@"
