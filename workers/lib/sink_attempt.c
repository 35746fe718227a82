/*
 * sink_attempt.c - one attempt at a batch (DLQ, then the sink's write) and what its outcome
 * does to the loop: commit and account on success; count, log once and pause consumption on
 * failure, resuming when the store recovers.
 */
#include "sink_loop.h"

#include "wlog.h"

/* DLQ + write: the part of a batch that may run on the writer thread. 0 = durable. */
int sink_attempt_batch(struct sink_loop *loop, struct sink_batch *b, char *err, size_t errcap)
{
    if (b->npoison > 0 && !b->dlq_done) {
        pthread_mutex_lock(&loop->dlq_mu);
        int sent = sink_dlq_send(loop, b, err, errcap);
        pthread_mutex_unlock(&loop->dlq_mu);
        if (sent != 0)
            return -1;
        b->dlq_done = 1;
    }
    return loop->ops->write_batch(loop->ctx, b, err, errcap);
}

/* Main thread, after a successful attempt: commit, account, release. */
void sink_batch_succeeded(struct sink_loop *loop, struct sink_batch *b, int64_t started_ms,
                          int async_commit)
{
    sink_commit_batch(loop, b, async_commit);
    sink_update_lag(loop, b);
    atomic_fetch_add(loop->m.batches, 1);
    whist_observe(loop->m.batch_seconds, (double)(sink_now_ms() - started_ms) / 1000.0);
    if (loop->failing && !loop->retrying_behind) {
        wlog_info("store recovered, resuming consumption", "attempts=%u", loop->backoff.attempt);
        loop->failing = 0;
        sink_set_paused(loop, 0);
    }
    backoff_reset(&loop->backoff);
    sink_batch_clear(b, loop->ops->free_decoded, loop->ctx);
}

void sink_batch_failed(struct sink_loop *loop, const struct sink_batch *b, const char *err)
{
    atomic_fetch_add(loop->m.batch_failures, 1);
    if (!loop->failing) {
        wlog_warn("batch write failed, pausing consumption", "messages=%zu err=\"%s\"", b->n, err);
        loop->failing = 1;
        sink_set_paused(loop, 1);
    } else {
        wlog_debug("batch write still failing", "err=\"%s\"", err);
    }
}

/* One attempt at DLQ + write + commit on the main thread. 0 when the batch is done and released. */
int sink_process_batch_once(struct sink_loop *loop, struct sink_batch *b, int64_t started_ms,
                            int async_commit)
{
    char err[512] = "";
    if (b->seq == 0)
        b->seq = loop->next_seq++;
    sink_gates_reset(loop, b->seq); /* nothing else is in flight now: its turn has come */
    int rc = sink_attempt_batch(loop, b, err, sizeof err);
    sink_gates_finish(loop, b->seq, rc == 0);
    if (rc != 0) {
        sink_batch_failed(loop, b, err);
        return -1;
    }
    sink_batch_succeeded(loop, b, started_ms, async_commit);
    return 0;
}
