/*
 * ngx_http_vote_revocations.c - the logout revocation list of each worker.
 *
 * Logout revocations come from the Kafka topic named by vote_revocations
 * (records parsed by common/revocation.c, the api daemon's rule too): every
 * worker runs its own consumer without a group, reading all partitions from
 * the beginning, and keeps jti -> exp in memory until the token would have
 * expired anyway.  The consumer's queue is read through the nginx event loop
 * (io-event pipe); only the blocking metadata lookup that finds the
 * partitions runs in a helper thread, which touches nothing but librdkafka.
 * Until every partition has been read to its end once, the list is not
 * loaded and chat answers 503: a worker that has not seen the revocations yet
 * cannot tell a logged-out token from a valid one.
 */
#include "ngx_http_vote_revocations.h"

#include <pthread.h>
#include <unistd.h>

#include "kafka_conf.h"
#include "ngx_http_vote_kafka.h"
#include "revocation.h"

#define NGX_HTTP_VOTE_MAX_PARTITIONS 1024

typedef struct {
    ngx_str_node_t sn; /* key: jti */
    time_t         exp;
} ngx_http_vote_revoked_t;

typedef struct {
    rd_kafka_t       *rk;
    rd_kafka_topic_t *rkt;
    ngx_http_vote_queue_pipe_t
                      queue_pipe; /* the partitions' records, and the pipe */
    rd_kafka_queue_t *mainq;      /* logs and errors; wakes the same pipe */
    pthread_t         thread;
    ngx_uint_t        thread_started;
    volatile int      stop; /* set by the worker, read by the thread */
    int partitions;         /* set by the thread (atomic), read by the worker */
    int start_errors; /* consume_start failures (atomic), logged by the worker
                       */
    int          last_err; /* last librdkafka error of the thread (atomic) */
    ngx_event_t  check_ev; /* warns while the list is not loaded */
    ngx_msec_t   check_interval;
    ngx_uint_t   eof_count;
    u_char       eof[NGX_HTTP_VOTE_MAX_PARTITIONS];
    ngx_uint_t   ready;
    ngx_rbtree_t tree;
    ngx_rbtree_node_t sentinel;
    ngx_event_t       purge_ev;
} ngx_http_vote_revocations_t;

static ngx_http_vote_revocations_t *ngx_http_vote_revocations;

/* ---- the revoked-jti set ---- */

ngx_uint_t
ngx_http_vote_is_revoked(const char *jti)
{
    ngx_str_t s;

    if (ngx_http_vote_revocations == NULL) {
        return 0;
    }
    s.data = (u_char *) jti;
    s.len = ngx_strlen(jti);
    return ngx_str_rbtree_lookup(&ngx_http_vote_revocations->tree, &s,
                                 ngx_crc32_short(s.data, s.len))
           != NULL;
}

