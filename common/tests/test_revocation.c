/* test_revocation.c - cmocka tests for common/revocation.c: the one rule the
 * edge module and the api daemon apply to auth.revocations records (what is a
 * record, when it revokes nothing) and that a written record parses back. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "revocation.h"

#define NOW 1763786400

static vc_revocation_status parse(const char *s, vc_revocation *r)
{
    return vc_revocation_parse(s, strlen(s), NOW, r);
}

static void test_accepts_a_record(void **state)
{
    vc_revocation r;
    (void)state;
    assert_int_equal(parse("{\"jti\":\"01KAMXS8BV\",\"exp\":1763790000}", &r), VC_REVOCATION_OK);
    assert_string_equal(r.jti, "01KAMXS8BV");
    assert_int_equal(r.jti_len, 10);
    assert_int_equal(r.exp, 1763790000);
    /* other members are ignored: the record may grow */
    assert_int_equal(parse("{\"exp\":1763790000,\"jti\":\"a\",\"by\":\"api-2\"}", &r),
                     VC_REVOCATION_OK);
}

static vc_revocation_status parse_exp(int64_t exp, vc_revocation *r)
{
    char buf[64];

    snprintf(buf, sizeof(buf), "{\"jti\":\"a\",\"exp\":%lld}", (long long)exp);
    return parse(buf, r);
}

/* A verifier accepts a token until exp + its leeway (at most VC_JWT_LEEWAY_MAX):
 * the revocation must hold as long, and only then revoke nothing. */
static void test_expired_revokes_nothing(void **state)
{
    vc_revocation r;
    (void)state;
    assert_int_equal(parse_exp(NOW - VC_JWT_LEEWAY_MAX, &r), VC_REVOCATION_EXPIRED);
    assert_string_equal(r.jti, "a");
    assert_int_equal(parse_exp(NOW - VC_JWT_LEEWAY_MAX + 1, &r), VC_REVOCATION_OK);
    assert_int_equal(parse_exp(NOW, &r), VC_REVOCATION_OK); /* in the leeway window */
    assert_int_equal(parse("{\"jti\":\"a\",\"exp\":-9223372036854775808}", &r),
                     VC_REVOCATION_EXPIRED);
}

static void test_rejects_what_is_not_a_record(void **state)
{
    static const char *bad[] = {
        "",
        "null",
        "[]",
        "{}",
        "{\"jti\":\"a\"}",
        "{\"exp\":1763790000}",
        "{\"jti\":\"\",\"exp\":1763790000}", /* empty jti */
        "{\"jti\":1,\"exp\":1763790000}",
        "{\"jti\":\"a\",\"exp\":\"1763790000\"}",
        "{\"jti\":\"a\",\"exp\":1763790000.5}",
        "{\"jti\":\"a\\u0000b\",\"exp\":1763790000}",       /* NUL inside */
        "{\"jti\":\"a\",\"jti\":\"b\",\"exp\":1763790000}", /* which one? */
        "{\"jti\":\"a\",\"exp\":99999999999999999999}",
        "{\"jti\":\"a\",\"exp\":1763790000",
        /* 65 bytes: no token can carry such a jti */
        "{\"jti\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\","
        "\"exp\":1763790000}",
    };
    vc_revocation r;
    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (parse(bad[i], &r) != VC_REVOCATION_MALFORMED) {
            fail_msg("accepted: %s", bad[i]);
        }
    }
    /* 64 bytes is the limit, and it is allowed */
    assert_int_equal(
        parse("{\"jti\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\","
              "\"exp\":1763790000}",
              &r),
        VC_REVOCATION_OK);
    assert_int_equal(r.jti_len, 64);
}

static void test_dump_parses_back(void **state)
{
    vc_revocation r;
    char *s;
    (void)state;
    s = vc_revocation_dump("0123-\"quoted\"-\xc3\xa9", 1763790000);
    assert_non_null(s);
    assert_int_equal(parse(s, &r), VC_REVOCATION_OK);
    assert_string_equal(r.jti, "0123-\"quoted\"-\xc3\xa9");
    assert_int_equal(r.exp, 1763790000);
    free(s);
    assert_null(vc_revocation_dump("", 1763790000));
    assert_null(
        vc_revocation_dump("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 1));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_accepts_a_record),
        cmocka_unit_test(test_expired_revokes_nothing),
        cmocka_unit_test(test_rejects_what_is_not_a_record),
        cmocka_unit_test(test_dump_parses_back),
    };
    return cmocka_run_group_tests_name("revocation", tests, NULL, NULL);
}
