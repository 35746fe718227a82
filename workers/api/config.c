/*
 * config.c - defaults, environment and command-line parsing (see config.h).
 */
#include "config.h"
#include "log.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void copy_str(char *dst, size_t len, const char *src)
{
    snprintf(dst, len, "%s", src);
}

/* Parses a decimal in [min,max]; returns -1 if s is not one. */
static int parse_uint(const char *s, unsigned min, unsigned max, unsigned *out)
{
    char *end;
    if (!s || !*s)
        return -1;
    unsigned long v = strtoul(s, &end, 10);
    if (*end || v < min || v > max)
        return -1;
    *out = (unsigned)v;
    return 0;
}

static void set_defaults(api_config *c)
{
    memset(c, 0, sizeof *c);
    copy_str(c->listen_addr, sizeof c->listen_addr, "127.0.0.1");
    c->port = 8090;
    copy_str(c->pg_conninfo, sizeof c->pg_conninfo,
             "host=127.0.0.1 port=5432 dbname=vote user=vote connect_timeout=3");
    copy_str(c->redis_host, sizeof c->redis_host, "127.0.0.1");
    c->redis_port = 6379;
    copy_str(c->kafka_brokers, sizeof c->kafka_brokers, "127.0.0.1:9092");
    copy_str(c->revocation_topic, sizeof c->revocation_topic, "auth.revocations");
    copy_str(c->secrets_file, sizeof c->secrets_file, "stack/jwt-secrets");
    copy_str(c->catalog_file, sizeof c->catalog_file, "stack/polls.json");
    c->threads = 8;
    c->max_connections = 4096;
    c->max_sse_clients = 2000;
    c->token_ttl_s = 3600;
    c->results_cache_ms = 250;
    c->sse_coalesce_ms = 250;
    c->heartbeat_s = 15;
    c->log_level = LOG_INFO;
}

/* Environment overrides; a malformed number is an error, not silently ignored. */
static int apply_env(api_config *c)
{
    const char *v;
    if ((v = getenv("API_PORT")) && parse_uint(v, 1, 65535, &c->port) < 0) {
        fprintf(stderr, "vote-api: bad API_PORT '%s'\n", v);
        return -1;
    }
    if ((v = getenv("PG_PORT")))
        snprintf(c->pg_conninfo, sizeof c->pg_conninfo,
                 "host=127.0.0.1 port=%s dbname=vote user=vote connect_timeout=3", v);
    if ((v = getenv("API_PG_CONNINFO")))
        copy_str(c->pg_conninfo, sizeof c->pg_conninfo, v);
    if ((v = getenv("REDIS_HOST")))
        copy_str(c->redis_host, sizeof c->redis_host, v);
    if ((v = getenv("REDIS_PORT")) && parse_uint(v, 1, 65535, &c->redis_port) < 0) {
        fprintf(stderr, "vote-api: bad REDIS_PORT '%s'\n", v);
        return -1;
    }
    if ((v = getenv("KAFKA_BROKERS")))
        copy_str(c->kafka_brokers, sizeof c->kafka_brokers, v);
    if ((v = getenv("STATE_DIR")))
        snprintf(c->secrets_file, sizeof c->secrets_file, "%s/jwt-secrets", v);
    if ((v = getenv("JWT_SECRETS_FILE")))
        copy_str(c->secrets_file, sizeof c->secrets_file, v);
    if ((v = getenv("POLL_CATALOG")))
        copy_str(c->catalog_file, sizeof c->catalog_file, v);
    return 0;
}

static void usage(FILE *out)
{
    fprintf(out,
        "Usage: vote-api [options]\n"
        "The api daemon behind the edge: accounts, results, chat history, SSE streams.\n\n"
        "  --listen ADDR            listen address (default 127.0.0.1)\n"
        "  --port N                 listen port (env API_PORT, default 8090)\n"
        "  --pg CONNINFO            libpq conninfo (env API_PG_CONNINFO, or PG_PORT)\n"
        "  --redis-host H           (env REDIS_HOST, default 127.0.0.1)\n"
        "  --redis-port N           (env REDIS_PORT, default 6379)\n"
        "  --brokers LIST           Kafka bootstrap servers (env KAFKA_BROKERS,\n"
        "                           default 127.0.0.1:9092; alias --kafka-brokers)\n"
        "  --revocation-topic T     logout revocations topic (default auth.revocations)\n"
        "  --jwt-secrets FILE       JWT secrets, 'kid secret' per line, first signs\n"
        "                           (env JWT_SECRETS_FILE, or $STATE_DIR/jwt-secrets;\n"
        "                           alias --secrets)\n"
        "  --catalog FILE           poll catalog (env POLL_CATALOG, default stack/polls.json)\n"
        "  --threads N              HTTP worker threads (default 8)\n"
        "  --max-connections N      total connection limit (default 4096)\n"
        "  --max-sse-clients N      concurrent SSE streams (default 2000)\n"
        "  --token-ttl S            token lifetime in seconds (default 3600)\n"
        "  --results-cache-ms N     re-read a poll's results at most every N ms while they\n"
        "                           change (default 250)\n"
        "  --sse-coalesce-ms N      min interval between results pushes (default 250)\n"
        "  --heartbeat N            SSE keep-alive comment interval, s (default 15)\n"
        "  --log-level L            debug|info|warn|error (default info)\n"
        "  -h, --help               this text\n");
}

