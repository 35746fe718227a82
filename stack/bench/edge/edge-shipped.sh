#!/usr/bin/env bash
# edge-shipped.sh: what each feature of the shipped nginx-conf/ costs per vote, with the stack up.
#
# A second edge renders the shipped config (render_edge_conf_at: same files, other ports and
# state directory, the stack's certificate) and runs once per variant, each variant changing one
# thing with sed: TLS off on the public listener, no access log, an unbuffered access log, no
# limit_req, one worker, reuseport, durability local, linger.ms 0 / 5, LZ4 compression, and the stack's sinks
# stopped. wrk (HTTP/1.1, keep-alive) POSTs a vote to each variant and to a bench-only
# `return 202` location of the same server (the baseline, over the same transport) in
# interleaved rounds; prints req/s medians, the ratio to the baseline and the edge workers' CPU
# per request. Run with the stack up: eval "$(./build.sh env)"; flock -o /tmp/bench.lock
# stack/bench/edge/edge-shipped.sh. Settings: SHIPPED_SECONDS (5), SHIPPED_ROUNDS (2),
# SHIPPED_CONNECTIONS (64), SHIPPED_PORT_BASE (18280: plain, +1 TLS), SHIPPED_VARIANTS.
set -uo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)
. "$ROOT/stack/lib/common.sh"
. "$ROOT/stack/lib/tls.sh"
. "$ROOT/stack/lib/services.sh"
. "$ROOT/stack/lib/bench.sh"

: "${SHIPPED_SECONDS:=5}" "${SHIPPED_ROUNDS:=2}" "${SHIPPED_CONNECTIONS:=64}" "${SHIPPED_PORT_BASE:=18280}"
: "${SHIPPED_VARIANTS:=shipped no-tls no-access-log unbuffered-log no-limit-req one-worker reuseport local linger-0 linger-5 lz4 sinks-stopped}"
BENCH_SECONDS=$SHIPPED_SECONDS BENCH_CONNECTIONS=$SHIPPED_CONNECTIONS
plain_port=$SHIPPED_PORT_BASE tls_port=$((SHIPPED_PORT_BASE + 1))
dir=$STATE_DIR/bench/shipped
conf=$dir/nginx/conf
body=$STATE_DIR/bench/vote.json
mkdir -p "$dir"
printf '%s' '{"poll":"band-contest","choice":"quetzal-punk"}' > "$body"
live_pid edge >/dev/null || die "the stack's edge is not up: ./build.sh up"

# The baseline: the same answer size as the vote's 202, on the public server.
RETURN_LOCATION='location = /bench/return { default_type application/json; return 202 '"'"'{"id":"01M80SCYCF50TJ15B2EG0A3KXS"}'"'"'; }'

# variant NAME: renders the shipped config, then applies NAME's one change
variant() {
    render_edge_conf_at "$dir" "$plain_port" "$tls_port"
    sed -i "s|^        include api-locations.conf;|&\n        $RETURN_LOCATION|" "$conf/nginx.conf"
    case $1 in
        shipped|sinks-stopped) ;;
        no-tls)         sed -i "s|listen 127.0.0.1:$tls_port ssl http2|listen 127.0.0.1:$tls_port|" "$conf/nginx.conf" ;;
        no-access-log)  sed -i 's|^    access_log .*|    access_log off;|' "$conf/nginx.conf" ;;
        unbuffered-log) sed -i 's| edge buffer=64k flush=1s;| edge;|' "$conf/nginx.conf" ;;
        no-limit-req)   sed -i '/limit_req zone=votes_per_ip/d' "$conf/vote-edge-locations.conf" ;;
        one-worker)     sed -i 's|^worker_processes auto;|worker_processes 1;|' "$conf/nginx.conf" ;;
        reuseport)      sed -i "s|listen 127.0.0.1:$tls_port ssl http2|& reuseport|" "$conf/nginx.conf" ;;
        local)          sed -i '0,/vote_durability broker;/s//vote_durability local;/' "$conf/vote-edge-locations.conf" ;;
        linger-0)       sed -i 's|linger.ms 2;|linger.ms 0;|' "$conf/vote-edge-http.conf" ;;
        linger-5)       sed -i 's|linger.ms 2;|linger.ms 5;|' "$conf/vote-edge-http.conf" ;;
        lz4)            sed -i 's|compression.codec none;|compression.codec lz4;|' "$conf/vote-edge-http.conf" ;;
        *) die "unknown variant $1" ;;
    esac
}

