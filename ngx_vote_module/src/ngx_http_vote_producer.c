/*
 * ngx_http_vote_producer.c - one librdkafka producer per nginx worker.
 *
 * Created in init_process (after fork: librdkafka threads do not survive
 * fork), destroyed in exit_process after a flush bounded by
 * vote_flush_timeout, so messages accepted with 202 before a reload or quit
 * still reach Kafka.  Delivery reports and librdkafka logs/errors are routed to
 * the main queue, whose "became non-empty" signal is written to a pipe that
 * nginx watches like any socket: the worker never blocks and never busy-polls.
 *
 * With vote_kafka_local_property, `vote_durability local` locations get a
 * producer of their own with those properties on top (typically a longer
 * linger.ms: nobody waits for their delivery reports, and fewer, larger
 * produce requests cost librdkafka and the broker much less CPU per message),
 * while `broker` locations keep a short linger for their latency.  Without it
 * there is one producer, as before.
 */
#include "ngx_http_vote_producer.h"

#include "kafka_conf.h"
#include "ngx_http_vote_kafka.h"
#include "ngx_http_vote_metrics.h"

/* a producer and the io-event pipe of its main queue; the queue handler finds
 * the producer from the pipe's connection (c->data) */
typedef struct {
    ngx_http_vote_queue_pipe_t queue_pipe;
    rd_kafka_t                *rk;
} ngx_http_vote_prod_t;

#define NGX_HTTP_VOTE_PRODUCERS 2 /* [0] shared/broker, [1] local-only */

static ngx_http_vote_prod_t ngx_http_vote_prods[NGX_HTTP_VOTE_PRODUCERS];
static rd_kafka_t          *ngx_http_vote_rk_for[2]; /* by durability */
static ngx_event_t          ngx_http_vote_gauge_ev;
static ngx_array_t *ngx_http_vote_topics; /* rd_kafka_topic_t *, for exit */

/* Progress tracking for "Kafka cannot take the message": messages in flight
 * and when a delivery last succeeded (or the queue last became non-empty). */
static ngx_uint_t ngx_http_vote_pending;
static ngx_msec_t ngx_http_vote_last_progress;
static ngx_uint_t ngx_http_vote_was_stalled;

void
ngx_http_vote_count_queued(void)
{
    if (ngx_http_vote_pending++ == 0) {
        ngx_http_vote_last_progress = ngx_current_msec;
    }
}

/* Stalled: messages are waiting and none was delivered for stall_timeout.
 * Then new messages are refused with 503 instead of piling up in memory
 * behind a broker that is down.  It heals by itself: librdkafka keeps
 * retrying what is queued, and the first successful delivery (or the queue
 * draining through delivery failures) ends the stall. */
ngx_uint_t
ngx_http_vote_update_stall(ngx_msec_t stall_timeout)
{
    ngx_uint_t stalled =
        stall_timeout > 0 && ngx_http_vote_pending > 0
        && (ngx_msec_int_t) (ngx_current_msec - ngx_http_vote_last_progress)
               > (ngx_msec_int_t) stall_timeout;

    if (stalled && !ngx_http_vote_was_stalled) {
        ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                      "vote: kafka stalled: %ui messages waiting, none "
                      "delivered for %M ms; "
                      "refusing new messages with 503",
                      ngx_http_vote_pending, stall_timeout);
    } else if (!stalled && ngx_http_vote_was_stalled) {
        ngx_log_error(NGX_LOG_NOTICE, ngx_cycle->log, 0,
                      "vote: kafka delivers again (%ui messages waiting)",
                      ngx_http_vote_pending);
    }
    ngx_http_vote_was_stalled = stalled;
    return stalled;
}

static void ngx_http_vote_main_queue_handler(ngx_event_t *ev);

rd_kafka_t *
ngx_http_vote_producer_handle(ngx_uint_t durability)
{
    return ngx_http_vote_rk_for[durability];
}

