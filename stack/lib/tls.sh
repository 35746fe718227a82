# shellcheck shell=bash
# tls.sh: the edge's local certificate authority and server certificate (openssl), for `up`.
#
# Only when EDGE_TLS_CERT / EDGE_TLS_KEY are the defaults under $STATE_DIR/tls: a user's own
# certificate is used as given. Idempotent: the CA is made once and kept (clients that trust it
# keep working); the server certificate is issued again only when it is missing, does not verify
# against the CA or expires within 30 days.

TLS_DIR=$STATE_DIR/tls
# The names the certificate is issued for (the cluster test adds its load balancer's address).
: "${EDGE_TLS_SAN:=DNS:localhost,IP:127.0.0.1,IP:::1}"

edge_tls_issue() {
    local ext=$TLS_DIR/edge.ext
    openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
        -keyout "$EDGE_TLS_KEY" -out "$TLS_DIR/edge.csr" -subj "/CN=vote-edge local" 2>/dev/null || return 1
    printf '%s\n' 'basicConstraints=critical,CA:FALSE' 'keyUsage=critical,digitalSignature' \
        'extendedKeyUsage=serverAuth' "subjectAltName=$EDGE_TLS_SAN" > "$ext"
    openssl x509 -req -in "$TLS_DIR/edge.csr" -CA "$EDGE_CA_FILE" -CAkey "$TLS_DIR/ca.key" \
        -CAcreateserial -days 397 -sha256 -extfile "$ext" -out "$EDGE_TLS_CERT" 2>/dev/null || return 1
    rm -f "$TLS_DIR/edge.csr" "$ext"
}

edge_tls_files() {
    if [ "$EDGE_TLS_CERT" != "$TLS_DIR/edge.crt" ] || [ "$EDGE_TLS_KEY" != "$TLS_DIR/edge.key" ]; then
        [ -r "$EDGE_TLS_CERT" ] && [ -r "$EDGE_TLS_KEY" ] \
            || die "EDGE_TLS_CERT ($EDGE_TLS_CERT) and EDGE_TLS_KEY ($EDGE_TLS_KEY) must be readable files"
        return 0
    fi
    command -v openssl >/dev/null || die "openssl is missing: run ./build.sh setup"
    mkdir -p "$TLS_DIR"
    if [ ! -s "$EDGE_CA_FILE" ] || [ ! -s "$TLS_DIR/ca.key" ]; then
        ( umask 077
          openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 3650 \
              -keyout "$TLS_DIR/ca.key" -out "$EDGE_CA_FILE" -subj "/CN=vote-edge local CA" \
              -addext 'basicConstraints=critical,CA:TRUE,pathlen:0' \
              -addext 'keyUsage=critical,keyCertSign,cRLSign' 2>/dev/null ) \
            || die "openssl could not create the local CA in $TLS_DIR"
        chmod 644 "$EDGE_CA_FILE"
        rm -f "$EDGE_TLS_CERT"
        ok "local CA created: $EDGE_CA_FILE"
    fi
    if [ -s "$EDGE_TLS_CERT" ] && [ -s "$EDGE_TLS_KEY" ] \
        && openssl verify -CAfile "$EDGE_CA_FILE" "$EDGE_TLS_CERT" >/dev/null 2>&1 \
        && openssl x509 -in "$EDGE_TLS_CERT" -noout -checkend $((30 * 86400)) >/dev/null; then
        return 0
    fi
    ( umask 077; edge_tls_issue ) || die "openssl could not issue the edge certificate in $TLS_DIR"
    ok "edge certificate issued for $EDGE_TLS_SAN: $EDGE_TLS_CERT"
}
