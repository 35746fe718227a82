#!/bin/sh
# edge-entrypoint.sh - starts the edge container: renders nginx-conf/*.conf with the same
# ${VARS} build.sh substitutes (stack/lib/services.sh render_edge_conf), checks the result with
# nginx -t and runs nginx in the foreground as the unprivileged user the image runs as.
#
#   edge-entrypoint.sh            render, test, run nginx (the default command)
#   edge-entrypoint.sh render     render and test only, print the rendered nginx.conf
#   edge-entrypoint.sh CMD ...    run CMD (e.g. a shell for debugging)
#
# Every UPPER_CASE ${VAR} named in the templates must be set (defaults below); nginx's own
# $variables are lower case and left alone. Two container-only adjustments follow the
# substitution, because the local stack binds everything to loopback: the edge listens on
# $EDGE_LISTEN_ADDR (default 0.0.0.0) and the api upstream is $API_HOST:$API_PORT. When
# NGINX_WORKER_PROCESSES is set it replaces "worker_processes auto" (in a container "auto" counts
# the node's cores, not the container's CPU limit, and each worker owns a Kafka producer).
# EDGE_PUBLIC_HTTPS_PORT (default EDGE_TLS_PORT) is the port plain-HTTP redirects name: behind a
# Service that maps 443 to the container's 8443, clients must be sent to 443.
# EDGE_METRICS_ALLOW (space-separated addresses/CIDRs) is added to the /metrics location's
# loopback-only allow list, for Prometheus scraping from another pod.
set -eu

: "${EDGE_PORT:=8080}" "${EDGE_LISTEN_ADDR:=0.0.0.0}" "${EDGE_TLS_PORT:=8443}"
: "${EDGE_PUBLIC_HTTPS_PORT:=$EDGE_TLS_PORT}"
: "${EDGE_TLS_CERT:=/etc/vote/tls/tls.crt}" "${EDGE_TLS_KEY:=/etc/vote/tls/tls.key}"
: "${API_HOST:=127.0.0.1}" "${API_PORT:=8090}"
: "${KAFKA_BROKERS:=kafka:9092}"
: "${POLL_CATALOG:=/etc/vote/polls.json}"
: "${JWT_SECRETS_FILE:=/etc/vote/secrets/jwt-secrets}"
: "${VOTE_MODULE_SO:=/opt/vote/modules/ngx_http_vote_module.so}"
: "${STATE_DIR:=/var/lib/vote}" "${WEB_ROOT:=/opt/vote/web}"
: "${NGINX_CONF_TEMPLATES:=/opt/vote/nginx-conf}"
export EDGE_PORT EDGE_LISTEN_ADDR EDGE_TLS_PORT EDGE_TLS_CERT EDGE_TLS_KEY API_HOST API_PORT KAFKA_BROKERS POLL_CATALOG JWT_SECRETS_FILE \
       VOTE_MODULE_SO STATE_DIR WEB_ROOT

die() { echo "edge-entrypoint: $*" >&2; exit 1; }

render() {
    conf=$STATE_DIR/nginx/conf
    mkdir -p "$conf" "$STATE_DIR/nginx/logs" "$STATE_DIR/run" "$STATE_DIR/logs"
    # Logs go to the container's stdout/stderr (the templates name files under STATE_DIR/logs).
    [ -e "$STATE_DIR/logs/edge.log" ] || ln -s /dev/stderr "$STATE_DIR/logs/edge.log"
    [ -e "$STATE_DIR/logs/edge-access.log" ] || ln -s /dev/stdout "$STATE_DIR/logs/edge-access.log"

    vars=$(cat "$NGINX_CONF_TEMPLATES"/*.conf | grep -o '\${[A-Z][A-Z0-9_]*}' | sort -u | tr '\n' ' ')
    for v in $vars; do
        name=${v#??}; name=${name%?}
        eval "[ -n \"\${$name+set}\" ]" || die "$name is used in nginx-conf but not set"
        export "${name?}"
    done
    for f in "$NGINX_CONF_TEMPLATES"/*.conf; do
        envsubst "$vars" < "$f" > "$conf/${f##*/}"
    done
    sed -i -e "s/listen 127\.0\.0\.1:$EDGE_PORT/listen $EDGE_LISTEN_ADDR:$EDGE_PORT/" \
           -e "s/listen 127\.0\.0\.1:$EDGE_TLS_PORT/listen $EDGE_LISTEN_ADDR:$EDGE_TLS_PORT/" \
           -e "s/server 127\.0\.0\.1:$API_PORT/server $API_HOST:$API_PORT/" "$conf"/*.conf
    if [ "$EDGE_PUBLIC_HTTPS_PORT" = 443 ]; then public=; else public=:$EDGE_PUBLIC_HTTPS_PORT; fi
    sed -i "s|return 308 https://\$host:$EDGE_TLS_PORT|return 308 https://\$host$public|" "$conf"/*.conf
    # The metrics location admits loopback only; a scraper in another pod needs its network.
    for cidr in ${EDGE_METRICS_ALLOW:-}; do
        sed -i "/location = \/metrics/,/}/ s|allow 127\.0\.0\.1;|allow 127.0.0.1; allow $cidr;|" "$conf"/*.conf
    done
    if [ -n "${NGINX_WORKER_PROCESSES:-}" ]; then
        sed -i "s/^worker_processes auto;/worker_processes $NGINX_WORKER_PROCESSES;/" "$conf/nginx.conf"
    fi

    # The HTTPS listener's certificate and key (PEM), e.g. a kubernetes.io/tls Secret mounted at
    # /etc/vote/tls; plain HTTP on EDGE_PORT redirects to it except /healthz and /metrics.
    [ -r "$EDGE_TLS_CERT" ] && [ -r "$EDGE_TLS_KEY" ] \
        || die "TLS certificate $EDGE_TLS_CERT or key $EDGE_TLS_KEY is not readable (mount them; see docker/README.md)"
    [ -r "$POLL_CATALOG" ] || die "poll catalog $POLL_CATALOG is not readable"
    [ -r "$JWT_SECRETS_FILE" ] || die "JWT secrets file $JWT_SECRETS_FILE is not readable (mount it; see docker/README.md)"
    nginx -p "$STATE_DIR/nginx" -c "$conf/nginx.conf" -e stderr -t -q || die "nginx -t failed for the rendered config in $conf"
}

case "${1:-nginx}" in
    nginx)
        render
        # Foreground master; SIGQUIT (the image's STOPSIGNAL) lets the module flush its queue.
        exec nginx -p "$STATE_DIR/nginx" -c "$STATE_DIR/nginx/conf/nginx.conf" -e stderr -g 'daemon off;' ;;
    render)
        render
        cat "$STATE_DIR/nginx/conf/nginx.conf" ;;
    *)
        exec "$@" ;;
esac
