/*
 * pubsub.c - Redis PSUBSCRIBE loop (see pubsub.h).
 */
#include "pubsub.h"

#include <hiredis/hiredis.h>
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "api_metrics.h"
#include "thread_redis.h"
#include "results.h"
#include "sse.h"
#include "strbuf.h"

#define CHAT_PREFIX "chat:user:"
#define ORDER_PREFIX "order:user:"
#define RESULTS_PREFIX "results:"

struct pubsub {
    api_app *app;
    pthread_t thread;
    pthread_mutex_t lock; /* guards ctx against pubsub_stop's shutdown() */
    redisContext *ctx;
    atomic_int stop;
};

/* chat:user:{u} -> an SSE "message" frame to u's streams. */
static void on_chat(pubsub *ps, const char *user, const char *payload, size_t len)
{
    json_t *msg = json_loadb(payload, len, 0, NULL);
    const char *id = msg ? json_string_value(json_object_get(msg, "id")) : NULL;
    /* Re-dump compact: guarantees a single-line SSE data field. */
    char *text = id ? json_dumps(msg, JSON_COMPACT) : NULL;
    strbuf frame = { 0 };
    if (text && sse_format(&frame, "message", id, text, strlen(text)) == 0)
        sse_publish(ps->app->hub, SSE_CHAT, user, id, frame.data, frame.len);
    else
        log_warn("pubsub_bad_chat", "unusable payload on %s%s", CHAT_PREFIX, user);
    sb_free(&frame);
    free(text);
    json_decref(msg);
}

/* order:user:{u} (the order sink) -> an SSE "order" frame to u's chat streams. No `id:`
 * line: the stream's Last-Event-ID must stay a chat message id (resume of the history). */
static void on_order(pubsub *ps, const char *user, const char *payload, size_t len)
{
    json_t *o = json_loadb(payload, len, 0, NULL);
    char *text = json_is_string(json_object_get(o, "id")) ? json_dumps(o, JSON_COMPACT) : NULL;
    strbuf frame = { 0 };
    if (text && sse_format(&frame, "order", NULL, text, strlen(text)) == 0)
        sse_publish(ps->app->hub, SSE_CHAT, user, NULL, frame.data, frame.len);
    else
        log_warn("pubsub_bad_order", "unusable payload on %s%s", ORDER_PREFIX, user);
    sb_free(&frame);
    free(text);
    json_decref(o);
}

static void on_results(pubsub *ps, const char *poll)
{
    const vc_catalog *cat = ps->app->catalog;
    const vc_poll *p = vc_catalog_find(cat, poll, strlen(poll));
    if (p)
        results_mark_changed(ps->app->results, (size_t)(p - cat->polls));
}

/* ["pmessage", pattern, channel, payload]; other replies are acks. */
static void dispatch(pubsub *ps, const redisReply *r)
{
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 4 ||
        strcmp(r->element[0]->str, "pmessage") != 0)
        return;
    metrics_inc(M_PUBSUB_MESSAGES);
    const char *channel = r->element[2]->str;
    log_debug("pubsub_message", "%s", channel);
    const redisReply *payload = r->element[3];
    if (strncmp(channel, CHAT_PREFIX, strlen(CHAT_PREFIX)) == 0)
        on_chat(ps, channel + strlen(CHAT_PREFIX), payload->str, payload->len);
    else if (strncmp(channel, ORDER_PREFIX, strlen(ORDER_PREFIX)) == 0)
        on_order(ps, channel + strlen(ORDER_PREFIX), payload->str, payload->len);
    else if (strncmp(channel, RESULTS_PREFIX, strlen(RESULTS_PREFIX)) == 0)
        on_results(ps, channel + strlen(RESULTS_PREFIX));
}

static redisContext *subscribe(void)
{
    redisContext *c = thread_redis_connect_new();
    if (!c)
        return NULL;
    /* Blocking reads without timeout: a quiet channel is normal.  Shutdown
     * unblocks the read with shutdown(2). */
    struct timeval none = { 0, 0 };
    redisReply *r = redisSetTimeout(c, none) == REDIS_OK
                        ? redisCommand(c, "PSUBSCRIBE %s %s %s", CHAT_PREFIX "*", ORDER_PREFIX "*",
                                       RESULTS_PREFIX "*")
                        : NULL;
    if (!r || r->type == REDIS_REPLY_ERROR) {
        log_error("pubsub_subscribe", "%s", r ? r->str : c->errstr);
        freeReplyObject(r);
        redisFree(c);
        return NULL;
    }
    freeReplyObject(r);
    return c;
}

static void set_ctx(pubsub *ps, redisContext *c)
{
    pthread_mutex_lock(&ps->lock);
    ps->ctx = c;
    pthread_mutex_unlock(&ps->lock);
}

static void sleep_ms_unless_stopped(pubsub *ps, unsigned ms)
{
    for (unsigned t = 0; t < ms && !atomic_load(&ps->stop); t += 50)
        usleep(50000);
}

/* Reads until the connection fails or we are stopped. */
static void read_loop(pubsub *ps, redisContext *c)
{
    while (!atomic_load(&ps->stop)) {
        void *reply = NULL;
        if (redisGetReply(c, &reply) != REDIS_OK || !reply) {
            if (!atomic_load(&ps->stop))
                log_warn("pubsub_lost", "subscriber connection lost: %s", c->errstr);
            return;
        }
        dispatch(ps, reply);
        freeReplyObject(reply);
    }
}

static void *pubsub_main(void *arg)
{
    pubsub *ps = arg;
    unsigned backoff_ms = 100;
    int lost_before = 0;
    while (!atomic_load(&ps->stop)) {
        redisContext *c = subscribe();
        if (!c) {
            sleep_ms_unless_stopped(ps, backoff_ms);
            backoff_ms = backoff_ms < 5000 ? backoff_ms * 2 : 5000;
            continue;
        }
        set_ctx(ps, c);
        backoff_ms = 100;
        if (lost_before) { /* events may have been missed while away */
            metrics_inc(M_PUBSUB_RECONNECTS);
            results_mark_all_changed(ps->app->results);
            sse_close_kind(ps->app->hub, SSE_CHAT);
        }
        log_info("pubsub_subscribed", "listening on %s*, %s* and %s*", CHAT_PREFIX, ORDER_PREFIX,
                 RESULTS_PREFIX);
        read_loop(ps, c);
        set_ctx(ps, NULL);
        redisFree(c);
        lost_before = 1;
    }
    return NULL;
}

pubsub *pubsub_start(api_app *app)
{
    pubsub *ps = calloc(1, sizeof *ps);
    if (!ps)
        return NULL;
    ps->app = app;
    pthread_mutex_init(&ps->lock, NULL);
    if (pthread_create(&ps->thread, NULL, pubsub_main, ps) != 0) {
        pthread_mutex_destroy(&ps->lock);
        free(ps);
        return NULL;
    }
    return ps;
}

void pubsub_stop(pubsub *ps)
{
    if (!ps)
        return;
    atomic_store(&ps->stop, 1);
    pthread_mutex_lock(&ps->lock);
    if (ps->ctx)
        shutdown(ps->ctx->fd, SHUT_RDWR); /* wakes the blocked read */
    pthread_mutex_unlock(&ps->lock);
    pthread_join(ps->thread, NULL);
    pthread_mutex_destroy(&ps->lock);
    free(ps);
}
