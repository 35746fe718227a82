# edge.Dockerfile - the public edge: Debian's nginx + ngx_vote_module + the web app (web/).
#
#   docker build -f docker/edge.Dockerfile -t vote-edge .        (context: the repository root)
#
# Build stage: the module is built against Debian's nginx-dev (--with-compat), exactly as
# build.sh does locally. Runtime stage: bookworm-slim with the *same* nginx version (pinned from
# the build stage, so the module's binary signature matches), the module's runtime libraries,
# nginx-conf/ as templates rendered at start by edge-entrypoint.sh, web/ and the poll catalog.
# Runs as the unprivileged user "vote", by number (10001:10001: runAsNonRoot can check it):
# HTTPS on 8443, plain HTTP on 8080 (health, metrics, redirects).

# hadolint: packages are not pinned per version (DL3008 ignored below): the Debian suite is the
# pin, and its point releases remove superseded versions from the archive, so a pinned build
# would break within months. The edge's runtime nginx is pinned to its build stage's version.
ARG DEBIAN_SUITE=bookworm

# ---- build ----------------------------------------------------------------------------------
FROM debian:${DEBIAN_SUITE} AS build
# hadolint ignore=DL3008
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      build-essential pkg-config nginx-dev libpcre2-dev libssl-dev zlib1g-dev \
      librdkafka-dev libjansson-dev nodejs npm \
 && rm -rf /var/lib/apt/lists/* \
 && dpkg-query -W -f '${Version}' nginx-dev > /nginx-version
WORKDIR /src
COPY common/ common/
COPY ngx_vote_module/ ngx_vote_module/
RUN make -C common BUILD_DIR=/build -j"$(nproc)" \
 && make -C ngx_vote_module BUILD_DIR=/build -j"$(nproc)" \
 && test -f /build/modules/ngx_http_vote_module.so
# The dashboard's chart library (web/vendor/ is git-ignored): the lockfile's pinned version, as
# build.sh setup installs it locally.
COPY stack/web/package.json stack/web/package-lock.json stack/web/
WORKDIR /src/stack/web
RUN npm ci --ignore-scripts --no-audit --no-fund \
 && mkdir -p /build/web-vendor \
 && cp node_modules/chart.js/dist/chart.umd.js /build/web-vendor/chart.umd.js \
 && cp node_modules/chart.js/LICENSE.md /build/web-vendor/chart.js-LICENSE.md
WORKDIR /src

# ---- runtime --------------------------------------------------------------------------------
FROM debian:${DEBIAN_SUITE}-slim
COPY --from=build /nginx-version /tmp/nginx-version
# gettext-base: envsubst for the entrypoint. No curl: the health check is plain bash (http-ok).
# Debian's nginx has its temp paths compiled in under /var/lib/nginx: the user must own them.
# hadolint ignore=DL3008
RUN v=$(cat /tmp/nginx-version) \
 && apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      "nginx=$v" "nginx-common=$v" librdkafka1 libjansson4 gettext-base \
 && rm -rf /var/lib/apt/lists/* /tmp/nginx-version /etc/nginx/sites-enabled/* \
 && groupadd --system --gid 10001 vote \
 && useradd --system --uid 10001 --gid vote --home-dir /var/lib/vote --shell /usr/sbin/nologin vote \
 && mkdir -p /var/lib/vote /etc/vote/secrets \
 && chown -R vote:vote /var/lib/vote /var/lib/nginx

COPY --from=build /build/modules/ngx_http_vote_module.so /opt/vote/modules/
COPY nginx-conf/ /opt/vote/nginx-conf/
COPY web/ /opt/vote/web/
COPY --from=build /build/web-vendor/ /opt/vote/web/vendor/
COPY stack/polls.json /etc/vote/polls.json
COPY docker/edge-entrypoint.sh /usr/local/bin/edge-entrypoint
COPY docker/http-ok /usr/local/bin/http-ok

# JWT_SECRETS_FILE is a path, not a secret (DL3064 matches the name).
# hadolint ignore=DL3064
ENV EDGE_PORT=8080 \
    EDGE_TLS_PORT=8443 \
    API_HOST=vote-api \
    API_PORT=8090 \
    KAFKA_BROKERS=kafka:9092 \
    POLL_CATALOG=/etc/vote/polls.json \
    JWT_SECRETS_FILE=/etc/vote/secrets/jwt-secrets \
    STATE_DIR=/var/lib/vote \
    WEB_ROOT=/opt/vote/web

USER 10001:10001
EXPOSE 8080 8443
# nginx's graceful stop: the module flushes its Kafka queue before the workers exit.
STOPSIGNAL SIGQUIT
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
    CMD ["sh", "-c", "http-ok \"$EDGE_PORT\" /healthz"]
ENTRYPOINT ["edge-entrypoint"]
CMD ["nginx"]