ngx_http_vote_ticket_t *
ngx_http_vote_ticket_create(ngx_uint_t                 kind,
                            ngx_http_vote_delivered_pt delivered,
                            ngx_log_t                 *log)
{
    ngx_http_vote_ticket_t *t;

    t = ngx_alloc(sizeof(ngx_http_vote_ticket_t), log);
    if (t == NULL) {
        return NULL;
    }
    t->data = NULL;
    t->delivered = delivered;
    t->kind = kind;
    t->start_us = ngx_http_vote_now_us();
    return t;
}

/* ---- callbacks: all run inside rd_kafka_poll() on the worker thread ---- */

static void
ngx_http_vote_error_cb(rd_kafka_t *rk, int err, const char *reason,
                       void *opaque)
{
    ngx_uint_t level = NGX_LOG_WARN;

    if (err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN
        || err == RD_KAFKA_RESP_ERR__FATAL)
    {
        level = NGX_LOG_ERR;
    }
    ngx_log_error(level, ngx_cycle->log, 0, "vote: kafka %s: %s: %s",
                  rd_kafka_name(rk),
                  rd_kafka_err2name((rd_kafka_resp_err_t) err), reason);

    /* A fatal error leaves the client unusable for good: every later produce
     * fails (seen when a partitioned leader came back and the idempotent
     * producer's sequence numbers no longer matched). The worker stops
     * gracefully, answering what it holds, and the master starts a new one
     * with a new producer. */
    if (err == RD_KAFKA_RESP_ERR__FATAL && !ngx_exiting && !ngx_quit) {
        ngx_log_error(NGX_LOG_ALERT, ngx_cycle->log, 0,
                      "vote: kafka %s failed fatally: this worker exits, "
                      "the master starts a new one",
                      rd_kafka_name(rk));
        ngx_quit = 1;
    }
}

static void
ngx_http_vote_dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    ngx_http_vote_ticket_t    *t = m->_private;
    ngx_http_vote_delivered_pt delivered;
    void                      *data;

    if (t == NULL) {
        return;
    }
    ngx_http_vote_metric_delivered(t->kind,
                                   ngx_http_vote_now_us() - t->start_us,
                                   m->err == RD_KAFKA_RESP_ERR_NO_ERROR);
    ngx_http_vote_metric_inflight(-1);
    if (ngx_http_vote_pending > 0) {
        ngx_http_vote_pending--;
    }
    if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        ngx_http_vote_last_progress = ngx_current_msec;
    }
    if (m->err) {
        ngx_http_vote_metric_produce_error(NGX_HTTP_VOTE_PE_DELIVERY);
        ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                      "vote: delivery to \"%s\" failed: %s (request %s)",
                      rd_kafka_topic_name(m->rkt), rd_kafka_err2str(m->err),
                      t->data ? "waiting" : "already answered or gone");
    }
    data = t->data;
    delivered = t->delivered;
    if (data == NULL && m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        ngx_log_debug0(
            NGX_LOG_DEBUG_HTTP, ngx_cycle->log, 0,
            "vote: delivered, the request was already answered or gone");
    }
    ngx_free(t); /* before resuming: the request may free its context */
    if (data != NULL) {
        /* a message that reached a broker and then failed (e.g. timed out
         * while the leader waited for an in-sync replica that was just
         * killed) may have been written: librdkafka says possibly persisted */
        delivered(data, m->err,
                  rd_kafka_message_status(m)
                      == RD_KAFKA_MSG_STATUS_POSSIBLY_PERSISTED);
    }
}

/* ---- configuration ---- */

