/*
 * sink_rebalance.c - partition assignment (seek to the offsets stored with the data) and
 * revocation (finish or drop the pending batches, commit, unassign). Runs inside
 * rd_kafka_consumer_poll() on the main thread and first waits for every writer, so
 * load_offsets() never runs while a batch is being written.
 */
#include "sink_loop.h"

#include "wlog.h"

#include <inttypes.h>
#include <time.h>

#define ASSIGN_TRIES 3

/* Inside a rebalance callback (no polling allowed): wait for the writers and commit, in
 * order, the batches that succeeded. From the first one that did not, drop them all
 * uncommitted (the next owner re-reads them) and return -1: the newer `batch` must then not
 * be written either, or the offsets stored with it would pass over the dropped ones. */
static int settle_inflight_in_rebalance(struct sink_loop *loop)
{
    sink_wait_all_writers(loop);
    while (loop->inflight_n > 0 && sink_head_writer(loop)->result == 0) {
        struct sink_writer *w = sink_head_writer(loop);
        sink_batch_succeeded(loop, &w->b, w->started, 0);
        sink_pop_head(loop);
    }
    if (loop->inflight_n == 0)
        return 0;
    size_t dropped = 0;
    while (loop->inflight_n > 0) {
        dropped += sink_head_writer(loop)->b.n;
        sink_batch_clear(&sink_head_writer(loop)->b, loop->ops->free_decoded, loop->ctx);
        sink_pop_head(loop);
    }
    wlog_info("dropping uncommitted batch on revoke", "messages=%zu", dropped);
    return -1;
}

static void handle_assign(struct sink_loop *loop, rd_kafka_topic_partition_list_t *parts)
{
    char err[512] = "";
    if (settle_inflight_in_rebalance(loop) != 0) /* load_offsets() must not race a write */
        sink_batch_clear(&loop->batch, loop->ops->free_decoded, loop->ctx);
    for (int i = 0; i < parts->cnt; i++)
        parts->elems[i].offset = RD_KAFKA_OFFSET_INVALID;
    if (loop->cfg->replay_from_start) {
        for (int i = 0; i < parts->cnt; i++)
            parts->elems[i].offset = RD_KAFKA_OFFSET_BEGINNING;
        wlog_info("replaying assigned partitions from the start", "partitions=%d", parts->cnt);
        goto assign;
    }
    int loaded = -1;
    struct backoff b;
    backoff_init(&b, 100, 1000, (uint64_t)sink_now_ms());
    for (int attempt = 0; attempt < ASSIGN_TRIES && loaded != 0; attempt++) {
        loaded = loop->ops->load_offsets(loop->ctx, parts, err, sizeof err);
        if (loaded != 0 && attempt + 1 < ASSIGN_TRIES) {
            struct timespec ts = { 0, (long)backoff_next(&b) * 1000000L };
            nanosleep(&ts, NULL);
        }
    }
    if (loaded != 0) {
        /* Safe fallback: committed offsets never pass the stored ones, and writes are
         * idempotent, so starting earlier only replays already-applied messages. */
        for (int i = 0; i < parts->cnt; i++)
            parts->elems[i].offset = RD_KAFKA_OFFSET_INVALID;
        wlog_warn("stored offsets unavailable, using committed offsets", "err=\"%s\"", err);
    }
assign:
    for (int i = 0; i < parts->cnt; i++)
        wlog_info("partition assigned", "topic=%s partition=%" PRId32 " start_offset=%" PRId64,
                  parts->elems[i].topic, parts->elems[i].partition, parts->elems[i].offset);
    rd_kafka_resp_err_t aerr = rd_kafka_assign(loop->consumer, parts);
    if (aerr != RD_KAFKA_RESP_ERR_NO_ERROR)
        wlog_error("assign failed", "err=\"%s\"", rd_kafka_err2str(aerr));
    /* New partitions must not flow while the store is down; otherwise make sure none is
     * left paused from an earlier assignment (librdkafka keeps the pause flag). */
    sink_set_paused(loop, loop->failing);
}

/* Every pending batch is gone with the revoked partitions, so nothing is left to retry and
 * nothing would lift the pause: a failure state kept here would make handle_assign() start
 * the next partitions paused with no batch to resume them. The partitions are resumed
 * before they go (librdkafka keeps a pause across a reassignment); the next assignment's
 * first batch probes the stores again and pauses if they are down. */
static void forget_failure_on_revoke(struct sink_loop *loop)
{
    if (!loop->failing)
        return;
    wlog_info("batch dropped on revoke while failing; the next assignment probes the stores", NULL);
    loop->failing = 0;
    sink_set_paused(loop, 0); /* librdkafka keeps a partition's pause across unassign + assign */
}

static void handle_revoke(struct sink_loop *loop, rd_kafka_topic_partition_list_t *parts)
{
    /* Finish the pending batches if the stores look healthy (saves the next owner a
     * replay); otherwise drop them: not committed, so the next owner re-reads them. */
    if (settle_inflight_in_rebalance(loop) == 0 && loop->batch.n > 0 && !loop->failing)
        sink_process_batch_once(loop, &loop->batch, sink_now_ms(), 0);
    if (loop->batch.n > 0)
        wlog_info("dropping uncommitted batch on revoke", "messages=%zu", loop->batch.n);
    sink_batch_clear(&loop->batch, loop->ops->free_decoded, loop->ctx);
    forget_failure_on_revoke(loop);
    for (int i = 0; i < parts->cnt; i++) {
        if (parts->elems[i].partition >= 0 && parts->elems[i].partition < SINK_MAX_PARTITIONS)
            loop->lag_by_part[parts->elems[i].partition] = 0;
        wlog_info("partition revoked", "topic=%s partition=%" PRId32, parts->elems[i].topic,
                  parts->elems[i].partition);
    }
    sink_commit_pending(loop, 0); /* what was written, before the partitions go */
    rd_kafka_resp_err_t uerr = rd_kafka_assign(loop->consumer, NULL);
    if (uerr != RD_KAFKA_RESP_ERR_NO_ERROR)
        wlog_error("unassign failed", "err=\"%s\"", rd_kafka_err2str(uerr));
}

void sink_rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                       rd_kafka_topic_partition_list_t *parts, void *opaque)
{
    (void)rk;
    struct sink_loop *loop = opaque;
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS)
        handle_assign(loop, parts);
    else
        handle_revoke(loop, parts);
}
