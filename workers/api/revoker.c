/*
 * revoker.c - Kafka producer (acks=all, wait for the delivery report) and
 * group-less consumer of the revocation topic (see revoker.h).
 */
#include "revoker.h"

#include <errno.h>
#include <librdkafka/rdkafka.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "kafka_conf.h"
#include "log.h"
#include "api_metrics.h"
#include "revocation.h"

struct revoker {
    rd_kafka_t *producer;
    rd_kafka_t *consumer;
    char topic[128];
    revocations *set;
    int64_t replay_ms;     /* how far back the consumer starts */
    pthread_t poll_thread; /* serves the producer's delivery reports */
    pthread_t consume_thread;
    int threads_started;
    atomic_int stop;
    atomic_int ready;
};

/* One in-flight logout waiting for its delivery report.  Shared by the
 * handler and the delivery callback; whoever drops the last reference frees
 * it, so a handler that gives up waiting never leaves a dangling pointer. */
typedef struct {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int refs;
    int done;
    rd_kafka_resp_err_t err;
} delivery_wait;

static delivery_wait *delivery_wait_new(void)
{
    delivery_wait *w = calloc(1, sizeof *w);
    if (!w)
        return NULL;
    pthread_mutex_init(&w->lock, NULL);
    pthread_cond_init(&w->cond, NULL);
    w->refs = 2; /* the handler and the delivery report */
    return w;
}

/* Caller holds w->lock; it is released (and w possibly freed) here. */
static void delivery_wait_unref_locked(delivery_wait *w)
{
    int last = --w->refs == 0;
    pthread_mutex_unlock(&w->lock);
    if (last) {
        pthread_cond_destroy(&w->cond);
        pthread_mutex_destroy(&w->lock);
        free(w);
    }
}

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *msg, void *opaque)
{
    (void)rk;
    (void)opaque;
    delivery_wait *w = msg->_private;
    pthread_mutex_lock(&w->lock);
    w->err = msg->err;
    w->done = 1;
    pthread_cond_signal(&w->cond);
    delivery_wait_unref_locked(w);
}

