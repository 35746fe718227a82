#!/usr/bin/env bash
# locust/selfcheck.sh - checks the load harness itself, not the product: runs the
# locustfile for a few seconds against a stock nginx (port 1989) whose locations answer
# like the contract (202 for votes/chat, 201/200 for register/login) and compares the
# 202 counts the clients wrote to LOAD_RESULT_FILE with the 202s in nginx's access log.
# They must be equal (graceful stop, exact counters, also when the burst shape drops
# users); it also runs the hostile profile
# and requires every hostile request that got 202 from this permissive server to be
# reported as a failure. Prints TAP; exit status non-zero on failure.
#   locust/selfcheck.sh [--keep]      (needs locust/setup.sh done; ~30 s)
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
case "${1:-}" in -h|--help) sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;; esac
keep=0; [ "${1:-}" = "--keep" ] && keep=1
. "$root/t/lib/tap.sh"
py=${VENV_DIR:-${CACHE_DIR:-$root/.cache}/venv}/bin/python
[ -x "$py" ] || bail_out "no venv: run locust/setup.sh"
port=${SELFCHECK_PORT:-1989}
work=$(mktemp -d /tmp/locust-selfcheck.XXXXXX)
mkdir -p "$work/logs"
cat > "$work/nginx.conf" <<CONF
daemon on; master_process off; worker_processes 1;
error_log $work/logs/error.log warn; pid $work/logs/nginx.pid;
events { worker_connections 1024; }
http {
  log_format st '\$status \$request_method \$uri';
  access_log $work/logs/access.log st;
  client_body_temp_path $work/tmp; client_max_body_size 4m;
  server {
    listen 127.0.0.1:$port;
    default_type application/json;
    location = /api/votes { if (\$request_method != POST) { return 405; } return 202 '{"id":"\$request_id"}'; }
    location = /api/chat/messages { return 202 '{"id":"\$request_id","conversation":"a:b"}'; }
    location = /api/auth/register { return 201 '{}'; }
    location = /api/auth/login { return 200 '{"token":"t.t.t","expires_at":0}'; }
    location / { return 200 '{}'; }
  }
}
CONF
stop_nginx() { [ -f "$work/logs/nginx.pid" ] && kill -QUIT "$(cat "$work/logs/nginx.pid")" 2>/dev/null; sleep 0.5; }
cleanup() { local rc=$?; stop_nginx; if [ "$keep" = 1 ]; then echo "# kept $work" >&2; else rm -rf "$work"; fi; exit $rc; }
trap cleanup EXIT
ok "nginx -p '$work' -c '$work/nginx.conf' -e '$work/logs/error.log'" "reference nginx started on $port"

run_profile() {   # run_profile PROFILE RESULTFILE
    : > "$work/logs/access.log"; kill -USR1 "$(cat "$work/logs/nginx.pid")"; sleep 0.3
    LOAD_PROFILE=$1 LOAD_USERS=8 LOAD_DURATION=8 LOAD_RESULT_FILE=$2 LOAD_RUN_ID=selfcheck-$1-$$ \
    LOAD_HOST=http://127.0.0.1:$port STATE_DIR=$work \
        nice "$py" -m locust -f "$here/locustfile.py" --headless --only-summary \
        > "$work/$1.out" 2>&1
}

run_profile smoke "$work/smoke.json"
ok "test -s '$work/smoke.json'" "smoke: results file written"
for p in guatemala-2027 band-contest; do
    client=$("$py" -c "import json,sys; print(json.load(open(sys.argv[1]))['votes'].get(sys.argv[2],{}).get('accepted',0))" "$work/smoke.json" "$p")
    isnt "$client" "0" "smoke: some $p votes were sent"
done
client_votes=$("$py" -c "import json,sys; d=json.load(open(sys.argv[1])); print(sum(v['accepted'] for v in d['votes'].values()))" "$work/smoke.json")
server_votes=$(grep -c '^202 POST /api/votes$' "$work/logs/access.log")
is "$client_votes" "$server_votes" "smoke: vote 202s counted by clients == 202s in nginx access log"
client_chat=$("$py" -c "import json,sys; print(json.load(open(sys.argv[1]))['chat']['accepted'])" "$work/smoke.json")
server_chat=$(grep -c '^202 POST /api/chat/messages$' "$work/logs/access.log")
is "$client_chat" "$server_chat" "smoke: chat 202s counted by clients == 202s in nginx access log"

# burst: users are removed when the shape drops; the counts must still match exactly
run_profile burst "$work/burst.json"
client_votes=$("$py" -c "import json,sys; d=json.load(open(sys.argv[1])); print(sum(v['accepted'] for v in d['votes'].values()))" "$work/burst.json")
server_votes=$(grep -c '^202 POST /api/votes$' "$work/logs/access.log")
is "$client_votes" "$server_votes" "burst (ramp, hold, drop): vote 202s counted by clients == 202s in nginx access log"

run_profile hostile "$work/hostile.json"
hostile=$("$py" -c "import json,sys; h=json.load(open(sys.argv[1]))['hostile']; print(h['sent'], h['accepted'], h['as_expected'])" "$work/hostile.json")
read -r sent accepted _ <<< "$hostile"   # as_expected: not asserted here
isnt "$sent" "0" "hostile: hostile requests were sent"
isnt "$accepted" "0" "hostile: a permissive server's 202s to hostile requests are counted as accepted"
like "$(cat "$work/hostile.out")" 'hostile [a-z-]+' "hostile: locust reports the hostile cases as failures"
client_votes=$("$py" -c "import json,sys; d=json.load(open(sys.argv[1])); print(sum(v['accepted'] for v in d['votes'].values()))" "$work/hostile.json")
hostile_votes_202=$("$py" -c "
import json,sys
d=json.load(open(sys.argv[1]))
print(sum(c.get('202',0) for k,c in d['hostile_by_case'].items() if not k.startswith('chat') and k!='wrong-method'))" "$work/hostile.json")
server_votes=$(grep -c '^202 POST /api/votes$' "$work/logs/access.log")
is "$((client_votes + hostile_votes_202))" "$server_votes" "hostile: client vote 202s + hostile 202s == server 202s"
done_testing
