/*
 * sink_kafka.c - the loop's consumer handle: its configuration (the loop's defaults, the
 * sink's, then the operator's properties), pausing and resuming every assigned partition,
 * and librdkafka's log lines in our format.
 */
#include "sink_loop.h"

#include "kafka_conf.h"
#include "wlog.h"

#include <string.h>

/* librdkafka's own log lines, in our structured format. */
void sink_kafka_log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    (void)rk;
    enum wlog_level lvl = level <= 3   ? WLOG_ERROR
                          : level <= 4 ? WLOG_WARN
                          : level <= 6 ? WLOG_INFO
                                       : WLOG_DEBUG;
    wlog(lvl, "librdkafka", "facility=%s msg=\"%s\"", fac, buf);
}

void sink_set_paused(struct sink_loop *loop, int pause)
{
    rd_kafka_topic_partition_list_t *assigned = NULL;
    if (rd_kafka_assignment(loop->consumer, &assigned) != RD_KAFKA_RESP_ERR_NO_ERROR)
        return;
    rd_kafka_resp_err_t err = pause ? rd_kafka_pause_partitions(loop->consumer, assigned)
                                    : rd_kafka_resume_partitions(loop->consumer, assigned);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR)
        wlog_warn(pause ? "pause failed" : "resume failed", "err=\"%s\"", rd_kafka_err2str(err));
    rd_kafka_topic_partition_list_destroy(assigned);
    atomic_store(loop->m.paused, pause ? 1 : 0);
}

rd_kafka_t *sink_consumer_create(struct sink_loop *loop)
{
    const struct sink_config *c = loop->cfg;
    char err[512];
    const char *const props[][2] = {
        { "bootstrap.servers", c->brokers },
        { "group.id", c->group },
        { "client.id", c->client_id },
        { "enable.auto.commit", "false" },
        { "enable.auto.offset.store", "false" },
        { "auto.offset.reset", "earliest" },
        /* Keep fetched-but-unprocessed data (and so RSS) bounded: librdkafka's defaults
         * prefetch up to 100k messages and 64 MB, which alone would break the 64 MB RSS
         * budget on a preloaded topic (~0.7 kB of RSS per queued message). Not much lower
         * either: both limits apply to the consumer queue that every partition's fetch
         * queue is forwarded to, and once it reaches either one, librdkafka before 2.1
         * (Debian 12 ships 2.0.2) stops fetching and its broker thread sleeps up to a
         * fixed 1 s (rd_kafka_max_block_ms) before looking again, so the queue must hold
         * more than a second of draining or the sink starves. A faster sink raises these
         * through sink_config.sink_props (the chat sink does). */
        { "queued.max.messages.kbytes", "12288" },
        { "queued.min.messages", "30000" },
        { "fetch.max.bytes", "4194304" },
        { "max.partition.fetch.bytes", "1048576" },
        /* Eager rebalancing: every revoke takes all partitions, so dropping an uncommitted
         * batch on revoke is safe (the next assignment seeks to the stored offsets).
         * Cooperative protocols would keep partitions whose dropped messages are never
         * re-fetched; such an override is rejected below. */
        { "partition.assignment.strategy", "range,roundrobin" },
        /* A dead member is noticed within seconds, so its partitions move quickly. */
        { "session.timeout.ms", "10000" },
        { "heartbeat.interval.ms", "1000" },
    };
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    if (conf == NULL)
        return NULL;
    if (vc_kafka_conf_set_table(conf, props, sizeof props / sizeof props[0], err, sizeof err) !=
            0 ||
        vc_kafka_conf_apply_list(conf, c->sink_props, err, sizeof err) != 0 ||
        vc_kafka_conf_apply_list(conf, c->kafka_props, err, sizeof err) != 0) {
        wlog_error("kafka config", "err=\"%s\"", err);
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    char strategy[128];
    size_t slen = sizeof strategy;
    if (rd_kafka_conf_get(conf, "partition.assignment.strategy", strategy, &slen) ==
            RD_KAFKA_CONF_OK &&
        strstr(strategy, "cooperative") != NULL) {
        wlog_error("kafka config", "err=\"cooperative rebalancing is not supported by the sinks\"");
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    rd_kafka_conf_set_rebalance_cb(conf, sink_rebalance_cb);
    rd_kafka_conf_set_log_cb(conf, sink_kafka_log_cb);
    rd_kafka_conf_set_opaque(conf, loop);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
    if (rk == NULL) {
        wlog_error("kafka consumer create", "err=\"%s\"", err);
        return NULL;
    }
    rd_kafka_poll_set_consumer(rk);
    rd_kafka_topic_partition_list_t *topics = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(topics, c->topic, RD_KAFKA_PARTITION_UA);
    rd_kafka_resp_err_t serr = rd_kafka_subscribe(rk, topics);
    rd_kafka_topic_partition_list_destroy(topics);
    if (serr != RD_KAFKA_RESP_ERR_NO_ERROR) {
        wlog_error("kafka subscribe", "topic=%s err=\"%s\"", c->topic, rd_kafka_err2str(serr));
        rd_kafka_destroy(rk);
        return NULL;
    }
    return rk;
}
