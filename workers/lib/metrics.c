/*
 * metrics.c - the Prometheus registry and its text exposition (see metrics.h).
 */
#include "metrics.h"
#include "wlog.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_METRICS 256

enum mkind { MK_COUNTER, MK_GAUGE, MK_HIST };

struct metric {
    const char *name;
    const char *labels;
    const char *help;
    enum mkind kind;
    _Atomic uint64_t counter;
    _Atomic int64_t gauge;
    struct whist hist;
};

/* Upper bounds in seconds of the default latency histogram. */
static const double default_le[] = { 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                     0.1,   0.25,   0.5,   1.0,  2.5,   10.0 };

static struct metric registry[MAX_METRICS];
static _Atomic size_t registry_len;
static const char *const_labels = "";

void wmetrics_init(const char *labels) { const_labels = labels ? labels : ""; }

static struct metric *register_metric(const char *name, const char *labels, const char *help,
                                      enum mkind kind)
{
    size_t i = atomic_fetch_add(&registry_len, 1);
    if (i >= MAX_METRICS) {
        /* Programming error: the registry is sized for the daemons in this tree. */
        wlog_error("metrics registry full", "name=%s", name);
        abort();
    }
    registry[i].name = name;
    registry[i].labels = labels ? labels : "";
    registry[i].help = help ? help : "";
    registry[i].kind = kind;
    return &registry[i];
}

_Atomic uint64_t *wmetrics_counter_labeled(const char *name, const char *labels, const char *help)
{
    return &register_metric(name, labels, help, MK_COUNTER)->counter;
}

_Atomic int64_t *wmetrics_gauge_labeled(const char *name, const char *labels, const char *help)
{
    return &register_metric(name, labels, help, MK_GAUGE)->gauge;
}

struct whist *wmetrics_histogram_labeled(const char *name, const char *labels, const char *help,
                                         const double *le, int n)
{
    struct metric *m = register_metric(name, labels, help, MK_HIST);
    if (le == NULL || n <= 0 || n > WHIST_MAX_BUCKETS) {
        le = default_le;
        n = (int)(sizeof default_le / sizeof default_le[0]);
    }
    m->hist.le = le;
    m->hist.nle = n;
    return &m->hist;
}

_Atomic uint64_t *wmetrics_counter(const char *name, const char *help)
{
    return wmetrics_counter_labeled(name, "", help);
}

_Atomic int64_t *wmetrics_gauge(const char *name, const char *help)
{
    return wmetrics_gauge_labeled(name, "", help);
}

struct whist *wmetrics_histogram(const char *name, const char *help)
{
    return wmetrics_histogram_labeled(name, "", help, NULL, 0);
}

void whist_observe(struct whist *h, double seconds)
{
    for (int i = 0; i < h->nle; i++) {
        if (seconds <= h->le[i]) {
            atomic_fetch_add(&h->buckets[i], 1);
            break;
        }
    }
    atomic_fetch_add(&h->count, 1);
    atomic_fetch_add(&h->sum_us, (uint64_t)(seconds * 1e6));
}

/* "{const,series,extra}" without empty parts, or "" when all are empty. */
static int append_labels(strbuf *out, const struct metric *m, const char *extra)
{
    const char *parts[3] = { const_labels, m->labels, extra };
    int rc = 0, n = 0;
    for (int i = 0; i < 3; i++) {
        if (parts[i] == NULL || parts[i][0] == '\0')
            continue;
        rc |= sb_appends(out, n++ == 0 ? "{" : ",");
        rc |= sb_appends(out, parts[i]);
    }
    if (n > 0)
        rc |= sb_appends(out, "}");
    return rc;
}

static int render_series(strbuf *out, const struct metric *m)
{
    int rc = 0;
    if (m->kind != MK_HIST) {
        rc |= sb_appends(out, m->name);
        rc |= append_labels(out, m, NULL);
        if (m->kind == MK_COUNTER)
            rc |= sb_appendf(out, " %llu\n", (unsigned long long)atomic_load(&m->counter));
        else
            rc |= sb_appendf(out, " %lld\n", (long long)atomic_load(&m->gauge));
        return rc;
    }
    uint64_t cumulative = 0;
    char le[48];
    for (int i = 0; i <= m->hist.nle; i++) {
        if (i < m->hist.nle) {
            cumulative += atomic_load(&m->hist.buckets[i]);
            snprintf(le, sizeof le, "le=\"%g\"", m->hist.le[i]);
        } else {
            cumulative = atomic_load(&m->hist.count);
            snprintf(le, sizeof le, "le=\"+Inf\"");
        }
        rc |= sb_appendf(out, "%s_bucket", m->name);
        rc |= append_labels(out, m, le);
        rc |= sb_appendf(out, " %llu\n", (unsigned long long)cumulative);
    }
    rc |= sb_appendf(out, "%s_sum", m->name);
    rc |= append_labels(out, m, NULL);
    rc |= sb_appendf(out, " %.6f\n", (double)atomic_load(&m->hist.sum_us) / 1e6);
    rc |= sb_appendf(out, "%s_count", m->name);
    rc |= append_labels(out, m, NULL);
    rc |= sb_appendf(out, " %llu\n", (unsigned long long)atomic_load(&m->hist.count));
    return rc;
}

/* Families in the order their first series was registered, each series under it. */
int wmetrics_render(strbuf *out)
{
    static const char *const type_names[] = { "counter", "gauge", "histogram" };
    size_t n = atomic_load(&registry_len);
    int rc = 0;
    if (n > MAX_METRICS)
        n = MAX_METRICS;
    for (size_t i = 0; i < n; i++) {
        const struct metric *m = &registry[i];
        int seen = 0;
        for (size_t j = 0; j < i && !seen; j++)
            seen = strcmp(registry[j].name, m->name) == 0;
        if (seen)
            continue;
        const char *help = m->help;
        for (size_t j = i + 1; j < n && help[0] == '\0'; j++)
            if (strcmp(registry[j].name, m->name) == 0)
                help = registry[j].help;
        if (help[0] != '\0')
            rc |= sb_appendf(out, "# HELP %s %s\n", m->name, help);
        rc |= sb_appendf(out, "# TYPE %s %s\n", m->name, type_names[m->kind]);
        for (size_t j = i; j < n; j++)
            if (strcmp(registry[j].name, m->name) == 0)
                rc |= render_series(out, &registry[j]);
    }
    return rc ? -1 : 0;
}
