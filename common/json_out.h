/*
 * json_out.h - the compact JSON object writer of the messages the edge produces
 * (validate.c).
 *
 * Written directly instead of building a second jansson object and calling
 * json_dumps(), which costs a dozen allocations, two snprintf() calls for the
 * integers and a strlen() per message on the edge's hot path.  The output is
 * byte for byte what json_dumps(obj, JSON_COMPACT) gives for the same fields in
 * the same order (test_validate.c and the fuzzer compare the two): strings are
 * escaped like jansson's dump_string() without JSON_ESCAPE_SLASH or
 * JSON_ENSURE_ASCII, i.e. only '"', '\\' and C0 controls; the input is
 * already valid UTF-8, so everything else is copied verbatim.
 */
#ifndef VC_JSON_OUT_H
#define VC_JSON_OUT_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    const char *s; /* a value already in JSON text (literal) when raw=1 */
    size_t len;
    int raw;
} vc_out_part;

#define PART_STR(str, n)                                                                           \
    {                                                                                              \
        (str), (n), 0                                                                              \
    }
#define PART_LIT(lit)                                                                              \
    {                                                                                              \
        (lit), sizeof(lit) - 1, 0                                                                  \
    }
#define PART_RAW(str, n)                                                                           \
    {                                                                                              \
        (str), (n), 1                                                                              \
    }

/* The object {parts[0]:parts[1],...} as malloc'd NUL-terminated text in *json (its length in
 * *json_len); 0, or -1 when memory ran out. */
int vc_json_out_object(const vc_out_part *parts, size_t nparts, char **json, size_t *json_len);

/* An object of strings (a vote's attrs) as compact JSON text, in its own order (jansson
 * keeps insertion order, as json_dumps does): *buf is small when it fits in small_size
 * bytes, else malloc'd; NULL is "{}". 0, or -1 when memory ran out. */
int vc_json_out_string_object(json_t *attrs, char *small, size_t small_size, char **buf,
                              size_t *len);

/* v in decimal without snprintf; buf holds at least 21 bytes. Returns the length. */
size_t vc_json_out_int(int64_t v, char *buf);

#endif