enum opt_id {
    OPT_LISTEN = 256, OPT_PORT, OPT_PG, OPT_RHOST, OPT_RPORT, OPT_BROKERS, OPT_REVTOPIC,
    OPT_SECRETS, OPT_CATALOG, OPT_THREADS, OPT_MAXCONN, OPT_MAXSSE, OPT_TTL, OPT_CACHE,
    OPT_COALESCE, OPT_HEARTBEAT, OPT_LOGLEVEL
};

static const struct option long_opts[] = {
    {"listen", required_argument, 0, OPT_LISTEN},
    {"port", required_argument, 0, OPT_PORT},
    {"pg", required_argument, 0, OPT_PG},
    {"redis-host", required_argument, 0, OPT_RHOST},
    {"redis-port", required_argument, 0, OPT_RPORT},
    {"brokers", required_argument, 0, OPT_BROKERS},
    {"kafka-brokers", required_argument, 0, OPT_BROKERS},    /* alias */
    {"revocation-topic", required_argument, 0, OPT_REVTOPIC},
    {"jwt-secrets", required_argument, 0, OPT_SECRETS},
    {"secrets", required_argument, 0, OPT_SECRETS},          /* alias */
    {"catalog", required_argument, 0, OPT_CATALOG},
    {"threads", required_argument, 0, OPT_THREADS},
    {"max-connections", required_argument, 0, OPT_MAXCONN},
    {"max-sse-clients", required_argument, 0, OPT_MAXSSE},
    {"token-ttl", required_argument, 0, OPT_TTL},
    {"results-cache-ms", required_argument, 0, OPT_CACHE},
    {"sse-coalesce-ms", required_argument, 0, OPT_COALESCE},
    {"heartbeat", required_argument, 0, OPT_HEARTBEAT},
    {"log-level", required_argument, 0, OPT_LOGLEVEL},
    {"help", no_argument, 0, 'h'},
    {0, 0, 0, 0}};

/* Numeric flags: where each lands and its allowed range. */
static int apply_numeric(api_config *c, int id, const char *arg)
{
    struct { int id; unsigned *dst; unsigned min, max; } table[] = {
        {OPT_PORT, &c->port, 1, 65535},
        {OPT_RPORT, &c->redis_port, 1, 65535},
        {OPT_THREADS, &c->threads, 1, 256},
        {OPT_MAXCONN, &c->max_connections, 16, 1000000},
        {OPT_MAXSSE, &c->max_sse_clients, 0, 1000000},
        {OPT_TTL, &c->token_ttl_s, 10, 86400 * 30},
        {OPT_CACHE, &c->results_cache_ms, 0, 60000},
        {OPT_COALESCE, &c->sse_coalesce_ms, 50, 60000},
        {OPT_HEARTBEAT, &c->heartbeat_s, 1, 3600},
    };
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
        if (table[i].id == id)
            return parse_uint(arg, table[i].min, table[i].max, table[i].dst);
    return -1;
}

static int apply_flag(api_config *c, int id, const char *arg)
{
    switch (id) {
    case OPT_LISTEN: copy_str(c->listen_addr, sizeof c->listen_addr, arg); return 0;
    case OPT_PG: copy_str(c->pg_conninfo, sizeof c->pg_conninfo, arg); return 0;
    case OPT_RHOST: copy_str(c->redis_host, sizeof c->redis_host, arg); return 0;
    case OPT_BROKERS: copy_str(c->kafka_brokers, sizeof c->kafka_brokers, arg); return 0;
    case OPT_REVTOPIC: copy_str(c->revocation_topic, sizeof c->revocation_topic, arg); return 0;
    case OPT_SECRETS: copy_str(c->secrets_file, sizeof c->secrets_file, arg); return 0;
    case OPT_CATALOG: copy_str(c->catalog_file, sizeof c->catalog_file, arg); return 0;
    case OPT_LOGLEVEL: return (c->log_level = log_parse_level(arg)) < 0 ? -1 : 0;
    default: return apply_numeric(c, id, arg);
    }
}

static const char *flag_name(int id)
{
    for (const struct option *o = long_opts; o->name; o++)
        if (o->val == id)
            return o->name;
    return "?";
}

enum config_outcome config_load(api_config *c, int argc, char **argv)
{
    set_defaults(c);
    if (apply_env(c) < 0)
        return CONFIG_ERROR;
    int id;
    while ((id = getopt_long(argc, argv, "h", long_opts, NULL)) != -1) {
        if (id == 'h') {
            usage(stdout);
            return CONFIG_EXIT_OK;
        }
        if (id == '?' || apply_flag(c, id, optarg) < 0) {
            if (id != '?')
                fprintf(stderr, "vote-api: bad value '%s' for --%s\n", optarg, flag_name(id));
            usage(stderr);
            return CONFIG_ERROR;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "vote-api: unexpected argument '%s'\n", argv[optind]);
        return CONFIG_ERROR;
    }
    return CONFIG_RUN;
}
