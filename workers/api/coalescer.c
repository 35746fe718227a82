/*
 * coalescer.c - results push and heartbeat thread (see coalescer.h).
 *
 * However many results:{p} messages arrive (the vote sink publishes after
 * every batch), a poll's streams get one fresh snapshot per tick: bursts of
 * thousands of votes a second cost a few Redis reads a second.
 */
#include "coalescer.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "results.h"
#include "revoked.h"
#include "sse.h"
#include "strbuf.h"

struct coalescer {
    api_app *app;
    pthread_t thread;
    atomic_int stop;
};

static void push_poll(coalescer *co, size_t idx)
{
    api_app *app = co->app;
    const char *id = app->catalog->polls[idx].id;
    if (!sse_has_clients(app->hub, SSE_POLL, id))
        return; /* the cache entry is already dropped; nobody to push to */
    char *json;
    size_t len;
    if (results_snapshot(app, idx, 1, &json, &len) < 0) {
        results_mark_changed(app->results, idx); /* retry next tick */
        return;
    }
    strbuf frame = { 0 };
    if (sse_format(&frame, "results", NULL, json, len) == 0) {
        int reached = sse_publish(app->hub, SSE_POLL, id, NULL, frame.data, frame.len);
        log_debug("results_push", "%s: snapshot to %d streams", id, reached);
    }
    sb_free(&frame);
    free(json);
}

/* A chat stream lives no longer than its token: expired or logged out ends it. */
static int token_dead(const char *jti, int64_t exp, void *arg)
{
    api_app *app = arg;
    return exp < (int64_t)time(NULL) || revocations_contains(app->revoked, jti);
}

static void *coalescer_main(void *arg)
{
    coalescer *co = arg;
    api_app *app = co->app;
    double last_beat = api_now_monotonic();
    while (!atomic_load(&co->stop)) {
        usleep(app->cfg->sse_coalesce_ms * 1000);
        for (size_t i = 0; i < app->catalog->n; i++)
            if (results_take_changed(app->results, i))
                push_poll(co, i);
        sse_close_if(app->hub, token_dead, app);
        if (api_now_monotonic() - last_beat >= app->cfg->heartbeat_s) {
            sse_heartbeat(app->hub);
            last_beat = api_now_monotonic();
        }
    }
    return NULL;
}

coalescer *coalescer_start(api_app *app)
{
    coalescer *co = calloc(1, sizeof *co);
    if (!co)
        return NULL;
    co->app = app;
    if (pthread_create(&co->thread, NULL, coalescer_main, co) != 0) {
        free(co);
        return NULL;
    }
    return co;
}

void coalescer_stop(coalescer *co)
{
    if (!co)
        return;
    atomic_store(&co->stop, 1);
    pthread_join(co->thread, NULL);
    free(co);
}
