#!/bin/sh
# workers-entrypoint.sh - one image, four daemons: the first argument chooses which one runs.
#
#   vote-sink [FLAGS]   votes topic -> Redis tallies + MongoDB (env: KAFKA_BROKERS, REDIS_HOST,
#                       REDIS_PORT, MONGO_URI, POLL_CATALOG, VOTE_SINK_METRICS_PORT, ...)
#   chat-sink [FLAGS]   chat topic -> PostgreSQL + Redis pub/sub (env: PG_CONNINFO, REDIS_HOST, ...)
#   order-sink [FLAGS]  orders topic -> stock reservations in PostgreSQL, simulated payment and
#                       shipping (env: PG_CONNINFO, ORDER_PAY_DELAY_MS, ORDER_SHIP_DELAY_MS, ...)
#   vote-api  [FLAGS]   the api daemon behind the edge (env: API_PORT, API_PG_CONNINFO, REDIS_HOST,
#                       KAFKA_BROKERS, JWT_SECRETS_FILE, POLL_CATALOG); listens on $API_LISTEN_ADDR
#   sink-inspect ...    the sinks' inspection tool
#   anything else       run as given (e.g. sh)
# Each daemon's --help lists every flag and the environment variable behind it.
set -eu
role=${1:-}
[ $# -gt 0 ] && shift
case "$role" in
    vote-sink|chat-sink|order-sink|sink-inspect)
        exec "/opt/vote/bin/$role" "$@" ;;
    vote-api)
        exec /opt/vote/bin/vote-api --listen "${API_LISTEN_ADDR:-0.0.0.0}" "$@" ;;
    "")
        echo "usage: (vote-sink|chat-sink|order-sink|vote-api|sink-inspect) [FLAGS]" >&2; exit 64 ;;
    *)
        exec "$role" "$@" ;;
esac