static void
ngx_http_vote_revoke(ngx_log_t *log, const char *jti, size_t len, time_t exp)
{
    ngx_http_vote_revoked_t *node;
    ngx_str_t                s;
    uint32_t                 hash = ngx_crc32_short((u_char *) jti, len);

    s.data = (u_char *) jti;
    s.len = len;
    if (!vc_revocation_live(exp, ngx_time())
        || ngx_str_rbtree_lookup(&ngx_http_vote_revocations->tree, &s, hash)
               != NULL)
    {
        return; /* already expired, or already known */
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
    ngx_rbtree_insert(&ngx_http_vote_revocations->tree, &node->sn.node);
}

static void
ngx_http_vote_purge_all(ngx_uint_t only_expired)
{
    ngx_rbtree_t      *tree = &ngx_http_vote_revocations->tree;
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

/* until the list is loaded chat answers 503: say why in the log, with backoff
 */
static void
ngx_http_vote_check_handler(ngx_event_t *ev)
{
    ngx_http_vote_revocations_t *revs = ngx_http_vote_revocations;
    int                          n, errs, err;

    if (revs->ready) {
        return;
    }
    n = __atomic_load_n(&revs->partitions, __ATOMIC_SEQ_CST);
    errs = __atomic_load_n(&revs->start_errors, __ATOMIC_SEQ_CST);
    err = __atomic_load_n(&revs->last_err, __ATOMIC_SEQ_CST);
    ngx_log_error(
        NGX_LOG_WARN, ev->log, 0,
        "vote: revocation list of \"%s\" not loaded yet (%d partitions found, "
        "%ui read to the end, %d start errors%s%s); chat answers 503 meanwhile",
        rd_kafka_topic_name(revs->rkt), n, revs->eof_count, errs,
        errs ? ": " : "",
        errs ? rd_kafka_err2str((rd_kafka_resp_err_t) err) : "");
    revs->check_interval = ngx_min(revs->check_interval * 2, 60000);
    ngx_add_timer(ev, revs->check_interval);
}

static void
ngx_http_vote_purge_handler(ngx_event_t *ev)
{
    ngx_http_vote_purge_all(1);
    ngx_add_timer(ev, 60000);
}

/* ---- consumer ---- */

static void
ngx_http_vote_revocation_msg(ngx_log_t *log, rd_kafka_message_t *m)
{
    vc_revocation rec;

    switch (vc_revocation_parse(m->payload, m->len, ngx_time(), &rec)) {

    case VC_REVOCATION_OK:
        ngx_http_vote_revoke(log, rec.jti, rec.jti_len, (time_t) rec.exp);
        break;

    case VC_REVOCATION_EXPIRED: break; /* the token has expired anyway */

    default:
        ngx_log_error(NGX_LOG_WARN, log, 0,
                      "vote: ignoring malformed revocation at %s [%d] @%O",
                      rd_kafka_topic_name(m->rkt), (int) m->partition,
                      (off_t) m->offset);
    }
}

static void
ngx_http_vote_revocation_eof(ngx_log_t *log, int32_t partition)
{
    ngx_http_vote_revocations_t *revs = ngx_http_vote_revocations;
    int                          n;

    if (partition < 0 || partition >= NGX_HTTP_VOTE_MAX_PARTITIONS
        || revs->eof[partition])
    {
        return;
    }
    revs->eof[partition] = 1;
    n = __atomic_load_n(&revs->partitions, __ATOMIC_SEQ_CST);
    if (++revs->eof_count >= (ngx_uint_t) n && n > 0 && !revs->ready) {
        revs->ready = 1;
        ngx_log_error(NGX_LOG_INFO, log, 0,
                      "vote: revocation list loaded (%d partitions)", n);
    }
}

static void
ngx_http_vote_revocation_record(rd_kafka_message_t *m, void *opaque)
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
 * (rd_kafka_poll, rd_kafka_consume_callback_queue; not
 * rd_kafka_consume_queue), so these are the calls that keep the wake-ups
 * coming. Neither waits. */
static void
ngx_http_vote_revocation_handler(ngx_event_t *ev)
{
    ngx_http_vote_revocations_t *revs = ngx_http_vote_revocations;

    ngx_log_debug0(NGX_LOG_DEBUG_EVENT, ev->log, 0, "vote revocation queue");

    ngx_http_vote_queue_pipe_drain(&revs->queue_pipe);
    rd_kafka_poll(revs->rk, 0); /* logs and errors of this handle */
    if (rd_kafka_consume_callback_queue(
            revs->queue_pipe.queue, 0, ngx_http_vote_revocation_record, ev->log)
        == -1)
    {
        ngx_log_error(NGX_LOG_WARN, ev->log, 0, "vote: revocation queue: %s",
                      rd_kafka_err2str(rd_kafka_last_error()));
    }
}

/* helper thread: find the partition count (a blocking metadata request) and
 * start consuming each partition from the beginning into the shared queue */
static void *
ngx_http_vote_revocation_thread(void *arg)
{
    ngx_http_vote_revocations_t    *revs = arg;
    const struct rd_kafka_metadata *md;
    int                             i, n;

    while (!revs->stop) {
        if (rd_kafka_metadata(revs->rk, 0, revs->rkt, &md, 2000)
            == RD_KAFKA_RESP_ERR_NO_ERROR)
        {
            n = (md->topic_cnt == 1
                 && md->topics[0].err == RD_KAFKA_RESP_ERR_NO_ERROR)
                    ? md->topics[0].partition_cnt
                    : 0;
            rd_kafka_metadata_destroy(md);
            if (n > 0 && n <= NGX_HTTP_VOTE_MAX_PARTITIONS) {
                /* published before the first EOF can arrive, so readiness
                 * waits for every partition */
                __atomic_store_n(&revs->partitions, n, __ATOMIC_SEQ_CST);
                for (i = 0; i < n; i++) {
                    if (rd_kafka_consume_start_queue(revs->rkt, i,
                                                     RD_KAFKA_OFFSET_BEGINNING,
                                                     revs->queue_pipe.queue)
                        == -1)
                    {
                        /* the thread must not log through nginx: the worker
                         * does */
                        __atomic_add_fetch(&revs->start_errors, 1,
                                           __ATOMIC_SEQ_CST);
                        __atomic_store_n(&revs->last_err,
                                         (int) rd_kafka_last_error(),
                                         __ATOMIC_SEQ_CST);
                    }
                }
                return NULL;
            }
        }
        for (i = 0; i < 10 && !revs->stop; i++) {
            usleep(100000);
        }
    }
    return NULL;
}

static rd_kafka_t *
ngx_http_vote_revocation_consumer(ngx_cycle_t               *cycle,
                                  ngx_http_vote_main_conf_t *vmcf)
{
    char             err[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_t      *rk;

    if (conf == NULL) {
        return NULL;
    }
    if (ngx_http_vote_kafka_conf(cycle->log, &vmcf->brokers, vmcf->props, conf)
            != NGX_OK
        || vc_kafka_conf_set(conf, "enable.partition.eof", "true", err,
                             sizeof(err))
               < 0
        || vc_kafka_conf_set(conf, "log.queue", "true", err, sizeof(err)) < 0)
    {
        rd_kafka_conf_destroy(conf);
        ngx_log_error(NGX_LOG_EMERG, cycle->log, 0,
                      "vote: revocation consumer config failed");
        return NULL;
    }
    rd_kafka_conf_set_log_cb(conf, ngx_http_vote_kafka_log_cb);
    rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof(err));
    if (rk == NULL) {
        rd_kafka_conf_destroy(conf);
        ngx_log_error(NGX_LOG_EMERG, cycle->log, 0,
                      "vote: rd_kafka_new(consumer): %s", err);
    }
    return rk;
}

ngx_int_t
ngx_http_vote_revocations_init(ngx_cycle_t               *cycle,
                               ngx_http_vote_main_conf_t *vmcf)
{
    ngx_http_vote_revocations_t *revs;
    rd_kafka_queue_t            *q, *mainq;

    revs = ngx_pcalloc(cycle->pool, sizeof(ngx_http_vote_revocations_t));
    if (revs == NULL) {
        return NGX_ERROR;
    }
    revs->queue_pipe.wfd = -1;
    ngx_rbtree_init(&revs->tree, &revs->sentinel, ngx_str_rbtree_insert_value);
    revs->rk = ngx_http_vote_revocation_consumer(cycle, vmcf);
    if (revs->rk == NULL) {
        return NGX_ERROR;
    }
    revs->rkt = rd_kafka_topic_new(revs->rk,
                                   (char *) vmcf->revocation_topic.data, NULL);
    q = rd_kafka_queue_new(revs->rk);
    if (revs->rkt == NULL || q == NULL) {
        ngx_log_error(NGX_LOG_EMERG, cycle->log, 0,
                      "vote: revocation topic/queue failed");
        return NGX_ERROR;
    }
    /* logs and errors of this handle go to its main queue, served in the
     * nginx thread by rd_kafka_poll() when the same pipe wakes us */
    mainq = rd_kafka_queue_get_main(revs->rk);
    rd_kafka_set_log_queue(revs->rk, mainq);
    revs->mainq = mainq;
    ngx_http_vote_revocations = revs;
    if (ngx_http_vote_queue_pipe_open(&revs->queue_pipe, cycle, q,
                                      ngx_http_vote_revocation_handler)
        != NGX_OK)
    {
        return NGX_ERROR;
    }
    rd_kafka_queue_io_event_enable(revs->mainq, revs->queue_pipe.wfd, "1", 1);
    if (pthread_create(&revs->thread, NULL, ngx_http_vote_revocation_thread,
                       revs)
        != 0)
    {
        ngx_log_error(NGX_LOG_EMERG, cycle->log, ngx_errno,
                      "vote: pthread_create() failed");
        return NGX_ERROR;
    }
    revs->thread_started = 1;
    revs->purge_ev.handler = ngx_http_vote_purge_handler;
    revs->purge_ev.data = &ngx_http_vote_dummy_conn;
    revs->purge_ev.log = cycle->log;
    revs->purge_ev.cancelable = 1;
    ngx_add_timer(&revs->purge_ev, 60000);
    revs->check_ev.handler = ngx_http_vote_check_handler;
    revs->check_ev.data = &ngx_http_vote_dummy_conn;
    revs->check_ev.log = cycle->log;
    revs->check_ev.cancelable = 1;
    revs->check_interval = 5000;
    ngx_add_timer(&revs->check_ev, revs->check_interval);
    return NGX_OK;
}

void
ngx_http_vote_revocations_exit(ngx_cycle_t *cycle)
{
    ngx_http_vote_revocations_t *revs = ngx_http_vote_revocations;
    int                          i;

    if (revs == NULL) {
        return;
    }
    if (revs->thread_started) {
        revs->stop = 1;
        pthread_join(revs->thread, NULL);
    }
    if (revs->purge_ev.timer_set) {
        ngx_del_timer(&revs->purge_ev);
    }
    if (revs->check_ev.timer_set) {
        ngx_del_timer(&revs->check_ev);
    }
    for (i = 0; i < __atomic_load_n(&revs->partitions, __ATOMIC_SEQ_CST); i++) {
        rd_kafka_consume_stop(revs->rkt, i);
    }
    if (revs->mainq != NULL) {
        rd_kafka_queue_io_event_enable(revs->mainq, -1, NULL, 0);
        rd_kafka_queue_destroy(revs->mainq);
        revs->mainq = NULL;
    }
    ngx_http_vote_queue_pipe_close(&revs->queue_pipe);
    if (revs->rkt) {
        rd_kafka_topic_destroy(revs->rkt);
    }
    if (revs->rk) {
        rd_kafka_destroy(revs->rk);
    }
    ngx_http_vote_purge_all(0);
    ngx_http_vote_revocations = NULL;
}

ngx_uint_t
ngx_http_vote_revocations_loaded(void)
{
    return ngx_http_vote_revocations != NULL
           && ngx_http_vote_revocations->ready;
}
