/*
 * api_metrics.h - the api daemon's metrics: process-wide counters, per-route answers and
 * latency histograms, and gauges sampled when GET /metrics renders them. They live in the
 * daemons' one registry (workers/lib/metrics.h); handlers on any thread bump them.
 */
#ifndef API_METRICS_H
#define API_METRICS_H

#include "strbuf.h"

enum metric_counter {
    M_REGISTER_OK,
    M_REGISTER_CONFLICT,
    M_LOGIN_OK,
    M_LOGIN_FAILED,
    M_LOGOUT,
    M_AUTH_REJECTED,
    M_REVOCATIONS_PRODUCED,
    M_REVOCATIONS_CONSUMED,
    M_PUBSUB_MESSAGES,
    M_PUBSUB_RECONNECTS,
    M_SSE_EVENTS,
    M_SSE_DROPPED_SLOW,
    M_SSE_REJECTED_FULL,
    M_RESULTS_CACHE_HIT,
    M_RESULTS_CACHE_MISS,
    M_PG_ERRORS,
    M_REDIS_ERRORS,
    M_KAFKA_ERRORS,
    M_COUNTER_MAX
};

#define METRICS_MAX_ROUTES 32

void metrics_inc(enum metric_counter c);
/* route: index given by metrics_register_route (-1 when the table is full). */
int metrics_register_route(const char *name);
void metrics_observe_request(int route, int status, double seconds);

/* Live values sampled at render time. */
typedef struct {
    long sse_chat_clients;
    long sse_poll_clients;
    long revoked_tokens;
} metrics_gauges;

int metrics_render(strbuf *out, const metrics_gauges *g);

#endif
