/*
 * token.c - JWT issue and request authentication (see token.h).
 */
#include "token.h"

#include <pthread.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "api_metrics.h"
#include "request_parse.h"
#include "respond.h"
#include "revoked.h"
#include "ulid.h"
#include "validate.h"

#define CLOCK_LEEWAY_S 5
_Static_assert(CLOCK_LEEWAY_S <= VC_JWT_LEEWAY_MAX,
               "revocations outlive exp only by VC_JWT_LEEWAY_MAX");

/* common/ulid generators are not thread-safe: one per handler thread. */
static __thread vc_ulid_gen ulid_gen;
static __thread int ulid_ready;

static int next_jti(char out[VC_ULID_LEN + 1])
{
    if (!ulid_ready) {
        if (vc_ulid_init(&ulid_gen) < 0)
            return -1;
        ulid_ready = 1;
    }
    vc_ulid_next(&ulid_gen, vc_now_ms(), out);
    return 0;
}

int token_issue(api_app *app, const char *username, char **token, int64_t *exp)
{
    char jti[VC_ULID_LEN + 1];
    if (next_jti(jti) < 0)
        return -1;
    int64_t now = (int64_t)time(NULL);
    *exp = now + app->cfg->token_ttl_s;
    return vc_jwt_sign(&app->keys, username, jti, now, *exp, token);
}

/* Bearer credentials from the Authorization header, or NULL. */
static const char *bearer_token(struct MHD_Connection *conn)
{
    return parse_bearer(
        MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION));
}

int token_check(api_request *r, const char **why)
{
    const char *tok = bearer_token(r->conn);
    if (!tok) {
        *why = "missing bearer token";
        return -1;
    }
    vc_jwt_status st = vc_jwt_verify(&r->app->keys, tok, strlen(tok), (int64_t)time(NULL),
                                     CLOCK_LEEWAY_S, &r->claims);
    if (st != VC_JWT_OK) {
        *why = vc_jwt_status_str(st);
        metrics_inc(M_AUTH_REJECTED);
        return -1;
    }
    if (!vc_username_valid(r->claims.sub, strlen(r->claims.sub))) {
        *why = "bad subject";
        metrics_inc(M_AUTH_REJECTED);
        return -1;
    }
    if (revocations_contains(r->app->revoked, r->claims.jti)) {
        *why = "revoked";
        metrics_inc(M_AUTH_REJECTED);
        return -1;
    }
    return 0;
}

enum MHD_Result respond_unauthorized(api_request *r, const char *why)
{
    json_t *body = json_pack("{s:s, s:s}", "error", "unauthorized", "detail", why);
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    struct MHD_Response *resp =
        text ? MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE) : NULL;
    if (!resp) {
        free(text);
        return MHD_NO;
    }
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
    MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer");
    return respond_queue(r, 401, resp);
}
