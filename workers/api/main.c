/*
 * main.c - vote-api: the api daemon behind the edge (accounts, results, chat
 * history, SSE).  Wires the parts together, waits for SIGTERM/SIGINT (SIGHUP is logged
 * and ignored) and shuts down in dependency order.
 */
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "coalescer.h"
#include "config.h"
#include "db.h"
#include "http_server.h"
#include "log.h"
#include "password.h"
#include "pubsub.h"
#include "thread_redis.h"
#include "results.h"
#include "revoked.h"
#include "revoker.h"
#include "router.h"
#include "sse.h"

#define SHUTDOWN_GRACE_MS 3000

/* GET /api/polls body: the catalog as loaded (validated) by common/catalog. */
static int render_polls(api_app *app)
{
    json_t *polls = json_array();
    for (size_t i = 0; polls && i < app->catalog->n; i++) {
        const vc_poll *p = &app->catalog->polls[i];
        json_t *choices = json_array(), *attrs = json_array();
        for (size_t c = 0; c < p->nchoices; c++)
            json_array_append_new(choices, json_string(p->choices[c]));
        for (size_t a = 0; a < p->nattrs; a++)
            json_array_append_new(attrs, json_string(p->attrs[a]));
        json_array_append_new(polls, json_pack("{s:s, s:s, s:o, s:o}", "id", p->id, "title",
                                               p->title, "choices", choices, "attrs", attrs));
    }
    json_t *body = json_pack("{s:o}", "polls", polls);
    app->polls_json = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    if (!app->polls_json)
        return -1;
    app->polls_json_len = strlen(app->polls_json);
    return 0;
}

static int load_files(api_app *app, const api_config *cfg)
{
    char err[256];
    if (!(app->catalog = vc_catalog_load(cfg->catalog_file, err, sizeof err))) {
        log_error("catalog", "%s: %s", cfg->catalog_file, err);
        return -1;
    }
    if (vc_jwt_keyset_load(&app->keys, cfg->secrets_file, err, sizeof err) < 0 ||
        app->keys.n == 0) {
        log_error("jwt_secrets", "%s: %s", cfg->secrets_file, app->keys.n ? err : "no key in file");
        return -1;
    }
    return render_polls(app);
}

/* Signals are taken synchronously by main (sigwait): block them before any
 * thread starts so every thread inherits the mask. */
static void block_signals(sigset_t *set)
{
    sigemptyset(set);
    sigaddset(set, SIGTERM);
    sigaddset(set, SIGINT);
    sigaddset(set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, set, NULL);
    signal(SIGPIPE, SIG_IGN);
}

static int start_services(api_app *app, const api_config *cfg)
{
    if (password_init() < 0 || db_init(cfg->pg_conninfo) < 0 ||
        thread_redis_init(cfg->redis_host, (int)cfg->redis_port) < 0) {
        log_error("init", "cannot initialise libsodium / libpq / hiredis state");
        return -1;
    }
    app->revoked = revocations_new();
    app->hub = sse_hub_new(cfg->max_sse_clients);
    app->results = results_cache_new(app->catalog->n, cfg->results_cache_ms);
    if (!app->revoked || !app->hub || !app->results)
        return -1;
    if (!(app->revoker = revoker_start(cfg, app->revoked))) {
        log_error("kafka", "cannot start the revocation producer/consumer");
        return -1;
    }
    router_init();
    return 0;
}

static void free_app(api_app *app)
{
    revocations_free(app->revoked);
    sse_hub_free(app->hub);
    results_cache_free(app->results);
    vc_jwt_keyset_free(&app->keys);
    vc_catalog_free(app->catalog);
    free(app->polls_json);
}

int main(int argc, char **argv)
{
    api_config cfg;
    enum config_outcome oc = config_load(&cfg, argc, argv);
    if (oc != CONFIG_RUN)
        return oc == CONFIG_EXIT_OK ? 0 : 2;
    log_set_level((enum log_level)cfg.log_level);

    sigset_t sigs;
    block_signals(&sigs);
    api_app app = { .cfg = &cfg };
    if (load_files(&app, &cfg) < 0 || start_services(&app, &cfg) < 0) {
        revoker_stop(app.revoker);
        free_app(&app);
        return 1;
    }
    pubsub *ps = pubsub_start(&app);
    coalescer *co = coalescer_start(&app);
    struct MHD_Daemon *d = ps && co ? http_start(&app) : NULL;
    int rc = 0;
    if (d) {
        log_info("listening", "http://%s:%u (%u threads, %u max SSE clients)", cfg.listen_addr,
                 cfg.port, cfg.threads, cfg.max_sse_clients);
        int sig = 0;
        /* SIGHUP (log rotation, a habitual "reload") must not kill the daemon; secrets and
         * catalog are read at start, so a change needs a restart. */
        while (sigwait(&sigs, &sig) == 0 && sig == SIGHUP)
            log_warn("sighup", "ignored: restart the daemon to reload secrets or catalog");
        log_info("shutdown", "signal %d: draining", sig);
        atomic_store(&app.stopping, 1);
        http_stop(d, &app, SHUTDOWN_GRACE_MS);
    } else {
        rc = 1;
    }
    coalescer_stop(co);
    pubsub_stop(ps);
    revoker_stop(app.revoker);
    free_app(&app);
    log_info("stopped", "bye");
    return rc;
}
