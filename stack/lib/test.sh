# shellcheck shell=bash
# test.sh: ./build.sh test: set up, build, start what the tests need, run every suite, stop.
#
# Suites, in order: C unit tests ($BUILD_DIR/tests/*), the style check (t/style/*.t: ./build.sh
# lint on the checkout and on drifted copies), the Test::Nginx runner's self-tests,
# the module's Test::Nginx suites (t/*.t) and the integration tests against the running stack
# (t/integration/*.t), the Kubernetes manifests check (t/k8s/*.t: ./build.sh k8s-check on a
# throwaway API server), then the module's suites again under valgrind. Services that were not
# running before the test run are stopped after it.

TEST_PARTS="common workers workers/api"

cmd_test() {
    local before="" s rc
    cmd_setup || return 1
    cmd_build || return 1
    step "Building the unit tests"
    for part in $TEST_PARTS; do
        [ -f "$ROOT/$part/Makefile" ] && grep -q '^test:' "$ROOT/$part/Makefile" || continue
        make -s -C "$ROOT/$part" -j2 BUILD_DIR="$BUILD_DIR" test > "$BUILD_DIR/test-build-${part//\//-}.log" 2>&1 \
            || { tail -30 "$BUILD_DIR/test-build-${part//\//-}.log" >&2; die "building the tests of $part failed"; }
    done
    for s in $SERVICES; do live_pid "$s" >/dev/null && before="$before $s"; done
    ( cmd_up ) || { stop_started_by_test "$before"; die "the stack did not come up for the tests"; }

    export TEST_NGINX_BINARY=${TEST_NGINX_BINARY:-$(command -v nginx)}
    export TEST_NGINX_LOAD_MODULES=$BUILD_DIR/modules/ngx_http_vote_module.so
    export TEST_NGINX_KAFKA_BROKERS=$KAFKA_BROKERS TEST_NGINX_POLL_CATALOG=$POLL_CATALOG
    export TEST_NGINX_JWT_SECRETS=$STATE_DIR/jwt-secrets TEST_NGINX_SERVROOT=$BUILD_DIR/servroot
    export CMOCKA_MESSAGE_OUTPUT=TAP

    local files=("$@")
    [ ${#files[@]} -eq 0 ] && [ -d "$BUILD_DIR/tests" ] && while IFS= read -r f; do files+=("$f"); done \
        < <(find "$BUILD_DIR/tests" -maxdepth 1 -type f -perm -u+x | sort)
    [ $# -eq 0 ] && for f in "$ROOT"/t/style/*.t "$ROOT"/t/lib/selftest/*.t "$ROOT"/t/*.t "$ROOT"/t/integration/*.t "$ROOT"/t/k8s/*.t; do
        [ -f "$f" ] && files+=("$f")
    done
    # The module's suites once more with nginx under valgrind memcheck (TEST_VALGRIND=0 skips).
    if [ $# -eq 0 ] && [ "${TEST_VALGRIND:-1}" = 1 ]; then
        for f in "$ROOT"/t/0*.t; do files+=("$f?valgrind"); done
    fi
    step "Running ${#files[@]} test files"
    (cd "$ROOT" && t/run-all "${files[@]}"); rc=$?
    stop_started_by_test "$before"
    return $rc
}

stop_started_by_test() {
    local before=$1 s rev=""
    for s in $SERVICES; do rev="$s $rev"; done
    step "Stopping what the test run started"
    for s in $rev; do
        case " $before " in *" $s "*) continue;; esac
        live_pid "$s" >/dev/null && { stop_"$s"; ok "$s stopped"; }
    done
}
