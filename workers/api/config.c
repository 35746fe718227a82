/*
 * config.c - the api daemon's options (see config.h), parsed by the workers' shared wconfig
 * (workers/lib/wconfig.c: defaults, then environment, then flags; --help), then checked for
 * range and length and copied into api_config.
 *
 * Two defaults depend on the environment the local stack exports: the PostgreSQL conninfo
 * follows PG_PORT and the JWT secrets file lives in STATE_DIR, so the daemon starts there
 * with no flags.
 */
#include "config.h"
#include "log.h"
#include "wconfig.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* What wconfig parses into, before ranges and lengths are checked. */
struct raw_options {
    const char *listen, *pg, *redis_host, *brokers, *revocation_topic, *secrets, *catalog,
        *log_level;
    long port, redis_port, threads, max_connections, max_sse_clients, token_ttl_s, results_cache_ms,
        sse_coalesce_ms, heartbeat_s;
};

/* A numeric option's accepted range: a value outside is an error, never clamped. */
struct numeric_option {
    const char *name;
    const long *raw;
    unsigned *dst;
    long min, max;
};

/* A text option lands in a fixed-size field: a value that does not fit is an error. */
struct text_option {
    const char *name;
    const char *raw;
    char *dst;
    size_t size;
};

static int copy_numeric(const struct numeric_option *o)
{
    if (wconfig_check_range(o->name, *o->raw, o->min, o->max) < 0)
        return -1;
    *o->dst = (unsigned)*o->raw;
    return 0;
}

static int copy_text(const struct text_option *o)
{
    if (strlen(o->raw) >= o->size) {
        wconfig_error("--%s is longer than %zu bytes", o->name, o->size - 1);
        return -1;
    }
    memcpy(o->dst, o->raw, strlen(o->raw) + 1);
    return 0;
}

static int copy_options(const struct raw_options *r, api_config *c)
{
    const struct text_option texts[] = {
        { "listen", r->listen, c->listen_addr, sizeof c->listen_addr },
        { "pg", r->pg, c->pg_conninfo, sizeof c->pg_conninfo },
        { "redis-host", r->redis_host, c->redis_host, sizeof c->redis_host },
        { "brokers", r->brokers, c->kafka_brokers, sizeof c->kafka_brokers },
        { "revocation-topic", r->revocation_topic, c->revocation_topic,
          sizeof c->revocation_topic },
        { "jwt-secrets", r->secrets, c->secrets_file, sizeof c->secrets_file },
        { "catalog", r->catalog, c->catalog_file, sizeof c->catalog_file },
    };
    const struct numeric_option numbers[] = {
        { "port", &r->port, &c->port, 1, 65535 },
        { "redis-port", &r->redis_port, &c->redis_port, 1, 65535 },
        { "threads", &r->threads, &c->threads, 1, 256 },
        { "max-connections", &r->max_connections, &c->max_connections, 16, 1000000 },
        { "max-sse-clients", &r->max_sse_clients, &c->max_sse_clients, 0, 1000000 },
        { "token-ttl", &r->token_ttl_s, &c->token_ttl_s, 10, 86400 * 30 },
        { "results-cache-ms", &r->results_cache_ms, &c->results_cache_ms, 0, 60000 },
        { "sse-coalesce-ms", &r->sse_coalesce_ms, &c->sse_coalesce_ms, 50, 60000 },
        { "heartbeat", &r->heartbeat_s, &c->heartbeat_s, 1, 3600 },
    };
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++)
        if (copy_text(&texts[i]) < 0)
            return -1;
    for (size_t i = 0; i < sizeof numbers / sizeof numbers[0]; i++)
        if (copy_numeric(&numbers[i]) < 0)
            return -1;
    if ((c->log_level = log_parse_level(r->log_level)) < 0) {
        wconfig_error("--log-level must be debug, info, warn or error, not '%s'", r->log_level);
        return -1;
    }
    return 0;
}

enum config_outcome config_load(api_config *c, int argc, char **argv)
{
    static char pg_default[256], secrets_default[PATH_MAX];
    const char *pg_port = getenv("PG_PORT"), *state_dir = getenv("STATE_DIR");
    struct raw_options r;

    snprintf(pg_default, sizeof pg_default,
             "host=127.0.0.1 port=%s dbname=vote user=vote connect_timeout=3",
             pg_port && *pg_port ? pg_port : "5432");
    if (state_dir && *state_dir)
        snprintf(secrets_default, sizeof secrets_default, "%s/jwt-secrets", state_dir);
    else
        snprintf(secrets_default, sizeof secrets_default, "stack/jwt-secrets");

    const struct wopt opts[] = {
        { "listen", "API_LISTEN_ADDR", WOPT_STR, &r.listen, "127.0.0.1", "listen address" },
        { "port", "API_PORT", WOPT_INT, &r.port, "8090", "listen port" },
        { "pg", "API_PG_CONNINFO", WOPT_STR, &r.pg, pg_default,
          "libpq conninfo (the default follows $PG_PORT)" },
        { "redis-host", "REDIS_HOST", WOPT_STR, &r.redis_host, "127.0.0.1", "Redis host" },
        { "redis-port", "REDIS_PORT", WOPT_INT, &r.redis_port, "6379", "Redis port" },
        { "brokers", "KAFKA_BROKERS", WOPT_STR, &r.brokers, "127.0.0.1:9092",
          "Kafka bootstrap servers" },
        { "revocation-topic", NULL, WOPT_STR, &r.revocation_topic, "auth.revocations",
          "topic of logout revocations" },
        { "jwt-secrets", "JWT_SECRETS_FILE", WOPT_STR, &r.secrets, secrets_default,
          "JWT secrets, 'kid secret' per line, the first one signs (default in $STATE_DIR)" },
        { "catalog", "POLL_CATALOG", WOPT_STR, &r.catalog, "stack/polls.json", "poll catalog" },
        { "threads", NULL, WOPT_INT, &r.threads, "8",
          "HTTP worker threads, 1-256 (handlers block on argon2id and PostgreSQL)" },
        { "max-connections", NULL, WOPT_INT, &r.max_connections, "4096",
          "total connection limit, SSE included" },
        { "max-sse-clients", NULL, WOPT_INT, &r.max_sse_clients, "2000", "concurrent SSE streams" },
        { "token-ttl", NULL, WOPT_INT, &r.token_ttl_s, "3600", "token lifetime in seconds" },
        { "results-cache-ms", NULL, WOPT_INT, &r.results_cache_ms, "250",
          "re-read a poll's results at most every N ms while they change" },
        { "sse-coalesce-ms", NULL, WOPT_INT, &r.sse_coalesce_ms, "250",
          "least interval between two results pushes of a poll (50-60000)" },
        { "heartbeat", NULL, WOPT_INT, &r.heartbeat_s, "15",
          "seconds between SSE keep-alive comments (finds dead clients)" },
        { "log-level", NULL, WOPT_STR, &r.log_level, "info", "debug, info, warn or error" },
    };

    memset(c, 0, sizeof *c);
    switch (wconfig_parse(opts, sizeof opts / sizeof opts[0], argc, argv,
                          "Usage: vote-api [options]\n"
                          "The api daemon behind the edge: accounts, results, chat history, "
                          "live streams (SSE).")) {
    case WCONFIG_HELP:
        return CONFIG_EXIT_OK;
    case WCONFIG_ERROR:
        return CONFIG_ERROR;
    case WCONFIG_OK:
        break;
    }
    return copy_options(&r, c) < 0 ? CONFIG_ERROR : CONFIG_RUN;
}
