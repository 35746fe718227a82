/*
 * config.h - the api daemon's settings: defaults, then environment, then flags.
 *
 * Environment names follow what build.sh exports for the stack (API_PORT,
 * PG_PORT, REDIS_PORT, KAFKA_BROKERS, STATE_DIR) so the daemon starts with no
 * flags inside the local stack; flags override for anything else.
 */
#ifndef API_CONFIG_H
#define API_CONFIG_H

#include <limits.h>

typedef struct {
    char listen_addr[64];
    unsigned port;
    char pg_conninfo[512];
    char redis_host[256];
    unsigned redis_port;
    char kafka_brokers[512];
    char revocation_topic[128];
    char secrets_file[PATH_MAX];
    char catalog_file[PATH_MAX];
    unsigned threads;         /* MHD worker threads (blocking handlers: argon2id, PG) */
    unsigned max_connections; /* total, SSE included */
    unsigned max_sse_clients;
    unsigned token_ttl_s;
    unsigned results_cache_ms; /* max age of a cached results snapshot */
    unsigned sse_coalesce_ms;  /* min interval between two results snapshots per poll */
    unsigned heartbeat_s;      /* SSE comment line interval; detects dead clients */
    int log_level;
} api_config;

enum config_outcome { CONFIG_RUN = 0, CONFIG_EXIT_OK = 1, CONFIG_ERROR = -1 };

/* Fills c; prints --help / errors itself. */
enum config_outcome config_load(api_config *c, int argc, char **argv);

#endif
