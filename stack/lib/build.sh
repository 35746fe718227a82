# shellcheck shell=bash
# build.sh (stack/lib): builds every C part into $BUILD_DIR with the parts' own Makefiles.
#
# Order: shared code first (common/, workers/lib via workers/), then the nginx module, the
# daemons and the stack's small tools. Each part may be absent while it is being written.

: "${BUILD_PARTS:=common workers workers/api ngx_vote_module stack/tools}"

cmd_build() {
    step "Building into $BUILD_DIR"
    mkdir -p "$BUILD_DIR"
    local part
    for part in $BUILD_PARTS; do
        [ -f "$ROOT/$part/Makefile" ] || continue
        info "make -C $part"
        make -s -C "$ROOT/$part" -j2 BUILD_DIR="$BUILD_DIR" > "$BUILD_DIR/build-${part//\//-}.log" 2>&1 \
            || { tail -30 "$BUILD_DIR/build-${part//\//-}.log" >&2; die "build of $part failed (log: $BUILD_DIR/build-${part//\//-}.log)"; }
    done
    ok "built: $(cd "$BUILD_DIR" && find bin modules -maxdepth 1 -type f -printf '%f\n' 2>/dev/null | sort | tr '\n' ' ')"
}
