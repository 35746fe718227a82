/*
 * fuzz_api.c - libFuzzer target for the api daemon's reading of a request: the route-independent
 * limits (http_server.c), the router, and every handler's parsing of query values, headers, path
 * segments and JSON bodies (request_parse.c), without a network or a store.
 *
 * Input: a byte of flags, then NUL-separated fields: method, path, before, after, limit,
 * Last-Event-ID, last_event_id, Authorization, Content-Type, Content-Length; the rest is the
 * body.  Flag bit i says whether the i-th optional field (before .. Content-Length) is sent.
 *
 * The invariant is the issue's: no input makes the api answer 5xx.  Every refusal met on the
 * way is a 4xx whose {"error","detail","field"} body can be built (a NULL body answers 500);
 * what is accepted is what the handlers then rely on: route parameters are non-empty segments
 * of the path, cursors are message ids, limits are in range, a peer or a new account's name is
 * a valid username, a password is within its bounds, the success bodies can be built.
 * The bookstore's routes read the same fields: the catalog takes `after` as its ?q= and
 * `last_event_id` as its ?seller=; book ids, order ids and book bodies (common/shop.c) too.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "jwt.h"
#include "password.h"
#include "request_parse.h"
#include "respond.h"
#include "router.h"
#include "shop.h"
#include "ulid.h"
#include "validate.h"

#define NOW 1800000000

enum { F_BEFORE, F_AFTER, F_LIMIT, F_LEI_HEADER, F_LEI_QUERY, F_AUTH, F_CTYPE, F_CLEN, F_N };

static const char catalog_json[] =
    "{\"polls\":[{\"id\":\"guatemala-2027\",\"title\":\"t\",\"choices\":[\"UNE\",\"VAMOS\"],"
    "\"attrs\":[\"department\",\"municipality\",\"station\"]},"
    "{\"id\":\"band-contest\",\"title\":\"b\",\"choices\":[\"ruta-sur\"],\"attrs\":[]}]}";
static const char keys_txt[] = "k1 first-secret-0123456789abcdef\n";

static vc_catalog *cat;
static vc_jwt_keyset ks;

static void violation(const char *what, const char *detail)
{
    fprintf(stderr, "api invariant violated: %s (%s)\n", what, detail ? detail : "");
    abort();
}

/* a refusal must be a 4xx with a body that can be built */
static void check_problem(const api_problem *p)
{
    json_t *body;

    if (p->status < 400 || p->status > 499 || !p->error || !p->detail) {
        violation("a refusal that is not a complete 4xx", p->error);
    }
    body = respond_error_body(p->error, p->detail, p->field);
    if (body == NULL) {
        violation("a 4xx whose body cannot be built (answered 500)", p->error);
    }
    json_decref(body);
}

static void check_error_body(const char *code, const char *detail, const char *field)
{
    api_problem p = { 404, code, detail, field };
    check_problem(&p);
}

static void check_cursor(const char *c)
{
    if (c != NULL && !vc_ulid_valid(c, strlen(c))) {
        violation("a cursor that is not a message id", c);
    }
}

/* the routes behind a bearer token: a bad token is a 401 */
static int authenticated(const char *authorization, vc_jwt_claims *claims)
{
    const char *tok = parse_bearer(authorization);

    if (tok == NULL) {
        return 0;
    }
    if (tok < authorization || tok >= authorization + strlen(authorization)) {
        violation("a bearer token outside its header", authorization);
    }
    return vc_jwt_verify(&ks, tok, strlen(tok), NOW, 5, claims) == VC_JWT_OK &&
           vc_username_valid(claims->sub, strlen(claims->sub));
}

