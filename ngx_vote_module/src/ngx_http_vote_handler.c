/*
 * ngx_http_vote_handler.c - the enqueue handler for POST /api/votes,
 * POST /api/chat/messages and POST /api/orders.
 *
 * Order of checks (cheapest and most specific first, and nothing is produced
 * for any 4xx): method (405), content type (415), declared size (413), token
 * for chat and orders (401), then the body is read asynchronously, its real
 * size checked (413) and validated by common/validate.c or shop.c (400/422).
 * A valid message is produced with rd_kafka_producev(), never blocking:
 *   - queue full or any produce error -> 503 + Retry-After
 *   - durability local  -> 202 as soon as librdkafka queued it
 *   - durability broker -> the request is suspended until its delivery report
 *     (202, or 503 if the broker refused) or vote_ack_timeout (503).
 * The message opaque is a malloc'd ticket, never the request: the delivery
 * report completes the request through the ticket's callback; when the client
 * goes away the request pool cleanup detaches the ticket, and the late
 * delivery report only updates metrics.
 */
#include "ngx_http_vote.h"
#include "ngx_http_vote_metrics.h"
#include "ngx_http_vote_producer.h"

#include "shop.h"

static ngx_http_vote_ctx_t *ngx_http_vote_ctx_create(ngx_http_request_t *r);
static void                 ngx_http_vote_detach(ngx_http_vote_ctx_t *ctx);
static void                 ngx_http_vote_body_handler(ngx_http_request_t *r);

/* one id generator per worker, seeded on first use (after fork) */
static vc_ulid_gen ngx_http_vote_ulid;
static ngx_uint_t  ngx_http_vote_ulid_seeded;

static ngx_int_t
ngx_http_vote_reject(ngx_http_request_t *r, ngx_uint_t status, const char *code,
                     const char *detail, const char *field)
{
    /* the body is not needed: read and drop it so keep-alive keeps working */
    if (ngx_http_discard_request_body(r) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }
    return ngx_http_vote_send_error(r, status, code, detail, field);
}

static ngx_uint_t
ngx_http_vote_is_json(ngx_http_request_t *r)
{
    static const char mt[] = "application/json";
    ngx_table_elt_t  *h = r->headers_in.content_type;
    u_char            c;

    if (h == NULL || h->value.len < sizeof(mt) - 1
        || ngx_strncasecmp(h->value.data, (u_char *) mt, sizeof(mt) - 1) != 0)
    {
        return 0;
    }
    if (h->value.len == sizeof(mt) - 1) {
        return 1;
    }
    c = h->value.data[sizeof(mt) - 1];
    return c == ';' || c == ' ' || c == '\t';
}

ngx_int_t
ngx_http_vote_handler(ngx_http_request_t *r)
{
    ngx_http_vote_loc_conf_t *vlcf =
        ngx_http_get_module_loc_conf(r, ngx_http_vote_module);
    ngx_http_vote_main_conf_t *vmcf =
        ngx_http_get_module_main_conf(r, ngx_http_vote_module);
    ngx_http_vote_ctx_t *ctx;
    const char          *code, *detail;
    ngx_int_t            rc;

    ngx_log_debug0(NGX_LOG_DEBUG_HTTP, r->connection->log, 0, "vote handler");

    if (r != r->main) {
        return NGX_HTTP_NOT_ALLOWED; /* no subrequests: they have no body of
                                        their own */
    }
    ctx = ngx_http_vote_ctx_create(r);
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }
    if (r->method != NGX_HTTP_POST) {
        return ngx_http_vote_reject(r, NGX_HTTP_NOT_ALLOWED,
                                    "method_not_allowed",
                                    "only POST is allowed here", NULL);
    }
    if (!ngx_http_vote_is_json(r)) {
        return ngx_http_vote_reject(
            r, NGX_HTTP_UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type",
            "Content-Type must be application/json", NULL);
    }
    if (r->headers_in.content_length_n > (off_t) vlcf->max_body) {
        return ngx_http_vote_reject(
            r, NGX_HTTP_REQUEST_ENTITY_TOO_LARGE, "body_too_large",
            "request body is larger than vote_max_body_size", NULL);
    }
    if (vlcf->kind == VC_KIND_CHAT || vlcf->kind == VC_KIND_ORDER) {
        rc = ngx_http_vote_authenticate(r, vmcf, vlcf, ctx, &code, &detail);
        if (rc != NGX_OK) {
            return ngx_http_vote_reject(r, rc, code, detail, NULL);
        }
    }

    /* a body that fits client_body_buffer_size arrives as one memory buffer */
    r->request_body_in_single_buf = 1;
    rc = ngx_http_read_client_request_body(r, ngx_http_vote_body_handler);
    if (rc >= NGX_HTTP_SPECIAL_RESPONSE) {
        return rc;
    }
    return NGX_DONE;
}

