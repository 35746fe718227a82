#!/usr/bin/env bash
# 25-sink-chat-outage.t: the chat sink rides out a PostgreSQL outage (and a Redis one).
#
# Uses its own PostgreSQL cluster (initdb in a temp dir, free port), so stopping it disturbs
# no one. Mid-stream: stop PostgreSQL, keep producing, check that the sink is still running,
# paused, and logged the outage once; restart it and check the sink resumes by itself and
# ends exact. Then stop a private Redis: storage must go on (pub/sub is best effort).
# shellcheck source=t/integration/sink-common.sh
. "$(dirname "$0")/sink-common.sh"
[ -n "$(pg_bin)" ] || plan skip_all "PostgreSQL server binaries missing"
plan 8

start_private_pg || bail_out "private PostgreSQL did not start"
make_pg_schema || bail_out "cannot create schema"
start_private_redis || bail_out "private redis did not start"
export REDIS_PORT=$SINK_REDIS_PORT    # the chat sink publishes to the private Redis
make_topics
mport=$(free_port)
start_sink c chat --metrics-port "$mport"
produce chat 0 1000
wait_until 60 chat_exact
is "$(chat_state)" "$(chat_state_expected)" "before the outage: exact"

stop_private_pg
produce chat 1000 1500
wait_until 20 bash -c "[ \"\$(curl -fsS http://127.0.0.1:$mport/metrics | awk '/^sink_paused/ {print \$2}')\" = 1 ]"
is "$(metric sink_paused)" "1" "PostgreSQL down: consumption paused"
sleep 3
ok "kill -0 ${SINK_PID[c]}" "PostgreSQL down: the sink is still running (no crash loop)"
is "$(grep -c 'pausing consumption' "$TMPD/c.log")" "1" "PostgreSQL down: logged once, not once per retry"
start_private_pg || bail_out "private PostgreSQL did not restart"
wait_until 90 chat_exact
is "$(chat_state)" "$(chat_state_expected)" "PostgreSQL back: resumed by itself, exact"

stop_private_redis
produce chat 2500 500
wait_until 60 chat_exact
is "$(chat_state)" "$(chat_state_expected)" "Redis down: messages are still stored (live push is best effort)"
ok "[ \"\$(curl -fsS http://127.0.0.1:$mport/metrics | awk '/^sink_publish_failed_total/ {print \$2}')\" -gt 0 ]" \
   "Redis down: failed publishes are counted"
stop_sink c
is "$STOP_RC" "0" "SIGTERM with Redis still down: clean exit"
done_testing
