/*
 * fuzz_jwt.c - structure-aware libFuzzer target for common/jwt.c's verifier.
 *
 * Input: a mode byte, then the rest.  Mode & 3 == 0: the rest is the token as
 * sent.  Otherwise the rest is "HEADER\nPAYLOAD[\nSIG]": the target encodes
 * both parts (base64url) and signs them with the signing key (mode 1), the
 * rotated second key (mode 2), or, in mode 3, uses SIG's bytes (a wrong key or
 * garbage) as the signature.  So the fuzzer mutates the JSON of a token that
 * passes the signature check and reaches the claims logic.  Mode & 4 picks a
 * leeway of 30 s instead of 0.
 *
 * Invariants, checked against an independent reading of the token (OpenSSL's
 * HMAC and jansson, not jwt.c's helpers):
 *   - accepted => the header is a JSON object with "alg":"HS256", no "crit";
 *     the signature is HMAC-SHA256 under the key named by "kid" (any key when
 *     no kid); exp is an integer and now < exp + leeway; nbf, when present, is
 *     an integer <= now + leeway; iat, when present, is an integer; sub and jti
 *     are 1..64-byte strings; the claims returned are the payload's;
 *   - refused as bad_signature => no key the header allows signs the token;
 *   - every status has a name; the token is never read past its length.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "jwt.h"

#define NOW 1800000000

static const char keys_txt[] = "k2 second-secret-0123456789abcdef\n"
                               "k1 first-secret-0123456789abcdef\n";

static vc_jwt_keyset ks;

static void violation(const char *what, const char *tok, size_t len)
{
    fprintf(stderr, "JWT invariant violated: %s\ntoken: %.*s\n", what, (int)len, tok);
    abort();
}

static void mac(const vc_jwt_key *k, const char *data, size_t len, unsigned char out[32])
{
    unsigned int ml = 0;

    if (HMAC(EVP_sha256(), k->secret, (int)k->secret_len, (const unsigned char *)data, len, out,
             &ml) == NULL ||
        ml != 32) {
        abort();
    }
}

/* base64url decode of one part into a JSON object, or NULL (reference reading) */
static json_t *part_json(const char *p, size_t n)
{
    unsigned char *buf = malloc(n * 3 / 4 + 3);
    long l = vc_b64url_decode(p, n, buf);
    json_t *j =
        l > 0 ? json_loadb((const char *)buf, (size_t)l, JSON_REJECT_DUPLICATES, NULL) : NULL;

    free(buf);
    if (j != NULL && !json_is_object(j)) {
        json_decref(j);
        j = NULL;
    }
    return j;
}

/* 1 if a key the header allows (kid, or any key without one) signs the token */
static int signed_by_allowed_key(json_t *hdr, const char *tok, size_t slen,
                                 const unsigned char sig[32])
{
    json_t *kid = json_object_get(hdr, "kid");
    unsigned char m[32];

    for (size_t i = 0; i < ks.n; i++) {
        if (kid != NULL &&
            (!json_is_string(kid) || strcmp(json_string_value(kid), ks.keys[i].kid) != 0)) {
            continue;
        }
        mac(&ks.keys[i], tok, slen, m);
        if (CRYPTO_memcmp(m, sig, 32) == 0) {
            return 1;
        }
    }
    return 0;
}

static int str_claim_ok(json_t *pl, const char *name, const char *got)
{
    json_t *v = json_object_get(pl, name);

    return json_is_string(v) && json_string_length(v) >= 1 && json_string_length(v) <= 64 &&
           strcmp(json_string_value(v), got) == 0;
}

