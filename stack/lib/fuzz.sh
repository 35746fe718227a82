# shellcheck shell=bash
# fuzz.sh: ./build.sh fuzz [TARGET] [SECONDS]: longer libFuzzer runs (ASan + UBSan) of every
# fuzz target, or of one, each growing its corpus under $CACHE_DIR/fuzz/NAME, one line each:
# executions, coverage, findings.  A finding's input is kept in $CACHE_DIR/fuzz/findings/NAME;
# once fixed it belongs in the target's regress/NAME folder (replayed by every run).
# The targets are the fuzz_*.c of FUZZ_PARTS (common/fuzz/fuzz.mk builds them).

FUZZ_PARTS="common workers workers/api"

fuzz_targets() {
    local env
    for env in "$BUILD_DIR"/fuzz/fuzz-*.env; do
        [ -f "$env" ] && basename "$env" .env | sed 's/^fuzz-//'
    done
}

cmd_fuzz() {
    local only="" secs=60 part name rc=0 n=0
    case "${1:-}" in
        "") ;;
        *[!0-9]*) only=$1; shift ;;
    esac
    [ -n "${1:-}" ] && secs=$1
    case "$secs" in ''|*[!0-9]*|0) die "fuzz: SECONDS must be a positive number, not '$secs'" ;; esac
    command -v "${FUZZ_CC:-clang-14}" >/dev/null || die "fuzz: ${FUZZ_CC:-clang-14} is not installed (./build.sh setup)"
    step "Building the fuzz targets (ASan + UBSan)"
    mkdir -p "$BUILD_DIR"
    for part in $FUZZ_PARTS; do
        make -s -C "$ROOT/$part" -j2 BUILD_DIR="$BUILD_DIR" fuzz-build \
            > "$BUILD_DIR/fuzz-build-${part//\//-}.log" 2>&1 \
            || { tail -30 "$BUILD_DIR/fuzz-build-${part//\//-}.log" >&2; die "building the fuzz targets of $part failed"; }
    done
    if [ -n "$only" ] && [[ " $(fuzz_targets | tr '\n' ' ') " != *" $only "* ]]; then
        die "fuzz: no target '$only' (targets: $(fuzz_targets | tr '\n' ' '))"
    fi
    step "Fuzzing ${only:-every target} for ${secs} s each (corpora in $CACHE_DIR/fuzz)"
    for name in $(fuzz_targets); do
        [ -n "$only" ] && [ "$name" != "$only" ] && continue
        n=$((n + 1))
        "$ROOT/common/fuzz/fuzz-run.sh" "$BUILD_DIR/fuzz/fuzz-$name.env" "$secs" \
            "$CACHE_DIR/fuzz/$name" "$CACHE_DIR/fuzz/findings/$name" || rc=1
    done
    [ $rc -eq 0 ] || warn "findings kept in $CACHE_DIR/fuzz/findings (the fuzzer's log is NAME.log there)"
    return $rc
}
