/*
 * validate_int.h - the JSON rules of validate.c shared with the other
 * validators of common/ (shop.c: books and orders), so that every request
 * kind is read by the same parser, limits and error wording.  Not for use
 * outside common/.
 */
#ifndef VC_VALIDATE_INT_H
#define VC_VALIDATE_INT_H

#include "json_out.h"
#include "validate.h"

#define SCHEMA_VERSION 1
#define STR_(x) #x
#define STR(x) STR_(x)

/* Fill *err (status from the reason) and return -1. */
__attribute__((format(printf, 5, 6))) int vc_fail(vc_error *err, vc_reason r, const char *prefix,
                                                  const char *field, const char *fmt, ...);

/* The body as one JSON object: UTF-8, depth and duplicate keys checked. */
json_t *vc_parse_object(const vc_limits *lim, const unsigned char *body, size_t len, vc_error *err);

/* Every key of obj must be in allowed (NULL-terminated). */
int vc_only_fields(json_t *obj, const char *const *allowed, const char *prefix, vc_error *err);

/* A string field of 1..max_chars characters without control characters. */
int vc_str_field(json_t *obj, const char *name, const char *prefix, int required, size_t max_chars,
                 const char **val, size_t *vlen, vc_error *err);

/* The compact JSON object of parts (key, value pairs) into out->json. */
int vc_put_msg(const vc_out_part *parts, size_t nparts, vc_msg *out, vc_error *err);

/* v, kind, id and received_at of a consumed message. */
int vc_check_envelope(json_t *obj, const char *kind, vc_error *err);

/* The fields of a consumed order message (shop.c), envelope included. */
int vc_check_order_msg(json_t *obj, vc_error *err);

#endif