static void check_accepted(const char *tok, size_t len, int64_t leeway, const vc_jwt_claims *c)
{
    const char *d1 = memchr(tok, '.', len);
    const char *d2 = d1 ? memchr(d1 + 1, '.', len - (size_t)(d1 + 1 - tok)) : NULL;
    unsigned char sig[48];
    json_t *hdr, *pl, *alg, *exp, *nbf, *iat;

    if (d2 == NULL || memchr(d2 + 1, '.', len - (size_t)(d2 + 1 - tok)) != NULL) {
        violation("accepted a token that is not three parts", tok, len);
    }
    if (vc_b64url_decode(d2 + 1, len - (size_t)(d2 + 1 - tok), sig) != 32) {
        violation("accepted a signature that is not 32 bytes", tok, len);
    }
    hdr = part_json(tok, (size_t)(d1 - tok));
    if (hdr == NULL) {
        violation("accepted a header that is not a JSON object", tok, len);
    }
    alg = json_object_get(hdr, "alg");
    if (!json_is_string(alg) || strcmp(json_string_value(alg), "HS256") != 0) {
        violation("accepted alg other than HS256", tok, len);
    }
    if (json_object_get(hdr, "crit") != NULL) {
        violation("accepted a crit header", tok, len);
    }
    if (!signed_by_allowed_key(hdr, tok, (size_t)(d2 - tok), sig)) {
        violation("accepted a signature no allowed key made", tok, len);
    }
    json_decref(hdr);

    pl = part_json(d1 + 1, (size_t)(d2 - d1 - 1));
    if (pl == NULL) {
        violation("accepted a payload that is not a JSON object", tok, len);
    }
    exp = json_object_get(pl, "exp");
    nbf = json_object_get(pl, "nbf");
    iat = json_object_get(pl, "iat");
    if (!json_is_integer(exp) || json_integer_value(exp) <= NOW - leeway ||
        c->exp != json_integer_value(exp)) {
        violation("accepted without a live integer exp", tok, len);
    }
    if (nbf != NULL && (!json_is_integer(nbf) || NOW + leeway < json_integer_value(nbf))) {
        violation("accepted before nbf", tok, len);
    }
    if (iat != NULL && (!json_is_integer(iat) || c->iat != json_integer_value(iat))) {
        violation("accepted a non-integer iat", tok, len);
    }
    if (!str_claim_ok(pl, "sub", c->sub) || !str_claim_ok(pl, "jti", c->jti)) {
        violation("accepted without sub/jti, or returned other claims", tok, len);
    }
    json_decref(pl);
}

/* a bad_signature answer is only right when no allowed key signed it */
static void check_bad_signature(const char *tok, size_t len)
{
    const char *d1 = memchr(tok, '.', len);
    const char *d2 = memrchr(tok, '.', len);
    unsigned char sig[48];
    json_t *hdr = part_json(tok, (size_t)(d1 - tok));

    if (hdr == NULL || vc_b64url_decode(d2 + 1, len - (size_t)(d2 + 1 - tok), sig) != 32) {
        violation("bad_signature for a token whose header/signature cannot be read", tok, len);
    }
    if (signed_by_allowed_key(hdr, tok, (size_t)(d2 - tok), sig)) {
        violation("bad_signature for a token an allowed key signed", tok, len);
    }
    json_decref(hdr);
}

/* "HEADER\nPAYLOAD[\nSIG]" -> a token in tok (heap), signed per mode */
static char *build_token(unsigned mode, const uint8_t *data, size_t size, size_t *len)
{
    const uint8_t *nl1 = memchr(data, '\n', size), *nl2;
    const uint8_t *pl, *sig = NULL;
    size_t hl, pll, sigl = 0, o = 0;
    unsigned char m[32];
    char *tok;

    if (nl1 == NULL) {
        return NULL;
    }
    hl = (size_t)(nl1 - data);
    pl = nl1 + 1;
    nl2 = memchr(pl, '\n', size - hl - 1);
    pll = nl2 ? (size_t)(nl2 - pl) : size - hl - 1;
    if (nl2 != NULL) {
        sig = nl2 + 1;
        sigl = size - hl - pll - 2;
    }
    tok = malloc((hl + pll + 32 + sigl) / 3 * 4 + 16);
    o += vc_b64url_encode(data, hl, tok + o);
    tok[o++] = '.';
    o += vc_b64url_encode(pl, pll, tok + o);
    if (mode == 3) {
        tok[o++] = '.';
        o += vc_b64url_encode(sig ? sig : (const uint8_t *)"", sigl, tok + o);
    } else {
        mac(&ks.keys[mode - 1], tok, o, m);
        tok[o++] = '.';
        o += vc_b64url_encode(m, 32, tok + o);
    }
    *len = o;
    return tok;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    vc_jwt_claims c;
    vc_jwt_status st;
    unsigned mode;
    int64_t leeway;
    char *tok;
    size_t len;

    if (ks.n == 0) {
        char err[128];
        if (vc_jwt_keyset_parse(&ks, keys_txt, sizeof(keys_txt) - 1, err, sizeof(err)) < 0) {
            abort();
        }
    }
    if (size < 1) {
        return 0;
    }
    mode = data[0] & 3;
    leeway = (data[0] & 4) ? 30 : 0;
    if (mode == 0) {
        /* an exact-size copy, so ASan sees any read past the token */
        len = size - 1;
        tok = malloc(len ? len : 1);
        memcpy(tok, data + 1, len);
    } else {
        tok = build_token(mode, data + 1, size - 1, &len);
        if (tok == NULL) {
            return 0;
        }
    }
    st = vc_jwt_verify(&ks, tok, len, NOW, leeway, &c);
    if (strcmp(vc_jwt_status_str(st), "unknown") == 0) {
        violation("status without a name", tok, len);
    }
    if (st == VC_JWT_OK) {
        check_accepted(tok, len, leeway, &c);
    } else if (st == VC_JWT_BAD_SIGNATURE) {
        check_bad_signature(tok, len);
    }
    free(tok);
    return 0;
}