shipped_nginx() { nginx -p "$dir/nginx" -c "$conf/nginx.conf" -e "$dir/logs/edge.log" "$@"; }
stop_shipped() {
    local pid; pid=$(cat "$dir/run/edge.pid" 2>/dev/null) || return 0
    shipped_nginx -s quit 2>/dev/null
    while kill -0 "$pid" 2>/dev/null; do sleep 0.2; done
}
trap 'stop_shipped; [ -n "${sinks_down:-}" ] && { start_service vote-sink; start_service chat-sink; } >/dev/null' EXIT

# CPU ticks of every worker of the second edge (threads included)
workers_ticks() {
    local w t=0
    for w in $(pgrep -P "$(cat "$dir/run/edge.pid")"); do t=$((t + $(awk '{print $14 + $15}' "/proc/$w/stat"))); done
    echo "$t"
}

# measure NAME URL -> "RPS US_PER_REQ"
measure() {
    local t0 t1 m
    t0=$(workers_ticks)
    read -ra m <<<"$(wrk_post "$2" "$body")" && [ ${#m[@]} -gt 0 ] || return 1
    t1=$(workers_ticks)
    echo "${m[0]} $(awk -v a="$t0" -v b="$t1" -v n="${m[3]}" -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.1f", (b - a) * 1e6 / hz / n }')"
}

require_free_port shipped-edge "$plain_port" SHIPPED_PORT_BASE
require_free_port shipped-edge-tls "$tls_port" SHIPPED_PORT_BASE
declare -A rps cpu base_rps
for r in $(seq "$SHIPPED_ROUNDS"); do
    for v in $SHIPPED_VARIANTS; do
        variant "$v"
        if [ "$v" = sinks-stopped ]; then stop_vote-sink; stop_chat-sink; sinks_down=1; fi
        shipped_nginx || die "the shipped config ($v) did not start: $dir/logs/edge.log"
        sleep 1
        scheme=https; [ "$v" = no-tls ] && scheme=http
        url=$scheme://127.0.0.1:$tls_port
        wrk_post "$url/api/votes" "$body" 16 1 >/dev/null   # warm-up: connections, producer metadata
        read -r b_rps b_cpu < <(measure "$v" "$url/bench/return")
        read -r v_rps v_cpu < <(measure "$v" "$url/api/votes")
        stop_shipped
        if [ -n "${sinks_down:-}" ]; then start_service vote-sink >/dev/null; start_service chat-sink >/dev/null; sinks_down=; fi
        rps[$v]+="$v_rps " cpu[$v]+="$v_cpu " base_rps[$v]+="$b_rps "
        info "round $r $v: return $b_rps req/s ($b_cpu us), vote $v_rps req/s ($v_cpu us/req)"
    done
done

echo
echo "wrk -t1 -c$SHIPPED_CONNECTIONS keep-alive HTTP/1.1, ${SHIPPED_SECONDS}s per subject, $SHIPPED_ROUNDS interleaved rounds, medians; load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "| variant of the shipped config | vote req/s | \`return 202\` req/s (same server) | ratio | edge workers' CPU us/vote |"
echo "| --- | ---: | ---: | ---: | ---: |"
for v in $SHIPPED_VARIANTS; do
    # shellcheck disable=SC2086
    vr=$(median ${rps[$v]}) br=$(median ${base_rps[$v]}) vc=$(median ${cpu[$v]})
    echo "| $v | $(printf '%.0f' "$vr") | $(printf '%.0f' "$br") | $(ratio "$vr" "$br") | $vc |"
done
