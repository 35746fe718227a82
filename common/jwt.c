/*
 * jwt.c - HS256 JWT sign/verify and the secrets file loader (see jwt.h).
 */
#include "jwt.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#define HS256_LEN 32

static const char b64url_chars[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

size_t vc_b64url_encode(const unsigned char *in, size_t n, char *out)
{
    size_t i, o = 0;

    for (i = 0; i + 2 < n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
        out[o++] = b64url_chars[(v >> 18) & 63];
        out[o++] = b64url_chars[(v >> 12) & 63];
        out[o++] = b64url_chars[(v >> 6) & 63];
        out[o++] = b64url_chars[v & 63];
    }
    if (n - i == 1) {
        uint32_t v = (uint32_t)in[i] << 16;
        out[o++] = b64url_chars[(v >> 18) & 63];
        out[o++] = b64url_chars[(v >> 12) & 63];
    } else if (n - i == 2) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
        out[o++] = b64url_chars[(v >> 18) & 63];
        out[o++] = b64url_chars[(v >> 12) & 63];
        out[o++] = b64url_chars[(v >> 6) & 63];
    }
    return o;
}

static int b64url_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '-')
        return 62;
    if (c == '_')
        return 63;
    return -1;
}

long vc_b64url_decode(const char *in, size_t n, unsigned char *out)
{
    size_t i, o = 0;
    uint32_t acc = 0;
    int bits = 0;

    if (n % 4 == 1) {
        return -1; /* impossible length for unpadded base64 */
    }
    for (i = 0; i < n; i++) {
        int v = b64url_value((unsigned char)in[i]);
        if (v < 0) {
            return -1; /* also rejects '=' padding: JWS forbids it */
        }
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (unsigned char)(acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }
    if (acc != 0) {
        return -1; /* non-canonical trailing bits: tampering */
    }
    return (long)o;
}

/* ---- secrets file ---- */

void vc_jwt_keyset_free(vc_jwt_keyset *ks)
{
    for (size_t i = 0; i < ks->n; i++) {
        if (ks->keys[i].secret) {
            OPENSSL_cleanse(ks->keys[i].secret, ks->keys[i].secret_len);
            free(ks->keys[i].secret);
        }
    }
    free(ks->keys);
    ks->keys = NULL;
    ks->n = 0;
}

static int is_space(char c) { return c == ' ' || c == '\t' || c == '\r'; }

/* one "kid secret" line; returns 1 added, 0 skipped (blank/comment), -1 error */
static int keyset_add_line(vc_jwt_keyset *ks, const char *p, const char *end, size_t lineno,
                           char *err, size_t errlen)
{
    const char *kid, *kid_end, *sec, *sec_end;

    while (p < end && is_space(*p))
        p++;
    if (p == end || *p == '#') {
        return 0;
    }
    kid = p;
    while (p < end && !is_space(*p))
        p++;
    kid_end = p;
    while (p < end && is_space(*p))
        p++;
    sec = p;
    sec_end = end;
    while (sec_end > sec && is_space(sec_end[-1]))
        sec_end--;

    if (sec == sec_end) {
        snprintf(err, errlen, "line %zu: expected \"kid secret\"", lineno);
        return -1;
    }
    if ((size_t)(kid_end - kid) > VC_JWT_KID_MAX) {
        snprintf(err, errlen, "line %zu: kid longer than %d bytes", lineno, VC_JWT_KID_MAX);
        return -1;
    }
    if (sec_end - sec < 16) {
        /* a short HMAC key is brute-forceable offline from any token */
        snprintf(err, errlen, "line %zu: secret shorter than 16 bytes", lineno);
        return -1;
    }

    vc_jwt_key *nk = realloc(ks->keys, (ks->n + 1) * sizeof(*nk));
    if (nk == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    ks->keys = nk;
    vc_jwt_key *k = &ks->keys[ks->n];
    memset(k, 0, sizeof(*k));
    memcpy(k->kid, kid, (size_t)(kid_end - kid));
    k->secret_len = (size_t)(sec_end - sec);
    k->secret = malloc(k->secret_len);
    if (k->secret == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    memcpy(k->secret, sec, k->secret_len);
    ks->n++;
    return 1;
}

int vc_jwt_keyset_parse(vc_jwt_keyset *ks, const char *buf, size_t len, char *err, size_t errlen)
{
    const char *p = buf, *end = buf + len;
    size_t lineno = 0;

    ks->keys = NULL;
    ks->n = 0;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end;
        lineno++;
        if (keyset_add_line(ks, p, le, lineno, err, errlen) < 0) {
            vc_jwt_keyset_free(ks);
            return -1;
        }
        p = nl ? nl + 1 : end;
    }
    for (size_t i = 0; i < ks->n; i++) {
        for (size_t j = i + 1; j < ks->n; j++) {
            if (strcmp(ks->keys[i].kid, ks->keys[j].kid) == 0) {
                snprintf(err, errlen, "duplicate kid \"%s\"", ks->keys[i].kid);
                vc_jwt_keyset_free(ks);
                return -1;
            }
        }
    }
    if (ks->n == 0) {
        snprintf(err, errlen, "no keys");
        return -1;
    }
    return 0;
}

int vc_jwt_keyset_load(vc_jwt_keyset *ks, const char *path, char *err, size_t errlen)
{
    char buf[65536];
    size_t n;
    FILE *f = fopen(path, "re");

    ks->keys = NULL;
    ks->n = 0;
    if (f == NULL) {
        snprintf(err, errlen, "open(\"%s\"): %s", path, strerror(errno));
        return -1;
    }
    n = fread(buf, 1, sizeof(buf), f);
    if (ferror(f)) {
        snprintf(err, errlen, "read(\"%s\"): %s", path, strerror(errno));
        fclose(f);
        return -1;
    }
    if (n == sizeof(buf)) {
        snprintf(err, errlen, "\"%s\" is larger than %zu bytes", path, sizeof(buf) - 1);
        fclose(f);
        return -1;
    }
    fclose(f);
    int rc = vc_jwt_keyset_parse(ks, buf, n, err, errlen);
    OPENSSL_cleanse(buf, n);
    if (rc < 0) {
        char tmp[256];
        snprintf(tmp, sizeof(tmp), "%s", err);
        snprintf(err, errlen, "\"%s\": %s", path, tmp);
    }
    return rc;
}

/* ---- sign ---- */

static int hs256(const vc_jwt_key *k, const char *data, size_t len, unsigned char mac[HS256_LEN])
{
    unsigned int mlen = 0;

    if (HMAC(EVP_sha256(), k->secret, (int)k->secret_len, (const unsigned char *)data, len, mac,
             &mlen) == NULL ||
        mlen != HS256_LEN) {
        return -1;
    }
    return 0;
}

/* append base64url(json) to out at *o; returns -1 on failure */
static int append_b64_json(json_t *j, char *out, size_t cap, size_t *o)
{
    char *s = json_dumps(j, JSON_COMPACT);
    if (s == NULL) {
        return -1;
    }
    size_t sl = strlen(s);
    if (*o + (sl + 2) / 3 * 4 + 1 > cap) {
        free(s);
        return -1;
    }
    *o += vc_b64url_encode((const unsigned char *)s, sl, out + *o);
    free(s);
    return 0;
}

int vc_jwt_sign(const vc_jwt_keyset *ks, const char *sub, const char *jti, int64_t iat, int64_t exp,
                char **out)
{
    char buf[VC_JWT_MAX_LEN];
    size_t o = 0;
    unsigned char mac[HS256_LEN];
    int rc = -1;

    *out = NULL;
    if (ks->n == 0) {
        return -1;
    }
    json_t *hdr =
        json_pack("{s:s, s:s, s:s}", "alg", "HS256", "typ", "JWT", "kid", ks->keys[0].kid);
    json_t *pl = json_pack("{s:s, s:I, s:I, s:s}", "sub", sub, "iat", (json_int_t)iat, "exp",
                           (json_int_t)exp, "jti", jti);
    if (hdr == NULL || pl == NULL) {
        goto done;
    }
    if (append_b64_json(hdr, buf, sizeof(buf), &o) < 0)
        goto done;
    buf[o++] = '.';
    if (append_b64_json(pl, buf, sizeof(buf), &o) < 0)
        goto done;
    if (hs256(&ks->keys[0], buf, o, mac) < 0)
        goto done;
    if (o + 1 + 44 >= sizeof(buf))
        goto done;
    buf[o++] = '.';
    o += vc_b64url_encode(mac, sizeof(mac), buf + o);
    buf[o] = '\0';
    *out = strdup(buf);
    rc = *out ? 0 : -1;
done:
    json_decref(hdr);
    json_decref(pl);
    return rc;
}

/* ---- verify ---- */

const char *vc_jwt_status_str(vc_jwt_status st)
{
    switch (st) {
    case VC_JWT_OK:
        return "ok";
    case VC_JWT_MALFORMED:
        return "malformed";
    case VC_JWT_BAD_ALG:
        return "bad_alg";
    case VC_JWT_UNKNOWN_KID:
        return "unknown_kid";
    case VC_JWT_BAD_SIGNATURE:
        return "bad_signature";
    case VC_JWT_EXPIRED:
        return "expired";
    case VC_JWT_NOT_YET_VALID:
        return "not_yet_valid";
    case VC_JWT_BAD_CLAIMS:
        return "bad_claims";
    }
    return "unknown";
}

static json_t *decode_json_part(const char *p, size_t n)
{
    unsigned char buf[VC_JWT_MAX_LEN];
    long l;

    if (n == 0 || n > (sizeof(buf) - 3) / 3 * 4) {
        return NULL;
    }
    l = vc_b64url_decode(p, n, buf);
    if (l <= 0) {
        return NULL;
    }
    json_t *j = json_loadb((const char *)buf, (size_t)l, JSON_REJECT_DUPLICATES, NULL);
    if (j != NULL && !json_is_object(j)) {
        json_decref(j);
        return NULL;
    }
    return j;
}

/* copy a string claim into dst; -1 if absent, wrong type, empty or too long */
static int copy_str_claim(json_t *obj, const char *name, char *dst, size_t cap)
{
    json_t *v = json_object_get(obj, name);
    if (!json_is_string(v)) {
        return -1;
    }
    size_t l = json_string_length(v);
    if (l == 0 || l >= cap || memchr(json_string_value(v), '\0', l)) {
        return -1;
    }
    memcpy(dst, json_string_value(v), l + 1);
    return 0;
}

static vc_jwt_status check_header(json_t *hdr, const vc_jwt_keyset *ks, const vc_jwt_key **key,
                                  vc_jwt_claims *c)
{
    json_t *alg = json_object_get(hdr, "alg");
    json_t *kid = json_object_get(hdr, "kid");

    if (!json_is_string(alg) || strcmp(json_string_value(alg), "HS256") != 0) {
        return VC_JWT_BAD_ALG;
    }
    json_t *crit = json_object_get(hdr, "crit");
    if (crit != NULL) {
        return VC_JWT_MALFORMED; /* RFC 7515 4.1.11: we understand no extensions */
    }
    *key = NULL;
    c->kid[0] = '\0';
    if (kid == NULL) {
        return VC_JWT_OK; /* caller tries every key */
    }
    if (!json_is_string(kid)) {
        return VC_JWT_MALFORMED;
    }
    for (size_t i = 0; i < ks->n; i++) {
        if (strcmp(ks->keys[i].kid, json_string_value(kid)) == 0) {
            *key = &ks->keys[i];
            memcpy(c->kid, ks->keys[i].kid, sizeof(c->kid));
            return VC_JWT_OK;
        }
    }
    return VC_JWT_UNKNOWN_KID;
}

static int sig_matches(const vc_jwt_key *k, const char *signed_part, size_t slen,
                       const unsigned char *sig)
{
    unsigned char mac[HS256_LEN];

    if (hs256(k, signed_part, slen, mac) < 0) {
        return 0;
    }
    return CRYPTO_memcmp(mac, sig, HS256_LEN) == 0;
}

static vc_jwt_status check_claims(json_t *pl, int64_t now, int64_t leeway, vc_jwt_claims *c)
{
    json_t *exp = json_object_get(pl, "exp");
    json_t *nbf = json_object_get(pl, "nbf");
    json_t *iat = json_object_get(pl, "iat");

    if (copy_str_claim(pl, "sub", c->sub, sizeof(c->sub)) < 0 ||
        copy_str_claim(pl, "jti", c->jti, sizeof(c->jti)) < 0 || !json_is_integer(exp) ||
        (nbf != NULL && !json_is_integer(nbf)) || (iat != NULL && !json_is_integer(iat))) {
        return VC_JWT_BAD_CLAIMS;
    }
    c->exp = json_integer_value(exp);
    c->iat = iat ? json_integer_value(iat) : 0;
    if (c->exp <= now - leeway) { /* now >= exp + leeway, without overflowing */
        return VC_JWT_EXPIRED;
    }
    if (nbf != NULL && now + leeway < json_integer_value(nbf)) {
        return VC_JWT_NOT_YET_VALID;
    }
    return VC_JWT_OK;
}

vc_jwt_status vc_jwt_verify(const vc_jwt_keyset *ks, const char *token, size_t len, int64_t now,
                            int64_t leeway, vc_jwt_claims *claims)
{
    const char *d1, *d2;
    unsigned char sig[HS256_LEN + 4];
    const vc_jwt_key *key = NULL;
    vc_jwt_status st;
    json_t *hdr = NULL, *pl = NULL;

    memset(claims, 0, sizeof(*claims));
    if (len == 0 || len > VC_JWT_MAX_LEN || ks->n == 0) {
        return VC_JWT_MALFORMED;
    }
    d1 = memchr(token, '.', len);
    d2 = d1 ? memchr(d1 + 1, '.', len - (size_t)(d1 + 1 - token)) : NULL;
    if (d2 == NULL || memchr(d2 + 1, '.', len - (size_t)(d2 + 1 - token))) {
        return VC_JWT_MALFORMED;
    }
    size_t siglen = len - (size_t)(d2 + 1 - token);
    if (siglen != 43 || vc_b64url_decode(d2 + 1, siglen, sig) != HS256_LEN) {
        return VC_JWT_MALFORMED;
    }

    hdr = decode_json_part(token, (size_t)(d1 - token));
    if (hdr == NULL) {
        return VC_JWT_MALFORMED;
    }
    st = check_header(hdr, ks, &key, claims);
    json_decref(hdr);
    if (st != VC_JWT_OK) {
        return st;
    }

    /* signature before the payload is even parsed: untrusted JSON stays unread */
    size_t slen = (size_t)(d2 - token);
    int ok = 0;
    if (key != NULL) {
        ok = sig_matches(key, token, slen, sig);
    } else {
        for (size_t i = 0; i < ks->n; i++) {
            ok |= sig_matches(&ks->keys[i], token, slen, sig);
        }
    }
    if (!ok) {
        return VC_JWT_BAD_SIGNATURE;
    }

    pl = decode_json_part(d1 + 1, (size_t)(d2 - d1 - 1));
    if (pl == NULL) {
        return VC_JWT_MALFORMED;
    }
    st = check_claims(pl, now, leeway, claims);
    json_decref(pl);
    return st;
}
