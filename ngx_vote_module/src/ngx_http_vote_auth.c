/*
 * ngx_http_vote_auth.c - bearer-token authentication for chat and the logout
 * revocation list.
 *
 * Tokens are verified by common/jwt.c (HS256 only, kid rotation, exp/nbf,
 * constant-time compare).  Logout revocations come from the Kafka topic named
 * by vote_revocations (records parsed by common/revocation.c, the api daemon's
 * rule too): every worker runs its own consumer without a group, reading all
 * partitions from the beginning, and keeps jti -> exp in memory until the
 * token would have expired anyway.  The consumer's queue is read through the
 * nginx event loop (io-event pipe); only the blocking metadata lookup that finds the partitions runs in a helper
 * thread, which touches nothing but librdkafka.  Until every partition has
 * been read to its end once, chat answers 503: a worker that has not seen the
 * revocations yet cannot tell a logged-out token from a valid one.
 */
#include "ngx_http_vote.h"

#include <pthread.h>
#include <unistd.h>

#define NGX_HTTP_VOTE_AUTH_MISSING   (VC_JWT_BAD_CLAIMS + 1)
#define NGX_HTTP_VOTE_AUTH_REVOKED   (VC_JWT_BAD_CLAIMS + 2)
#define NGX_HTTP_VOTE_AUTH_BAD_SUB   (VC_JWT_BAD_CLAIMS + 3)
#define NGX_HTTP_VOTE_MAX_PARTITIONS 1024

typedef struct {
    ngx_str_node_t  sn;          /* key: jti */
    time_t          exp;
} ngx_http_vote_revoked_t;

typedef struct {
    rd_kafka_t          *rk;
    rd_kafka_topic_t    *rkt;
    ngx_http_vote_qev_t  qev;           /* the partitions' records, and the pipe */
    rd_kafka_queue_t    *mainq;         /* logs and errors; wakes the same pipe */
    pthread_t            thread;
    ngx_uint_t           thread_started;
    volatile int         stop;          /* set by the worker, read by the thread */
    int                  partitions;    /* set by the thread (atomic), read by the worker */
    int                  start_errors;  /* consume_start failures (atomic), logged by the worker */
    int                  last_err;      /* last librdkafka error of the thread (atomic) */
    ngx_event_t          check_ev;      /* warns while the list is not loaded */
    ngx_msec_t           check_interval;
    ngx_uint_t           eof_count;
    u_char               eof[NGX_HTTP_VOTE_MAX_PARTITIONS];
    ngx_uint_t           ready;
    ngx_rbtree_t         tree;
    ngx_rbtree_node_t    sentinel;
    ngx_event_t          purge_ev;
} ngx_http_vote_revocations_t;

static ngx_http_vote_revocations_t *ngx_http_vote_rv;

/* ---- the revoked-jti set ---- */

static ngx_uint_t ngx_http_vote_is_revoked(const char *jti)
{
    ngx_str_t s;

    if (ngx_http_vote_rv == NULL) {
        return 0;
    }
    s.data = (u_char *) jti;
    s.len = ngx_strlen(jti);
    return ngx_str_rbtree_lookup(&ngx_http_vote_rv->tree, &s, ngx_crc32_short(s.data, s.len))
           != NULL;
}

static void ngx_http_vote_revoke(ngx_log_t *log, const char *jti, size_t len, time_t exp)
{
    ngx_http_vote_revoked_t *node;
    ngx_str_t                s;
    uint32_t                 hash = ngx_crc32_short((u_char *) jti, len);

    s.data = (u_char *) jti;
    s.len = len;
    if (!vc_revocation_live(exp, ngx_time())
        || ngx_str_rbtree_lookup(&ngx_http_vote_rv->tree, &s, hash) != NULL) {
        return;                /* already expired, or already known */
    }
    node = ngx_alloc(sizeof(ngx_http_vote_revoked_t) + len, log);
    if (node == NULL) {
        return;
    }
    node->sn.str.data = (u_char *) (node + 1);
    node->sn.str.len = len;
    ngx_memcpy(node->sn.str.data, jti, len);
    node->sn.node.key = hash;
    node->exp = exp;
    ngx_rbtree_insert(&ngx_http_vote_rv->tree, &node->sn.node);
}

