/*
 * metrics.h - the daemons' one Prometheus registry (text format 0.0.4) and the sinks' HTTP
 * endpoint for it.
 *
 * Metrics are registered at startup (fixed-size registry, no allocation later) and updated
 * lock-free with C11 atomics from any thread. A series is a family name plus its own labels
 * ("" for none); series sharing a name form one family, rendered together under one HELP
 * and TYPE line. The exposition rules (docs/STYLE.md, "Metrics") are those of the edge
 * module's shared-memory writer too: names `<component>_<what>[_<unit>]`, counters ending
 * in `_total`, durations in `_seconds`, bucket bounds printed with "%g".
 */
#ifndef WORKERS_METRICS_H
#define WORKERS_METRICS_H

#include "strbuf.h"

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#define WHIST_MAX_BUCKETS 16

struct whist {
    const double *le; /* upper bounds in seconds, ascending */
    int nle;
    _Atomic uint64_t buckets[WHIST_MAX_BUCKETS]; /* per bucket; cumulated at render time */
    _Atomic uint64_t count;
    _Atomic uint64_t sum_us;
};

/* const_labels is rendered inside {} on every sample, e.g. "sink=\"vote-sink\"" (may be ""). */
void wmetrics_init(const char *const_labels);

/* A series without labels of its own; the returned pointers live as long as the process, and
 * a full registry is a programming error (logged, abort()). */
_Atomic uint64_t *wmetrics_counter(const char *name, const char *help);
_Atomic int64_t *wmetrics_gauge(const char *name, const char *help);
/* Default latency bounds, 1 ms .. 10 s. */
struct whist *wmetrics_histogram(const char *name, const char *help);

/* A series with labels of its own, e.g. "route=\"login\"". help may be "" on all but the
 * first series of a family. */
_Atomic uint64_t *wmetrics_counter_labeled(const char *name, const char *labels, const char *help);
_Atomic int64_t *wmetrics_gauge_labeled(const char *name, const char *labels, const char *help);
/* le: NULL for the default bounds, else n <= WHIST_MAX_BUCKETS ascending bounds in a static
 * array. */
struct whist *wmetrics_histogram_labeled(const char *name, const char *labels, const char *help,
                                         const double *le, int n);

void whist_observe(struct whist *h, double seconds);

/* Append the exposition to out. 0, or -1 when memory ran out. */
int wmetrics_render(strbuf *out);

/* Start the HTTP thread on bind_addr:port (0 = disabled): GET /metrics answers the
 * exposition, GET /healthz "ok". Returns 0 or -1 (logged). */
int wmetrics_serve(const char *bind_addr, int port);
void wmetrics_stop(void);

#endif
