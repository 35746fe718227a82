/*
 * metrics.h - a tiny Prometheus text-format registry and HTTP endpoint.
 *
 * Metrics are registered once at startup (fixed-size registry, no allocation later) and
 * updated lock-free with C11 atomics from the worker thread; a background thread answers
 * any HTTP request on the metrics port with the current text exposition (GET /metrics,
 * and GET /healthz answers "ok").
 */
#ifndef WORKERS_METRICS_H
#define WORKERS_METRICS_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#define WHIST_BUCKETS 12

struct whist {
    _Atomic uint64_t buckets[WHIST_BUCKETS]; /* cumulative at render time, not here */
    _Atomic uint64_t count;
    _Atomic uint64_t sum_us;
};

/* const_labels is rendered inside {} on every sample, e.g. "sink=\"vote-sink\"" (may be ""). */
void wmetrics_init(const char *const_labels);

_Atomic uint64_t *wmetrics_counter(const char *name, const char *help);
_Atomic int64_t *wmetrics_gauge(const char *name, const char *help);
struct whist *wmetrics_histogram(const char *name, const char *help);

void whist_observe(struct whist *h, double seconds);

/* Render the exposition into buf (always NUL-terminated); returns the length written. */
size_t wmetrics_render(char *buf, size_t cap);

/* Start the HTTP thread on 127.0.0.1:port (0 = disabled). Returns 0 or -1 (logged). */
int wmetrics_serve(const char *bind_addr, int port);
void wmetrics_stop(void);

#endif
