# shellcheck shell=bash
# k8s_check.sh: ./build.sh k8s-check: prove k8s/ and docker/ against real tools and a real API server.
#
# Renders every overlay with the pinned kustomize, validates strictly with kubeconform (Kubernetes
# and the pinned operators' CRD schemas), checks what schemas cannot (manifest-policy.py), lints
# the Dockerfiles with hadolint, then starts etcd + kube-apiserver (k8s_apiserver.sh), installs
# the CRDs, applies every overlay server-side as a dry run and for real, scales the autoscaled
# Deployments as their autoscalers would, applies again and checks the counts were kept.

k8s_check_usage() {
    cat <<USAGE
usage: ./build.sh k8s-check [--root DIR] [--validate-only] [--skip-validate]

Checks every overlay under k8s/overlays/ and the Dockerfiles in docker/:
  1. render with kustomize $KUSTOMIZE_VERSION (--load-restrictor LoadRestrictionsNone)
  2. kubeconform $KUBECONFORM_VERSION -strict against Kubernetes $KUBERNETES_VALIDATE_VERSION schemas and the
     CRDs of Strimzi $STRIMZI_VERSION, KEDA $KEDA_VERSION, prometheus-operator $PROMETHEUS_OPERATOR_VERSION, Gateway API $GATEWAY_API_VERSION
  3. rules a schema cannot express (stack/k8s-tools/manifest-policy.py)
  4. hadolint docker/*.Dockerfile
  5. etcd + kube-apiserver $KUBERNETES_VERSION on 127.0.0.1:$K8S_CHECK_PORT_BASE-$((K8S_CHECK_PORT_BASE + 2)): install the CRDs,
     kubectl apply --server-side --dry-run=server, apply for real, scale the autoscaled
     Deployments, apply again, check the scaled counts were kept; then stop and remove it all
The tools are installed on first use and cached in .cache/k8s (the first kube-apiserver build
takes ~9 min on 2 idle cores, far longer on a loaded machine).

  --root DIR        check DIR/k8s, DIR/docker (and the files they include: DIR/nginx-conf,
                    DIR/stack/polls.json, DIR/stack/schema.sql) instead of this checkout
  --validate-only   steps 1-4 only (no API server)
  --skip-validate   skip steps 2-4: the API server alone judges the manifests
Settings: K8S_CHECK_PORT_BASE=$K8S_CHECK_PORT_BASE (3 loopback ports from there)
USAGE
}

cmd_k8s_check() {
    local src=$ROOT validate=1 apiserver=1 work overlay name failed=0 out
    while [ $# -gt 0 ]; do
        case "$1" in
            --root) src=$(cd "${2:?--root needs a directory}" && pwd) || return 2; shift 2 ;;
            --validate-only) apiserver=0; shift ;;
            --skip-validate) validate=0; shift ;;
            -h|--help) k8s_check_usage; return 0 ;;
            *) echo "k8s-check: unknown argument '$1' (see ./build.sh k8s-check --help)" >&2; return 2 ;;
        esac
    done
    if [ "$apiserver" = 1 ]; then k8s_setup apiserver; else k8s_setup; fi
    work=$STATE_DIR/k8s-check
    rm -rf "$work" && mkdir -p "$work/tree/stack"
    trap 'k8s_apiserver_stop' EXIT
    trap 'exit 130' INT TERM
    # A copy, so the secrets the overlays need are made there, never in the checkout.
    cp -r "$src/k8s" "$src/nginx-conf" "$src/docker" "$work/tree/" \
        && cp "$src/stack/polls.json" "$src/stack/schema.sql" "$work/tree/stack/" \
        || die "$src lacks k8s/, nginx-conf/, docker/ or stack/{polls.json,schema.sql}"

    step "Rendering the overlays with kustomize $KUSTOMIZE_VERSION"
    for overlay in "$work"/tree/k8s/overlays/*/; do
        name=$(basename "$overlay")
        "$work/tree/k8s/gen-secrets.sh" "$overlay" >/dev/null
        mkdir -p "$work/$name"
        if "$KUSTOMIZE" build --load-restrictor LoadRestrictionsNone "$overlay" > "$work/$name/rendered.yaml" 2> "$work/$name/kustomize.err"; then
            ok "$name: $(grep -c '^kind:' "$work/$name/rendered.yaml") objects"
        else
            sed "s/^/    $name: /" "$work/$name/kustomize.err" >&2; failed=1
        fi
    done
    [ "$failed" = 0 ] || die "k8s-check: an overlay does not render"

    if [ "$validate" = 1 ]; then
        k8s_check_validate "$work" || failed=1
        step "hadolint docker/*.Dockerfile"
        if out=$("$K8S_VENV/bin/hadolint" --no-color "$work"/tree/docker/*.Dockerfile 2>&1); then ok "clean"
        else printf '%s\n' "$out" | sed "s#$work/tree/##; s/^/    /" >&2; failed=1; fi
    fi
    [ "$failed" = 0 ] || die "k8s-check: the manifests or Dockerfiles are invalid (above)"
    [ "$apiserver" = 1 ] || { ok "k8s-check: every overlay renders and validates (no API server: --validate-only)"; return 0; }

    step "A real API server: etcd + kube-apiserver $KUBERNETES_VERSION"
    k8s_apiserver_start "$work/apiserver"
    k8s_check_apply "$work" || die "k8s-check: the API server refused the manifests (above)"
    k8s_apiserver_stop
    ok "k8s-check: every overlay renders, validates, applies server-side and keeps its scale"
}

k8s_check_validate() {   # WORK
    local work=$1 dir name out failed=0 kv=${KUBERNETES_VALIDATE_VERSION%.*}.0
    step "kubeconform -strict (Kubernetes $kv, Strimzi $STRIMZI_VERSION, KEDA $KEDA_VERSION, prometheus-operator $PROMETHEUS_OPERATOR_VERSION, Gateway API $GATEWAY_API_VERSION)"
    for dir in "$work"/*/; do
        name=$(basename "$dir")
        [ -f "$dir/rendered.yaml" ] || continue
        # No schema for a kind (or for its apiVersion) is an error too: no -ignore-missing-schemas.
        if out=$("$KUBECONFORM" -strict -summary -output json -kubernetes-version "$kv" \
                -schema-location "$K8S_SCHEMAS/{{ .NormalizedKubernetesVersion }}-standalone{{ .StrictSuffix }}/{{ .ResourceKind }}{{ .KindSuffix }}.json" \
                -schema-location "$K8S_CRD_SCHEMAS/{{ .Group }}_{{ .ResourceKind }}_{{ .ResourceAPIVersion }}.json" \
                "$dir/rendered.yaml" 2>&1); then
            ok "$name: $(printf '%s' "$out" | jq -r '.summary | "\(.valid) objects valid"')"
        else
            # One line per object: kind, name, apiVersion, then the validator's words on the field.
            printf '%s' "$out" | jq -r '.resources[] | "\(.kind) \(.name) (apiVersion \(.version)): \(.msg
                | sub("^problem validating schema.*?#. - "; ""))"' \
                2>/dev/null | sed "s/^/    $name: /" >&2 || printf '%s\n' "$out" >&2
            failed=1
        fi
        if out=$("$K8S_VENV/bin/python" "$K8S_TOOLS_DIR/manifest-policy.py" "$dir/rendered.yaml" "$dir" "$STRIMZI_KAFKA_VERSION"); then
            ok "$name: autoscaled Deployments without replicas, KEDA bootstrap by namespace FQDN, Kafka $STRIMZI_KAFKA_VERSION"
        else
            printf '%s\n' "$out" | sed "s/^/    $name: /" >&2; failed=1
        fi
    done
    [ "$STRIMZI_KAFKA_VERSION" = "$KAFKA_VERSION" ] \
        || warn "the overlays run Kafka $STRIMZI_KAFKA_VERSION, the local stack $KAFKA_VERSION (stack/versions.env)"
    return $failed
}

