#!/bin/sh
# workers-healthcheck.sh - the workers image's HEALTHCHECK: looks at which daemon is PID 1 and
# asks its HTTP port (sinks: GET /healthz on the metrics port; api: GET /healthz, which is 503
# while PostgreSQL, Redis or Kafka is unreachable).
case "$(cat /proc/1/comm)" in
    vote-sink) exec http-ok "${VOTE_SINK_METRICS_PORT:-9101}" /healthz ;;
    chat-sink) exec http-ok "${CHAT_SINK_METRICS_PORT:-9102}" /healthz ;;
    order-sink) exec http-ok "${ORDER_SINK_METRICS_PORT:-9103}" /healthz ;;
    vote-api)  exec http-ok "${API_PORT:-8090}" /healthz ;;
    *)         exit 0 ;;   # a tool or a shell: nothing to check
esac
