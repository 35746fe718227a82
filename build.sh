#!/usr/bin/env bash
# build.sh: the one entry point of the vote & chat edge: set up, build, run, test.
#
# The stack's pieces live in stack/ (configs, pinned versions, the scripts under stack/lib);
# this file only reads the command line and calls them. `./build.sh --help` lists everything.
set -uo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
export ROOT
. "$ROOT/stack/lib/common.sh"
. "$ROOT/stack/lib/setup.sh"
. "$ROOT/stack/lib/build.sh"
. "$ROOT/stack/lib/tls.sh"
. "$ROOT/stack/lib/services.sh"
. "$ROOT/stack/lib/test.sh"
. "$ROOT/stack/lib/bench.sh"
. "$ROOT/stack/lib/bench_edge.sh"
. "$ROOT/stack/lib/bench_orders.sh"
. "$ROOT/stack/lib/chaos.sh"
. "$ROOT/stack/lib/cluster.sh"
. "$ROOT/stack/lib/cluster_run.sh"
. "$ROOT/stack/lib/fuzz.sh"
. "$ROOT/stack/lib/lint.sh"
. "$ROOT/stack/lib/k8s_setup.sh"
. "$ROOT/stack/lib/k8s_apiserver.sh"
. "$ROOT/stack/lib/k8s_check.sh"

usage() {
    cat <<USAGE
usage: ./build.sh COMMAND [ARGS]

The local stack (all on 127.0.0.1, state in \$STATE_DIR, default ./.state):
  setup               install every dependency (Debian packages, Kafka jars from Maven Central,
                      FerretDB from its Go module, Locust); idempotent, cached in ./.cache
  build               build the nginx module, the sinks, the api daemon and tools into ./.build
  up                  setup + build + start everything, create topics, apply the schema,
                      print the endpoints; a no-op on a running stack
  down                stop everything, keep the data
  clean               stop everything and remove the state directory
  status              one line per service: state, pid, port (exit 1 if any is not up)
  logs [SERVICE]      list the logs, or show the end of one (LINES_SHOWN=100)
  stop-service NAME   stop one service (for fault tests); start-service NAME starts it again
  test                setup + build + start what the tests need + run every suite + stop what it
                      started; ends with 'N passed, N failed'; exit 1 on any failure.
                      'test FILE...' runs only those test files
  bench [WHAT]        benchmarks as ratios against a baseline measured in the same run
                      (edge, sinks, mongo, api, pipeline, orders or all); writes docs/BENCHMARKS.md.
                      BENCH_SECONDS=10
  load [PROFILE] [--users N] [--duration S]
                      headless Locust against the stack (profiles: smoke, steady, burst,
                      hostile, flash), a summary, then the zero-loss audit (PASS/FAIL, exit 1 on FAIL)
  chaos SCENARIO [--duration S] [load options]
                      a load run while breaking things, then the audit. Scenarios:
                      worker-kill (kill -9 a sink every 10 s), broker-restart (Kafka down 15 s),
                      store-restart (Redis, MongoDB-wire, PostgreSQL down 10 s each),
                      nginx-reload (every 5 s). CHAOS_PERIOD / CHAOS_DOWN shorten them
  cluster-test [--profile short|full] [SCENARIO...]
                      a multi-host run in network namespaces (3 Kafka brokers RF 3, 2 edges behind
                      an nginx stream load balancer, 2 worker hosts, a stores host) under Locust
                      load, breaking one part per scenario, each ending with the audit: broker-kill,
                      edge-cut, worker-cut, broker-partition, slow-links (docs/CLUSTER.md)
  fuzz [TARGET] [SECONDS]
                      libFuzzer runs (ASan + UBSan) of every fuzz target or one (validate, jwt,
                      revocation, msg, api), SECONDS each (60), corpora grown in ./.cache/fuzz;
                      a line per target: executions, coverage, findings. Exit 1 on a finding
  k8s-check [--validate-only] [--root DIR]
                      render every k8s/ overlay with the pinned kustomize, validate it strictly
                      (kubeconform: Kubernetes + operator CRD schemas), lint docker/ (hadolint),
                      apply it server-side to a throwaway etcd + kube-apiserver on loopback,
                      re-apply and check the autoscaled counts were kept (--help for details)
  lint [--root DIR]   the enforced style (docs/STYLE.md): clang-format --dry-run -Werror over every
                      C file (each tree's .clang-format) and shellcheck -S warning over every shell
                      script; a line per file that drifted, exit 1 if any did. Part of test
  env                 print the settings as shell exports: eval "\$(./build.sh env)" lets you
                      run one test file by hand against the running stack

Services: $SERVICES

Settings (environment variables, with defaults):
  STATE_DIR=$STATE_DIR
  EDGE_PORT=$EDGE_PORT (plain HTTP: redirects) EDGE_TLS_PORT=$EDGE_TLS_PORT (HTTPS, HTTP/2)
  EDGE_URL=$EDGE_URL EDGE_CA_FILE=$EDGE_CA_FILE
  EDGE_TLS_CERT=$EDGE_TLS_CERT EDGE_TLS_KEY=$EDGE_TLS_KEY
  API_PORT=$API_PORT KAFKA_PORT=$KAFKA_PORT KAFKA_CONTROLLER_PORT=$KAFKA_CONTROLLER_PORT
  REDIS_PORT=$REDIS_PORT PG_PORT=$PG_PORT MONGO_PORT=$MONGO_PORT
  VOTE_SINK_METRICS_PORT=$VOTE_SINK_METRICS_PORT CHAT_SINK_METRICS_PORT=$CHAT_SINK_METRICS_PORT
  ORDER_SINK_METRICS_PORT=$ORDER_SINK_METRICS_PORT
  VOTE_PARTITIONS=$VOTE_PARTITIONS (partitions of the votes, chat and orders topics)  KAFKA_HEAP=$KAFKA_HEAP
  READY_TIMEOUT=$READY_TIMEOUT (seconds each service may take to become ready)
USAGE
}

cmd=${1:-}
[ $# -gt 0 ] && shift
case "$cmd" in
    setup)         cmd_setup ;;
    build)         cmd_build ;;
    up)            cmd_setup && cmd_build && cmd_up ;;
    down)          cmd_down ;;
    clean)         cmd_clean ;;
    status)        cmd_status ;;
    logs)          cmd_logs "$@" ;;
    stop-service)  cmd_stop_service "$@" ;;
    start-service) cmd_start_service "$@" ;;
    test)          cmd_test "$@" ;;
    env)           cmd_env ;;
    bench)         cmd_bench "$@" ;;
    load)          cmd_load "$@" ;;
    chaos)         cmd_chaos "$@" ;;
    cluster-test)  cmd_cluster_test "$@" ;;
    fuzz)          cmd_fuzz "$@" ;;
    lint)          cmd_lint "$@" ;;
    k8s-check)     cmd_k8s_check "$@" ;;
    -h|--help|help) usage ;;
    "")            usage >&2; exit 2 ;;
    *)             echo "build.sh: unknown command '$cmd' (see ./build.sh --help)" >&2; exit 2 ;;
esac
