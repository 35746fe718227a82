/* test_kafka_conf.c - cmocka tests for common/kafka_conf.c against real
 * librdkafka property validation (no Kafka needed: conf objects only). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "kafka_conf.h"

static void get(rd_kafka_conf_t *c, const char *k, char *v, size_t n)
{
    assert_int_equal(rd_kafka_conf_get(c, k, v, &n), RD_KAFKA_CONF_OK);
}

static void test_apply(void **state)
{
    (void)state;
    char err[512], v[256];
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    const char kv[] = "  linger.ms = 7 ";

    assert_int_equal(vc_kafka_conf_apply_kv(c, kv, sizeof(kv) - 1, err, sizeof(err)), 0);
    get(c, "linger.ms", v, sizeof(v));
    assert_string_equal(v, "7");
    assert_int_equal(vc_kafka_conf_apply_list(c, "acks=all,\n# comment\ncompression.codec=lz4\n",
                                              err, sizeof(err)),
                     0);
    get(c, "compression.codec", v, sizeof(v));
    assert_string_equal(v, "lz4");
    /* the sinks' --kafka-props form, and no list at all */
    assert_int_equal(
        vc_kafka_conf_apply_list(c, "fetch.wait.max.ms=10,client.rack=r1", err, sizeof(err)), 0);
    get(c, "client.rack", v, sizeof(v));
    assert_string_equal(v, "r1");
    assert_int_equal(vc_kafka_conf_apply_list(c, NULL, err, sizeof(err)), 0);
    assert_int_equal(vc_kafka_conf_apply_list(c, "", err, sizeof(err)), 0);
    rd_kafka_conf_destroy(c);
}

/* a component's defaults: applied in order, the first bad one named */
static void test_table(void **state)
{
    (void)state;
    char err[512], v[256];
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    const char *const ok[][2] = { { "linger.ms", "3" }, { "acks", "all" } };
    const char *const bad[][2] = { { "linger.ms", "4" },
                                   { "no.such.prop", "1" },
                                   { "linger.ms", "5" } };

    assert_int_equal(vc_kafka_conf_set_table(c, ok, 2, err, sizeof(err)), 0);
    get(c, "linger.ms", v, sizeof(v));
    assert_string_equal(v, "3");
    assert_int_equal(vc_kafka_conf_set_table(c, bad, 3, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "no.such.prop"));
    get(c, "linger.ms", v, sizeof(v));
    assert_string_equal(v, "4");
    rd_kafka_conf_destroy(c);
}

static void test_errors(void **state)
{
    (void)state;
    char err[512];
    rd_kafka_conf_t *c = rd_kafka_conf_new();

    assert_int_equal(vc_kafka_conf_apply_kv(c, "linger.ms", 9, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "key=value"));
    assert_int_equal(vc_kafka_conf_apply_kv(c, "no.such.prop=1", 14, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "no.such.prop"));
    assert_int_equal(vc_kafka_conf_apply_kv(c, "=1", 2, err, sizeof(err)), -1);
    assert_int_equal(vc_kafka_conf_apply_list(c, "acks=all,linger.ms=abc", err, sizeof(err)), -1);
    assert_non_null(strstr(err, "linger.ms"));
    assert_int_equal(vc_kafka_conf_apply_list(c, "acks=all,no-equals-sign", err, sizeof(err)), -1);
    assert_non_null(strstr(err, "key=value"));
    rd_kafka_conf_destroy(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_apply),
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests_name("kafka_conf", tests, NULL, NULL);
}