/* ---- per-request context ---- */

static void
ngx_http_vote_cleanup(void *data)
{
    ngx_http_vote_ctx_t *ctx = data;

    if (ctx->ticket != NULL) {
        /* still waiting for the broker: the client went away (or the request
         * was terminated); the delivery report will find no request */
        ngx_http_vote_count_status(ctx->request,
                                   NGX_HTTP_CLIENT_CLOSED_REQUEST);
    }
    ngx_http_vote_detach(ctx);
}

static ngx_http_vote_ctx_t *
ngx_http_vote_ctx_create(ngx_http_request_t *r)
{
    ngx_http_vote_loc_conf_t *vlcf =
        ngx_http_get_module_loc_conf(r, ngx_http_vote_module);
    ngx_http_vote_ctx_t *ctx;
    ngx_pool_cleanup_t  *cln;

    ctx = ngx_pcalloc(r->pool, sizeof(ngx_http_vote_ctx_t));
    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (ctx == NULL || cln == NULL) {
        return NULL;
    }
    ctx->request = r;
    ctx->kind = vlcf->kind;
    cln->handler = ngx_http_vote_cleanup;
    cln->data = ctx;
    ngx_http_set_ctx(r, ctx, ngx_http_vote_module);
    return ctx;
}

static void
ngx_http_vote_detach(ngx_http_vote_ctx_t *ctx)
{
    if (ctx->ticket != NULL) {
        ctx->ticket->data = NULL;
        ctx->ticket = NULL;
    }
    if (ctx->timer.timer_set) {
        ngx_del_timer(&ctx->timer);
    }
    if (ctx->timer.posted) {
        ngx_delete_posted_event(&ctx->timer);
    }
}

/* ---- body ---- */

/* The whole body as one contiguous byte range.  Bodies larger than
 * client_body_buffer_size were written to a temporary file by nginx: they are
 * read back (a local page-cache read of at most vote_max_body_size bytes). */
static u_char *
ngx_http_vote_body(ngx_http_request_t *r, size_t max, size_t *len,
                   ngx_uint_t *status)
{
    ngx_chain_t *cl;
    ngx_buf_t   *b;
    u_char      *p, *data;
    size_t       total = 0, n;
    ssize_t      got;

    *len = 0;
    if (r->request_body == NULL || r->request_body->bufs == NULL) {
        return (u_char *) "";
    }
    for (cl = r->request_body->bufs; cl; cl = cl->next) {
        b = cl->buf;
        total += b->in_file ? (size_t) (b->file_last - b->file_pos)
                            : (size_t) (b->last - b->pos);
    }
    if (total > max) {
        *status = NGX_HTTP_REQUEST_ENTITY_TOO_LARGE; /* chunked body, no
                                                        Content-Length */
        return NULL;
    }
    if (total == 0) {
        /* Content-Length: 0 or an empty chunked body leave a last_buf with no
         * data (pos NULL): an empty body for the validator, which answers 400,
         * never a NULL */
        return (u_char *) "";
    }
    cl = r->request_body->bufs;
    if (cl->next == NULL && !cl->buf->in_file) {
        *len = total;
        return cl->buf->pos;
    }
    data = ngx_pnalloc(r->pool, total + 1);
    if (data == NULL) {
        *status = NGX_HTTP_INTERNAL_SERVER_ERROR;
        return NULL;
    }
    p = data;
    for (cl = r->request_body->bufs; cl; cl = cl->next) {
        b = cl->buf;
        if (!b->in_file) {
            p = ngx_cpymem(p, b->pos, b->last - b->pos);
            continue;
        }
        n = (size_t) (b->file_last - b->file_pos);
        got = ngx_read_file(b->file, p, n, b->file_pos);
        if (got != (ssize_t) n) {
            ngx_log_error(
                NGX_LOG_ERR, r->connection->log, 0,
                "vote: short read of buffered request body from \"%V\"",
                &b->file->name);
            *status = NGX_HTTP_INTERNAL_SERVER_ERROR;
            return NULL;
        }
        p += n;
    }
    *len = total;
    return data;
}

/* ---- validation ---- */

/* NGX_OK: msg is valid.  NGX_DECLINED: an answer was sent, finalize with *rc.
 */
