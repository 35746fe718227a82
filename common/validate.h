/*
 * validate.h - request validation for POST /api/votes and
 * POST /api/chat/messages, and the sinks' schema re-check of consumed
 * messages (the poison check).  Orders and books: shop.h.
 *
 * Deliberately free of nginx types so that the same code runs in the edge
 * module, in the sinks, in cmocka tests and under libFuzzer.  Input is raw
 * bytes; output is either the normalised message JSON of docs/CONTRACT.md
 * (id, received_at and the chat sender are supplied by the caller) or an
 * error carrying the HTTP status, a stable code, a human detail and the
 * offending field, ready for the {"error","detail","field"} body.
 */
#ifndef VC_VALIDATE_H
#define VC_VALIDATE_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "catalog.h"

typedef enum {
    VC_KIND_VOTE = 1,
    VC_KIND_CHAT = 2,
    VC_KIND_ORDER = 3 /* shop.h */
} vc_kind;

/* Stable reasons; vc_reason_str() gives the "error" code of the body and the
 * metrics label.  Keep VC_R__COUNT last: the module sizes counters with it. */
typedef enum {
    VC_R_OK = 0,
    VC_R_BAD_JSON,       /* 400 */
    VC_R_BAD_UTF8,       /* 400 */
    VC_R_TOO_DEEP,       /* 400 */
    VC_R_UNKNOWN_FIELD,  /* 422 */
    VC_R_MISSING_FIELD,  /* 422 */
    VC_R_WRONG_TYPE,     /* 422 */
    VC_R_BAD_LENGTH,     /* 422 string too short/long */
    VC_R_BAD_VALUE,      /* 422 control characters, bad id, ... */
    VC_R_UNKNOWN_POLL,   /* 422 */
    VC_R_UNKNOWN_CHOICE, /* 422 */
    VC_R_BAD_RECIPIENT,  /* 422 `to` is not a username */
    VC_R_SELF_MESSAGE,   /* 422 to == sender */
    VC_R_TEXT_TOO_LONG,  /* 422 */
    VC_R_INTERNAL,       /* 500 out of memory */
    VC_R__COUNT
} vc_reason;

#define VC_FIELD_MAX 80
#define VC_DETAIL_MAX 200
#define VC_VOTER_MAX 128 /* characters */
#define VC_ATTR_VALUE_MAX 128
#define VC_USERNAME_MIN 3
#define VC_USERNAME_MAX 32
#define VC_KEY_MAX (VC_VOTER_MAX * 4) /* bytes: voter is the longest key */
#define VC_CONV_MAX (VC_USERNAME_MAX * 2 + 1)

typedef struct {
    int status; /* 400, 422 or 500 */
    vc_reason reason;
    char detail[VC_DETAIL_MAX];
    char field[VC_FIELD_MAX]; /* "" when no single field is at fault */
} vc_error;

typedef struct {
    size_t max_depth;      /* JSON nesting (objects+arrays); default 4 */
    size_t max_text_chars; /* chat text, in characters; default 2000 */
} vc_limits;

typedef struct {
    vc_kind kind;
    char *json; /* malloc'd, NUL-terminated; release with vc_msg_free */
    size_t json_len;
    char key[VC_KEY_MAX + 1]; /* Kafka key: voter or id (vote), conversation (chat),
                                     * book id in decimal (order) */
    size_t key_len;
    char conversation[VC_CONV_MAX + 1]; /* chat only */
} vc_msg;

void vc_limits_default(vc_limits *lim);

const char *vc_reason_str(vc_reason r);

/* Strict UTF-8 (no overlong forms, no surrogates, <= U+10FFFF). */
int vc_utf8_valid(const unsigned char *s, size_t len);
/* Code points in valid UTF-8. */
size_t vc_utf8_chars(const unsigned char *s, size_t len);
/* Nesting depth of JSON text, counted outside strings, without parsing;
 * returns 1 if depth <= max.  Runs before jansson so a hostile 100k-deep body
 * costs a linear scan, not recursion. */
int vc_json_depth_ok(const unsigned char *s, size_t len, size_t max);
/* No C0 controls, no DEL; allow_ws keeps \t \n \r. */
int vc_no_controls(const char *s, size_t len, int allow_ws);
/* 3-32 characters of [a-z0-9_.-]. */
int vc_username_valid(const char *s, size_t len);
/* "a:b" with a <= b bytewise; out must hold VC_CONV_MAX + 1 bytes. */
void vc_conversation_id(const char *u1, const char *u2, char *out);

/* Validate a vote body.  On success returns 0 and fills *out; otherwise
 * returns -1 and fills *err.  id is a ULID, received_at ms since the epoch. */
int vc_validate_vote(const vc_catalog *cat, const vc_limits *lim, const unsigned char *body,
                     size_t len, const char *id, int64_t received_at, vc_msg *out, vc_error *err);

/* The same through jansson alone: vc_validate_vote() takes a single-pass
 * scanner (vote_scan.c) for flat ASCII bodies and this path for every other
 * body; the fuzzer and the unit tests hold the two to the same results. */
int vc_validate_vote_reference(const vc_catalog *cat, const vc_limits *lim,
                               const unsigned char *body, size_t len, const char *id,
                               int64_t received_at, vc_msg *out, vc_error *err);

/* Validate a chat body; sender is the authenticated username (token sub). */
int vc_validate_chat(const vc_limits *lim, const unsigned char *body, size_t len,
                     const char *sender, const char *id, int64_t received_at, vc_msg *out,
                     vc_error *err);

void vc_msg_free(vc_msg *m);

/* Poison check for sinks: is buf a schema-1 message of the given kind exactly
 * as the edge produces it?  cat may be NULL (skip catalog checks for votes).
 * On success returns 0 and, if parsed != NULL, hands over the parsed object
 * (caller json_decref()s it). */
int vc_message_check(const vc_catalog *cat, const vc_limits *lim, vc_kind kind,
                     const unsigned char *buf, size_t len, json_t **parsed, vc_error *err);

#endif
