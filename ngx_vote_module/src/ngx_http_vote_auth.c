/*
 * ngx_http_vote_auth.c - bearer-token authentication for chat.
 *
 * Tokens are verified by common/jwt.c (HS256 only, kid rotation, exp/nbf,
 * constant-time compare), then looked up in the logout revocation list
 * (ngx_http_vote_revocations.c).
 */
#include "ngx_http_vote.h"
#include "ngx_http_vote_metrics.h"
#include "ngx_http_vote_revocations.h"

/* ---- the check ---- */

static const char *
ngx_http_vote_jwt_detail(vc_jwt_status st)
{
    switch (st) {
    case VC_JWT_EXPIRED: return "token expired";
    case VC_JWT_NOT_YET_VALID: return "token not yet valid";
    case VC_JWT_BAD_ALG: return "token algorithm must be HS256";
    case VC_JWT_UNKNOWN_KID: return "token signed with an unknown key";
    case VC_JWT_BAD_SIGNATURE: return "token signature does not match";
    case VC_JWT_BAD_CLAIMS: return "token lacks sub, jti or exp";
    default: return "token is malformed";
    }
}

ngx_int_t
ngx_http_vote_authenticate(ngx_http_request_t        *r,
                           ngx_http_vote_main_conf_t *vmcf,
                           ngx_http_vote_loc_conf_t  *vlcf,
                           ngx_http_vote_ctx_t *ctx, const char **code,
                           const char **detail)
{
    ngx_table_elt_t *h = r->headers_in.authorization;
    vc_jwt_claims    claims;
    vc_jwt_status    st;
    u_char          *tok;
    size_t           len, sl;

    *code = "invalid_token";
    if (h == NULL || h->value.len <= 7
        || ngx_strncasecmp(h->value.data, (u_char *) "Bearer ", 7) != 0)
    {
        ngx_http_vote_metric_auth(NGX_HTTP_VOTE_AUTH_MISSING);
        *code = "missing_token";
        *detail = "Authorization: Bearer <token> is required";
        return NGX_HTTP_UNAUTHORIZED;
    }
    tok = h->value.data + 7;
    len = h->value.len - 7;
    while (len > 0 && *tok == ' ') {
        tok++;
        len--;
    }
    st = vc_jwt_verify(&vmcf->jwt_keys, (const char *) tok, len,
                       (int64_t) ngx_time(), (int64_t) vlcf->jwt_leeway,
                       &claims);
    if (st != VC_JWT_OK) {
        ngx_http_vote_metric_auth(st);
        *detail = ngx_http_vote_jwt_detail(st);
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "vote: token rejected: %s", vc_jwt_status_str(st));
        return NGX_HTTP_UNAUTHORIZED;
    }
    sl = ngx_strlen(claims.sub);
    if (!vc_username_valid(claims.sub, sl)) {
        ngx_http_vote_metric_auth(NGX_HTTP_VOTE_AUTH_BAD_SUB);
        *detail = "token subject is not a username";
        return NGX_HTTP_UNAUTHORIZED;
    }
    /* Only a token that is valid in itself waits for the list: a forged or
     * expired one is a 401 whether or not the list is loaded. */
    if (vmcf->revocation_topic.len > 0 && !ngx_http_vote_revocations_loaded()) {
        *code = "auth_unavailable";
        *detail = "the logout revocation list is not loaded yet";
        return NGX_HTTP_SERVICE_UNAVAILABLE;
    }
    if (ngx_http_vote_is_revoked(claims.jti)) {
        ngx_http_vote_metric_auth(NGX_HTTP_VOTE_AUTH_REVOKED);
        *detail = "token was revoked (logged out)";
        return NGX_HTTP_UNAUTHORIZED;
    }
    ctx->sender.data = ngx_pnalloc(r->pool, sl + 1);
    if (ctx->sender.data == NULL) {
        *code = "internal";
        *detail = "out of memory";
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }
    ngx_memcpy(ctx->sender.data, claims.sub, sl + 1);
    ctx->sender.len = sl;
    return NGX_OK;
}
