/*
 * request_parse.h - what a request carries (query values, headers, JSON bodies,
 * path segments) turned into values, or into the 4xx problem to answer.
 *
 * Pure functions: no libmicrohttpd connection, no store, no clock, so the
 * handlers' whole reading of untrusted input is fuzzed by workers/api/fuzz
 * (no input may make the daemon answer 5xx).  The handlers look the raw values
 * up, call these, and answer a problem with respond_problem() (respond.h).
 */
#ifndef API_REQUEST_PARSE_H
#define API_REQUEST_PARSE_H

#include <jansson.h>
#include <stddef.h>

#include "shop.h"     /* common/: VC_BOOK_ID_MAX */
#include "validate.h" /* common/: VC_USERNAME_MAX */

#define QUERY_MAX_PARAMS 8
#define QUERY_MAX_VALUE 128
#define HTTP_MAX_BODY 4096

#define PAGE_DEFAULT 50
#define PAGE_MAX 200
#define RECENT_DEFAULT 20
#define RECENT_MAX 100 /* the sink caps the list at 100 */

/* A client error: status (4xx), error code, detail and field (NULL: none) of
 * the {"error","detail","field"} body. */
typedef struct {
    unsigned status;
    const char *error;
    const char *detail;
    const char *field;
} api_problem;

/* *out = v as a decimal in [min,max], or def when v is NULL.  -1 when v is
 * present but not such a number. */
int parse_uint_value(const char *v, unsigned def, unsigned min, unsigned max, unsigned *out);

/* Route-independent checks of the request line and headers, in the order the
 * daemon applies them: body over HTTP_MAX_BODY (too_large), the query's
 * parameter count and longest value, then a POST body that is not JSON
 * (content_type may be NULL).  0, or -1 with the problem. */
int parse_request_limits(int too_large, size_t nparams, size_t longest_value, const char *method,
                         size_t body_len, const char *content_type, api_problem *p);

/* 1 if a declared Content-Length (may be NULL) is above HTTP_MAX_BODY. */
int parse_declared_too_large(const char *content_length);

/* The token of an "Authorization: Bearer ..." header (may be NULL), or NULL. */
const char *parse_bearer(const char *authorization);

/* before/after/limit of a message page (each NULL when absent). */
typedef struct {
    const char *before, *after; /* NULL when absent */
    unsigned limit;
} page_query;
int parse_page(const char *before, const char *after, const char *limit, page_query *q,
               api_problem *p);

/* ?limit= of the recent votes. */
int parse_recent_limit(const char *limit, unsigned *out, api_problem *p);

/* The {peer} path segment (seg[0..len), not NUL-terminated) copied into peer. */
int parse_peer(const char *seg, size_t len, char peer[VC_USERNAME_MAX + 1], api_problem *p);

/* Last-Event-ID header, else ?last_event_id= (both may be NULL): *last is the
 * cursor to resume after, or NULL. */
int parse_resume_cursor(const char *header, const char *query, const char **last, api_problem *p);

/* The {id} segment of /api/books/{id}: a decimal 1..VC_BOOK_ID_MAX, copied
 * NUL-terminated into id. */
int parse_book_id(const char *seg, size_t len, char id[24], api_problem *p);

/* The {id} segment of /api/orders/{id}: an order id (ULID). */
int parse_order_id(const char *seg, size_t len, char id[27], api_problem *p);

/* GET /api/books: ?q= (1-100 characters, matched in title or author),
 * ?seller= (a username), ?before= (a book id: the page after it) and ?limit=
 * (1-200); each NULL when absent. */
#define CATALOG_QUERY_MAX 100
typedef struct {
    const char *q, *seller, *before;
    unsigned limit;
} catalog_query;
int parse_catalog(const char *q, const char *seller, const char *before, const char *limit,
                  catalog_query *c, api_problem *p);

/* {"username","password"} (exactly these two strings) of register/login.
 * The strings live in *root, which the caller json_decref's (also on -1). */
typedef struct {
    const char *username;
    const char *password;
    size_t password_len;
} credentials;
int parse_credentials(const char *body, size_t len, json_t **root, credentials *c, api_problem *p);

/* Register's rules on new credentials: username 3-32 of [a-z0-9_.-], password
 * of PASSWORD_MIN_CHARS characters up to PASSWORD_MAX_BYTES bytes. */
int check_new_account(const credentials *c, api_problem *p);

#endif
