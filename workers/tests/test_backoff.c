/*
 * test_backoff.c - bounded exponential backoff with jitter (lib/backoff.c): delays grow,
 * never pass the cap, stay jittered, and reset after success.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "backoff.h"

static void test_grows_and_caps(void **state)
{
    (void)state;
    struct backoff b;
    backoff_init(&b, 100, 5000, 42);
    uint32_t max_seen = 0;
    for (int i = 0; i < 200; i++) {
        uint32_t d = backoff_next(&b);
        assert_true(d >= 50);   /* never below base/2 */
        assert_true(d <= 5000); /* never above the cap, even after many failures */
        if (d > max_seen)
            max_seen = d;
    }
    assert_true(max_seen > 2500); /* it does grow towards the cap */
}

static void test_first_delay_is_small(void **state)
{
    (void)state;
    struct backoff b;
    backoff_init(&b, 100, 5000, 7);
    assert_true(backoff_next(&b) <= 100);
}

static void test_jitter_varies(void **state)
{
    (void)state;
    struct backoff b;
    backoff_init(&b, 100, 60000, 99);
    for (int i = 0; i < 8; i++)
        backoff_next(&b);
    uint32_t a = backoff_next(&b);
    backoff_reset(&b);
    for (int i = 0; i < 8; i++)
        backoff_next(&b);
    uint32_t c = backoff_next(&b);
    assert_true(a != c); /* same attempt number, different delay: workers do not sync up */
}

static void test_reset(void **state)
{
    (void)state;
    struct backoff b;
    backoff_init(&b, 100, 5000, 3);
    for (int i = 0; i < 10; i++)
        backoff_next(&b);
    backoff_reset(&b);
    assert_true(backoff_next(&b) <= 100);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_grows_and_caps),
        cmocka_unit_test(test_first_delay_is_small),
        cmocka_unit_test(test_jitter_varies),
        cmocka_unit_test(test_reset),
    };
    return cmocka_run_group_tests_name("workers-backoff", tests, NULL, NULL);
}
