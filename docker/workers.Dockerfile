# workers.Dockerfile - the C daemons in one image: vote-sink, chat-sink, order-sink and vote-api (plus the
# sink-inspect tool). The container's first argument chooses the daemon (workers-entrypoint.sh).
#
#   docker build -f docker/workers.Dockerfile -t vote-workers .   (context: the repository root)
#   docker run vote-workers vote-sink --help
#
# Build stage: the same Makefiles build.sh uses (common/, workers/, workers/api/). Runtime stage:
# bookworm-slim with only the shared libraries the binaries link. Runs as uid 10001 ("vote").

# hadolint: packages are not pinned per version (DL3008 ignored below): the Debian suite is the
# pin, and its point releases remove superseded versions from the archive, so a pinned build
# would break within months.
ARG DEBIAN_SUITE=bookworm

# ---- build ----------------------------------------------------------------------------------
FROM debian:${DEBIAN_SUITE} AS build
# hadolint ignore=DL3008
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      build-essential pkg-config librdkafka-dev libjansson-dev libhiredis-dev libmongoc-dev \
      libbson-dev libpq-dev libmicrohttpd-dev libsodium-dev libssl-dev zlib1g-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY common/ common/
COPY workers/ workers/
RUN make -C common BUILD_DIR=/build -j"$(nproc)" \
 && make -C workers BUILD_DIR=/build -j"$(nproc)" \
 && make -C workers/api BUILD_DIR=/build -j"$(nproc)" \
 && strip --strip-unneeded /build/bin/vote-sink /build/bin/chat-sink /build/bin/order-sink \
      /build/bin/sink-inspect /build/bin/vote-api

# ---- runtime --------------------------------------------------------------------------------
FROM debian:${DEBIAN_SUITE}-slim
# hadolint ignore=DL3008
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      librdkafka1 libjansson4 libhiredis0.14 libmongoc-1.0-0 libbson-1.0-0 libpq5 \
      libmicrohttpd12 libsodium23 libssl3 ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 vote \
 && useradd --system --uid 10001 --gid vote --no-create-home --shell /usr/sbin/nologin vote \
 && mkdir -p /etc/vote/secrets

COPY --from=build /build/bin/vote-sink /build/bin/chat-sink /build/bin/order-sink /build/bin/sink-inspect \
     /build/bin/vote-api /opt/vote/bin/
COPY stack/polls.json /etc/vote/polls.json
COPY docker/workers-entrypoint.sh /usr/local/bin/workers-entrypoint
COPY docker/workers-healthcheck.sh /usr/local/bin/workers-healthcheck
COPY docker/http-ok /usr/local/bin/http-ok
# Fail the build, not the first start, if a shared library is missing.
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
RUN ! ldd /opt/vote/bin/* | grep 'not found'

# Container defaults: listen on every interface (the binaries default to loopback, as the local
# stack wants), stores reached by service name. Override any of them per deployment.
# JWT_SECRETS_FILE is a path, not a secret (DL3064 matches the name).
# hadolint ignore=DL3064
ENV KAFKA_BROKERS=kafka:9092 \
    REDIS_HOST=redis \
    REDIS_PORT=6379 \
    MONGO_URI=mongodb://ferretdb:27017/ \
    PG_CONNINFO="host=postgres port=5432 dbname=vote user=vote connect_timeout=3" \
    API_PG_CONNINFO="host=postgres port=5432 dbname=vote user=vote connect_timeout=3" \
    POLL_CATALOG=/etc/vote/polls.json \
    JWT_SECRETS_FILE=/etc/vote/secrets/jwt-secrets \
    SINK_METRICS_ADDR=0.0.0.0 \
    API_LISTEN_ADDR=0.0.0.0 \
    API_PORT=8090

USER 10001:10001
EXPOSE 8090 9101 9102
HEALTHCHECK --interval=10s --timeout=3s --start-period=15s --retries=3 CMD ["workers-healthcheck"]
ENTRYPOINT ["workers-entrypoint"]
CMD ["vote-api"]