k8s_check_apply() {   # WORK
    local work=$1 dir name ns deploy want have failed=0 n
    step "Installing $(ls "$K8S_CRDS"/*.yaml | wc -l) CRDs"
    "$KUBECTL" apply --server-side -f "$K8S_CRDS" > "$work/crds.log" 2>&1 \
        || { sed 's/^/    /' "$work/crds.log" >&2; return 1; }
    "$KUBECTL" wait --for condition=established --timeout 60s crd --all > /dev/null || return 1
    ok "established"
    for dir in "$work"/*/; do
        name=$(basename "$dir")
        [ -f "$dir/rendered.yaml" ] || continue
        [ -f "$dir/objects.yaml" ] || "$K8S_VENV/bin/python" "$K8S_TOOLS_DIR/manifest-policy.py" \
            "$dir/rendered.yaml" "$dir" "$STRIMZI_KAFKA_VERSION" > /dev/null
        step "Overlay $name"
        k8s_apply "$dir" namespaces "namespaces (for real: a dry run cannot create them)" || { failed=1; continue; }
        k8s_apply "$dir" objects "server-side dry run" --dry-run=server || { failed=1; continue; }
        k8s_apply "$dir" objects "applied" || { failed=1; continue; }
        # What the HPA and KEDA do: set replicas through the scale subresource, as another manager.
        n=2; : > "$dir/scaled.txt"
        while read -r ns deploy; do
            n=$((n + 1))
            "$KUBECTL" -n "$ns" scale "deployment/$deploy" --replicas "$n" >/dev/null || { failed=1; continue; }
            echo "$ns $deploy $n" >> "$dir/scaled.txt"
        done < "$dir/autoscaled.txt"
        k8s_apply "$dir" objects "applied again" || { failed=1; continue; }
        while read -r ns deploy want; do
            have=$("$KUBECTL" -n "$ns" get "deployment/$deploy" -o jsonpath='{.spec.replicas}')
            if [ "$have" = "$want" ]; then ok "$ns/$deploy kept $want replicas"
            else printf '    %s/%s: scaled to %s, %s after applying again\n' "$ns" "$deploy" "$want" "$have" >&2; failed=1; fi
        done < "$dir/scaled.txt"
    done
    return $failed
}

k8s_apply() {   # DIR FILE WHAT [KUBECTL_FLAGS]
    local dir=$1 file=$2 what=$3 count; shift 3
    count=$(grep -c '^kind:' "$dir/$file.yaml")
    [ "$count" -gt 0 ] || return 0
    if "$KUBECTL" apply --server-side --field-manager k8s-check "$@" -f "$dir/$file.yaml" > "$dir/$file.apply.log" 2>&1; then
        ok "$what: $count objects"
    else
        grep -v ' serverside-applied\| unchanged' "$dir/$file.apply.log" | sed 's/^/    /' >&2
        return 1
    fi
}