static ngx_int_t
ngx_http_vote_validate(ngx_http_request_t *r, ngx_http_vote_ctx_t *ctx,
                       u_char *body, size_t len, vc_msg *msg, ngx_int_t *rc_out)
{
    ngx_http_vote_loc_conf_t *vlcf =
        ngx_http_get_module_loc_conf(r, ngx_http_vote_module);
    ngx_http_vote_main_conf_t *vmcf =
        ngx_http_get_module_main_conf(r, ngx_http_vote_module);
    ngx_time_t *tp = ngx_timeofday();
    int64_t     now_ms = (int64_t) tp->sec * 1000 + tp->msec;
    vc_limits   lim;
    vc_error    err;
    char        sender[VC_USERNAME_MAX + 1];
    int         rc;

    if (!ngx_http_vote_ulid_seeded) {
        if (vc_ulid_init(&ngx_http_vote_ulid) != 0) {
            ngx_log_error(NGX_LOG_ALERT, r->connection->log, ngx_errno,
                          "vote: getrandom() failed");
            *rc_out = NGX_HTTP_INTERNAL_SERVER_ERROR;
            return NGX_DECLINED;
        }
        ngx_http_vote_ulid_seeded = 1;
    }
    vc_ulid_next(&ngx_http_vote_ulid, (uint64_t) now_ms, ctx->id);

    lim.max_depth = vlcf->max_depth;
    lim.max_text_chars = vlcf->max_text;
    if (ctx->kind == VC_KIND_VOTE) {
        rc = vc_validate_vote(vmcf->catalog, &lim, body, len, ctx->id, now_ms,
                              msg, &err);
    } else {
        ngx_cpystrn((u_char *) sender, ctx->sender.data, sizeof(sender));
        if (ctx->kind == VC_KIND_CHAT) {
            rc = vc_validate_chat(&lim, body, len, sender, ctx->id, now_ms, msg,
                                  &err);
        } else {
            rc = vc_validate_order(&lim, body, len, sender, ctx->id, now_ms,
                                   msg, &err);
        }
    }
    if (rc != 0) {
        ctx->id[0] = '\0'; /* nothing was produced: no $vote_msg_id */
        ngx_http_vote_metric_invalid(err.reason);
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "vote: rejected %s: %s%s%s", vc_reason_str(err.reason),
                      err.detail, err.field[0] ? " field " : "", err.field);
        *rc_out = ngx_http_vote_send_error(
            r, err.status, vc_reason_str(err.reason), err.detail, err.field);
        return NGX_DECLINED;
    }
    return NGX_OK;
}

/* $vote_msg_key, then the configured vote_key (which may use it) */
static ngx_int_t
ngx_http_vote_key(ngx_http_request_t *r, ngx_http_vote_ctx_t *ctx, vc_msg *msg,
                  ngx_str_t *key)
{
    ngx_http_vote_loc_conf_t *vlcf =
        ngx_http_get_module_loc_conf(r, ngx_http_vote_module);

    ctx->key.data = ngx_pnalloc(r->pool, msg->key_len + 1);
    if (ctx->key.data == NULL) {
        return NGX_ERROR;
    }
    ctx->key.len = msg->key_len;
    ngx_memcpy(ctx->key.data, msg->key, msg->key_len);
    if (msg->kind == VC_KIND_CHAT) {
        ctx->conversation = ctx->key;
    }
    *key = ctx->key;
    if (vlcf->key != NULL) {
        if (ngx_http_complex_value(r, vlcf->key, key) != NGX_OK) {
            return NGX_ERROR;
        }
        if (key->len == 0) {
            *key = ctx->key; /* an empty key would send every message to one
                                partition */
        }
    }
    return NGX_OK;
}

/* ---- broker durability: suspend until the delivery report ---- */

static void
ngx_http_vote_ack_timeout(ngx_event_t *ev)
{
    /* ev->data is the connection (for nginx's timer debug log); the context is
     * the structure the event is embedded in */
    ngx_http_vote_ctx_t *ctx =
        (ngx_http_vote_ctx_t *) ((u_char *) ev
                                 - offsetof(ngx_http_vote_ctx_t, timer));
    ngx_http_request_t *r = ctx->request;

    ngx_log_debug0(NGX_LOG_DEBUG_HTTP, ev->log, 0, "vote ack timeout");

    ngx_http_vote_detach(ctx);
    ngx_http_vote_metric_produce_error(NGX_HTTP_VOTE_PE_ACK_TIMEOUT);
    ngx_log_error(
        NGX_LOG_WARN, r->connection->log, 0,
        "vote: no broker acknowledgement for %s within vote_ack_timeout",
        ctx->id);
    /* the message may still be delivered later: the client is told 503 and
     * retries; the sinks deduplicate by voter, and the id is in the log */
    ngx_http_vote_finish(r, ngx_http_vote_send_error(
                                r, NGX_HTTP_SERVICE_UNAVAILABLE, "ack_timeout",
                                "Kafka did not acknowledge the message in time",
                                NULL));
}