static void ngx_http_vote_purge_all(ngx_uint_t only_expired)
{
    ngx_rbtree_t      *tree = &ngx_http_vote_rv->tree;
    ngx_rbtree_node_t *n, *next;
    time_t             now = ngx_time();

    if (tree->root == tree->sentinel) {
        return;
    }
    for (n = ngx_rbtree_min(tree->root, tree->sentinel); n; n = next) {
        next = ngx_rbtree_next(tree, n);
        if (!only_expired
            || !vc_revocation_live(((ngx_http_vote_revoked_t *) n)->exp, now))
        {
            ngx_rbtree_delete(tree, n);
            ngx_free(n);
        }
    }
}

/* until the list is loaded chat answers 503: say why in the log, with backoff */
static void ngx_http_vote_check_handler(ngx_event_t *ev)
{
    ngx_http_vote_revocations_t *rv = ngx_http_vote_rv;
    int                          n, errs, err;

    if (rv->ready) {
        return;
    }
    n = __atomic_load_n(&rv->partitions, __ATOMIC_SEQ_CST);
    errs = __atomic_load_n(&rv->start_errors, __ATOMIC_SEQ_CST);
    err = __atomic_load_n(&rv->last_err, __ATOMIC_SEQ_CST);
    ngx_log_error(NGX_LOG_WARN, ev->log, 0,
                  "vote: revocation list of \"%s\" not loaded yet (%d partitions found, "
                  "%ui read to the end, %d start errors%s%s); chat answers 503 meanwhile",
                  rd_kafka_topic_name(rv->rkt), n, rv->eof_count, errs,
                  errs ? ": " : "", errs ? rd_kafka_err2str((rd_kafka_resp_err_t) err) : "");
    rv->check_interval = ngx_min(rv->check_interval * 2, 60000);
    ngx_add_timer(ev, rv->check_interval);
}

static void ngx_http_vote_purge_handler(ngx_event_t *ev)
{
    ngx_http_vote_purge_all(1);
    ngx_add_timer(ev, 60000);
}

/* ---- consumer ---- */

static void ngx_http_vote_revocation_msg(ngx_log_t *log, rd_kafka_message_t *m)
{
    vc_revocation  rec;

    switch (vc_revocation_parse(m->payload, m->len, ngx_time(), &rec)) {

    case VC_REVOCATION_OK:
        ngx_http_vote_revoke(log, rec.jti, rec.jti_len, (time_t) rec.exp);
        break;

    case VC_REVOCATION_EXPIRED:
        break;                 /* the token has expired anyway */

    default:
        ngx_log_error(NGX_LOG_WARN, log, 0, "vote: ignoring malformed revocation at %s [%d] @%O",
                      rd_kafka_topic_name(m->rkt), (int) m->partition, (off_t) m->offset);
    }
}

static void ngx_http_vote_revocation_eof(ngx_log_t *log, int32_t partition)
{
    ngx_http_vote_revocations_t *rv = ngx_http_vote_rv;
    int                          n;

    if (partition < 0 || partition >= NGX_HTTP_VOTE_MAX_PARTITIONS || rv->eof[partition]) {
        return;
    }
    rv->eof[partition] = 1;
    n = __atomic_load_n(&rv->partitions, __ATOMIC_SEQ_CST);
    if (++rv->eof_count >= (ngx_uint_t) n && n > 0 && !rv->ready) {
        rv->ready = 1;
        ngx_log_error(NGX_LOG_INFO, log, 0, "vote: revocation list loaded (%d partitions)", n);
    }
}

static void ngx_http_vote_revocation_record(rd_kafka_message_t *m, void *opaque)
{
    ngx_log_t *log = opaque;

    if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
        ngx_http_vote_revocation_eof(log, m->partition);
    } else if (m->err) {
        ngx_log_error(NGX_LOG_WARN, log, 0, "vote: revocation consumer: %s",
                      rd_kafka_message_errstr(m));
    } else {
        ngx_http_vote_revocation_msg(log, m);
    }
}

/* Woken through the pipe by either queue. librdkafka sends one wake-up per
 * "polling period" and only rd_kafka_q_serve()-based calls end that period
 * (rd_kafka_poll, rd_kafka_consume_callback_queue); rd_kafka_consume_queue()
 * does not, and with it the second wake-up never came: the list stayed
 * "not loaded" for ever. Both calls below never wait. */
static void ngx_http_vote_revocation_handler(ngx_event_t *ev)
{
    ngx_http_vote_revocations_t *rv = ngx_http_vote_rv;

    ngx_http_vote_qev_drain(&rv->qev);
    rd_kafka_poll(rv->rk, 0);                  /* logs and errors of this handle */
    if (rd_kafka_consume_callback_queue(rv->qev.queue, 0, ngx_http_vote_revocation_record,
                                        ev->log) == -1)
    {
        ngx_log_error(NGX_LOG_WARN, ev->log, 0, "vote: revocation queue: %s",
                      rd_kafka_err2str(rd_kafka_last_error()));
    }
}