/* A new conf with the table applied (common/kafka_conf.c), or NULL (logged). */
static rd_kafka_conf_t *make_conf(const char *const table[][2], size_t n)
{
    char err[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    if (!conf)
        return NULL;
    if (vc_kafka_conf_set_table(conf, table, n, err, sizeof err) < 0) {
        log_error("kafka_conf", "%s", err);
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    return conf;
}

static rd_kafka_t *make_producer(const char *brokers)
{
    const char *const props[][2] = {
        { "bootstrap.servers", brokers }, { "acks", "all" },    { "enable.idempotence", "true" },
        { "message.timeout.ms", "5000" }, { "linger.ms", "0" },
    };
    rd_kafka_conf_t *conf = make_conf(props, sizeof props / sizeof props[0]);
    char err[256];
    if (!conf)
        return NULL;
    rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    if (!rk) {
        log_error("kafka_producer", "%s", err);
        rd_kafka_conf_destroy(conf);
    }
    return rk;
}

static rd_kafka_t *make_consumer(const char *brokers)
{
    char err[256];
    /* Every replica reads every partition (assign, never subscribe) and
     * commits nothing; librdkafka still wants a group.id for assign(). */
    char group[64];
    snprintf(group, sizeof group, "vote-api-revocations-%d", (int)getpid());
    const char *const props[][2] = {
        { "bootstrap.servers", brokers },  { "group.id", group },
        { "enable.auto.commit", "false" }, { "enable.auto.offset.store", "false" },
        { "fetch.wait.max.ms", "100" },
    };
    rd_kafka_conf_t *conf = make_conf(props, sizeof props / sizeof props[0]);
    if (!conf)
        return NULL;
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
    if (!rk) {
        log_error("kafka_consumer", "%s", err);
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    rd_kafka_poll_set_consumer(rk);
    return rk;
}

static void *poll_main(void *arg)
{
    revoker *rev = arg;
    while (!atomic_load(&rev->stop))
        rd_kafka_poll(rev->producer, 100);
    return NULL;
}

/* Partition count of the topic, or -1 while it does not exist yet. */
static int topic_partitions(revoker *rev)
{
    rd_kafka_topic_t *t = rd_kafka_topic_new(rev->consumer, rev->topic, NULL);
    const struct rd_kafka_metadata *md = NULL;
    int n = -1;
    if (t && rd_kafka_metadata(rev->consumer, 0, t, &md, 5000) == RD_KAFKA_RESP_ERR_NO_ERROR &&
        md->topic_cnt == 1 && md->topics[0].err == RD_KAFKA_RESP_ERR_NO_ERROR)
        n = md->topics[0].partition_cnt;
    if (md)
        rd_kafka_metadata_destroy(md);
    if (t)
        rd_kafka_topic_destroy(t);
    return n;
}

/* Assign every partition, starting at the first record young enough to
 * concern a token that is still valid. */
static int assign_all(revoker *rev, int nparts)
{
    rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(nparts);
    int64_t since = (int64_t)time(NULL) * 1000 - rev->replay_ms;
    for (int p = 0; p < nparts; p++)
        rd_kafka_topic_partition_list_add(list, rev->topic, p)->offset = since;
    rd_kafka_resp_err_t err = rd_kafka_offsets_for_times(rev->consumer, list, 5000);
    if (err) {
        log_warn("kafka_offsets", "offsets_for_times: %s; reading from the start",
                 rd_kafka_err2str(err));
        for (int p = 0; p < nparts; p++)
            list->elems[p].offset = RD_KAFKA_OFFSET_BEGINNING;
    }
    for (int p = 0; p < nparts; p++)
        if (list->elems[p].offset < 0) /* no record that new: start at the end */
            list->elems[p].offset = RD_KAFKA_OFFSET_END;
    err = rd_kafka_assign(rev->consumer, list);
    rd_kafka_topic_partition_list_destroy(list);
    if (err) {
        log_error("kafka_assign", "%s", rd_kafka_err2str(err));
        return -1;
    }
    log_info("revocations_assigned", "%s: %d partitions", rev->topic, nparts);
    return 0;
}

static void apply_record(revoker *rev, const rd_kafka_message_t *m)
{
    vc_revocation rec;
    vc_revocation_status st = vc_revocation_parse(m->payload, m->len, time(NULL), &rec);
    if (st == VC_REVOCATION_MALFORMED) {
        log_warn("revocation_bad", "unparsable record at offset %lld", (long long)m->offset);
        return;
    }
    if (st == VC_REVOCATION_OK && revocations_add(rev->set, rec.jti, rec.exp) < 0)
        log_error("revocation_oom", "cannot record jti");
    metrics_inc(M_REVOCATIONS_CONSUMED);
}

static void wait_for_topic(revoker *rev, int *nparts)
{
    while (!atomic_load(&rev->stop) && (*nparts = topic_partitions(rev)) < 0) {
        log_warn("revocations_topic", "topic %s not available yet; retrying", rev->topic);
        for (int i = 0; i < 20 && !atomic_load(&rev->stop); i++)
            usleep(100000);
    }
}

static void *consume_main(void *arg)
{
    revoker *rev = arg;
    int nparts = -1;
    wait_for_topic(rev, &nparts);
    if (atomic_load(&rev->stop) || assign_all(rev, nparts) < 0)
        return NULL;
    int idle_polls = 0;
    while (!atomic_load(&rev->stop)) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rev->consumer, 100);
        if (!m) {
            /* Two empty polls in a row: the startup backlog is applied. */
            if (++idle_polls >= 2)
                atomic_store(&rev->ready, 1);
            continue;
        }
        idle_polls = 0;
        if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR)
            apply_record(rev, m);
        else if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            log_warn("kafka_consume", "%s", rd_kafka_message_errstr(m));
            metrics_inc(M_KAFKA_ERRORS);
        }
        rd_kafka_message_destroy(m);
    }
    return NULL;
}

