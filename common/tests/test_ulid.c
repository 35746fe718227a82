/* test_ulid.c - cmocka tests for common/ulid.c: format, ordering, uniqueness. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "ulid.h"

static void test_format_and_time(void **state)
{
    (void)state;
    vc_ulid_gen g;
    char id[VC_ULID_LEN + 1];

    assert_int_equal(vc_ulid_init(&g), 0);
    vc_ulid_next(&g, 1763786400123ULL, id);
    assert_int_equal(strlen(id), VC_ULID_LEN);
    assert_true(vc_ulid_valid(id, strlen(id)));
    assert_true(vc_ulid_time_ms(id) == 1763786400123ULL);
    /* known encoding of the time part: computed independently with Python */
    assert_memory_equal(id, "01KAMXS8BV", 10);
}

static void test_monotonic_within_ms_and_clock_step_back(void **state)
{
    (void)state;
    vc_ulid_gen g;
    char a[VC_ULID_LEN + 1], b[VC_ULID_LEN + 1];

    /* seed just below a 64-bit carry to exercise the 80-bit increment */
    vc_ulid_init_seed(&g, 7, UINT64_MAX - 2);
    vc_ulid_next(&g, 5000, a);
    for (int i = 0; i < 10; i++) {
        vc_ulid_next(&g, 5000, b);
        assert_true(strcmp(a, b) < 0);
        memcpy(a, b, sizeof(a));
    }
    vc_ulid_next(&g, 4000, b); /* clock went back */
    assert_true(strcmp(a, b) < 0);
    assert_true(vc_ulid_time_ms(b) == 5000);
}

static int cmp(const void *x, const void *y) { return strcmp(x, y); }

static void test_two_generators_unique(void **state)
{
    (void)state;
    enum { N = 20000 };
    char(*ids)[VC_ULID_LEN + 1] = malloc(2 * N * sizeof(*ids));
    vc_ulid_gen g1, g2;

    assert_non_null(ids);
    assert_int_equal(vc_ulid_init(&g1), 0);
    assert_int_equal(vc_ulid_init(&g2), 0);
    for (int i = 0; i < N; i++) {
        vc_ulid_next(&g1, 1000, ids[2 * i]); /* same ms on purpose */
        vc_ulid_next(&g2, 1000, ids[2 * i + 1]);
    }
    qsort(ids, 2 * N, sizeof(*ids), cmp);
    for (int i = 1; i < 2 * N; i++) {
        assert_true(strcmp(ids[i - 1], ids[i]) != 0);
    }
    free(ids);
}

static void test_valid_rejects(void **state)
{
    (void)state;
    assert_false(vc_ulid_valid("01KANSTXVV0000000000000000X", 27));
    assert_false(vc_ulid_valid("01KANSTXVV000000000000000", 25));
    assert_false(vc_ulid_valid("01KANSTXVV000000000000000I", 26)); /* I not in Crockford */
    assert_false(vc_ulid_valid("81KANSTXVV0000000000000000", 26)); /* > 48 bits */
    assert_false(vc_ulid_valid("01kanstxvv0000000000000000", 26)); /* lower case */
    assert_true(vc_ulid_valid("7ZZZZZZZZZZZZZZZZZZZZZZZZZ", 26));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_format_and_time),
        cmocka_unit_test(test_monotonic_within_ms_and_clock_step_back),
        cmocka_unit_test(test_two_generators_unique),
        cmocka_unit_test(test_valid_rejects),
    };
    return cmocka_run_group_tests_name("ulid", tests, NULL, NULL);
}
