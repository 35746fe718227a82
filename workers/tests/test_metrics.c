/*
 * test_metrics.c - Prometheus text rendering (lib/metrics.c): counters, gauges and
 * cumulative histogram buckets carry the constant labels and the right values.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>

#include "metrics.h"

static void test_render(void **state)
{
    (void)state;
    wmetrics_init("sink=\"t\"");
    _Atomic uint64_t *c = wmetrics_counter("t_consumed_total", "consumed");
    _Atomic int64_t *g = wmetrics_gauge("t_lag", "lag");
    struct whist *h = wmetrics_histogram("t_batch_seconds", "latency");
    atomic_fetch_add(c, 5);
    atomic_store(g, -3);
    whist_observe(h, 0.002);
    whist_observe(h, 0.2);
    char buf[8192];
    wmetrics_render(buf, sizeof buf);
    assert_non_null(strstr(buf, "# TYPE t_consumed_total counter\n"));
    assert_non_null(strstr(buf, "t_consumed_total{sink=\"t\"} 5\n"));
    assert_non_null(strstr(buf, "t_lag{sink=\"t\"} -3\n"));
    assert_non_null(strstr(buf, "t_batch_seconds_bucket{sink=\"t\",le=\"0.0025\"} 1\n"));
    assert_non_null(strstr(buf, "t_batch_seconds_bucket{sink=\"t\",le=\"0.25\"} 2\n")); /* cumulative */
    assert_non_null(strstr(buf, "t_batch_seconds_count{sink=\"t\"} 2\n"));
}

int main(void)
{
    const struct CMUnitTest tests[] = { cmocka_unit_test(test_render) };
    return cmocka_run_group_tests_name("workers-metrics", tests, NULL, NULL);
}