revoker *revoker_start(const api_config *cfg, revocations *set)
{
    revoker *rev = calloc(1, sizeof *rev);
    if (!rev)
        return NULL;
    snprintf(rev->topic, sizeof rev->topic, "%s", cfg->revocation_topic);
    rev->set = set;
    rev->replay_ms = ((int64_t)cfg->token_ttl_s + 300) * 1000; /* + clock skew margin */
    rev->producer = make_producer(cfg->kafka_brokers);
    rev->consumer = make_consumer(cfg->kafka_brokers);
    if (!rev->producer || !rev->consumer)
        goto fail;
    if (pthread_create(&rev->poll_thread, NULL, poll_main, rev) != 0)
        goto fail;
    if (pthread_create(&rev->consume_thread, NULL, consume_main, rev) != 0) {
        atomic_store(&rev->stop, 1);
        pthread_join(rev->poll_thread, NULL);
        goto fail;
    }
    rev->threads_started = 1;
    return rev;
fail:
    if (rev->producer)
        rd_kafka_destroy(rev->producer);
    if (rev->consumer)
        rd_kafka_destroy(rev->consumer);
    free(rev);
    return NULL;
}

/* Waits for the report; returns 0 acked, -1 failed or no report in time. */
static int wait_delivery(delivery_wait *w)
{
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += 7; /* message.timeout.ms (5 s) normally fires first */
    pthread_mutex_lock(&w->lock);
    int rc = 0;
    while (!w->done && rc != ETIMEDOUT)
        rc = pthread_cond_timedwait(&w->cond, &w->lock, &deadline);
    int ok = w->done && w->err == RD_KAFKA_RESP_ERR_NO_ERROR;
    if (!w->done)
        log_error("kafka_delivery", "no delivery report in time");
    else if (w->err)
        log_error("kafka_delivery", "%s", rd_kafka_err2str(w->err));
    delivery_wait_unref_locked(w);
    return ok ? 0 : -1;
}

int revoker_publish(revoker *rev, const char *jti, int64_t exp)
{
    char *value = vc_revocation_dump(jti, exp);
    delivery_wait *w = value ? delivery_wait_new() : NULL;
    if (!w) {
        free(value);
        return -1;
    }
    rd_kafka_resp_err_t err = rd_kafka_producev(
        rev->producer, RD_KAFKA_V_TOPIC(rev->topic), RD_KAFKA_V_KEY(jti, strlen(jti)),
        RD_KAFKA_V_VALUE(value, strlen(value)), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
        RD_KAFKA_V_OPAQUE(w), RD_KAFKA_V_END);
    int rc;
    if (err) {
        log_error("kafka_produce", "%s", rd_kafka_err2str(err));
        pthread_mutex_lock(&w->lock);
        w->refs--; /* no report will come */
        delivery_wait_unref_locked(w);
        rc = -1;
    } else {
        rc = wait_delivery(w);
    }
    free(value);
    metrics_inc(rc == 0 ? M_REVOCATIONS_PRODUCED : M_KAFKA_ERRORS);
    return rc;
}

int revoker_ready(revoker *rev) { return atomic_load(&rev->ready); }

void revoker_stop(revoker *rev)
{
    if (!rev)
        return;
    atomic_store(&rev->stop, 1);
    if (rev->threads_started) {
        pthread_join(rev->consume_thread, NULL);
        pthread_join(rev->poll_thread, NULL);
    }
    rd_kafka_flush(rev->producer, 5000);
    rd_kafka_destroy(rev->producer);
    rd_kafka_consumer_close(rev->consumer);
    rd_kafka_destroy(rev->consumer);
    free(rev);
}
