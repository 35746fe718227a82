/*
 * fuzz_revocation.c - libFuzzer target for common/revocation.c, the parser of
 * the auth.revocations records both the edge module and the api daemon read.
 *
 * Invariants: the parser accepts exactly the rule of revocation.h, checked
 * against a reading with jansson's own API (object, unique keys, "jti" a string
 * of 1..64 bytes without NUL, integer "exp"); OK exactly when exp > now - VC_JWT_LEEWAY_MAX; the
 * record it returns is the input's (NUL-terminated jti of jti_len bytes); and
 * what vc_revocation_dump writes for it parses back to the same record.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "revocation.h"

#define NOW 1800000000

static void violation(const char *what, const uint8_t *data, size_t size)
{
    fprintf(stderr, "revocation invariant violated: %s\ninput: %.*s\n", what, (int)size,
            (const char *)data);
    abort();
}

/* 1 if the input is a record by the rule, with its jti and exp */
static int reference(const uint8_t *data, size_t size, json_t **root, json_t **jti, json_t **exp)
{
    *root = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, NULL);
    *jti = json_object_get(*root, "jti");
    *exp = json_object_get(*root, "exp");
    return json_is_object(*root) && json_is_string(*jti) && json_is_integer(*exp) &&
           json_string_length(*jti) >= 1 && json_string_length(*jti) <= VC_JWT_JTI_MAX &&
           strlen(json_string_value(*jti)) == json_string_length(*jti);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    vc_revocation rec, back;
    vc_revocation_status st;
    json_t *root, *jti, *exp;
    char *copy, *dump;
    int is_record;

    copy = malloc(size ? size : 1); /* exact size: ASan sees any overread */
    memcpy(copy, data, size);
    st = vc_revocation_parse(copy, size, NOW, &rec);
    free(copy);
    is_record = reference(data, size, &root, &jti, &exp);

    if (st != VC_REVOCATION_MALFORMED && st != VC_REVOCATION_OK && st != VC_REVOCATION_EXPIRED) {
        violation("unknown status", data, size);
    }
    if (is_record != (st != VC_REVOCATION_MALFORMED)) {
        violation(is_record ? "refused a record" : "accepted a non-record", data, size);
    }
    if (is_record) {
        if (rec.jti_len != json_string_length(jti) || strlen(rec.jti) != rec.jti_len ||
            memcmp(rec.jti, json_string_value(jti), rec.jti_len) != 0 ||
            rec.exp != json_integer_value(exp)) {
            violation("returned another record than the input's", data, size);
        }
        if ((st == VC_REVOCATION_OK) != (rec.exp > NOW - VC_JWT_LEEWAY_MAX)) {
            violation("live/expired decided against exp > now - leeway max", data, size);
        }
        dump = vc_revocation_dump(rec.jti, rec.exp);
        if (dump == NULL || vc_revocation_parse(dump, strlen(dump), NOW, &back) != st ||
            back.jti_len != rec.jti_len || strcmp(back.jti, rec.jti) != 0 || back.exp != rec.exp) {
            violation("the written record does not parse back to itself", data, size);
        }
        free(dump);
    }
    json_decref(root);
    return 0;
}
