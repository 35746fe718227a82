# shellcheck shell=bash
# k8s_apiserver.sh: a throwaway etcd + kube-apiserver on loopback for ./build.sh k8s-check.
#
# No kubelet, scheduler or controllers: the API server alone admits, validates (built-in and CRD
# schemas), defaults and stores objects, which is what applying manifests exercises. Ports
# K8S_CHECK_PORT_BASE (etcd), +1 (etcd peer), +2 (kube-apiserver); everything lives in one
# directory that k8s_apiserver_stop removes.

: "${K8S_CHECK_PORT_BASE:=16500}"
K8S_ETCD_PORT=$K8S_CHECK_PORT_BASE
K8S_ETCD_PEER_PORT=$((K8S_CHECK_PORT_BASE + 1))
K8S_APISERVER_PORT=$((K8S_CHECK_PORT_BASE + 2))
K8S_APISERVER_DIR=
K8S_ETCD_PID=
K8S_APISERVER_PID=

# Waits until "$@" succeeds, up to $1 seconds; the command follows.
k8s_wait() {
    local limit=$1 i; shift
    for ((i = 0; i < limit; i++)); do
        "$@" >/dev/null 2>&1 && return 0
        sleep 1
    done
    return 1
}

k8s_apiserver_start() {   # DIR
    local dir=$1 p token
    K8S_APISERVER_DIR=$dir
    mkdir -p "$dir/etcd" "$dir/certs"
    for p in "$K8S_ETCD_PORT" "$K8S_ETCD_PEER_PORT" "$K8S_APISERVER_PORT"; do
        port_busy "$p" && die "port $p (K8S_CHECK_PORT_BASE=$K8S_CHECK_PORT_BASE) is taken by $(port_owner "$p")"
    done
    info "etcd on 127.0.0.1:$K8S_ETCD_PORT"
    etcd --name k8s-check --data-dir "$dir/etcd" \
        --listen-client-urls "http://127.0.0.1:$K8S_ETCD_PORT" \
        --advertise-client-urls "http://127.0.0.1:$K8S_ETCD_PORT" \
        --listen-peer-urls "http://127.0.0.1:$K8S_ETCD_PEER_PORT" \
        --initial-advertise-peer-urls "http://127.0.0.1:$K8S_ETCD_PEER_PORT" \
        --initial-cluster "k8s-check=http://127.0.0.1:$K8S_ETCD_PEER_PORT" > "$dir/etcd.log" 2>&1 &
    K8S_ETCD_PID=$!
    k8s_wait 30 curl -fsS "http://127.0.0.1:$K8S_ETCD_PORT/health" \
        || { tail -20 "$dir/etcd.log" >&2; die "etcd did not become healthy (log above)"; }

    openssl genrsa -out "$dir/sa.key" 2048 2>/dev/null && openssl rsa -in "$dir/sa.key" -pubout -out "$dir/sa.pub" 2>/dev/null \
        || die "openssl could not make the service-account key"
    token=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
    printf '%s,k8s-check,k8s-check,system:masters\n' "$token" > "$dir/tokens.csv"
    info "kube-apiserver $KUBERNETES_VERSION on 127.0.0.1:$K8S_APISERVER_PORT"
    "$KUBE_APISERVER" --etcd-servers "http://127.0.0.1:$K8S_ETCD_PORT" \
        --bind-address 127.0.0.1 --advertise-address 127.0.0.1 --secure-port "$K8S_APISERVER_PORT" \
        --cert-dir "$dir/certs" --token-auth-file "$dir/tokens.csv" --authorization-mode RBAC \
        --service-account-issuer https://kubernetes.default.svc \
        --service-account-key-file "$dir/sa.pub" --service-account-signing-key-file "$dir/sa.key" \
        --service-cluster-ip-range 10.96.0.0/16 \
        --endpoint-reconciler-type none > "$dir/kube-apiserver.log" 2>&1 &
    K8S_APISERVER_PID=$!
    "$KUBECTL" config set-cluster k8s-check --server "https://127.0.0.1:$K8S_APISERVER_PORT" \
        --insecure-skip-tls-verify=true --kubeconfig "$dir/kubeconfig" >/dev/null
    "$KUBECTL" config set-credentials k8s-check --token "$token" --kubeconfig "$dir/kubeconfig" >/dev/null
    "$KUBECTL" config set-context k8s-check --cluster k8s-check --user k8s-check --kubeconfig "$dir/kubeconfig" >/dev/null
    "$KUBECTL" config use-context k8s-check --kubeconfig "$dir/kubeconfig" >/dev/null
    export KUBECONFIG=$dir/kubeconfig
    k8s_wait 180 k8s_apiserver_ready
    kill -0 "$K8S_APISERVER_PID" 2>/dev/null && [ "$("$KUBECTL" get --raw /readyz 2>/dev/null)" = ok ] \
        || { tail -20 "$dir/kube-apiserver.log" >&2; die "kube-apiserver did not become ready in 180 s (log above)"; }
    ok "API server ready"
}

# Ready, or dead (no point in waiting longer).
k8s_apiserver_ready() {
    kill -0 "$K8S_APISERVER_PID" 2>/dev/null || return 0
    [ "$("$KUBECTL" get --raw /readyz 2>/dev/null)" = ok ]
}

# Stops both servers (also after a failure half-way) and removes their directory.
k8s_apiserver_stop() {
    local pid
    for pid in $K8S_APISERVER_PID $K8S_ETCD_PID; do
        kill "$pid" 2>/dev/null && { wait_for_exit "$pid" 20 || kill -9 "$pid" 2>/dev/null; }
        wait "$pid" 2>/dev/null
    done
    K8S_APISERVER_PID='' K8S_ETCD_PID=''
    [ -n "$K8S_APISERVER_DIR" ] && rm -rf "$K8S_APISERVER_DIR"
    K8S_APISERVER_DIR=
}