/* helper thread: find the partition count (a blocking metadata request) and
 * start consuming each partition from the beginning into the shared queue */
static void *ngx_http_vote_revocation_thread(void *arg)
{
    ngx_http_vote_revocations_t  *rv = arg;
    const struct rd_kafka_metadata *md;
    int                            i, n;

    while (!rv->stop) {
        if (rd_kafka_metadata(rv->rk, 0, rv->rkt, &md, 2000) == RD_KAFKA_RESP_ERR_NO_ERROR) {
            n = (md->topic_cnt == 1 && md->topics[0].err == RD_KAFKA_RESP_ERR_NO_ERROR)
                ? md->topics[0].partition_cnt : 0;
            rd_kafka_metadata_destroy(md);
            if (n > 0 && n <= NGX_HTTP_VOTE_MAX_PARTITIONS) {
                /* published before the first EOF can arrive, so readiness
                 * waits for every partition */
                __atomic_store_n(&rv->partitions, n, __ATOMIC_SEQ_CST);
                for (i = 0; i < n; i++) {
                    if (rd_kafka_consume_start_queue(rv->rkt, i, RD_KAFKA_OFFSET_BEGINNING,
                                                     rv->qev.queue) == -1)
                    {
                        /* the thread must not log through nginx: the worker does */
                        __atomic_add_fetch(&rv->start_errors, 1, __ATOMIC_SEQ_CST);
                        __atomic_store_n(&rv->last_err, (int) rd_kafka_last_error(),
                                         __ATOMIC_SEQ_CST);
                    }
                }
                return NULL;
            }
        }
        for (i = 0; i < 10 && !rv->stop; i++) {
            usleep(100000);
        }
    }
    return NULL;
}

static rd_kafka_t *ngx_http_vote_revocation_consumer(ngx_cycle_t *cycle,
    ngx_http_vote_main_conf_t *vmcf)
{
    char             err[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_t      *rk;

    if (conf == NULL) {
        return NULL;
    }
    if (ngx_http_vote_kafka_conf(cycle->log, vmcf, conf) != NGX_OK
        || rd_kafka_conf_set(conf, "enable.partition.eof", "true", err, sizeof(err)) != RD_KAFKA_CONF_OK
        || rd_kafka_conf_set(conf, "log.queue", "true", err, sizeof(err)) != RD_KAFKA_CONF_OK)
    {
        rd_kafka_conf_destroy(conf);
        ngx_log_error(NGX_LOG_EMERG, cycle->log, 0, "vote: revocation consumer config failed");
        return NULL;
    }
    rd_kafka_conf_set_log_cb(conf, ngx_http_vote_kafka_log_cb);
    rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof(err));
    if (rk == NULL) {
        rd_kafka_conf_destroy(conf);
        ngx_log_error(NGX_LOG_EMERG, cycle->log, 0, "vote: rd_kafka_new(consumer): %s", err);
    }
    return rk;
}

ngx_int_t ngx_http_vote_revocations_init(ngx_cycle_t *cycle, ngx_http_vote_main_conf_t *vmcf)
{
    ngx_http_vote_revocations_t *rv;
    rd_kafka_queue_t            *q, *mainq;

    rv = ngx_pcalloc(cycle->pool, sizeof(ngx_http_vote_revocations_t));
    if (rv == NULL) {
        return NGX_ERROR;
    }
    rv->qev.wfd = -1;
    ngx_rbtree_init(&rv->tree, &rv->sentinel, ngx_str_rbtree_insert_value);
    rv->rk = ngx_http_vote_revocation_consumer(cycle, vmcf);
    if (rv->rk == NULL) {
        return NGX_ERROR;
    }
    rv->rkt = rd_kafka_topic_new(rv->rk, (char *) vmcf->revocation_topic.data, NULL);
    q = rd_kafka_queue_new(rv->rk);
    if (rv->rkt == NULL || q == NULL) {
        ngx_log_error(NGX_LOG_EMERG, cycle->log, 0, "vote: revocation topic/queue failed");
        return NGX_ERROR;
    }
    /* logs and errors of this handle go to its main queue, served in the
     * nginx thread by rd_kafka_poll() when the same pipe wakes us */
    mainq = rd_kafka_queue_get_main(rv->rk);
    rd_kafka_set_log_queue(rv->rk, mainq);
    rv->mainq = mainq;
    ngx_http_vote_rv = rv;
    if (ngx_http_vote_qev_open(&rv->qev, cycle, q, ngx_http_vote_revocation_handler) != NGX_OK) {
        return NGX_ERROR;
    }
    rd_kafka_queue_io_event_enable(rv->mainq, rv->qev.wfd, "1", 1);
    if (pthread_create(&rv->thread, NULL, ngx_http_vote_revocation_thread, rv) != 0) {
        ngx_log_error(NGX_LOG_EMERG, cycle->log, ngx_errno, "vote: pthread_create() failed");
        return NGX_ERROR;
    }
    rv->thread_started = 1;
    rv->purge_ev.handler = ngx_http_vote_purge_handler;
    rv->purge_ev.data = &ngx_http_vote_dummy_conn;
    rv->purge_ev.log = cycle->log;
    rv->purge_ev.cancelable = 1;
    ngx_add_timer(&rv->purge_ev, 60000);
    rv->check_ev.handler = ngx_http_vote_check_handler;
    rv->check_ev.data = &ngx_http_vote_dummy_conn;
    rv->check_ev.log = cycle->log;
    rv->check_ev.cancelable = 1;
    rv->check_interval = 5000;
    ngx_add_timer(&rv->check_ev, rv->check_interval);
    return NGX_OK;
}

