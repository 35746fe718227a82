/*
 * revocation.c - parse and write the logout revocation record (see revocation.h).
 */
#include "revocation.h"

#include <string.h>

#include <jansson.h>

static int jti_valid(const char *jti, size_t len)
{
    return len > 0 && len <= VC_JWT_JTI_MAX && memchr(jti, '\0', len) == NULL;
}

vc_revocation_status vc_revocation_parse(const char *buf, size_t len, int64_t now,
                                         vc_revocation *rec)
{
    json_t *root, *jti, *exp;
    vc_revocation_status st = VC_REVOCATION_MALFORMED;

    memset(rec, 0, sizeof(*rec));
    root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, NULL);
    jti = json_object_get(root, "jti");
    exp = json_object_get(root, "exp");
    if (json_is_string(jti) && json_is_integer(exp) &&
        jti_valid(json_string_value(jti), json_string_length(jti))) {
        rec->jti_len = json_string_length(jti);
        memcpy(rec->jti, json_string_value(jti), rec->jti_len);
        rec->exp = json_integer_value(exp);
        st = vc_revocation_live(rec->exp, now) ? VC_REVOCATION_OK : VC_REVOCATION_EXPIRED;
    }
    json_decref(root);
    return st;
}

int vc_revocation_live(int64_t exp, int64_t now) { return exp > now - VC_JWT_LEEWAY_MAX; }

char *vc_revocation_dump(const char *jti, int64_t exp)
{
    json_t *rec;
    char *s;

    if (!jti_valid(jti, strlen(jti))) {
        return NULL;
    }
    rec = json_pack("{s:s, s:I}", "jti", jti, "exp", (json_int_t)exp);
    s = rec ? json_dumps(rec, JSON_COMPACT) : NULL;
    json_decref(rec);
    return s;
}
