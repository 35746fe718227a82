/*
 * request_parse.c - request inputs to values or 4xx problems (see request_parse.h).
 */
#include "request_parse.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "password.h"
#include "ulid.h"

static int problem(api_problem *p, unsigned status, const char *error, const char *detail,
                   const char *field)
{
    p->status = status;
    p->error = error;
    p->detail = detail;
    p->field = field;
    return -1;
}

int parse_uint_value(const char *v, unsigned def, unsigned min, unsigned max, unsigned *out)
{
    if (!v) {
        *out = def;
        return 0;
    }
    char *end;
    if (*v < '0' || *v > '9')
        return -1;
    unsigned long n = strtoul(v, &end, 10);
    if (*end || n < min || n > max)
        return -1;
    *out = (unsigned)n;
    return 0;
}

static int is_json_content(const char *ct)
{
    if (!ct || strncasecmp(ct, "application/json", 16) != 0)
        return 0;
    return ct[16] == '\0' || ct[16] == ';' || ct[16] == ' ';
}

int parse_request_limits(int too_large, size_t nparams, size_t longest_value, const char *method,
                         size_t body_len, const char *content_type, api_problem *p)
{
    if (too_large)
        return problem(p, 413, "too_large", "body exceeds 4096 bytes", NULL);
    if (nparams > QUERY_MAX_PARAMS || longest_value > QUERY_MAX_VALUE)
        return problem(p, 400, "bad_query", "too many or too long query parameters", NULL);
    /* A body must be JSON; a bodyless POST (logout) needs no Content-Type. */
    if ((strcmp(method, "POST") == 0 || strcmp(method, "PATCH") == 0) && body_len > 0 &&
        !is_json_content(content_type))
        return problem(p, 415, "unsupported_media_type", "Content-Type must be application/json",
                       NULL);
    return 0;
}

int parse_declared_too_large(const char *content_length)
{
    return content_length && strtoull(content_length, NULL, 10) > HTTP_MAX_BODY;
}

const char *parse_bearer(const char *h)
{
    if (!h || strncasecmp(h, "Bearer ", 7) != 0)
        return NULL;
    h += 7;
    while (*h == ' ')
        h++;
    return *h ? h : NULL;
}

int parse_page(const char *before, const char *after, const char *limit, page_query *q,
               api_problem *p)
{
    q->before = before;
    q->after = after;
    if (before && !vc_ulid_valid(before, strlen(before)))
        return problem(p, 422, "bad_cursor", "before must be a message id", "before");
    if (after && !vc_ulid_valid(after, strlen(after)))
        return problem(p, 422, "bad_cursor", "after must be a message id", "after");
    if (parse_uint_value(limit, PAGE_DEFAULT, 1, PAGE_MAX, &q->limit) < 0)
        return problem(p, 422, "bad_limit", "limit must be 1-200", "limit");
    return 0;
}

int parse_recent_limit(const char *limit, unsigned *out, api_problem *p)
{
    if (parse_uint_value(limit, RECENT_DEFAULT, 1, RECENT_MAX, out) < 0)
        return problem(p, 422, "bad_limit", "limit must be 1-100", "limit");
    return 0;
}

int parse_peer(const char *seg, size_t len, char peer[VC_USERNAME_MAX + 1], api_problem *p)
{
    if (len > VC_USERNAME_MAX || !vc_username_valid(seg, len))
        return problem(p, 422, "bad_peer", "peer must be a username", "peer");
    memcpy(peer, seg, len);
    peer[len] = '\0';
    return 0;
}

/* 1 when seg[0..len) is a decimal in 1..VC_BOOK_ID_MAX (no sign, no leading zero). */
static int book_id_ok(const char *seg, size_t len)
{
    if (len == 0 || len > 16 || seg[0] == '0')
        return 0;
    long long v = 0;
    for (size_t i = 0; i < len; i++) {
        if (seg[i] < '0' || seg[i] > '9')
            return 0;
        v = v * 10 + (seg[i] - '0');
    }
    return v <= VC_BOOK_ID_MAX;
}

int parse_book_id(const char *seg, size_t len, char id[24], api_problem *p)
{
    if (!book_id_ok(seg, len))
        return problem(p, 422, "bad_book_id", "a book id is an integer from 1 to 2^53-1", "id");
    memcpy(id, seg, len);
    id[len] = '\0';
    return 0;
}

int parse_order_id(const char *seg, size_t len, char id[27], api_problem *p)
{
    if (len != 26 || !vc_ulid_valid(seg, len))
        return problem(p, 422, "bad_order_id", "an order id is a ULID (26 characters)", "id");
    memcpy(id, seg, len);
    id[len] = '\0';
    return 0;
}

int parse_catalog(const char *q, const char *seller, const char *before, const char *limit,
                  catalog_query *c, api_problem *p)
{
    c->q = q;
    c->seller = seller;
    c->before = before;
    if (q) {
        size_t n = strlen(q), chars = vc_utf8_chars((const unsigned char *)q, n);
        if (!vc_utf8_valid((const unsigned char *)q, n) || !vc_no_controls(q, n, 0) || chars == 0 ||
            chars > CATALOG_QUERY_MAX)
            return problem(p, 422, "bad_query", "q must be 1-100 characters of text", "q");
    }
    if (seller && !vc_username_valid(seller, strlen(seller)))
        return problem(p, 422, "bad_seller", "seller must be a username", "seller");
    if (before && !book_id_ok(before, strlen(before)))
        return problem(p, 422, "bad_cursor", "before must be a book id", "before");
    if (parse_uint_value(limit, PAGE_DEFAULT, 1, PAGE_MAX, &c->limit) < 0)
        return problem(p, 422, "bad_limit", "limit must be 1-200", "limit");
    return 0;
}

int parse_resume_cursor(const char *header, const char *query, const char **last, api_problem *p)
{
    *last = header ? header : query;
    if (*last && !vc_ulid_valid(*last, strlen(*last)))
        return problem(p, 422, "bad_cursor", "Last-Event-ID must be a message id", "Last-Event-ID");
    return 0;
}

int parse_credentials(const char *body, size_t len, json_t **root, credentials *c, api_problem *p)
{
    json_error_t jerr;
    *root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!*root || !json_is_object(*root))
        return problem(p, 400, "bad_json", "body must be a JSON object", NULL);
    const char *key;
    json_t *val;
    json_object_foreach(*root, key, val)
    {
        if (strcmp(key, "username") != 0 && strcmp(key, "password") != 0)
            return problem(p, 422, "unknown_field", "unexpected field", key);
        if (!json_is_string(val))
            return problem(p, 422, "wrong_type", "must be a string", key);
    }
    json_t *u = json_object_get(*root, "username"), *pw = json_object_get(*root, "password");
    if (!u || !pw)
        return problem(p, 422, "missing_field", "username and password are required",
                       u ? "password" : "username");
    c->username = json_string_value(u);
    c->password = json_string_value(pw);
    c->password_len = json_string_length(pw);
    return 0;
}

int check_new_account(const credentials *c, api_problem *p)
{
    if (!vc_username_valid(c->username, strlen(c->username)))
        return problem(p, 422, "invalid_username", "3-32 characters of [a-z0-9_.-]", "username");
    if (c->password_len > PASSWORD_MAX_BYTES)
        return problem(p, 422, "weak_password", "password is too long", "password");
    if (vc_utf8_chars((const unsigned char *)c->password, c->password_len) < PASSWORD_MIN_CHARS)
        return problem(p, 422, "weak_password", "password must have at least 10 characters",
                       "password");
    return 0;
}
