/*
 * test_metrics.c - Prometheus text rendering of the daemons' registry (lib/metrics.c):
 * counters, gauges and cumulative histogram buckets carry the constant labels and the
 * right values, and the series of one family render together under one HELP and TYPE.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>

#include "metrics.h"

static int count(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle))
        n++;
    return n;
}

static void test_render(void **state)
{
    (void)state;
    static const double le[] = { 0.01, 0.1 };
    wmetrics_init("sink=\"t\"");
    _Atomic uint64_t *c = wmetrics_counter("t_consumed_total", "consumed");
    _Atomic int64_t *g = wmetrics_gauge("t_lag", "lag");
    struct whist *h = wmetrics_histogram("t_batch_seconds", "latency");
    _Atomic uint64_t *ok = wmetrics_counter_labeled("t_answers_total", "code=\"2xx\"", "answers");
    struct whist *rh =
        wmetrics_histogram_labeled("t_route_seconds", "route=\"a\"", "per route", le, 2);
    _Atomic uint64_t *bad = wmetrics_counter_labeled("t_answers_total", "code=\"4xx\"", "");
    atomic_fetch_add(c, 5);
    atomic_store(g, -3);
    whist_observe(h, 0.002);
    whist_observe(h, 0.2);
    atomic_fetch_add(ok, 2);
    atomic_fetch_add(bad, 1);
    whist_observe(rh, 0.05);
    strbuf out = { 0 };
    assert_int_equal(wmetrics_render(&out), 0);
    const char *buf = out.data;
    assert_non_null(strstr(buf, "# TYPE t_consumed_total counter\n"));
    assert_non_null(strstr(buf, "t_consumed_total{sink=\"t\"} 5\n"));
    assert_non_null(strstr(buf, "t_lag{sink=\"t\"} -3\n"));
    assert_non_null(strstr(buf, "t_batch_seconds_bucket{sink=\"t\",le=\"0.0025\"} 1\n"));
    assert_non_null(
        strstr(buf, "t_batch_seconds_bucket{sink=\"t\",le=\"0.25\"} 2\n")); /* cumulative */
    assert_non_null(strstr(buf, "t_batch_seconds_count{sink=\"t\"} 2\n"));
    /* one family: one HELP/TYPE, its series adjacent although registered apart */
    assert_int_equal(count(buf, "# TYPE t_answers_total counter\n"), 1);
    assert_non_null(strstr(buf, "# HELP t_answers_total answers\n# TYPE t_answers_total counter\n"
                                "t_answers_total{sink=\"t\",code=\"2xx\"} 2\n"
                                "t_answers_total{sink=\"t\",code=\"4xx\"} 1\n"));
    /* own bounds, labels before le */
    assert_non_null(strstr(buf, "t_route_seconds_bucket{sink=\"t\",route=\"a\",le=\"0.01\"} 0\n"
                                "t_route_seconds_bucket{sink=\"t\",route=\"a\",le=\"0.1\"} 1\n"
                                "t_route_seconds_bucket{sink=\"t\",route=\"a\",le=\"+Inf\"} 1\n"));
    sb_free(&out);
}

static void test_no_labels_no_braces(void **state)
{
    (void)state;
    wmetrics_init("");
    _Atomic uint64_t *c = wmetrics_counter("t_plain_total", "plain");
    atomic_fetch_add(c, 1);
    strbuf out = { 0 };
    assert_int_equal(wmetrics_render(&out), 0);
    assert_non_null(strstr(out.data, "\nt_plain_total 1\n"));
    sb_free(&out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_render),
        cmocka_unit_test(test_no_labels_no_braces),
    };
    return cmocka_run_group_tests_name("workers-metrics", tests, NULL, NULL);
}
