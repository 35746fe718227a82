/* test_jwt.c - cmocka tests for common/jwt.c: sign/verify round trip, key
 * rotation, and every rejection the edge relies on (alg=none, wrong key,
 * expired, not yet valid, tampered payload, malformed). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <openssl/hmac.h>
#include <openssl/evp.h>

#include "jwt.h"

#define NOW 1763786400
static const char keys_txt[] = "# rotation: first line signs\n"
                               "k2 second-secret-0123456789abcdef\n"
                               "\n"
                               "k1 first-secret-0123456789abcdef\n";

static vc_jwt_keyset ks;

static int setup(void **state)
{
    char err[256];
    (void)state;
    return vc_jwt_keyset_parse(&ks, keys_txt, sizeof(keys_txt) - 1, err, sizeof(err));
}

static int teardown(void **state)
{
    (void)state;
    vc_jwt_keyset_free(&ks);
    return 0;
}

/* build a token by hand: header/payload JSON signed with `secret` */
static char *make_token(const char *hdr, const char *pl, const char *secret)
{
    char *t = malloc(4096);
    size_t o = 0;
    unsigned char mac[32];
    unsigned int ml;

    o += vc_b64url_encode((const unsigned char *)hdr, strlen(hdr), t + o);
    t[o++] = '.';
    o += vc_b64url_encode((const unsigned char *)pl, strlen(pl), t + o);
    HMAC(EVP_sha256(), secret, (int)strlen(secret), (unsigned char *)t, o, mac, &ml);
    t[o++] = '.';
    o += vc_b64url_encode(mac, 32, t + o);
    t[o] = '\0';
    return t;
}

static vc_jwt_status verify(const char *tok, vc_jwt_claims *c)
{
    return vc_jwt_verify(&ks, tok, strlen(tok), NOW, 0, c);
}

static void test_keyset(void **state)
{
    (void)state;
    char err[256];
    vc_jwt_keyset k;

    assert_int_equal(ks.n, 2);
    assert_string_equal(ks.keys[0].kid, "k2");
    assert_int_equal(vc_jwt_keyset_parse(&k, "a short\n", 8, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "shorter than 16"));
    assert_int_equal(vc_jwt_keyset_parse(&k, "# only\n\n", 8, err, sizeof(err)), -1);
    assert_int_equal(vc_jwt_keyset_parse(&k, "onlykid\n", 8, err, sizeof(err)), -1);
    const char dup[] = "a 0123456789abcdef0\na 0123456789abcdef1\n";
    assert_int_equal(vc_jwt_keyset_parse(&k, dup, sizeof(dup) - 1, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "duplicate"));
    assert_int_equal(vc_jwt_keyset_load(&k, "/nonexistent/jwt", err, sizeof(err)), -1);
    assert_non_null(strstr(err, "/nonexistent/jwt"));
}

static void test_sign_verify_roundtrip(void **state)
{
    (void)state;
    char *tok;
    vc_jwt_claims c;

    assert_int_equal(vc_jwt_sign(&ks, "alice", "01KAMXS8BV0000000000000000", NOW, NOW + 3600, &tok),
                     0);
    assert_int_equal(verify(tok, &c), VC_JWT_OK);
    assert_string_equal(c.sub, "alice");
    assert_string_equal(c.jti, "01KAMXS8BV0000000000000000");
    assert_int_equal(c.exp, NOW + 3600);
    assert_string_equal(c.kid, "k2");
    /* expiry boundary: valid until exp, invalid at exp */
    assert_int_equal(vc_jwt_verify(&ks, tok, strlen(tok), NOW + 3599, 0, &c), VC_JWT_OK);
    assert_int_equal(vc_jwt_verify(&ks, tok, strlen(tok), NOW + 3600, 0, &c), VC_JWT_EXPIRED);
    assert_int_equal(vc_jwt_verify(&ks, tok, strlen(tok), NOW + 3600, 5, &c), VC_JWT_OK);
    free(tok);
}

static void test_rotation_old_key_still_verifies(void **state)
{
    (void)state;
    vc_jwt_claims c;
    char *t = make_token("{\"alg\":\"HS256\",\"kid\":\"k1\"}",
                         "{\"sub\":\"bob\",\"jti\":\"j1\",\"exp\":1763790000}",
                         "first-secret-0123456789abcdef");
    assert_int_equal(verify(t, &c), VC_JWT_OK);
    assert_string_equal(c.sub, "bob");
    free(t);
    /* no kid: every key is tried */
    t = make_token("{\"alg\":\"HS256\"}", "{\"sub\":\"bob\",\"jti\":\"j1\",\"exp\":1763790000}",
                   "first-secret-0123456789abcdef");
    assert_int_equal(verify(t, &c), VC_JWT_OK);
    free(t);
}

