#!/usr/bin/env bash
# 93-cluster.t: the short profile of ./build.sh cluster-test, and its refusal of bad settings.
#
# Proves, on a topology of network namespaces (3 Kafka brokers RF 3 min.insync 2, 2 edges behind
# an nginx stream load balancer, 2 worker hosts, a stores host): while the leader of the most
# partitions is killed with SIGKILL and restarted, and while an edge host is cut off the
# network, every 202 given in broker mode is stored exactly once (the audit PASSes, 0 lost,
# 0 double) and clients got nothing but 202, 503 or no answer; that the faults really happened;
# that nothing of the run is left (namespaces, processes). And that settings which cannot work
# (fewer brokers than the replication factor, an address range already in use) fail at once
# with one line and create nothing. Needs root (network namespaces); not the local stack.
. "$(dirname "$0")/../lib/tap.sh"
ROOT=${ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
[ "$(id -u)" = 0 ] || plan skip_all "needs root for network namespaces"
ip netns list >/dev/null 2>&1 || plan skip_all "ip netns does not work here"
plan 10

ours() { ip netns list | awk '$1 ~ /^vc-[0-9a-f]+-/ {print $1}' | sort; }
before=$(ours)

# ---- bad settings: one line, nothing created ----------------------------------------------
out=$(CLUSTER_BROKERS=2 "$ROOT/build.sh" cluster-test 2>&1); rc=$?
is "$rc:$(wc -l <<<"$out")" "1:1" "fewer brokers than the replication factor: exit 1 with one line"
like "$out" "CLUSTER_BROKERS=2 is fewer than the replication factor CLUSTER_RF=3" "the line names the settings"

busy=vc-t$$-busy
ip netns add "$busy" && ip -n "$busy" addr add 10.79.0.9/24 dev lo
out=$(CLUSTER_SUBNET=10.79.0.0/24 "$ROOT/build.sh" cluster-test 2>&1); rc=$?
ip netns del "$busy"
is "$rc:$(wc -l <<<"$out")" "1:1" "an address range in use: exit 1 with one line"
like "$out" "CLUSTER_SUBNET 10.79.0.0/24 is in use \(10.79.0.9/24 in network namespace $busy" "the line names who uses it"
is "$(ours)" "$before" "the refused runs created no namespace"

# ---- the short profile ---------------------------------------------------------------------
mkdir -p "$STATE_DIR/logs"
log=$STATE_DIR/logs/cluster-test-short.log
"$ROOT/build.sh" cluster-test --profile short > "$log" 2>&1; rc=$?
out=$(cat "$log")
like "$out" 'kill -9 broker [0-9]+ \(leader.*broker [0-9]+ started again' "broker-kill: a leader was killed and restarted (log: \$STATE_DIR/logs/cluster-test-short.log)"
like "$out" 'edge host e1 cut off the network.*e1 back on the network' "edge-cut: an edge host was cut off and came back"
if ! like "$out" $'broker-kill: PASS  202s [1-9][0-9]*  [^\n]*lost 0  double 0' "broker-kill: audit PASS, 0 lost, 0 double, only 202/503/no answer"; then
    diag "$(grep -E 'broker-kill:|audit:' "$log" | head -10)"
fi
if ! like "$out" $'edge-cut: PASS  202s [1-9][0-9]*  [^\n]*lost 0  double 0' "edge-cut: audit PASS, 0 lost, 0 double, only 202/503/no answer"; then
    diag "$(grep -E 'edge-cut:|audit:' "$log" | head -10)"
fi
is "$rc:$(ours)" "0:$before" "the run passed and left no namespace behind"
done_testing
