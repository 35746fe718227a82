/*
 * kconsumer.c - shared Kafka consumer loop for the sinks (contract in kconsumer.h; its
 * parts are listed in sink_loop.h).
 *
 * The main thread polls, decodes and fills the next batch while writer threads run
 * write_batch() (and the DLQ step) on earlier ones, so the stores' round trips overlap the
 * decoding instead of adding to it. With sink_config.writers = 1 (the vote sink) one batch
 * is in flight, written strictly one after another; with N (the chat sink: 2, one
 * PostgreSQL connection each) up to N batches are in flight, handed out in consumption
 * order; each sink commits its store in that order through the commit gate
 * (commit_gate.h, sink_batch_await_turn()), so a batch never becomes durable before an
 * earlier one, nor after an earlier one failed. The main thread alone commits Kafka
 * offsets, collecting results oldest first, and only once a batch and every earlier one
 * were written. A failed write is retried on the main thread (partitions paused), followed
 * by the batches in flight behind it, in order, before anything newer is written.
 * librdkafka's own threads handle fetching and group heartbeats.
 */
#include "sink_loop.h"

#include "wlog.h"

#include <inttypes.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#define STOP_RETRY_MS 10000 /* how long a stopping worker keeps retrying its last batch */

static void accept_message(struct sink_loop *loop, rd_kafka_message_t *rkm)
{
    if (rkm->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        /* Transient broker/partition errors are reported here; librdkafka recovers itself. */
        if (rkm->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
            wlog_warn("consumer error", "err=\"%s\"", rd_kafka_message_errstr(rkm));
        rd_kafka_message_destroy(rkm);
        return;
    }
    char reason[SINK_REASON_MAX] = "";
    void *decoded = loop->ops->decode(loop->ctx, rkm, reason, sizeof reason);
    atomic_fetch_add(loop->m.consumed, 1);
    if (sink_batch_add(&loop->batch, rkm, decoded, reason) != 0) {
        /* Out of memory or too many partitions: drop it uncommitted; it will be re-read. */
        wlog_error("batch add failed", "partition=%" PRId32, rkm->partition);
        if (decoded)
            loop->ops->free_decoded(loop->ctx, decoded);
        rd_kafka_message_destroy(rkm);
    }
}

/* Sleep `ms` in short poll slices so group membership and rebalances keep being served. */
static void wait_serving_group(struct sink_loop *loop, uint32_t ms)
{
    int64_t until = sink_now_ms() + ms;
    while (!sink_stopping() && sink_now_ms() < until) {
        rd_kafka_message_t *rkm = rd_kafka_consumer_poll(loop->consumer, 100);
        if (rkm != NULL)
            accept_message(loop, rkm); /* paused partitions deliver nothing; keep order anyway */
    }
}

/* Retry the current batch until it succeeds, the batch is revoked, or stop is requested. */
void sink_drain_batch(struct sink_loop *loop, struct sink_batch *b)
{
    int64_t started = sink_now_ms();
    int written = 0;
    while (b->n > 0 && !(written = sink_process_batch_once(loop, b, started, 1) == 0)) {
        if (sink_stopping())
            return;
        wait_serving_group(loop, backoff_next(&loop->backoff));
    }
    if (!written && b->n == 0 && loop->failing) {
        /* Batch vanished in a revoke while failing: resume; the next batch re-probes. */
        loop->failing = 0;
        sink_set_paused(loop, 0);
    }
}

/* Stopping: retry one batch for up to STOP_RETRY_MS; 0 when it was written. */
static int flush_one(struct sink_loop *loop, struct sink_batch *b)
{
    int64_t started = sink_now_ms();
    while (b->n > 0 && sink_now_ms() - started < STOP_RETRY_MS) {
        if (sink_process_batch_once(loop, b, started, 0) == 0)
            break;
        struct timespec ts = { 0, (long)backoff_next(&loop->backoff) * 1000000L };
        nanosleep(&ts, NULL);
    }
    return b->n > 0 ? -1 : 0;
}

static void final_flush(struct sink_loop *loop)
{
    sink_wait_all_writers(loop);
    /* In order: a newer batch is written (or its success committed) only when every older
     * one was. */
    int written = 1;
    size_t unwritten = 0;
    while (loop->inflight_n > 0) {
        struct sink_writer *w = sink_head_writer(loop);
        if (written && w->result == 0)
            sink_batch_succeeded(loop, &w->b, w->started, 0);
        else if (!written || flush_one(loop, &w->b) != 0)
            written = 0;
        unwritten += w->b.n;
        sink_batch_clear(&w->b, loop->ops->free_decoded, loop->ctx);
        sink_pop_head(loop);
    }
    if (!written || flush_one(loop, &loop->batch) != 0)
        wlog_warn("stopping with an unwritten batch; it will be replayed", "messages=%zu",
                  unwritten + loop->batch.n);
    sink_batch_clear(&loop->batch, loop->ops->free_decoded, loop->ctx);
}

static int batch_is_due(const struct sink_loop *loop, int64_t first_ms)
{
    return loop->batch.n >= (size_t)loop->cfg->batch_max ||
           (loop->batch.n > 0 && sink_now_ms() - first_ms >= loop->cfg->batch_ms);
}

/* Consume, batch and write until stop is requested, then flush and commit. */
static void run_loop(struct sink_loop *loop)
{
    const struct sink_config *cfg = loop->cfg;
    int64_t first_ms = 0;
    while (!sink_stopping()) {
        sink_settle_finished(loop); /* commit promptly, even when nothing new arrives */
        if (batch_is_due(loop, first_ms)) {
            if (sink_hand_over_due_batch(loop))
                continue;
            sink_settle_all(loop); /* a failed one is retried first */
            if (sink_stopping())
                break;
            if (loop->failing || loop->inflight_n > 0)
                sink_drain_batch(loop, &loop->batch); /* stores unhealthy: write synchronously */
            else
                sink_writer_start(loop);
            continue;
        }
        int timeout = loop->inflight_n > 0 ? 5 : 200;
        if (loop->batch.n > 0) {
            int64_t left = first_ms + cfg->batch_ms - sink_now_ms();
            timeout = left > 0 ? (int)left : 0;
        }
        rd_kafka_message_t *rkm = rd_kafka_consumer_poll(loop->consumer, timeout);
        if (rkm == NULL) {
            if (sink_commit_due(loop))
                sink_commit_pending(loop, 1); /* quiet topic: commit what the last batches wrote */
            continue;
        }
        if (loop->batch.n == 0)
            first_ms = sink_now_ms();
        accept_message(loop, rkm);
    }
    wlog_info("stop requested, finishing batch", "messages=%zu", loop->batch.n);
    final_flush(loop);
    sink_commit_pending(loop, 0); /* batches written since the last interval commit */
}

static void init_batch(struct sink_loop *loop, struct sink_batch *b)
{
    b->topic = loop->cfg->topic;
    b->gate = &loop->gate;
    b->ordered = &loop->ordered;
}

int sink_run(const struct sink_config *cfg, const struct sink_ops *ops, void *ctx)
{
    int rc = -1;
    struct sink_loop *loop = calloc(1, sizeof *loop);
    if (loop == NULL)
        return -1;
    loop->cfg = cfg;
    loop->ops = ops;
    loop->ctx = ctx;
    init_batch(loop, &loop->batch);
    init_batch(loop, &loop->spare);
    loop->next_seq = 1;
    for (int p = 0; p < SINK_MAX_PARTITIONS; p++)
        loop->commit_next[p] = -1;
    loop->last_commit_ms = sink_now_ms();
    sink_metrics_register(&loop->m);
    backoff_init(&loop->backoff, (uint32_t)cfg->backoff_base_ms, (uint32_t)cfg->backoff_cap_ms,
                 (uint64_t)sink_now_ms() ^ (uint64_t)getpid());
    if (commit_gate_init(&loop->gate) != 0)
        goto error;
    loop->have_gate = 1;
    if (commit_gate_init(&loop->ordered) != 0)
        goto error;
    loop->have_ordered = 1;
    if (pthread_mutex_init(&loop->dlq_mu, NULL) != 0)
        goto error;
    loop->have_dlq_mu = 1;
    loop->dlq_producer = sink_dlq_create(loop);
    if (loop->dlq_producer == NULL)
        goto error;
    if (sink_writers_start(loop) != 0) {
        wlog_error("cannot start the writer threads", NULL);
        goto error;
    }
    loop->consumer = sink_consumer_create(loop);
    if (loop->consumer == NULL)
        goto error;
    wlog_info("consumer started", "topic=%s group=%s dlq=%s batch_max=%ld batch_ms=%ld writers=%u",
              cfg->topic, cfg->group, cfg->dlq_topic, cfg->batch_max, cfg->batch_ms,
              loop->nwriters);
    run_loop(loop);
    rc = 0;
error:
    sink_writers_stop(loop);
    if (loop->consumer != NULL) {
        rd_kafka_resp_err_t cerr = rd_kafka_consumer_close(loop->consumer);
        if (cerr != RD_KAFKA_RESP_ERR_NO_ERROR)
            wlog_warn("consumer close", "err=\"%s\"", rd_kafka_err2str(cerr));
        rd_kafka_destroy(loop->consumer);
    }
    if (loop->dlq_producer != NULL) {
        rd_kafka_flush(loop->dlq_producer, SINK_DLQ_FLUSH_MS);
        rd_kafka_destroy(loop->dlq_producer);
    }
    sink_batch_free(&loop->batch);
    for (unsigned i = 0; i < loop->nwriters; i++)
        sink_batch_free(&loop->wr[i].b);
    sink_batch_free(&loop->spare);
    if (loop->have_dlq_mu)
        pthread_mutex_destroy(&loop->dlq_mu);
    if (loop->have_ordered)
        commit_gate_destroy(&loop->ordered);
    if (loop->have_gate)
        commit_gate_destroy(&loop->gate);
    free(loop);
    if (rc == 0)
        wlog_info("stopped", NULL);
    return rc;
}
