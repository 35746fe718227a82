/*
 * metrics.h - process-wide counters and request histograms, rendered as
 * Prometheus text for GET /metrics.  Lock-free (C11 atomics): handlers on any
 * thread bump them.
 */
#ifndef API_METRICS_H
#define API_METRICS_H

#include "strbuf.h"

enum metric_counter {
    M_REGISTER_OK, M_REGISTER_CONFLICT, M_LOGIN_OK, M_LOGIN_FAILED, M_LOGOUT,
    M_AUTH_REJECTED, M_REVOCATIONS_PRODUCED, M_REVOCATIONS_CONSUMED,
    M_PUBSUB_MESSAGES, M_PUBSUB_RECONNECTS, M_SSE_EVENTS, M_SSE_DROPPED_SLOW,
    M_SSE_REJECTED_FULL, M_RESULTS_CACHE_HIT, M_RESULTS_CACHE_MISS,
    M_PG_ERRORS, M_REDIS_ERRORS, M_KAFKA_ERRORS,
    M_COUNTER_MAX
};

#define METRICS_MAX_ROUTES 32

void metrics_inc(enum metric_counter c);
/* route: index given by metrics_register_route. */
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
