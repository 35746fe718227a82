/* test_catalog.c - cmocka tests for common/catalog.c: the real stack/polls.json
 * loads, and broken catalogs fail with a message naming the problem. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "catalog.h"

static void test_real_catalog(void **state)
{
    (void)state;
    char err[256];
    vc_catalog *cat = vc_catalog_load(TEST_SRCDIR "/../stack/polls.json", err, sizeof(err));

    assert_non_null(cat);
    const vc_poll *p = vc_catalog_find(cat, "guatemala-2027", 14);
    assert_non_null(p);
    assert_int_equal(p->nattrs, 3);
    assert_true(vc_poll_has_choice(p, "UNE", 3));
    assert_false(vc_poll_has_choice(p, "UN", 2));
    assert_int_equal(vc_poll_attr_index(p, "station", 7), 2);
    p = vc_catalog_find(cat, "band-contest", 12);
    assert_non_null(p);
    assert_int_equal(p->nattrs, 0);
    assert_null(vc_catalog_find(cat, "band-contes", 11));
    vc_catalog_free(cat);
}

static void expect_error(const char *json, const char *needle)
{
    char err[256] = "";
    vc_catalog *cat = vc_catalog_parse(json, strlen(json), err, sizeof(err));
    assert_null(cat);
    if (strstr(err, needle) == NULL) {
        fail_msg("error \"%s\" does not contain \"%s\"", err, needle);
    }
}

static void test_broken_catalogs(void **state)
{
    (void)state;
    expect_error("{", "line 1");
    expect_error("{\"polls\":[]}", "non-empty");
    expect_error("{\"polls\":[{\"id\":\"a\",\"choices\":[]}]}", "no choices");
    expect_error("{\"polls\":[{\"id\":\"a\",\"choices\":[\"x\",\"x\"]}]}", "duplicate choices");
    expect_error(
        "{\"polls\":[{\"id\":\"a\",\"choices\":[\"x\"]},{\"id\":\"a\",\"choices\":[\"y\"]}]}",
        "duplicate poll id");
    expect_error("{\"polls\":[{\"id\":\"a:b\",\"choices\":[\"x\"]}]}", "polls[0].id");
    expect_error("{\"polls\":[{\"id\":\"a\",\"choices\":[1]}]}", "choices[0]");
    expect_error("{\"polls\":[{\"id\":\"a\",\"choices\":[\"x\"],\"attrs\":\"d\"}]}", "attrs");
    char err[256];
    assert_null(vc_catalog_load("/nonexistent/polls.json", err, sizeof(err)));
    assert_non_null(strstr(err, "/nonexistent/polls.json"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_real_catalog),
        cmocka_unit_test(test_broken_catalogs),
    };
    return cmocka_run_group_tests_name("catalog", tests, NULL, NULL);
}
