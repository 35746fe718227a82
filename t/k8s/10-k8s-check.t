#!/usr/bin/env bash
# 10-k8s-check.t: ./build.sh k8s-check passes on the repository's manifests and refuses broken ones.
#
# Proves: every overlay renders, validates and applies to a real kube-apiserver, keeping the
# autoscaled counts across a re-apply (the full check on an unchanged copy); and that bad input
# fails with a message naming the object and the field, at each layer: kubeconform for a wrong
# apiVersion and an unknown field (built-in and CRD kinds), the policy check for replicas on an
# autoscaled Deployment and a KEDA bootstrap address outside the namespace, and the API server
# itself (--skip-validate) for an unknown field. Each broken case edits a fresh copy of the
# checkout's k8s/ (never the checkout), so the unchanged copy passing is what makes each
# failure meaningful.
. "$(dirname "$0")/../lib/tap.sh"

ROOT=${ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
build=$ROOT/build.sh
tmp=$(mktemp -d /tmp/k8s-check-t.XXXXXX)
export STATE_DIR=$tmp/state
trap 'rm -rf "$tmp"' EXIT
plan 10

# copy NAME: a checkout-shaped copy of what k8s-check reads, in $tmp/NAME.
copy() {
    mkdir -p "$tmp/$1/stack"
    cp -r "$ROOT/k8s" "$ROOT/nginx-conf" "$ROOT/docker" "$tmp/$1/"
    cp "$ROOT/stack/polls.json" "$ROOT/stack/schema.sql" "$tmp/$1/stack/"
    rm -f "$tmp/$1"/k8s/overlays/*/jwt-secrets "$tmp/$1"/k8s/overlays/*/postgres.env \
          "$tmp/$1"/k8s/overlays/*/tls.crt "$tmp/$1"/k8s/overlays/*/tls.key
}

# check NAME [ARGS]: runs k8s-check on the copy; prints its output, returns its status.
check() {
    local name=$1; shift
    "$build" k8s-check --root "$tmp/$name" "$@" > "$tmp/$name.out" 2>&1
}

copy good
if check good; then pass "the full check (render, validate, API server apply, re-apply keeps scale) passes on the repository's manifests"
else fail "the full check passes on the repository's manifests"; diag "$(tail -30 "$tmp/good.out")"; fi

copy apiversion
sed -i '0,/apiVersion: kafka.strimzi.io\/v1$/ s//apiVersion: kafka.strimzi.io\/v1beta2/' "$tmp/apiversion/k8s/base/kafka.yaml"
check apiversion --validate-only
like "$(cat "$tmp/apiversion.out")" 'KafkaNodePool dual \(apiVersion kafka\.strimzi\.io/v1beta2\): could not find schema' \
    "a Strimzi v1beta2 object fails validation, naming the kind, the object and the version"

copy unknown
sed -i 's/^      terminationGracePeriodSeconds: 40$/      terminationGracePeriod: 40/' "$tmp/unknown/k8s/base/edge.yaml"
check unknown --validate-only
like "$(cat "$tmp/unknown.out")" "Deployment edge \\(apiVersion apps/v1\\): at '/spec/template/spec': additional properties 'terminationGracePeriod' not allowed" \
    "an unknown field in a Deployment fails validation, naming the object and the field"

copy crdfield
sed -i 's/^    version: 4\.3\.1$/    version: 4.3.1\n    replicas: 3/' "$tmp/crdfield/k8s/base/kafka.yaml"
check crdfield --validate-only
like "$(cat "$tmp/crdfield.out")" "Kafka kafka \\(apiVersion kafka\\.strimzi\\.io/v1\\): at '/spec/kafka': additional properties 'replicas' not allowed" \
    "a field Strimzi v1 removed (spec.kafka.replicas) fails validation against the CRD schema"

copy replicas
sed -i "0,/^spec:$/ s//spec:\n  replicas: 2/" "$tmp/replicas/k8s/base/sinks.yaml"
check replicas --validate-only
like "$(cat "$tmp/replicas.out")" "Deployment vote-local/vote-sink: spec.replicas" \
    "replicas on a KEDA-scaled Deployment fails the check, naming the object and the field"

copy keda
sed -i '/bootstrapServers, value: "kafka-kafka-bootstrap.vote.svc:9092"/ s/kafka-kafka-bootstrap.vote.svc/kafka-kafka-bootstrap/' \
    "$tmp/keda/k8s/overlays/prod/kustomization.yaml"
check keda --validate-only
like "$(cat "$tmp/keda.out")" "ScaledObject vote/vote-sink: trigger bootstrapServers kafka-kafka-bootstrap:9092 is not in namespace vote" \
    "a KEDA bootstrap address without the namespace fails the check, naming the object"

copy include
sed -i '/nginx-conf\/edge-hsts.conf$/d' "$tmp/include/k8s/base/kustomization.yaml"
check include --validate-only
like "$(cat "$tmp/include.out")" "ConfigMap vote/edge-nginx-conf-[a-z0-9]*: nginx.conf includes edge-hsts.conf, which the ConfigMap does not hold" \
    "an nginx-conf file the edge's ConfigMap lacks fails the check, naming the ConfigMap and the include"

if check unknown --skip-validate; then fail "the API server alone refuses the unknown field too (--skip-validate)"
else pass "the API server alone refuses the unknown field too (--skip-validate)"; fi
like "$(cat "$tmp/unknown.out")" '\.spec\.template\.spec\.terminationGracePeriod: field not declared in schema' \
    "the API server's message names the field"
like "$(cat "$tmp/unknown.out")" '\(vote(-local)?/edge; apps/v1, Kind=Deployment\)' "the API server's message names the object"