static void credentials_route(int is_register, const char *body, size_t len)
{
    json_t *root, *ok;
    credentials c;
    api_problem p;

    if (parse_credentials(body, len, &root, &c, &p) < 0) {
        check_problem(&p);
        json_decref(root);
        return;
    }
    if (c.username == NULL || c.password == NULL || strlen(c.password) != c.password_len) {
        violation("credentials without strings, or a password with a NUL", body);
    }
    if (is_register) {
        if (check_new_account(&c, &p) < 0) {
            check_problem(&p);
        } else if (!vc_username_valid(c.username, strlen(c.username)) ||
                   c.password_len > PASSWORD_MAX_BYTES ||
                   vc_utf8_chars((const unsigned char *)c.password, c.password_len) <
                       PASSWORD_MIN_CHARS) {
            violation("an account accepted against the rules", c.username);
        } else {
            ok = json_pack("{s:s}", "username", c.username); /* the 201 body */
            if (ok == NULL) {
                violation("the 201 body cannot be built", c.username);
            }
            json_decref(ok);
        }
    }
    json_decref(root);
}

static void route(const char *name, const char **params, const size_t *lens, const char **f,
                  const char *body, size_t body_len)
{
    vc_jwt_claims claims;
    api_problem p;

    if (strcmp(name, "auth_register") == 0 || strcmp(name, "auth_login") == 0) {
        credentials_route(strcmp(name, "auth_register") == 0, body, body_len);
        return;
    }
    if (strcmp(name, "poll_results") == 0 || strcmp(name, "poll_recent") == 0 ||
        strcmp(name, "poll_stream") == 0) {
        unsigned limit;
        if (vc_catalog_find(cat, params[0], lens[0]) == NULL) {
            check_error_body("unknown_poll", "no such poll in the catalog", "poll");
            return;
        }
        if (strcmp(name, "poll_recent") == 0) {
            if (parse_recent_limit(f[F_LIMIT], &limit, &p) < 0) {
                check_problem(&p);
            } else if (limit < 1 || limit > RECENT_MAX) {
                violation("a recent limit out of range", f[F_LIMIT]);
            }
        }
        return;
    }
    if (strcmp(name, "books_list") == 0) {
        catalog_query c;
        if (parse_catalog(f[F_AFTER], f[F_LEI_QUERY], f[F_BEFORE], f[F_LIMIT], &c, &p) < 0) {
            check_problem(&p);
        } else if (c.limit < 1 || c.limit > PAGE_MAX ||
                   (c.seller && !vc_username_valid(c.seller, strlen(c.seller)))) {
            violation("a catalog query accepted against the rules", c.seller);
        }
        return;
    }
    if (strcmp(name, "book_get") == 0 || strcmp(name, "book_update") == 0 ||
        strcmp(name, "book_delete") == 0) {
        char id[24];
        if (parse_book_id(params[0], lens[0], id, &p) < 0) {
            check_problem(&p);
            return;
        }
        if (strtoll(id, NULL, 10) < 1 || strtoll(id, NULL, 10) > VC_BOOK_ID_MAX) {
            violation("a book id out of range", id);
        }
    }
    if (strcmp(name, "books_create") == 0 || strcmp(name, "book_update") == 0) {
        vc_limits lim;
        vc_book b;
        vc_error e;
        json_t *root;
        vc_limits_default(&lim);
        if (vc_validate_book(&lim, (const unsigned char *)body, body_len,
                             strcmp(name, "book_update") == 0, &root, &b, &e) < 0) {
            json_t *eb = respond_error_body(vc_reason_str(e.reason), e.detail, e.field);
            if (e.status < 400 || e.status > 499 || eb == NULL) {
                violation("a book body refused without a 4xx", e.detail);
            }
            json_decref(eb);
        }
        json_decref(root);
        return;
    }
    if (strcmp(name, "order_get") == 0) {
        char id[27];
        if (parse_order_id(params[0], lens[0], id, &p) < 0) {
            check_problem(&p);
        } else {
            check_cursor(id);
        }
        return;
    }
    if (strncmp(name, "chat_", 5) != 0 && strncmp(name, "auth_", 5) != 0) {
        return; /* polls, healthz, metrics: nothing of the request is read */
    }
    if (!authenticated(f[F_AUTH], &claims)) {
        return; /* 401 */
    }
    if (strcmp(name, "chat_messages") == 0) {
        char peer[VC_USERNAME_MAX + 1];
        page_query q;
        if (parse_peer(params[0], lens[0], peer, &p) < 0 ||
            parse_page(f[F_BEFORE], f[F_AFTER], f[F_LIMIT], &q, &p) < 0) {
            check_problem(&p);
            return;
        }
        if (!vc_username_valid(peer, strlen(peer)) || strlen(peer) != lens[0] || q.limit < 1 ||
            q.limit > PAGE_MAX) {
            violation("a page accepted against the rules", peer);
        }
        check_cursor(q.before);
        check_cursor(q.after);
    } else if (strcmp(name, "chat_stream") == 0) {
        const char *last;
        if (parse_resume_cursor(f[F_LEI_HEADER], f[F_LEI_QUERY], &last, &p) < 0) {
            check_problem(&p);
            return;
        }
        check_cursor(last);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *f[F_N], *method, *path, *params[API_MAX_PATH_PARAMS];
    size_t lens[API_MAX_PATH_PARAMS], nparams = 0, longest = 0, body_len;
    char *buf, *p, *end;
    int path_route, i;
    api_problem prob;

    memset(params, 0, sizeof(params));
    memset(lens, 0, sizeof(lens));

    if (cat == NULL) {
        char err[256];
        cat = vc_catalog_parse(catalog_json, sizeof(catalog_json) - 1, err, sizeof(err));
        if (cat == NULL ||
            vc_jwt_keyset_parse(&ks, keys_txt, sizeof(keys_txt) - 1, err, sizeof(err)) < 0) {
            abort();
        }
    }
    if (size < 1) {
        return 0;
    }
    /* one exact-size copy with a NUL after it: fields are C strings as MHD hands them */
    buf = malloc(size);
    memcpy(buf, data + 1, size - 1);
    buf[size - 1] = '\0';
    p = buf;
    end = buf + size - 1;
    method = p;
    p += strlen(p) + 1;
    path = p < end ? p : "";
    if (p < end) {
        p += strlen(p) + 1;
    }
    for (i = 0; i < F_N; i++) {
        f[i] = NULL;
        if (p < end) {
            if (data[0] >> i & 1) {
                f[i] = p;
            }
            p += strlen(p) + 1;
        }
    }
    if (p > end) {
        p = end;
    }
    body_len = (size_t)(end - p);

    for (i = F_BEFORE; i <= F_LEI_QUERY; i++) {
        if (f[i] != NULL && i != F_LEI_HEADER) {
            nparams++;
            longest = strlen(f[i]) > longest ? strlen(f[i]) : longest;
        }
    }
    if (parse_declared_too_large(f[F_CLEN])) {
        check_error_body("too_large", "body exceeds 4096 bytes", NULL);
    } else if (parse_request_limits(body_len > HTTP_MAX_BODY, nparams, longest, method, body_len,
                                    f[F_CTYPE], &prob) < 0) {
        check_problem(&prob);
    } else if ((i = router_find(method, path, params, lens, &path_route)) < 0) {
        check_error_body("not_found", "no such endpoint", NULL);
    } else {
        const char *name = router_route_name(i);
        if (name == NULL) {
            violation("a route without a name", path);
        }
        for (size_t k = 0; k < API_MAX_PATH_PARAMS; k++) {
            if (params[k] != NULL &&
                (params[k] < path || params[k] + lens[k] > path + strlen(path) || lens[k] == 0 ||
                 memchr(params[k], '/', lens[k]))) {
                violation("a path parameter that is not a segment of the path", path);
            }
        }
        route(name, params, lens, f, p, body_len);
    }
    free(buf);
    return 0;
}
