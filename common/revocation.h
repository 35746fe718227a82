/*
 * revocation.h - the logout revocation record {"jti":"...","exp":N} of the
 * auth.revocations topic (docs/CONTRACT.md): one parser and one writer, used
 * by the edge module (which refuses revoked tokens) and by the api daemon
 * (which writes the records and keeps its own set).
 *
 * The rule: a JSON object (no duplicate keys; other members are ignored, so
 * the record can grow) with "jti" a string of 1..VC_JWT_JTI_MAX bytes without
 * NUL (the jti a token from vc_jwt_verify can carry) and "exp" an integer (the
 * token's exp, Unix seconds).  A record revokes its token until exp +
 * VC_JWT_LEEWAY_MAX: a verifier accepts a token until exp + its leeway, and
 * no leeway may exceed that bound.  After it the record revokes nothing: the
 * token is refused as expired anyway.
 */
#ifndef VC_REVOCATION_H
#define VC_REVOCATION_H

#include <stddef.h>
#include <stdint.h>

#include "jwt.h"

typedef enum {
    VC_REVOCATION_OK = 0,
    VC_REVOCATION_MALFORMED, /* not such an object: ignored, and logged */
    VC_REVOCATION_EXPIRED    /* well formed, no longer live: nothing to revoke */
} vc_revocation_status;

typedef struct {
    char jti[VC_JWT_JTI_MAX + 1]; /* NUL-terminated */
    size_t jti_len;
    int64_t exp;
} vc_revocation;

/* Parse buf[0..len) at time now.  rec is filled for OK and EXPIRED. */
vc_revocation_status vc_revocation_parse(const char *buf, size_t len, int64_t now,
                                         vc_revocation *rec);

/* Whether a revocation of a token with this exp still matters at now (the
 * rule above); keepers of revocation sets drop an entry once it does not. */
int vc_revocation_live(int64_t exp, int64_t now);

/* The record as compact JSON (malloc'd, NUL-terminated), or NULL when jti
 * breaks the rule above or memory ran out. */
char *vc_revocation_dump(const char *jti, int64_t exp);

#endif
