#!/usr/bin/env bash
# 10-lint.t: the enforced style (docs/STYLE.md) holds, and drifting from it fails.
#
# Proves: ./build.sh lint passes on the checkout (every C file as its tree's .clang-format
# formats it, every shell script clean under shellcheck -S warning); on a copy of the style
# files plus one C file of each tree and one shell script it passes too, and it fails naming
# the file when that copy drifts: a misformatted line in common/ (top-level .clang-format), the
# module's return type put back on the function's line (nginx style), a shellcheck error in a
# script. The README's tree table names every top-level folder. Needs no running stack.
. "$(dirname "$0")/../lib/tap.sh"

ROOT=${ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
build=$ROOT/build.sh
tmp=$(mktemp -d /tmp/style-t.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
plan 8

# copy NAME: the style configs, common/ulid.c, the module's response file and one script.
copy() {
    mkdir -p "$tmp/$1/common" "$tmp/$1/ngx_vote_module/src" "$tmp/$1/stack/lib"
    cp "$ROOT/.clang-format" "$ROOT/.shellcheckrc" "$tmp/$1/"
    cp "$ROOT/ngx_vote_module/.clang-format" "$tmp/$1/ngx_vote_module/"
    cp "$ROOT/common/ulid.c" "$tmp/$1/common/"
    cp "$ROOT/ngx_vote_module/src/ngx_http_vote_response.c" "$tmp/$1/ngx_vote_module/src/"
    cp "$ROOT/stack/lib/tls.sh" "$tmp/$1/stack/lib/"
}

# lint DIR: runs ./build.sh lint on it; its output in $out, its status returned.
lint() { out=$("$build" lint --root "$1" 2>&1); }

lint "$ROOT"
is "$?" 0 "the checkout follows the style (./build.sh lint)" || diag "$out"

copy clean
lint "$tmp/clean"
is "$?" 0 "an unchanged copy passes, so each failure below is the drift's"

copy c-drift
sed -i '0,/^    return /s//    return  /' "$tmp/c-drift/common/ulid.c"
lint "$tmp/c-drift"
isnt "$?" 0 "a misformatted line in common/ fails"
like "$out" 'lint: common/ulid\.c: not formatted' "... naming the file"

copy nginx-drift
perl -0pi -e 's/\nstatic ngx_int_t\nngx_http_vote_send_json\(/\nstatic ngx_int_t ngx_http_vote_send_json(/' \
    "$tmp/nginx-drift/ngx_vote_module/src/ngx_http_vote_response.c"
lint "$tmp/nginx-drift"
like "$out" 'lint: ngx_vote_module/src/ngx_http_vote_response\.c: not formatted' \
    "the module's return type on the function's own line is nginx style: moving it fails"

copy sh-drift
echo 'cd $1; rm -rf build' >> "$tmp/sh-drift/stack/lib/tls.sh"
lint "$tmp/sh-drift"
isnt "$?" 0 "a shellcheck error in a script fails"
like "$out" 'lint: stack/lib/tls\.sh:[0-9]+:[0-9]+: warning: .*SC2164' "... naming the file and the check"

# the README's tree table: a row per top-level folder
missing=""
for d in "$ROOT"/*/; do
    d=$(basename "$d")
    grep -qE "^\| ([^|]*\`$d/\`)" "$ROOT/README.md" || missing="$missing $d"
done
is "$missing" "" "the README's tree table names every top-level folder"