static void test_rejections(void **state)
{
    (void)state;
    vc_jwt_claims c;
    const char *good_pl = "{\"sub\":\"bob\",\"jti\":\"j1\",\"exp\":1763790000}";
    char *t;

    t = make_token("{\"alg\":\"HS256\",\"kid\":\"k1\"}", good_pl, "wrong-secret-0123456789abcdef");
    assert_int_equal(verify(t, &c), VC_JWT_BAD_SIGNATURE);
    free(t);
    t = make_token("{\"alg\":\"HS256\",\"kid\":\"k9\"}", good_pl, "first-secret-0123456789abcdef");
    assert_int_equal(verify(t, &c), VC_JWT_UNKNOWN_KID);
    free(t);
    t = make_token("{\"alg\":\"HS512\",\"kid\":\"k1\"}", good_pl, "first-secret-0123456789abcdef");
    assert_int_equal(verify(t, &c), VC_JWT_BAD_ALG);
    free(t);
    t = make_token("{\"alg\":\"HS256\",\"kid\":\"k1\"}",
                   "{\"sub\":\"bob\",\"jti\":\"j1\",\"exp\":1763780000}",
                   "first-secret-0123456789abcdef");
    assert_int_equal(verify(t, &c), VC_JWT_EXPIRED);
    free(t);
    t = make_token("{\"alg\":\"HS256\",\"kid\":\"k1\"}",
                   "{\"sub\":\"bob\",\"jti\":\"j1\",\"exp\":1763790000,\"nbf\":1763786500}",
                   "first-secret-0123456789abcdef");
    assert_int_equal(verify(t, &c), VC_JWT_NOT_YET_VALID);
    free(t);
    t = make_token("{\"alg\":\"HS256\",\"kid\":\"k1\"}", "{\"sub\":\"bob\",\"exp\":1763790000}",
                   "first-secret-0123456789abcdef");
    assert_int_equal(verify(t, &c), VC_JWT_BAD_CLAIMS); /* no jti */
    free(t);
    t = make_token("{\"alg\":\"HS256\",\"kid\":\"k1\"}",
                   "{\"sub\":\"bob\",\"jti\":\"j1\",\"exp\":\"1763790000\"}",
                   "first-secret-0123456789abcdef");
    assert_int_equal(verify(t, &c), VC_JWT_BAD_CLAIMS); /* exp as string */
    free(t);
}

static void test_alg_none_and_tampering(void **state)
{
    (void)state;
    vc_jwt_claims c;
    char buf[1024], tampered[1024];
    size_t o = 0;
    const char *h = "{\"alg\":\"none\",\"kid\":\"k2\"}";
    const char *p = "{\"sub\":\"mallory\",\"jti\":\"j\",\"exp\":1763790000}";

    o += vc_b64url_encode((const unsigned char *)h, strlen(h), buf + o);
    buf[o++] = '.';
    o += vc_b64url_encode((const unsigned char *)p, strlen(p), buf + o);
    buf[o++] = '.';
    buf[o] = '\0';
    assert_int_equal(verify(buf, &c), VC_JWT_MALFORMED); /* empty signature */

    /* tamper with a validly signed token: swap the payload for another sub */
    char *tok;
    assert_int_equal(vc_jwt_sign(&ks, "alice", "j2", NOW, NOW + 60, &tok), 0);
    char *d1 = strchr(tok, '.'), *d2 = strrchr(tok, '.');
    o = (size_t)(d1 - tok) + 1;
    memcpy(tampered, tok, o);
    o += vc_b64url_encode((const unsigned char *)p, strlen(p), tampered + o);
    strcpy(tampered + o, d2);
    assert_int_equal(verify(tampered, &c), VC_JWT_BAD_SIGNATURE);
    /* flip one signature bit */
    strcpy(tampered, tok);
    char *last = tampered + strlen(tampered) - 2;
    *last = *last == 'A' ? 'B' : 'A';
    assert_int_equal(verify(tampered, &c), VC_JWT_BAD_SIGNATURE);
    free(tok);

    assert_int_equal(verify("", &c), VC_JWT_MALFORMED);
    assert_int_equal(verify("a.b", &c), VC_JWT_MALFORMED);
    assert_int_equal(verify("a.b.c.d", &c), VC_JWT_MALFORMED);
    assert_int_equal(verify("!!!.???.###", &c), VC_JWT_MALFORMED);
}

static void test_b64url(void **state)
{
    (void)state;
    unsigned char out[16];
    char enc[16];
    assert_int_equal(vc_b64url_encode((const unsigned char *)"\xfb\xff", 2, enc), 3);
    assert_memory_equal(enc, "-_8", 3);
    assert_int_equal(vc_b64url_decode("-_8", 3, out), 2);
    assert_memory_equal(out, "\xfb\xff", 2);
    assert_int_equal(vc_b64url_decode("-_9", 3, out), -1);  /* non-canonical */
    assert_int_equal(vc_b64url_decode("YQ==", 4, out), -1); /* padding */
    assert_int_equal(vc_b64url_decode("Y", 1, out), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_keyset),
        cmocka_unit_test(test_sign_verify_roundtrip),
        cmocka_unit_test(test_rotation_old_key_still_verifies),
        cmocka_unit_test(test_rejections),
        cmocka_unit_test(test_alg_none_and_tampering),
        cmocka_unit_test(test_b64url),
    };
    return cmocka_run_group_tests_name("jwt", tests, setup, teardown);
}
