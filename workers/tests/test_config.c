/*
 * test_config.c - flags + environment configuration (lib/wconfig.c): precedence
 * flag > env > default, both flag spellings, and errors on bad input, reported as
 * "<program>: <message>" (wconfig_error), an out-of-range integer included.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "wconfig.h"

static const char *topic;
static long batch, writers;

static const struct wopt table[] = {
    { "topic", "TEST_WCFG_TOPIC", WOPT_STR, &topic, "votes", "topic" },
    { "batch-max", "TEST_WCFG_BATCH", WOPT_INT, &batch, "500", "batch" },
};

static enum wconfig_result parse(int argc, char **argv)
{
    return wconfig_parse(table, 2, argc, argv, "test");
}

static void test_defaults(void **state)
{
    (void)state;
    unsetenv("TEST_WCFG_TOPIC");
    unsetenv("TEST_WCFG_BATCH");
    char *argv[] = { "prog", NULL };
    assert_int_equal(parse(1, argv), WCONFIG_OK);
    assert_string_equal(topic, "votes");
    assert_int_equal(batch, 500);
}

static void test_env_then_flag(void **state)
{
    (void)state;
    setenv("TEST_WCFG_TOPIC", "from-env", 1);
    setenv("TEST_WCFG_BATCH", "7", 1);
    char *argv1[] = { "prog", NULL };
    assert_int_equal(parse(1, argv1), WCONFIG_OK);
    assert_string_equal(topic, "from-env");
    assert_int_equal(batch, 7);
    char *argv2[] = { "prog", "--topic", "from-flag", "--batch-max=9", NULL };
    assert_int_equal(parse(4, argv2), WCONFIG_OK);
    assert_string_equal(topic, "from-flag");
    assert_int_equal(batch, 9);
    unsetenv("TEST_WCFG_TOPIC");
    unsetenv("TEST_WCFG_BATCH");
}

/* stderr goes to a temporary file between capture_begin() and capture_end(). */
static FILE *captured;
static int saved_stderr;

static void capture_begin(void)
{
    captured = tmpfile();
    assert_non_null(captured);
    fflush(stderr);
    saved_stderr = dup(2);
    dup2(fileno(captured), 2);
}

static void capture_end(char *out, size_t cap)
{
    fflush(stderr);
    dup2(saved_stderr, 2);
    close(saved_stderr);
    rewind(captured);
    out[fread(out, 1, cap - 1, captured)] = '\0';
    fclose(captured);
}

/* Every daemon reports a bad option as "<program>: <message>", a range included. */
static void test_error_reports(void **state)
{
    (void)state;
    static const struct wopt ranged[] = {
        { "writers", NULL, WOPT_INT, &writers, "2", "writers" },
    };
    char msg[256];
    char *five[] = { "prog", "--writers=5", NULL };
    assert_int_equal(wconfig_parse(ranged, 1, 2, five, "test"), WCONFIG_OK);
    assert_int_equal(wconfig_check_range("writers", writers, 1, 5), 0);
    capture_begin();
    assert_int_equal(wconfig_check_range("writers", writers, 1, 4), -1);
    capture_end(msg, sizeof msg);
    assert_true(
        strncmp(msg, program_invocation_short_name, strlen(program_invocation_short_name)) == 0);
    assert_non_null(strstr(msg, ": --writers must be between 1 and 4, not 5\n"));
    char *unknown[] = { "prog", "--pg-connections", "2", NULL };
    capture_begin();
    assert_int_equal(wconfig_parse(ranged, 1, 3, unknown, "test"), WCONFIG_ERROR);
    capture_end(msg, sizeof msg);
    assert_non_null(strstr(msg, ": unknown option '--pg-connections' (see --help)\n"));
}

static void test_errors(void **state)
{
    (void)state;
    char *bad_int[] = { "prog", "--batch-max", "12x", NULL };
    assert_int_equal(parse(3, bad_int), WCONFIG_ERROR);
    char *unknown[] = { "prog", "--nope=1", NULL };
    assert_int_equal(parse(2, unknown), WCONFIG_ERROR);
    char *missing[] = { "prog", "--topic", NULL };
    assert_int_equal(parse(2, missing), WCONFIG_ERROR);
    setenv("TEST_WCFG_BATCH", "lots", 1);
    char *none[] = { "prog", NULL };
    assert_int_equal(parse(1, none), WCONFIG_ERROR); /* a bad env value is not silently ignored */
    unsetenv("TEST_WCFG_BATCH");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_env_then_flag),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_error_reports),
    };
    return cmocka_run_group_tests_name("workers-config", tests, NULL, NULL);
}
