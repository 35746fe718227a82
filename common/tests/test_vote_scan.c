/* test_vote_scan.c - cmocka tests for common/vote_scan.c: which bodies the scanner takes (and
 * where their values are), which it leaves to jansson, and that vc_validate_vote() with the
 * scanner gives exactly vc_validate_vote_reference()'s answer on both kinds of body. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "validate.h"
#include "vote_scan.h"

#include "catalog_fixture.h"

static int scan(const char *body, vc_vote_scan_fields *f)
{
    return vc_vote_scan((const unsigned char *)body, strlen(body), f);
}

static void expect_str(const vc_scan_str *v, const char *want)
{
    if (want == NULL) {
        assert_null(v->s);
        return;
    }
    assert_non_null(v->s);
    assert_int_equal(v->len, strlen(want));
    assert_memory_equal(v->s, want, v->len);
}

static void test_scan_takes_flat_ascii(void **state)
{
    (void)state;
    vc_vote_scan_fields f;

    assert_int_equal(scan("{\"poll\":\"band-contest\",\"choice\":\"quetzal-punk\"}", &f), 1);
    expect_str(&f.poll, "band-contest");
    expect_str(&f.choice, "quetzal-punk");
    expect_str(&f.voter, NULL);

    assert_int_equal(scan(" \r\n{ \"voter\" :\t\"v 1\" , \"choice\":\"c\",\"poll\":\"\" }\n", &f),
                     1);
    expect_str(&f.poll, "");
    expect_str(&f.choice, "c");
    expect_str(&f.voter, "v 1");

    /* a missing member is the validator's business, not the scanner's */
    assert_int_equal(scan("{\"choice\":\"c\"}", &f), 1);
    expect_str(&f.poll, NULL);
}

static void test_scan_leaves_the_rest_to_jansson(void **state)
{
    (void)state;
    static const char *const bodies[] = {
        "",
        " ",
        "{}",
        "[]",
        "\"poll\"",
        "{\"poll\":\"a\"",
        "{\"poll\":\"a\",}",
        "{\"poll\":\"a\"}x",
        "{\"poll\":\"a\"}{}",
        "{\"poll\" \"a\"}",
        "{\"poll\":\"a\"\"choice\":\"b\"}",
        "{\"poll\":\"a\\u0062\"}",
        "{\"po\\u006cl\":\"a\"}",
        "{\"poll\":\"\xc3\xa9\"}",
        "{\"poll\":\"a\x7f\"}",
        "{\"poll\":\"a\tb\"}",
        "{\"poll\":1}",
        "{\"poll\":null}",
        "{\"poll\":{\"a\":\"b\"}}",
        "{\"poll\":[\"a\"]}",
        "{\"attrs\":{}}",
        "{\"extra\":\"x\"}",
        "{\"poll\":\"a\",\"poll\":\"b\"}",
        "{\"\":\"a\"}",
        "\xef\xbb\xbf{\"poll\":\"a\"}",
        "{\"poll\":\"a\"}\f",
        "{\"poll\":\"a\"",
        "{\"poll\":\"a",
        "{\"poll\":",
    };
    vc_vote_scan_fields f;

    for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
        if (scan(bodies[i], &f) != 0) {
            fail_msg("scanner took %s", bodies[i]);
        }
    }
    /* an embedded NUL ends nothing: the body is the declared length */
    assert_int_equal(vc_vote_scan((const unsigned char *)"{\"poll\":\"a\0\"}", 13, &f), 0);
}

