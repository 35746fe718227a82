# shellcheck shell=bash
# setup.sh: installs everything the stack, the builds and the tests need. Idempotent.
#
# Debian packages from stack/debian-packages.txt; the Kafka broker jars from Maven Central;
# FerretDB built from its Go module; Locust into a venv; the dashboard's chart library from
# npm (stack/web/package-lock.json) into web/vendor/. Each step is skipped when its result
# is already there, so a second run takes seconds.

setup_debian() {
    step "Debian packages (stack/debian-packages.txt)"
    # shellcheck disable=SC2046
    apt_install $(sed -e 's/#.*//' -e '/^[[:space:]]*$/d' "$STACK_DIR/debian-packages.txt")
}

# Installs the named Debian packages that are not installed yet.
apt_install() {
    local p missing=()
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
    done
    if [ ${#missing[@]} -eq 0 ]; then ok "all $# installed"; return; fi
    info "installing ${#missing[@]}: ${missing[*]}"
    local sudo=; [ "$(id -u)" = 0 ] || sudo=sudo
    $sudo apt-get update -qq || die "apt-get update failed"
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" \
        > "$CACHE_DIR/apt.log" 2>&1 || { tail -20 "$CACHE_DIR/apt.log" >&2; die "apt-get install failed (log: $CACHE_DIR/apt.log)"; }
    # Debian starts the packaged servers; the stack runs its own copies on its own state.
    for svc in redis-server postgresql nginx etcd; do
        service "$svc" stop >/dev/null 2>&1 || true
    done
    ok "installed"
}

setup_kafka() {
    step "Apache Kafka $KAFKA_VERSION (broker jars from Maven Central)"
    if [ -f "$KAFKA_LIBS/.complete" ]; then ok "cached in $KAFKA_LIBS"; return; fi
    command -v java >/dev/null || die "java not found (install default-jre-headless)"
    command -v mvn >/dev/null || die "mvn not found (install maven)"
    rm -rf "$KAFKA_LIBS"; mkdir -p "$KAFKA_LIBS"
    info "resolving kafka_$SCALA_BINARY:$KAFKA_VERSION and kafka-tools with Maven"
    mvn -B -q -f "$STACK_DIR/kafka/pom.xml" -Dkafka.version="$KAFKA_VERSION" -Dscala.binary="$SCALA_BINARY" \
        dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$KAFKA_LIBS" \
        > "$CACHE_DIR/mvn.log" 2>&1 || { tail -20 "$CACHE_DIR/mvn.log" >&2; die "Maven could not resolve Kafka (log: $CACHE_DIR/mvn.log)"; }
    touch "$KAFKA_LIBS/.complete"
    ok "$(ls "$KAFKA_LIBS" | wc -l) jars in $KAFKA_LIBS"
}

setup_ferretdb() {
    step "FerretDB $FERRETDB_VERSION (MongoDB-wire server, built from its Go module)"
    if [ -x "$FERRETDB_BIN" ]; then ok "cached at $FERRETDB_BIN"; return; fi
    command -v go >/dev/null || die "go not found: the MongoDB-wire server is built with the Go toolchain"
    mkdir -p "$(dirname "$FERRETDB_BIN")"
    info "go build (first time: downloads modules through the Go module proxy, ~1-3 min)"
    ("$STACK_DIR/ferretdb/vendor-patched.sh" "$CACHE_DIR/ferretdb-src" \
        && cd "$CACHE_DIR/ferretdb-src" && go build -mod=vendor -trimpath -o "$FERRETDB_BIN.tmp" .) \
        > "$CACHE_DIR/ferretdb-build.log" 2>&1 \
        || { tail -20 "$CACHE_DIR/ferretdb-build.log" >&2; die "FerretDB build failed (log: $CACHE_DIR/ferretdb-build.log)"; }
    mv "$FERRETDB_BIN.tmp" "$FERRETDB_BIN"
    ok "built $FERRETDB_BIN"
}

setup_locust() {
    [ -x "$ROOT/locust/setup.sh" ] || return 0
    step "Locust $LOCUST_VERSION and the load/audit tools (Python venv)"
    "$ROOT/locust/setup.sh" || die "locust/setup.sh failed"
}

# The chart library the dashboard serves from the edge: npm ci of the lockfile in the cache,
# then its browser bundle and licence copied to web/vendor/ (git-ignored), so nothing is loaded
# from outside the edge.  Skipped while web/vendor/ holds the bundle of the current lockfile.
setup_web() {
    step "Dashboard chart library (npm, stack/web/package-lock.json -> web/vendor/)"
    local lock=$STACK_DIR/web/package-lock.json vendor=$ROOT/web/vendor work=$CACHE_DIR/web-npm
    local stamp; stamp=$(sha256sum "$lock" | cut -d' ' -f1)
    if [ -f "$vendor/chart.umd.js" ] && [ "$(cat "$vendor/.lock-sha256" 2>/dev/null)" = "$stamp" ]; then
        ok "web/vendor/ current"; return
    fi
    # Debian's nodejs comes without npm; its npm package conflicts with NodeSource's nodejs
    # (which bundles npm), so it is not in debian-packages.txt but installed only when missing.
    if ! command -v npm >/dev/null; then
        local sudo=; [ "$(id -u)" = 0 ] || sudo=sudo
        info "installing Debian's npm"
        DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends npm \
            > "$CACHE_DIR/apt-npm.log" 2>&1 || { tail -20 "$CACHE_DIR/apt-npm.log" >&2; die "apt-get install npm failed"; }
    fi
    rm -rf "$work"; mkdir -p "$work" "$vendor"
    cp "$STACK_DIR/web/package.json" "$lock" "$work/"
    (cd "$work" && npm ci --ignore-scripts --no-audit --no-fund) > "$CACHE_DIR/npm.log" 2>&1 \
        || { tail -20 "$CACHE_DIR/npm.log" >&2; die "npm ci failed (log: $CACHE_DIR/npm.log)"; }
    cp "$work/node_modules/chart.js/dist/chart.umd.js" "$vendor/chart.umd.js"
    cp "$work/node_modules/chart.js/LICENSE.md" "$vendor/chart.js-LICENSE.md"
    echo "$stamp" > "$vendor/.lock-sha256"
    ok "chart.js $(node -p "require('$work/node_modules/chart.js/package.json').version") in web/vendor/"
}

cmd_setup() {
    mkdir -p "$CACHE_DIR"
    setup_debian
    setup_kafka
    setup_ferretdb
    setup_locust
    setup_web
}
