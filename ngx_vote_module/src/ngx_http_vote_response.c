/*
 * ngx_http_vote_response.c - every answer the module gives: 202 with the
 * message id, and the contract's JSON error body {"error","detail","field"}
 * with the extra headers a status calls for (Allow, WWW-Authenticate,
 * Retry-After).  Each answer is also counted in the metrics zone.
 */
#include "ngx_http_vote.h"
#include "ngx_http_vote_metrics.h"

static ngx_int_t
ngx_http_vote_send_json(ngx_http_request_t *r, ngx_uint_t status, u_char *body,
                        size_t len)
{
    ngx_buf_t  *b;
    ngx_chain_t out;
    ngx_int_t   rc;

    if (status < NGX_HTTP_OK || status > 599) {
        /* nginx would print it as is ("HTTP/1.1 000"): a bug, answered as one
         */
        ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                      "vote: refusing to send status %ui", status);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }
    r->headers_out.status = status;
    r->headers_out.content_length_n = len;
    ngx_str_set(&r->headers_out.content_type, "application/json");
    r->headers_out.content_type_len = r->headers_out.content_type.len;
    r->headers_out.content_type_lowcase = NULL;

    b = ngx_calloc_buf(r->pool);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }
    b->pos = body;
    b->last = body + len;
    b->memory = 1;
    b->last_buf = (r == r->main) ? 1 : 0;
    b->last_in_chain = 1;
    out.buf = b;
    out.next = NULL;

    rc = ngx_http_send_header(r);
    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }
    return ngx_http_output_filter(r, &out);
}

static ngx_int_t
ngx_http_vote_add_header(ngx_http_request_t *r, const char *name,
                         ngx_str_t *value)
{
    ngx_table_elt_t *h = ngx_list_push(&r->headers_out.headers);

    if (h == NULL) {
        return NGX_ERROR;
    }
    h->hash = 1;
    h->key.data = (u_char *) name;
    h->key.len = ngx_strlen(name);
    h->value = *value;
    return NGX_OK;
}

static ngx_int_t
ngx_http_vote_error_headers(ngx_http_request_t *r, ngx_uint_t status,
                            const char *code)
{
    ngx_http_vote_loc_conf_t *vlcf =
        ngx_http_get_module_loc_conf(r, ngx_http_vote_module);
    ngx_str_t v;
    u_char   *p;

    switch (status) {
    case NGX_HTTP_NOT_ALLOWED:
        ngx_str_set(&v, "POST");
        return ngx_http_vote_add_header(r, "Allow", &v);
    case NGX_HTTP_UNAUTHORIZED:
        if (ngx_strcmp(code, "missing_token") == 0) {
            ngx_str_set(&v, "Bearer");
        } else {
            ngx_str_set(&v, "Bearer error=\"invalid_token\"");
        }
        return ngx_http_vote_add_header(r, "WWW-Authenticate", &v);
    case NGX_HTTP_SERVICE_UNAVAILABLE:
        p = ngx_pnalloc(r->pool, NGX_TIME_T_LEN);
        if (p == NULL) {
            return NGX_ERROR;
        }
        v.data = p;
        v.len = ngx_sprintf(p, "%T", vlcf->retry_after) - p;
        return ngx_http_vote_add_header(r, "Retry-After", &v);
    }
    return NGX_OK;
}

static ngx_uint_t
ngx_http_vote_status_index(ngx_uint_t status)
{
    switch (status) {
    case NGX_HTTP_ACCEPTED: return NGX_HTTP_VOTE_S_202;
    case NGX_HTTP_BAD_REQUEST: return NGX_HTTP_VOTE_S_400;
    case NGX_HTTP_UNAUTHORIZED: return NGX_HTTP_VOTE_S_401;
    case NGX_HTTP_NOT_ALLOWED: return NGX_HTTP_VOTE_S_405;
    case NGX_HTTP_REQUEST_ENTITY_TOO_LARGE: return NGX_HTTP_VOTE_S_413;
    case NGX_HTTP_UNSUPPORTED_MEDIA_TYPE: return NGX_HTTP_VOTE_S_415;
    case 422: return NGX_HTTP_VOTE_S_422;
    case NGX_HTTP_SERVICE_UNAVAILABLE: return NGX_HTTP_VOTE_S_503;
    case NGX_HTTP_CLIENT_CLOSED_REQUEST: return NGX_HTTP_VOTE_S_499;
    default: return NGX_HTTP_VOTE_S_500;
    }
}

void
ngx_http_vote_count_status(ngx_http_request_t *r, ngx_uint_t status)
{
    ngx_http_vote_loc_conf_t *vlcf =
        ngx_http_get_module_loc_conf(r, ngx_http_vote_module);

    ngx_http_vote_metric_request(vlcf->kind,
                                 ngx_http_vote_status_index(status));
}

ngx_int_t
ngx_http_vote_send_error(ngx_http_request_t *r, ngx_uint_t status,
                         const char *code, const char *detail,
                         const char *field)
{
    json_t *j;
    char   *s;
    u_char *body;
    size_t  len;

    ngx_http_vote_count_status(r, status);
    if (ngx_http_vote_error_headers(r, status, code) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }
    /* jansson does the escaping: details and fields can quote client input */
    j = json_pack("{s:s, s:s}", "error", code, "detail", detail);
    if (j == NULL
        || (field != NULL && field[0] != '\0'
            && json_object_set_new(j, "field", json_string(field)) < 0))
    {
        json_decref(j);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }
    s = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    if (s == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }
    len = ngx_strlen(s);
    body = ngx_pnalloc(r->pool, len + 1);
    if (body == NULL) {
        free(s);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }
    ngx_memcpy(body, s, len);
    body[len] = '\n';
    free(s);
    return ngx_http_vote_send_json(r, status, body, len + 1);
}

ngx_int_t
ngx_http_vote_send_accepted(ngx_http_request_t *r, ngx_http_vote_ctx_t *ctx)
{
    u_char *body, *p;
    size_t  len;

    ngx_http_vote_count_status(r, NGX_HTTP_ACCEPTED);
    /* ids and conversations are [0-9A-Z] / [a-z0-9_.:-]: no escaping needed */
    len = sizeof("{\"id\":\"\",\"conversation\":\"\"}\n") + VC_ULID_LEN
          + ctx->conversation.len;
    body = ngx_pnalloc(r->pool, len);
    if (body == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }
    if (ctx->kind == VC_KIND_CHAT) {
        p = ngx_sprintf(body, "{\"id\":\"%s\",\"conversation\":\"%V\"}\n",
                        ctx->id, &ctx->conversation);
    } else if (ctx->kind == VC_KIND_ORDER) {
        /* the order sink decides the rest: GET /api/orders/{id} follows it */
        p = ngx_sprintf(body, "{\"id\":\"%s\",\"status\":\"pending\"}\n",
                        ctx->id);
    } else {
        p = ngx_sprintf(body, "{\"id\":\"%s\"}\n", ctx->id);
    }
    return ngx_http_vote_send_json(r, NGX_HTTP_ACCEPTED, body, p - body);
}

/* finish a request resumed from an event that is not its own connection's
 * (delivery report, ack timer): finalize, then run what it posted */
void
ngx_http_vote_finish(ngx_http_request_t *r, ngx_int_t rc)
{
    ngx_connection_t *c = r->connection;

    ngx_http_finalize_request(r, rc);
    ngx_http_run_posted_requests(c);
}
