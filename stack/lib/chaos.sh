# shellcheck shell=bash
# chaos.sh: ./build.sh load and ./build.sh chaos SCENARIO: load runs, with faults, then the audit.
#
# `load` is locust/run.sh (Locust headless, summary, zero-loss audit). `chaos` starts the same
# run in the background and breaks one part of the stack again and again while it runs; every
# service is back before the load ends, so the audit (202s == MongoDB == Redis, chat 202s ==
# PostgreSQL rows) judges the whole run.

CHAOS_SCENARIOS="worker-kill broker-restart store-restart nginx-reload"

cmd_load() {
    ( cmd_up ) >/dev/null || die "the stack did not come up (./build.sh up shows why)"
    "$ROOT/locust/run.sh" "$@"
}

# Kills a sink with SIGKILL (no flush, no commit), then starts it again as an orchestrator would.
chaos_kill_sink() {
    local s=$1 pid
    pid=$(live_pid "$s") || return 0
    kill -KILL "$pid"; rm -f "$(pidfile "$s")"
    chaos_log "kill -9 $s (pid $pid)"
    sleep 1
    start_service "$s" >/dev/null && chaos_log "$s restarted (pid $(live_pid "$s"))"
}

chaos_down_for() {
    local s=$1 secs=$2
    stop_"$s" >/dev/null 2>&1; chaos_log "$s stopped for ${secs}s"
    sleep "$secs"
    start_service "$s" >/dev/null && chaos_log "$s started again (pid $(live_pid "$s"))"
}

# The edge's own count of vote 202s (Prometheus text on /metrics, summed over its workers).
# Arguments, if any, are a command prefix (the cluster test: ip netns exec NS).
# shellcheck disable=SC2120 # cluster_run.sh passes the prefix, this file none
edge_vote_202s() {
    "$@" curl -fsS --max-time 2 "http://127.0.0.1:$EDGE_PORT/metrics" 2>/dev/null \
        | awk '/^vote_edge_requests_total\{kind="vote",status="202"\}/ {print $2}'
}

# The edge's 202s of every kind (votes, chat, orders): what a load profile answers first.
edge_202s() {
    curl -fsS --max-time 2 "http://127.0.0.1:$EDGE_PORT/metrics" 2>/dev/null \
        | awk '/^vote_edge_requests_total\{kind="[a-z]+",status="202"\}/ { n += $2 } END { print n + 0 }'
}

chaos_wait_for_load() {
    local load=$1 start now deadline=$((SECONDS + 90))
    start=$(edge_202s); start=${start:-0}
    while [ $SECONDS -lt $deadline ] && kill -0 "$load" 2>/dev/null; do
        now=$(edge_202s)
        if [ "${now:-0}" -gt $((start + 20)) ]; then chaos_log "load is flowing ($((now - start)) requests answered 202)"; return 0; fi
        sleep 0.5
    done
    return 1
}

chaos_log() { printf '    chaos %s %s\n' "$(date -u +%H:%M:%S)" "$*"; }

# One round of a scenario; returns when the round is over.
chaos_round() {
    case $1 in
        worker-kill)    chaos_kill_sink vote-sink; sleep "$CHAOS_PERIOD"; chaos_kill_sink chat-sink; sleep "$CHAOS_PERIOD"
                        chaos_kill_sink order-sink; sleep "$CHAOS_PERIOD" ;;
        broker-restart) chaos_down_for kafka "$CHAOS_DOWN"; sleep "$CHAOS_PERIOD" ;;
        store-restart)  for s in redis mongo postgres; do chaos_down_for "$s" "$CHAOS_DOWN"; sleep "$CHAOS_PERIOD"; done ;;
        nginx-reload)   nginx_cmd -s reload && chaos_log "nginx -s reload"; sleep "$CHAOS_PERIOD" ;;
    esac
}

cmd_chaos() {
    local scenario=${1:-} duration=60 args=()
    [ -n "$scenario" ] && shift
    case " $CHAOS_SCENARIOS " in *" $scenario "*) ;; *)
        die "usage: build.sh chaos SCENARIO [--duration S] [load options]; scenarios: $CHAOS_SCENARIOS" ;;
    esac
    while [ $# -gt 0 ]; do
        case $1 in
            --duration) duration=${2%s}; shift ;;
            *) args+=("$1") ;;
        esac
        shift
    done
    # Defaults follow the issue: a sink killed every 10 s, Kafka down 15 s, each store down 10 s,
    # a reload every 5 s. Short test runs shrink them with CHAOS_PERIOD / CHAOS_DOWN.
    case $scenario in
        worker-kill)    : "${CHAOS_PERIOD:=10}" "${CHAOS_DOWN:=0}" ;;
        broker-restart) : "${CHAOS_PERIOD:=10}" "${CHAOS_DOWN:=15}" ;;
        store-restart)  : "${CHAOS_PERIOD:=5}" "${CHAOS_DOWN:=10}" ;;
        nginx-reload)   : "${CHAOS_PERIOD:=5}" "${CHAOS_DOWN:=0}" ;;
    esac
    ( cmd_up ) >/dev/null || die "the stack did not come up (./build.sh up shows why)"
    step "chaos $scenario for ${duration}s under load"
    # --allow-unknown: a request cut by a fault may have no answer, or a 503 ack_timeout; the
    # stores may hold up to that many records more, while every 202 must still be found.
    "$ROOT/locust/run.sh" "${args[@]}" --duration "$duration" --allow-unknown &
    local load=$!
    # Locust takes a while to start on a busy machine: break nothing before votes flow, and
    # count the run's time from there (its --duration starts when its users start).
    chaos_wait_for_load "$load" || { wait "$load"; die "no request was answered 202 within 90s of starting the load"; }
    local deadline=$((SECONDS + duration - CHAOS_DOWN - 5))
    while [ $SECONDS -lt $deadline ] && kill -0 "$load" 2>/dev/null; do
        chaos_round "$scenario"
    done
    # Whatever a round left stopped comes back before the load ends and the audit starts.
    for s in $SERVICES; do live_pid "$s" >/dev/null || start_service "$s" >/dev/null; done
    chaos_log "faults over; every service up; waiting for the load run and its audit"
    wait "$load"
}