static ngx_int_t
ngx_http_vote_wait(ngx_http_request_t *r, ngx_http_vote_ctx_t *ctx,
                   ngx_http_vote_ticket_t *t, ngx_http_vote_loc_conf_t *vlcf)
{
    t->data = ctx;
    ctx->ticket = t;
    ctx->timer.handler = ngx_http_vote_ack_timeout;
    ctx->timer.data = r->connection;
    ctx->timer.log = r->connection->log;
    ngx_add_timer(&ctx->timer, vlcf->ack_timeout);
    /* notice a client that closes while we wait (the pool cleanup detaches) */
    r->read_event_handler = ngx_http_test_reading;
    r->write_event_handler = ngx_http_request_empty_handler;
    /* with edge-triggered epoll the EOF may already have been reported (with
     * the body) and will not be reported again: look at it on the next turn */
    if (r->connection->read->ready || r->connection->read->pending_eof) {
        ngx_post_event(r->connection->read, &ngx_posted_events);
    }
    return NGX_DONE;
}

/* the ticket's callback: runs in the delivery report, inside rd_kafka_poll(),
 * while the request waits (the producer frees the ticket) */
static void
ngx_http_vote_delivered(void *data, rd_kafka_resp_err_t err,
                        ngx_flag_t maybe_stored)
{
    ngx_http_vote_ctx_t *ctx = data;
    ngx_http_request_t  *r = ctx->request;
    ngx_int_t            rc;

    ctx->ticket = NULL;
    ngx_http_vote_detach(ctx);
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        rc = ngx_http_vote_send_accepted(r, ctx);
    } else if (maybe_stored) {
        /* the same answer as vote_ack_timeout: the outcome is unknown */
        rc = ngx_http_vote_send_error(
            r, NGX_HTTP_SERVICE_UNAVAILABLE, "ack_timeout",
            "Kafka did not acknowledge the message in time", NULL);
    } else {
        rc = ngx_http_vote_send_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                      "not_acknowledged", rd_kafka_err2str(err),
                                      NULL);
    }
    ngx_http_vote_finish(r, rc);
}

/* ---- produce ---- */

/* A request id from vote_request_id goes into a record header that consumers
 * and logs trust, and it may come from a client header: only a short token is
 * taken, anything else (empty, too long, odd bytes) falls back to the message
 * id. */
static ngx_flag_t
ngx_http_vote_request_id_ok(ngx_str_t *v)
{
    size_t i;

    if (v->len == 0 || v->len > 128) {
        return 0;
    }
    for (i = 0; i < v->len; i++) {
        u_char c = v->data[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z')
              || (c >= 'A' && c <= 'Z') || c == '-' || c == '_' || c == '.'
              || c == ':' || c == '/' || c == '+' || c == '='))
        {
            return 0;
        }
    }
    return 1;
}

/* The record's request-id header. By default the message id: it is already
 * unique and logged as $vote_msg_id, whereas nginx's $request_id costs an
 * OpenSSL RAND_bytes call per request (~8% of the worker thread per vote). */
static void
ngx_http_vote_request_id(ngx_http_request_t *r, ngx_http_vote_loc_conf_t *vlcf,
                         ngx_http_vote_ctx_t *ctx, ngx_str_t *rid)
{
    if (vlcf->request_id != NULL
        && ngx_http_complex_value(r, vlcf->request_id, rid) == NGX_OK
        && ngx_http_vote_request_id_ok(rid))
    {
        return;
    }
    if (vlcf->request_id != NULL && rid->len > 0) {
        ngx_log_error(
            NGX_LOG_INFO, r->connection->log, 0,
            "vote: vote_request_id value is not a token of at most 128 bytes, "
            "using the message id");
    }
    rid->data = (u_char *) ctx->id;
    rid->len = VC_ULID_LEN;
}

/* Hands the validated message to librdkafka, then answers (local durability)
 * or suspends the request until the delivery report (broker). */
