/*
 * metrics.c - counters and per-route latency histograms (see metrics.h).
 */
#include "metrics.h"

#include <stdatomic.h>
#include <string.h>

static const char *const counter_names[M_COUNTER_MAX][2] = {
    [M_REGISTER_OK] = {"vote_api_register_total{result=\"created\"}", "accounts created"},
    [M_REGISTER_CONFLICT] = {"vote_api_register_total{result=\"conflict\"}", ""},
    [M_LOGIN_OK] = {"vote_api_login_total{result=\"ok\"}", "logins"},
    [M_LOGIN_FAILED] = {"vote_api_login_total{result=\"failed\"}", ""},
    [M_LOGOUT] = {"vote_api_logout_total", "tokens revoked by logout"},
    [M_AUTH_REJECTED] = {"vote_api_auth_rejected_total", "requests with a refused token"},
    [M_REVOCATIONS_PRODUCED] = {"vote_api_revocations_produced_total", "acked by Kafka"},
    [M_REVOCATIONS_CONSUMED] = {"vote_api_revocations_consumed_total", "read from Kafka"},
    [M_PUBSUB_MESSAGES] = {"vote_api_pubsub_messages_total", "Redis pub/sub messages"},
    [M_PUBSUB_RECONNECTS] = {"vote_api_pubsub_reconnects_total", "subscriber reconnects"},
    [M_SSE_EVENTS] = {"vote_api_sse_events_total", "events queued to SSE clients"},
    [M_SSE_DROPPED_SLOW] = {"vote_api_sse_dropped_slow_total", "SSE clients cut for lagging"},
    [M_SSE_REJECTED_FULL] = {"vote_api_sse_rejected_total", "SSE refused: client limit"},
    [M_RESULTS_CACHE_HIT] = {"vote_api_results_cache_total{result=\"hit\"}", "results cache"},
    [M_RESULTS_CACHE_MISS] = {"vote_api_results_cache_total{result=\"miss\"}", ""},
    [M_PG_ERRORS] = {"vote_api_pg_errors_total", "PostgreSQL failures"},
    [M_REDIS_ERRORS] = {"vote_api_redis_errors_total", "Redis failures"},
    [M_KAFKA_ERRORS] = {"vote_api_kafka_errors_total", "Kafka failures"},
};

/* Latency buckets in seconds; argon2id puts login/register near 0.05-0.2 s. */
static const double bucket_le[] = {0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5};
#define NBUCKETS (sizeof bucket_le / sizeof bucket_le[0])
#define NCLASSES 6 /* status / 100: index 1..5 */

typedef struct {
    const char *name;
    atomic_long by_class[NCLASSES];
    atomic_long buckets[NBUCKETS];
    atomic_long count;
    atomic_llong sum_us;
} route_stats;

static atomic_long counters[M_COUNTER_MAX];
static route_stats routes[METRICS_MAX_ROUTES];
static atomic_int nroutes;

void metrics_inc(enum metric_counter c) { atomic_fetch_add(&counters[c], 1); }

int metrics_register_route(const char *name)
{
    int i = atomic_fetch_add(&nroutes, 1);
    if (i >= METRICS_MAX_ROUTES)
        return -1;
    routes[i].name = name;
    return i;
}

void metrics_observe_request(int route, int status, double seconds)
{
    if (route < 0 || route >= atomic_load(&nroutes))
        return;
    route_stats *r = &routes[route];
    int cls = status / 100;
    if (cls >= 1 && cls < NCLASSES)
        atomic_fetch_add(&r->by_class[cls], 1);
    for (size_t b = 0; b < NBUCKETS; b++)
        if (seconds <= bucket_le[b])
            atomic_fetch_add(&r->buckets[b], 1);
    atomic_fetch_add(&r->count, 1);
    atomic_fetch_add(&r->sum_us, (long long)(seconds * 1e6));
}

static int render_counters(strbuf *out)
{
    int rc = 0;
    for (int i = 0; i < M_COUNTER_MAX; i++) {
        const char *name = counter_names[i][0], *help = counter_names[i][1];
        size_t base = strcspn(name, "{");
        if (*help)
            rc |= sb_appendf(out, "# HELP %.*s %s\n# TYPE %.*s counter\n", (int)base, name,
                             help, (int)base, name);
        rc |= sb_appendf(out, "%s %ld\n", name, atomic_load(&counters[i]));
    }
    return rc;
}

static int render_route(strbuf *out, route_stats *r)
{
    int rc = 0;
    for (int c = 1; c < NCLASSES; c++)
        rc |= sb_appendf(out, "vote_api_requests_total{route=\"%s\",code=\"%dxx\"} %ld\n",
                         r->name, c, atomic_load(&r->by_class[c]));
    for (size_t b = 0; b < NBUCKETS; b++)
        rc |= sb_appendf(out, "vote_api_request_seconds_bucket{route=\"%s\",le=\"%g\"} %ld\n",
                         r->name, bucket_le[b], atomic_load(&r->buckets[b]));
    long count = atomic_load(&r->count);
    rc |= sb_appendf(out, "vote_api_request_seconds_bucket{route=\"%s\",le=\"+Inf\"} %ld\n",
                     r->name, count);
    rc |= sb_appendf(out, "vote_api_request_seconds_sum{route=\"%s\"} %.6f\n", r->name,
                     (double)atomic_load(&r->sum_us) / 1e6);
    rc |= sb_appendf(out, "vote_api_request_seconds_count{route=\"%s\"} %ld\n", r->name, count);
    return rc;
}

int metrics_render(strbuf *out, const metrics_gauges *g)
{
    int rc = render_counters(out);
    rc |= sb_appends(out, "# HELP vote_api_requests_total HTTP answers by route and class\n"
                          "# TYPE vote_api_requests_total counter\n"
                          "# HELP vote_api_request_seconds time to produce the answer\n"
                          "# TYPE vote_api_request_seconds histogram\n");
    int n = atomic_load(&nroutes);
    for (int i = 0; i < n && i < METRICS_MAX_ROUTES; i++)
        rc |= render_route(out, &routes[i]);
    rc |= sb_appendf(out,
                     "# HELP vote_api_sse_clients connected SSE streams\n"
                     "# TYPE vote_api_sse_clients gauge\n"
                     "vote_api_sse_clients{stream=\"chat\"} %ld\n"
                     "vote_api_sse_clients{stream=\"poll\"} %ld\n"
                     "# HELP vote_api_revoked_tokens unexpired revoked token ids held\n"
                     "# TYPE vote_api_revoked_tokens gauge\n"
                     "vote_api_revoked_tokens %ld\n",
                     g->sse_chat_clients, g->sse_poll_clients, g->revoked_tokens);
    return rc ? -1 : 0;
}
