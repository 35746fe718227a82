#!/bin/sh
# gen-secrets.sh OVERLAY_DIR - writes the two files an overlay's secretGenerator reads, with fresh
# random values, unless they already exist (git-ignored; never commit them):
#   jwt-secrets    "kid secret" per line, the first line signs (docs/CONTRACT.md); add a line to
#                  rotate: tokens signed with the old key stay valid until they expire
#   postgres.env   POSTGRES_PASSWORD=... for the vote database user
#   tls.crt/.key   the edge's server certificate: self-signed (ECDSA P-256, 1 year) for the
#                  edge Service's names in the overlay's namespace; replace both files with your
#                  CA-issued certificate and key for a public cluster
# Usage: k8s/gen-secrets.sh k8s/overlays/local
set -eu
dir=${1:?usage: gen-secrets.sh OVERLAY_DIR}
[ -f "$dir/kustomization.yaml" ] || { echo "gen-secrets: $dir has no kustomization.yaml" >&2; exit 1; }
hex() { head -c "$1" /dev/urandom | od -An -tx1 | tr -d ' \n'; }
umask 077
if [ -s "$dir/jwt-secrets" ]; then echo "kept    $dir/jwt-secrets"
else printf 'k%s %s\n' "$(date +%Y%m%d)" "$(hex 32)" > "$dir/jwt-secrets"; echo "created $dir/jwt-secrets"; fi
if [ -s "$dir/postgres.env" ]; then echo "kept    $dir/postgres.env"
else printf 'POSTGRES_PASSWORD=%s\n' "$(hex 24)" > "$dir/postgres.env"; echo "created $dir/postgres.env"; fi
if [ -s "$dir/tls.crt" ] && [ -s "$dir/tls.key" ]; then echo "kept    $dir/tls.crt, tls.key"
else
    ns=$(sed -n 's/^namespace: *//p' "$dir/kustomization.yaml")
    [ -n "$ns" ] || { echo "gen-secrets: $dir/kustomization.yaml names no namespace" >&2; exit 1; }
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 365 \
        -subj "/CN=edge.$ns.svc" \
        -addext "subjectAltName=DNS:edge,DNS:edge.$ns,DNS:edge.$ns.svc,DNS:edge.$ns.svc.cluster.local,DNS:localhost" \
        -keyout "$dir/tls.key" -out "$dir/tls.crt" 2>/dev/null \
        || { echo "gen-secrets: openssl could not make the edge certificate" >&2; exit 1; }
    echo "created $dir/tls.crt, tls.key (self-signed for edge.$ns.svc)"
fi
