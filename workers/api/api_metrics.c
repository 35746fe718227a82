/*
 * api_metrics.c - the api daemon's metric set on the daemons' registry (see api_metrics.h).
 */
#include "api_metrics.h"

#include "metrics.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

/* name, labels, help */
static const char *const counter_defs[M_COUNTER_MAX][3] = {
    [M_REGISTER_OK] = { "vote_api_register_total", "result=\"created\"", "accounts created" },
    [M_REGISTER_CONFLICT] = { "vote_api_register_total", "result=\"conflict\"", "" },
    [M_LOGIN_OK] = { "vote_api_login_total", "result=\"ok\"", "logins" },
    [M_LOGIN_FAILED] = { "vote_api_login_total", "result=\"failed\"", "" },
    [M_LOGOUT] = { "vote_api_logout_total", "", "tokens revoked by logout" },
    [M_AUTH_REJECTED] = { "vote_api_auth_rejected_total", "", "requests with a refused token" },
    [M_REVOCATIONS_PRODUCED] = { "vote_api_revocations_produced_total", "", "acked by Kafka" },
    [M_REVOCATIONS_CONSUMED] = { "vote_api_revocations_consumed_total", "", "read from Kafka" },
    [M_PUBSUB_MESSAGES] = { "vote_api_pubsub_messages_total", "", "Redis pub/sub messages" },
    [M_PUBSUB_RECONNECTS] = { "vote_api_pubsub_reconnects_total", "", "subscriber reconnects" },
    [M_SSE_EVENTS] = { "vote_api_sse_events_total", "", "events queued to SSE clients" },
    [M_SSE_DROPPED_SLOW] = { "vote_api_sse_dropped_slow_total", "", "SSE clients cut for lagging" },
    [M_SSE_REJECTED_FULL] = { "vote_api_sse_rejected_total", "", "SSE refused: client limit" },
    [M_RESULTS_CACHE_HIT] = { "vote_api_results_cache_total", "result=\"hit\"", "results cache" },
    [M_RESULTS_CACHE_MISS] = { "vote_api_results_cache_total", "result=\"miss\"", "" },
    [M_PG_ERRORS] = { "vote_api_pg_errors_total", "", "PostgreSQL failures" },
    [M_REDIS_ERRORS] = { "vote_api_redis_errors_total", "", "Redis failures" },
    [M_KAFKA_ERRORS] = { "vote_api_kafka_errors_total", "", "Kafka failures" },
};

/* Latency buckets in seconds; argon2id puts login/register near 0.05-0.2 s. */
static const double request_le[] = { 0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5 };
#define NCLASSES 6 /* status / 100: index 1..5 */

typedef struct {
    _Atomic uint64_t *by_class[NCLASSES];
    struct whist *seconds;
} route_stats;

static _Atomic uint64_t *counters[M_COUNTER_MAX];
static route_stats routes[METRICS_MAX_ROUTES];
static atomic_int nroutes;
static _Atomic int64_t *sse_chat, *sse_poll, *revoked;
static pthread_once_t once = PTHREAD_ONCE_INIT;

/* Process-wide metrics first, so they render ahead of the per-route families. */
static void register_once(void)
{
    for (int i = 0; i < M_COUNTER_MAX; i++)
        counters[i] =
            wmetrics_counter_labeled(counter_defs[i][0], counter_defs[i][1], counter_defs[i][2]);
    sse_chat =
        wmetrics_gauge_labeled("vote_api_sse_clients", "stream=\"chat\"", "connected SSE streams");
    sse_poll = wmetrics_gauge_labeled("vote_api_sse_clients", "stream=\"poll\"", "");
    revoked = wmetrics_gauge("vote_api_revoked_tokens", "unexpired revoked token ids held");
}

void metrics_inc(enum metric_counter c)
{
    pthread_once(&once, register_once);
    atomic_fetch_add(counters[c], 1);
}

/* Registered at startup from one thread (router_init); the label strings live as long as
 * the process. */
int metrics_register_route(const char *name)
{
    pthread_once(&once, register_once);
    int i = atomic_load(&nroutes);
    if (i >= METRICS_MAX_ROUTES)
        return -1;
    route_stats *r = &routes[i];
    for (int c = 1; c < NCLASSES; c++) {
        char *labels = NULL;
        if (asprintf(&labels, "route=\"%s\",code=\"%dxx\"", name, c) < 0)
            return -1;
        r->by_class[c] = wmetrics_counter_labeled("vote_api_requests_total", labels,
                                                  "HTTP answers by route and class");
    }
    char *labels = NULL;
    if (asprintf(&labels, "route=\"%s\"", name) < 0)
        return -1;
    r->seconds =
        wmetrics_histogram_labeled("vote_api_request_seconds", labels, "time to produce the answer",
                                   request_le, (int)(sizeof request_le / sizeof request_le[0]));
    atomic_store(&nroutes, i + 1);
    return i;
}

void metrics_observe_request(int route, int status, double seconds)
{
    if (route < 0 || route >= atomic_load(&nroutes))
        return;
    route_stats *r = &routes[route];
    int cls = status / 100;
    if (cls >= 1 && cls < NCLASSES)
        atomic_fetch_add(r->by_class[cls], 1);
    whist_observe(r->seconds, seconds);
}

int metrics_render(strbuf *out, const metrics_gauges *g)
{
    pthread_once(&once, register_once);
    atomic_store(sse_chat, g->sse_chat_clients);
    atomic_store(sse_poll, g->sse_poll_clients);
    atomic_store(revoked, g->revoked_tokens);
    return wmetrics_render(out);
}
