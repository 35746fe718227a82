/*
 * jwt.h - HS256 JSON Web Tokens: signing (api daemon, on login) and
 * verification (edge module, for POST /api/chat/messages).
 *
 * Keys come from a secrets file (docs/CONTRACT.md): one key per line,
 * "kid secret", the first line is the signing key, every line is accepted for
 * verification so keys can be rotated.  Blank lines and lines starting with
 * '#' are ignored.  Only HS256 is accepted ("alg":"none" and every other
 * algorithm are rejected before any signature work); the signature compare is
 * constant-time (CRYPTO_memcmp).  nginx-free and malloc-based.
 */
#ifndef VC_JWT_H
#define VC_JWT_H

#include <stddef.h>
#include <stdint.h>

#define VC_JWT_KID_MAX 64
#define VC_JWT_SUB_MAX 64
#define VC_JWT_JTI_MAX 64
#define VC_JWT_MAX_LEN 4096 /* longer tokens are rejected unparsed */
#define VC_JWT_LEEWAY_MAX                                                                          \
    300 /* largest exp/nbf leeway a verifier may allow:
                                  revocations outlive exp by this much */

typedef struct {
    char kid[VC_JWT_KID_MAX + 1];
    unsigned char *secret;
    size_t secret_len;
} vc_jwt_key;

typedef struct {
    vc_jwt_key *keys; /* keys[0] signs */
    size_t n;
} vc_jwt_keyset;

typedef enum {
    VC_JWT_OK = 0,
    VC_JWT_MALFORMED,   /* not three base64url parts / bad JSON */
    VC_JWT_BAD_ALG,     /* alg missing or not HS256 */
    VC_JWT_UNKNOWN_KID, /* kid names no key in the file */
    VC_JWT_BAD_SIGNATURE,
    VC_JWT_EXPIRED,
    VC_JWT_NOT_YET_VALID,
    VC_JWT_BAD_CLAIMS /* sub/jti/exp missing or of the wrong type */
} vc_jwt_status;

typedef struct {
    char sub[VC_JWT_SUB_MAX + 1];
    char jti[VC_JWT_JTI_MAX + 1];
    int64_t exp;
    int64_t iat;                  /* 0 when absent */
    char kid[VC_JWT_KID_MAX + 1]; /* "" when absent */
} vc_jwt_claims;

/* Load a secrets file.  On error returns -1 and writes a message to err.
 * The keyset must be released with vc_jwt_keyset_free(). */
int vc_jwt_keyset_load(vc_jwt_keyset *ks, const char *path, char *err, size_t errlen);

/* Parse the same format from memory (tests, config snippets). */
int vc_jwt_keyset_parse(vc_jwt_keyset *ks, const char *buf, size_t len, char *err, size_t errlen);

void vc_jwt_keyset_free(vc_jwt_keyset *ks);

/* Sign {"sub","iat","exp","jti"} with the first key.  *out is malloc'd and
 * NUL-terminated.  Returns 0 or -1. */
int vc_jwt_sign(const vc_jwt_keyset *ks, const char *sub, const char *jti, int64_t iat, int64_t exp,
                char **out);

/* Verify token[0..len) at time now (Unix seconds).  leeway (seconds) is
 * allowed on exp and nbf for clock skew.  On VC_JWT_OK *claims is filled. */
vc_jwt_status vc_jwt_verify(const vc_jwt_keyset *ks, const char *token, size_t len, int64_t now,
                            int64_t leeway, vc_jwt_claims *claims);

/* Short stable name of a status ("expired", "bad_signature", ...). */
const char *vc_jwt_status_str(vc_jwt_status st);

/* base64url without padding.  encode: out must hold 4*ceil(n/3) bytes; returns
 * the length written.  decode: returns the decoded length or -1 on an invalid
 * character/length; out must hold 3*n/4 + 3 bytes. */
size_t vc_b64url_encode(const unsigned char *in, size_t n, char *out);
long vc_b64url_decode(const char *in, size_t n, unsigned char *out);

#endif