static ngx_int_t
ngx_http_vote_send_message(ngx_http_request_t *r, ngx_http_vote_ctx_t *ctx,
                           vc_msg *msg, ngx_str_t *key)
{
    ngx_http_vote_loc_conf_t *vlcf =
        ngx_http_get_module_loc_conf(r, ngx_http_vote_module);
    ngx_http_vote_ticket_t *t;
    ngx_str_t               rid;
    rd_kafka_topic_t       *rkt;
    rd_kafka_resp_err_t     err;

    if (msg->json == NULL || msg->json_len == 0) {
        /* defence in depth: never produce anything but a validated message */
        ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                      "vote: refusing to produce an empty message");
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }
    if (ngx_http_vote_update_stall(vlcf->stall_timeout)) {
        vc_msg_free(msg);
        ctx->id[0] = '\0';
        ngx_http_vote_metric_produce_error(NGX_HTTP_VOTE_PE_STALLED);
        return ngx_http_vote_send_error(
            r, NGX_HTTP_SERVICE_UNAVAILABLE, "kafka_unavailable",
            "Kafka has not accepted messages for a while", NULL);
    }
    rkt = ngx_http_vote_topic(vlcf, r->connection->log);
    t = ngx_http_vote_ticket_create(ctx->kind, ngx_http_vote_delivered,
                                    r->connection->log);
    rid.len = 0;
    ngx_http_vote_request_id(r, vlcf, ctx, &rid);
    if (rkt == NULL || t == NULL) {
        if (t)
            ngx_free(t);
        vc_msg_free(msg);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /* F_FREE: librdkafka owns the jansson-allocated value once this succeeds */
    err = rd_kafka_producev(
        ngx_http_vote_producer_handle(vlcf->durability), RD_KAFKA_V_RKT(rkt),
        RD_KAFKA_V_PARTITION(RD_KAFKA_PARTITION_UA),
        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_FREE),
        RD_KAFKA_V_VALUE(msg->json, msg->json_len),
        RD_KAFKA_V_KEY(key->data, key->len),
        RD_KAFKA_V_HEADER("msg-id", ctx->id, VC_ULID_LEN),
        RD_KAFKA_V_HEADER("schema", "1", 1),
        RD_KAFKA_V_HEADER("request-id", rid.data, (ssize_t) rid.len),
        RD_KAFKA_V_OPAQUE(t), RD_KAFKA_V_END);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        ngx_free(t);
        vc_msg_free(msg);
        ctx->id[0] = '\0';
        ngx_http_vote_metric_produce_error(err == RD_KAFKA_RESP_ERR__QUEUE_FULL
                                               ? NGX_HTTP_VOTE_PE_QUEUE_FULL
                                               : NGX_HTTP_VOTE_PE_OTHER);
        ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                      "vote: produce to \"%V\" failed: %s", &vlcf->topic,
                      rd_kafka_err2str(err));
        /* never poll-and-retry here: that would block the worker */
        return ngx_http_vote_send_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                        err == RD_KAFKA_RESP_ERR__QUEUE_FULL
                                            ? "queue_full"
                                            : "kafka_unavailable",
                                        rd_kafka_err2str(err), NULL);
    }
    msg->json = NULL; /* owned by librdkafka now */
    ngx_http_vote_metric_inflight(1);
    ngx_http_vote_count_queued();

    if (vlcf->durability == NGX_HTTP_VOTE_LOCAL) {
        return ngx_http_vote_send_accepted(r, ctx);
    }
    return ngx_http_vote_wait(r, ctx, t, vlcf);
}

static void
ngx_http_vote_body_handler(ngx_http_request_t *r)
{
    ngx_http_vote_loc_conf_t *vlcf =
        ngx_http_get_module_loc_conf(r, ngx_http_vote_module);
    ngx_http_vote_ctx_t *ctx = ngx_http_get_module_ctx(r, ngx_http_vote_module);
    ngx_uint_t           status = 0;
    ngx_str_t            key;
    u_char              *body;
    size_t               len;
    ngx_int_t            rc;
    vc_msg               msg;

    ngx_log_debug0(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "vote body handler");

    body = ngx_http_vote_body(r, vlcf->max_body, &len, &status);
    if (body == NULL) {
        ngx_http_finalize_request(
            r, status == NGX_HTTP_REQUEST_ENTITY_TOO_LARGE
                   ? ngx_http_vote_send_error(
                       r, status, "body_too_large",
                       "request body is larger than vote_max_body_size", NULL)
                   : ngx_http_vote_send_error(r, status, "internal",
                                              "cannot read the request body",
                                              NULL));
        return;
    }
    if (ngx_http_vote_validate(r, ctx, body, len, &msg, &rc) != NGX_OK) {
        ngx_http_finalize_request(r, rc);
        return;
    }
    if (ngx_http_vote_key(r, ctx, &msg, &key) != NGX_OK) {
        vc_msg_free(&msg);
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }
    rc = ngx_http_vote_send_message(r, ctx, &msg, &key);
    if (rc == NGX_DONE) {
        return; /* suspended until the delivery report */
    }
    ngx_http_finalize_request(r, rc);
}
