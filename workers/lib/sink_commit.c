/*
 * sink_commit.c - Kafka offset commits of written batches, at most every
 * commit_interval_ms (always on stop and revoke), and the lag gauge.
 */
#include "sink_loop.h"

#include "wlog.h"

void sink_update_lag(struct sink_loop *loop, const struct sink_batch *b)
{
    for (size_t i = 0; i < b->nparts; i++) {
        const struct sink_part_range *r = &b->parts[i];
        int64_t lo = 0, hi = 0;
        if (r->partition < 0 || r->partition >= SINK_MAX_PARTITIONS)
            continue;
        if (rd_kafka_get_watermark_offsets(loop->consumer, b->topic, r->partition, &lo, &hi) ==
                RD_KAFKA_RESP_ERR_NO_ERROR &&
            hi >= 0)
            loop->lag_by_part[r->partition] = hi > r->next_offset ? hi - r->next_offset : 0;
    }
    int64_t total = 0;
    for (int p = 0; p < SINK_MAX_PARTITIONS; p++)
        total += loop->lag_by_part[p];
    atomic_store(loop->m.lag, total);
}

size_t sink_offsets_note(int64_t *pending, size_t max, const struct sink_batch *b)
{
    size_t misfits = 0;
    for (size_t i = 0; i < b->nparts; i++) {
        const struct sink_part_range *r = &b->parts[i];
        if (r->partition < 0 || (size_t)r->partition >= max)
            misfits++;
        else if (r->next_offset > pending[r->partition])
            pending[r->partition] = r->next_offset;
    }
    return misfits;
}

/* Commit the list (when it holds anything) and free it. A failed commit is only logged: the
 * stores hold the authoritative offsets and every write is idempotent, so the worst case is
 * a replay. */
static void commit_list(struct sink_loop *loop, rd_kafka_topic_partition_list_t *offs, int async)
{
    if (offs->cnt > 0) {
        rd_kafka_resp_err_t err = rd_kafka_commit(loop->consumer, offs, async);
        if (err != RD_KAFKA_RESP_ERR_NO_ERROR)
            wlog_warn("kafka commit failed", "err=\"%s\"", rd_kafka_err2str(err));
    }
    rd_kafka_topic_partition_list_destroy(offs);
}

/* Commit every written-but-uncommitted offset. */
void sink_commit_pending(struct sink_loop *loop, int async)
{
    rd_kafka_topic_partition_list_t *offs = rd_kafka_topic_partition_list_new(4);
    for (int p = 0; p < SINK_MAX_PARTITIONS; p++) {
        if (loop->commit_next[p] < 0)
            continue;
        rd_kafka_topic_partition_list_add(offs, loop->cfg->topic, p)->offset = loop->commit_next[p];
        loop->commit_next[p] = -1;
    }
    commit_list(loop, offs, async);
    loop->last_commit_ms = sink_now_ms();
}

int sink_commit_due(const struct sink_loop *loop)
{
    return sink_now_ms() - loop->last_commit_ms >= loop->cfg->commit_interval_ms;
}

/*
 * After a batch was written: note its offsets and commit what is pending once
 * commit_interval_ms has passed, or right away when `async` is 0 (stop, revoke). Each
 * OffsetCommit costs the broker far more CPU than its size suggests, CPU the stores need on
 * a small machine; Kafka's committed offsets only matter when a store cannot tell where to
 * resume, so lagging them costs at most a longer (idempotent) replay then.
 */
void sink_commit_batch(struct sink_loop *loop, const struct sink_batch *b, int async)
{
    if (sink_offsets_note(loop->commit_next, SINK_MAX_PARTITIONS, b) > 0) {
        /* a partition beyond the table (never in practice): commit this batch as it is */
        rd_kafka_topic_partition_list_t *offs = rd_kafka_topic_partition_list_new((int)b->nparts);
        for (size_t i = 0; i < b->nparts; i++)
            rd_kafka_topic_partition_list_add(offs, b->topic, b->parts[i].partition)->offset =
                b->parts[i].next_offset;
        commit_list(loop, offs, async);
    }
    if (!async || sink_commit_due(loop))
        sink_commit_pending(loop, async);
}