static rd_kafka_conf_t *
ngx_http_vote_producer_conf(ngx_cycle_t *cycle, ngx_http_vote_main_conf_t *vmcf,
                            ngx_uint_t local_only)
{
    char             err[512], client_id[64];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    ngx_keyval_t    *kv = vmcf->local_props->elts;
    ngx_uint_t       i;

    if (conf == NULL) {
        return NULL;
    }
    ngx_snprintf((u_char *) client_id, sizeof(client_id), "vote-edge-%P%s%Z",
                 ngx_pid, local_only ? "-local" : "");
    /* acks=all + idempotence: a 202 in broker mode means every in-sync replica
     * has it, and librdkafka's internal retries can neither duplicate nor
     * reorder messages.  linger 5 ms batches bursts; log.queue routes
     * librdkafka's logs through our event loop instead of its own threads. */
    if (vc_kafka_conf_set(conf, "client.id", client_id, err, sizeof(err)) < 0
        || vc_kafka_conf_set(conf, "acks", "all", err, sizeof(err)) < 0
        || vc_kafka_conf_set(conf, "enable.idempotence", "true", err,
                             sizeof(err))
               < 0
        || vc_kafka_conf_set(conf, "linger.ms", "5", err, sizeof(err)) < 0
        || vc_kafka_conf_set(conf, "log.queue", "true", err, sizeof(err)) < 0)
    {
        ngx_log_error(NGX_LOG_EMERG, cycle->log, 0, "vote: %s", err);
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    if (ngx_http_vote_kafka_conf(cycle->log, &vmcf->brokers, vmcf->props, conf)
        != NGX_OK)
    {
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    for (i = 0; local_only && i < vmcf->local_props->nelts; i++) {
        if (vc_kafka_conf_set(conf, (char *) kv[i].key.data,
                              (char *) kv[i].value.data, err, sizeof(err))
            < 0)
        {
            ngx_log_error(NGX_LOG_EMERG, cycle->log, 0, "vote: %s", err);
            rd_kafka_conf_destroy(conf);
            return NULL;
        }
    }
    rd_kafka_conf_set_dr_msg_cb(conf, ngx_http_vote_dr_cb);
    rd_kafka_conf_set_error_cb(conf, ngx_http_vote_error_cb);
    rd_kafka_conf_set_log_cb(conf, ngx_http_vote_kafka_log_cb);
    return conf;
}

/* main queue became non-empty: serve delivery reports, logs and errors */
static ngx_int_t
ngx_http_vote_outq_len(void)
{
    ngx_int_t  n = 0;
    ngx_uint_t i;

    for (i = 0; i < NGX_HTTP_VOTE_PRODUCERS; i++) {
        if (ngx_http_vote_prods[i].rk != NULL) {
            n += rd_kafka_outq_len(ngx_http_vote_prods[i].rk);
        }
    }
    return n;
}

static void
ngx_http_vote_main_queue_handler(ngx_event_t *ev)
{
    ngx_connection_t     *c = ev->data;
    ngx_http_vote_prod_t *p = c->data;
    int                   i;

    ngx_log_debug0(NGX_LOG_DEBUG_EVENT, ev->log, 0, "vote kafka main queue");

    ngx_http_vote_queue_pipe_drain(&p->queue_pipe);
    /* rd_kafka_poll(rk, 0) serves what is queued without waiting; bounded so
     * that a flood of reports cannot starve client connections */
    for (i = 0; i < 64; i++) {
        if (rd_kafka_poll(p->rk, 0) == 0) {
            break;
        }
    }
    if (i == 64) {
        ngx_post_event(ev, &ngx_posted_events);
    }
    ngx_http_vote_metric_queue_len(ngx_http_vote_outq_len());
}

static void
ngx_http_vote_gauge_handler(ngx_event_t *ev)
{
    ngx_http_vote_metric_queue_len(ngx_http_vote_outq_len());
    ngx_add_timer(ev, 1000);
}

/* ---- lifecycle ---- */

static ngx_int_t
ngx_http_vote_prod_start(ngx_cycle_t *cycle, ngx_http_vote_main_conf_t *vmcf,
                         ngx_uint_t local_only)
{
    char                  err[512];
    rd_kafka_conf_t      *conf;
    ngx_http_vote_prod_t *p = &ngx_http_vote_prods[local_only];

    p->queue_pipe.wfd = -1;
    conf = ngx_http_vote_producer_conf(cycle, vmcf, local_only);
    if (conf == NULL) {
        return NGX_ERROR;
    }
    p->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
    if (p->rk == NULL) {
        rd_kafka_conf_destroy(conf);
        ngx_log_error(NGX_LOG_EMERG, cycle->log, 0,
                      "vote: rd_kafka_new(producer): %s", err);
        return NGX_ERROR;
    }
    if (rd_kafka_set_log_queue(p->rk, NULL) != RD_KAFKA_RESP_ERR_NO_ERROR) {
        ngx_log_error(NGX_LOG_WARN, cycle->log, 0,
                      "vote: cannot route kafka logs to the main queue");
    }
    if (ngx_http_vote_queue_pipe_open(&p->queue_pipe, cycle,
                                      rd_kafka_queue_get_main(p->rk),
                                      ngx_http_vote_main_queue_handler)
        != NGX_OK)
    {
        rd_kafka_destroy(p->rk);
        p->rk = NULL;
        return NGX_ERROR;
    }
    p->queue_pipe.conn->data = p; /* the handler's way back to rk */
    ngx_log_error(NGX_LOG_INFO, cycle->log, 0,
                  "vote: producer %s started, brokers \"%V\"",
                  rd_kafka_name(p->rk), &vmcf->brokers);
    return NGX_OK;
}

ngx_int_t
ngx_http_vote_producer_init(ngx_cycle_t *cycle, ngx_http_vote_main_conf_t *vmcf)
{
    ngx_uint_t local = vmcf->used & (1 << NGX_HTTP_VOTE_LOCAL);
    ngx_uint_t own_local = local && vmcf->local_props->nelts > 0;

    ngx_http_vote_prods[0].queue_pipe.wfd = -1;
    ngx_http_vote_prods[1].queue_pipe.wfd = -1;
    ngx_http_vote_topics =
        ngx_array_create(cycle->pool, 8, sizeof(rd_kafka_topic_t *));
    if (ngx_http_vote_topics == NULL) {
        return NGX_ERROR;
    }
    /* the shared producer serves broker locations, and local ones unless they
     * have their own (on failure the worker exits: init_process is fatal) */
    if (((vmcf->used & (1 << NGX_HTTP_VOTE_BROKER)) || (local && !own_local))
        && ngx_http_vote_prod_start(cycle, vmcf, 0) != NGX_OK)
    {
        return NGX_ERROR;
    }
    if (own_local && ngx_http_vote_prod_start(cycle, vmcf, 1) != NGX_OK) {
        return NGX_ERROR;
    }
    ngx_http_vote_rk_for[NGX_HTTP_VOTE_BROKER] = ngx_http_vote_prods[0].rk;
    ngx_http_vote_rk_for[NGX_HTTP_VOTE_LOCAL] =
        own_local ? ngx_http_vote_prods[1].rk : ngx_http_vote_prods[0].rk;
    ngx_http_vote_gauge_ev.handler = ngx_http_vote_gauge_handler;
    ngx_http_vote_gauge_ev.log = cycle->log;
    ngx_http_vote_gauge_ev.data = &ngx_http_vote_dummy_conn;
    ngx_http_vote_gauge_ev.cancelable =
        1; /* must not delay a graceful shutdown */
    ngx_add_timer(&ngx_http_vote_gauge_ev, 1000);
    return NGX_OK;
}

rd_kafka_topic_t *
ngx_http_vote_topic(ngx_http_vote_loc_conf_t *vlcf, ngx_log_t *log)
{
    rd_kafka_topic_t **slot;

    if (vlcf->rkt != NULL) {
        return vlcf->rkt;
    }
    /* rd_kafka_topic_new() returns the existing handle (refcounted) when two
     * locations share a topic; each reference is released on exit */
    slot = ngx_array_push(ngx_http_vote_topics);
    if (slot == NULL) {
        return NULL;
    }
    vlcf->rkt = rd_kafka_topic_new(ngx_http_vote_rk_for[vlcf->durability],
                                   (char *) vlcf->topic.data, NULL);
    if (vlcf->rkt == NULL) {
        ngx_http_vote_topics->nelts--;
        ngx_log_error(NGX_LOG_ERR, log, 0,
                      "vote: rd_kafka_topic_new(\"%V\"): %s", &vlcf->topic,
                      rd_kafka_err2str(rd_kafka_last_error()));
        return NULL;
    }
    *slot = vlcf->rkt;
    return vlcf->rkt;
}

/* bounded flush of one producer: blocking is fine here, the worker is
 * exiting and serves no requests */
static void
ngx_http_vote_prod_flush(ngx_cycle_t *cycle, ngx_http_vote_prod_t *p,
                         ngx_msec_t timeout, ngx_msec_t configured)
{
    int left = rd_kafka_outq_len(p->rk);

    if (left > 0) {
        ngx_log_error(
            NGX_LOG_NOTICE, cycle->log, 0,
            "vote: flushing %d queued kafka messages/requests (at most %M ms), "
            "producer %s",
            left, timeout, rd_kafka_name(p->rk));
    }
    if (rd_kafka_flush(p->rk, (int) timeout) != RD_KAFKA_RESP_ERR_NO_ERROR) {
        left = rd_kafka_outq_len(p->rk);
        ngx_log_error(NGX_LOG_ALERT, cycle->log, 0,
                      "vote: %d kafka messages/requests not delivered within "
                      "vote_flush_timeout %M ms; they are lost (producer %s)",
                      left, configured, rd_kafka_name(p->rk));
        rd_kafka_purge(p->rk,
                       RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
        rd_kafka_flush(p->rk, 100); /* serve the purge reports: frees tickets */
    }
}

void
ngx_http_vote_producer_exit(ngx_cycle_t *cycle, ngx_http_vote_main_conf_t *vmcf)
{
    rd_kafka_topic_t **t;
    ngx_uint_t         i;
    ngx_msec_t         start, spent, left = vmcf->flush_timeout;

    if (ngx_http_vote_topics == NULL) {
        return; /* init never ran */
    }
    if (ngx_http_vote_gauge_ev.timer_set) {
        ngx_del_timer(&ngx_http_vote_gauge_ev);
    }
    /* vote_flush_timeout bounds the whole exit, both producers together: the
     * first one flushed gets all of it, the second what is left */
    for (i = 0; i < NGX_HTTP_VOTE_PRODUCERS; i++) {
        if (ngx_http_vote_prods[i].rk == NULL) {
            continue;
        }
        ngx_time_update();
        start = ngx_current_msec;
        ngx_http_vote_prod_flush(cycle, &ngx_http_vote_prods[i], left,
                                 vmcf->flush_timeout);
        ngx_time_update();
        spent = ngx_current_msec - start;
        left = spent < left ? left - spent : 0;
    }
    t = ngx_http_vote_topics->elts;
    for (i = 0; i < ngx_http_vote_topics->nelts; i++) {
        rd_kafka_topic_destroy(t[i]);
    }
    ngx_http_vote_topics->nelts = 0;
    for (i = 0; i < NGX_HTTP_VOTE_PRODUCERS; i++) {
        if (ngx_http_vote_prods[i].rk != NULL) {
            ngx_http_vote_queue_pipe_close(&ngx_http_vote_prods[i].queue_pipe);
            rd_kafka_destroy(ngx_http_vote_prods[i].rk);
            ngx_http_vote_prods[i].rk = NULL;
        }
    }
    ngx_http_vote_rk_for[0] = ngx_http_vote_rk_for[1] = NULL;
}
