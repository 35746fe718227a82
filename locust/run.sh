#!/usr/bin/env bash
# locust/run.sh - one load run against the local stack, then the zero-loss audit.
# This is what `./build.sh load` runs.
#
#   locust/run.sh [PROFILE] [--users N] [--duration SECONDS] [--processes N]
#                 [--out DIR] [--allow-unknown] [--shared] [--no-audit] [--audit-timeout S]
#   PROFILE: smoke | steady (default) | burst | hostile | flash   (see locust/README.md)
#
# Steps: make the data set (once, $STATE_DIR/load/dataset.json), snapshot the stores,
# headless Locust with CSV output in DIR (default $STATE_DIR/load/<time>-<profile>),
# a short summary (requests/s, p50/p95/p99, answers by status), then locust/audit.py:
# waits until the sinks drained and compares the 202s with MongoDB, Redis and PostgreSQL
# (its figures also in DIR/audit.json).
# --shared: other clients write to the same stack (see locust/README.md, "The audit").
# Exit status: the audit's (0 PASS, 1 FAIL, 2 error).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
usage() { sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; }

profile=steady users='' duration='' processes=1 out='' audit=1 allow_unknown='' shared='' audit_timeout=120
while [ $# -gt 0 ]; do
    case "$1" in
        -h|--help) usage; exit 0 ;;
        --users) users=$2; shift ;;
        --duration) duration=${2%s}; shift ;;
        --processes) processes=$2; shift ;;
        --out) out=$2; shift ;;
        --allow-unknown) allow_unknown=--allow-unknown ;;
        --shared) shared=--shared ;;
        --no-audit) audit=0 ;;
        --audit-timeout) audit_timeout=$2; shift ;;
        smoke|steady|burst|hostile|flash) profile=$1 ;;
        *) echo "locust/run.sh: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
    esac
    shift
done

STATE_DIR=${STATE_DIR:-$root/.state}
py=${VENV_DIR:-${CACHE_DIR:-$root/.cache}/venv}/bin/python
[ -x "$py" ] || { echo "locust/run.sh: no venv, run locust/setup.sh (or ./build.sh setup)" >&2; exit 2; }
run_id=$(date -u +%Y%m%dT%H%M%SZ)-$profile
out=${out:-$STATE_DIR/load/$run_id}
mkdir -p "$out"
dataset=${LOAD_DATASET:-$STATE_DIR/load/dataset.json}
[ -s "$dataset" ] || "$py" "$here/gen_dataset.py" --out "$dataset" || exit 2

echo "==> load run $run_id (profile $profile${users:+, $users users}${duration:+, ${duration}s}) -> $out"
if [ "$audit" = 1 ]; then
    "$py" "$here/audit.py" snapshot --out "$out/before.json" || exit 2
fi
host=${LOAD_HOST:-${EDGE_URL:-https://127.0.0.1:8443}}
proc_args=()
[ "$processes" -gt 1 ] && proc_args=(--processes "$processes")
LOAD_PROFILE=$profile LOAD_USERS=$users LOAD_DURATION=$duration LOAD_DATASET=$dataset \
LOAD_RESULT_FILE=$out/results.json LOAD_RUN_ID=$run_id STATE_DIR=$STATE_DIR \
    "$py" -m locust -f "$here/locustfile.py" --headless --host "$host" --csv "$out/stats" \
        --only-summary --loglevel WARNING "${proc_args[@]}" > "$out/locust.log" 2>&1
lrc=$?
echo "    locust exit status $lrc (non-zero when any request failed; see $out/locust.log)"
echo
"$py" "$here/summary.py" --csv "$out/stats" --results "$out/results.json" | tee "$out/summary.txt"
[ "$audit" = 1 ] || exit 0
echo
echo "==> zero-loss audit"
"$py" "$here/audit.py" check --results "$out/results.json" --before "$out/before.json" \
    --timeout "$audit_timeout" --json "$out/audit.json" $allow_unknown $shared | tee "$out/audit.txt"
exit "${PIPESTATUS[0]}"
