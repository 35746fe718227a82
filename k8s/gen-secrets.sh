#!/bin/sh
# gen-secrets.sh OVERLAY_DIR - writes the two files an overlay's secretGenerator reads, with fresh
# random values, unless they already exist (git-ignored; never commit them):
#   jwt-secrets    "kid secret" per line, the first line signs (docs/CONTRACT.md); add a line to
#                  rotate: tokens signed with the old key stay valid until they expire
#   postgres.env   POSTGRES_PASSWORD=... for the vote database user
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
