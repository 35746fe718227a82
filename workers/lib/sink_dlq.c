/*
 * sink_dlq.c - the dead-letter producer: a batch's poison messages go to the DLQ topic with
 * their reason and source before the batch is written, acknowledged or the attempt fails.
 */
#include "sink_loop.h"

#include "kafka_conf.h"
#include "wlog.h"

#include <inttypes.h>
#include <stdio.h>

static void dlq_delivery_report(rd_kafka_t *rk, const rd_kafka_message_t *rkm, void *opaque)
{
    (void)rk;
    struct sink_loop *loop = opaque;
    if (rkm->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        atomic_fetch_add(&loop->dlq_delivery_failures, 1);
        wlog_warn("dlq delivery failed", "err=\"%s\"", rd_kafka_err2str(rkm->err));
    }
}

rd_kafka_t *sink_dlq_create(struct sink_loop *loop)
{
    char err[512];
    const char *const props[][2] = {
        { "bootstrap.servers", loop->cfg->brokers },
        { "enable.idempotence", "true" },
        { "linger.ms", "5" },
        { "client.id", loop->cfg->client_id },
    };
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    if (conf == NULL)
        return NULL;
    if (vc_kafka_conf_set_table(conf, props, sizeof props / sizeof props[0], err, sizeof err)) {
        wlog_error("dlq producer config", "err=\"%s\"", err);
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    rd_kafka_conf_set_dr_msg_cb(conf, dlq_delivery_report);
    rd_kafka_conf_set_log_cb(conf, sink_kafka_log_cb);
    rd_kafka_conf_set_opaque(conf, loop);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    if (rk == NULL)
        wlog_error("dlq producer create", "err=\"%s\"", err); /* conf freed by rd_kafka_new */
    return rk;
}

/* Produce every poison entry with its reason and source; 0 once all are acknowledged. */
int sink_dlq_send(struct sink_loop *loop, struct sink_batch *b, char *err, size_t errcap)
{
    atomic_store(&loop->dlq_delivery_failures, 0);
    for (size_t i = 0; i < b->n; i++) {
        struct sink_entry *e = &b->entries[i];
        if (e->decoded != NULL)
            continue;
        char source[256];
        snprintf(source, sizeof source, "%s:%" PRId32 ":%" PRId64, b->topic, e->rkm->partition,
                 e->rkm->offset);
        rd_kafka_resp_err_t rerr = rd_kafka_producev(
            loop->dlq_producer, RD_KAFKA_V_TOPIC(loop->cfg->dlq_topic),
            RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_KEY(e->rkm->key, e->rkm->key_len),
            RD_KAFKA_V_VALUE(e->rkm->payload, e->rkm->len),
            RD_KAFKA_V_HEADER("dlq-reason", e->reason, -1),
            RD_KAFKA_V_HEADER("dlq-source", source, -1), RD_KAFKA_V_END);
        if (rerr != RD_KAFKA_RESP_ERR_NO_ERROR) {
            snprintf(err, errcap, "dlq produce: %s", rd_kafka_err2str(rerr));
            return -1;
        }
    }
    rd_kafka_resp_err_t ferr = rd_kafka_flush(loop->dlq_producer, SINK_DLQ_FLUSH_MS);
    if (ferr != RD_KAFKA_RESP_ERR_NO_ERROR || atomic_load(&loop->dlq_delivery_failures) > 0) {
        snprintf(err, errcap, "dlq not acknowledged: %s", rd_kafka_err2str(ferr));
        return -1;
    }
    for (size_t i = 0; i < b->n; i++)
        if (b->entries[i].decoded == NULL)
            wlog_warn("poison message sent to dlq",
                      "topic=%s partition=%" PRId32 " offset=%" PRId64 " reason=\"%s\"", b->topic,
                      b->entries[i].rkm->partition, b->entries[i].rkm->offset,
                      b->entries[i].reason);
    atomic_fetch_add(loop->m.dlq, b->npoison);
    return 0;
}