/* both paths, same answer, byte for byte */
static void expect_same(const vc_limits *lim, const vc_catalog *c, const char *body, size_t len)
{
    vc_msg a, b;
    vc_error ea, eb;
    int ra = vc_validate_vote(c, lim, (const unsigned char *)body, len, ID, TS, &a, &ea);
    int rb = vc_validate_vote_reference(c, lim, (const unsigned char *)body, len, ID, TS, &b, &eb);

    if (ra != rb) {
        fail_msg("%.*s: scanner path %d, reference %d", (int)len, body, ra, rb);
    }
    if (ra == 0) {
        assert_int_equal(a.json_len, b.json_len);
        assert_string_equal(a.json, b.json);
        assert_int_equal(a.key_len, b.key_len);
        assert_string_equal(a.key, b.key);
        vc_msg_free(&a);
        vc_msg_free(&b);
        return;
    }
    assert_int_equal(ea.status, eb.status);
    assert_int_equal(ea.reason, eb.reason);
    assert_string_equal(ea.field, eb.field);
    assert_string_equal(ea.detail, eb.detail);
}

static void test_same_answer_as_the_reference(void **state)
{
    (void)state;
    static const char *const bodies[] = {
        "{\"poll\":\"band-contest\",\"choice\":\"quetzal-punk\"}",
        "{\"choice\":\"quetzal-punk\",\"voter\":\"dpi-1\",\"poll\":\"band-contest\"}",
        " {\"poll\" : \"band-contest\" ,\n\"choice\":\"los-volcanes\"}\r\n",
        "{\"poll\":\"band-contest\"}",                       /* missing choice */
        "{\"choice\":\"quetzal-punk\"}",                     /* missing poll */
        "{\"poll\":\"band-contest\",\"choice\":\"nobody\"}", /* unknown choice */
        "{\"poll\":\"no-such-poll\",\"choice\":\"x\"}",      /* unknown poll */
        "{\"poll\":\"guatemala-2027\",\"choice\":\"UNE\"}",  /* attrs required */
        "{\"poll\":\"\",\"choice\":\"quetzal-punk\"}",       /* empty */
        "{\"poll\":\"band-contest\",\"choice\":\"quetzal-punk\",\"voter\":\"\"}",
        "{\"poll\":\"band-contest\",\"choice\":\"quetzal-punk\",\"voter\":\"a\\\"b\"}",
        "{\"poll\":\"band-contest\",\"choice\":\"quetzal-punk\",\"voter\":\"\xc3\xa9\"}",
        "{\"poll\":\"band-contest\",\"choice\":\"quetzal-punk\",\"attrs\":{}}",
        "{\"poll\":\"band-contest\",\"choice\":\"quetzal-punk\",\"poll\":\"band-contest\"}",
        "{\"poll\":\"band-contest\",\"choice\":\"quetzal-punk\"} x",
        "{\"poll\":\"band-contest\",\"choice\":\"quetzal-punk\",\"voter\":\"a\x7f\"}",
        "{}",
        "",
        "[1]",
    };
    char longer[400];
    vc_limits lim;

    vc_limits_default(&lim);
    for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
        expect_same(&lim, cat, bodies[i], strlen(bodies[i]));
        expect_same(&lim, NULL, bodies[i], strlen(bodies[i])); /* the sinks' catalog-less use */
    }
    /* the length limits: a voter of 128 characters is taken, 129 is not */
    for (int n = 127; n <= 129; n++) {
        int o = snprintf(longer, sizeof(longer),
                         "{\"poll\":\"band-contest\",\"choice\":\"quetzal-punk\",\"voter\":\"");
        memset(longer + o, 'v', (size_t)n);
        snprintf(longer + o + n, sizeof(longer) - (size_t)(o + n), "\"}");
        expect_same(&lim, cat, longer, strlen(longer));
    }
    /* no nesting allowed at all: the flat object is already too deep */
    lim.max_depth = 0;
    expect_same(&lim, cat, bodies[0], strlen(bodies[0]));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scan_takes_flat_ascii),
        cmocka_unit_test(test_scan_leaves_the_rest_to_jansson),
        cmocka_unit_test(test_same_answer_as_the_reference),
    };
    return cmocka_run_group_tests(tests, catalog_setup, catalog_teardown);
}
