/*
 * shop.h - the bookstore's input rules: the body of POST /api/orders (the
 * edge module produces the message it returns, key = the book) and the book
 * bodies of POST and PATCH /api/books (the api daemon).  Same JSON rules and
 * error shape as validate.h; nginx-free like the rest of common/.
 */
#ifndef VC_SHOP_H
#define VC_SHOP_H

#include <stdint.h>

#include <jansson.h>

#include "validate.h"

#define VC_BOOK_ID_MAX                                                                             \
    INT64_C(9007199254740991) /* 2^53-1: exact in any
                                                        * JSON reader */
#define VC_ORDER_COPIES_MAX 10
#define VC_BOOK_TITLE_MAX 200 /* characters */
#define VC_BOOK_AUTHOR_MAX 120
#define VC_BOOK_PRICE_MAX INT64_C(100000000) /* cents */
#define VC_BOOK_COPIES_MAX 10000

/* {"book": <id>, "copies": <n>}; the buyer is the authenticated username.
 * out->json is the order message of docs/CONTRACT.md, out->key the book id
 * in decimal, so one book's orders stay in one partition, in order. */
int vc_validate_order(const vc_limits *lim, const unsigned char *body, size_t len,
                      const char *buyer, const char *id, int64_t received_at, vc_msg *out,
                      vc_error *err);

typedef struct {
    const char *title, *author, *condition; /* NULL when absent (PATCH) */
    int64_t price_cents;                    /* -1 when absent */
    int64_t copies;                         /* -1 when absent */
} vc_book;

/* A book body: every field required (patch = 0, POST) or at least one
 * (patch = 1, PATCH).  The strings live in *root, which the caller
 * json_decref's (also after -1; NULL when nothing was parsed). */
int vc_validate_book(const vc_limits *lim, const unsigned char *body, size_t len, int patch,
                     json_t **root, vc_book *out, vc_error *err);

/* 1 when s is one of the conditions a book may be listed in. */
int vc_book_condition_valid(const char *s);

#endif