void ngx_http_vote_revocations_exit(ngx_cycle_t *cycle)
{
    ngx_http_vote_revocations_t *rv = ngx_http_vote_rv;
    int                          i;

    if (rv == NULL) {
        return;
    }
    if (rv->thread_started) {
        rv->stop = 1;
        pthread_join(rv->thread, NULL);
    }
    if (rv->purge_ev.timer_set) {
        ngx_del_timer(&rv->purge_ev);
    }
    if (rv->check_ev.timer_set) {
        ngx_del_timer(&rv->check_ev);
    }
    for (i = 0; i < __atomic_load_n(&rv->partitions, __ATOMIC_SEQ_CST); i++) {
        rd_kafka_consume_stop(rv->rkt, i);
    }
    if (rv->mainq != NULL) {
        rd_kafka_queue_io_event_enable(rv->mainq, -1, NULL, 0);
        rd_kafka_queue_destroy(rv->mainq);
        rv->mainq = NULL;
    }
    ngx_http_vote_qev_close(&rv->qev);
    if (rv->rkt) {
        rd_kafka_topic_destroy(rv->rkt);
    }
    if (rv->rk) {
        rd_kafka_destroy(rv->rk);
    }
    ngx_http_vote_purge_all(0);
    ngx_http_vote_rv = NULL;
}

/* ---- the check ---- */

static const char *ngx_http_vote_jwt_detail(vc_jwt_status st)
{
    switch (st) {
    case VC_JWT_EXPIRED:        return "token expired";
    case VC_JWT_NOT_YET_VALID:  return "token not yet valid";
    case VC_JWT_BAD_ALG:        return "token algorithm must be HS256";
    case VC_JWT_UNKNOWN_KID:    return "token signed with an unknown key";
    case VC_JWT_BAD_SIGNATURE:  return "token signature does not match";
    case VC_JWT_BAD_CLAIMS:     return "token lacks sub, jti or exp";
    default:                    return "token is malformed";
    }
}

ngx_int_t ngx_http_vote_authenticate(ngx_http_request_t *r, ngx_http_vote_main_conf_t *vmcf,
    ngx_http_vote_loc_conf_t *vlcf, ngx_http_vote_ctx_t *ctx, const char **code,
    const char **detail)
{
    ngx_table_elt_t *h = r->headers_in.authorization;
    vc_jwt_claims    claims;
    vc_jwt_status    st;
    u_char          *tok;
    size_t           len, sl;

    *code = "invalid_token";
    if (h == NULL || h->value.len <= 7 || ngx_strncasecmp(h->value.data, (u_char *) "Bearer ", 7) != 0) {
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
    st = vc_jwt_verify(&vmcf->jwt_keys, (const char *) tok, len, (int64_t) ngx_time(),
                       (int64_t) vlcf->jwt_leeway, &claims);
    if (st != VC_JWT_OK) {
        ngx_http_vote_metric_auth(st);
        *detail = ngx_http_vote_jwt_detail(st);
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0, "vote: token rejected: %s",
                      vc_jwt_status_str(st));
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
    if (vmcf->revocation_topic.len > 0 && (ngx_http_vote_rv == NULL || !ngx_http_vote_rv->ready)) {
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
