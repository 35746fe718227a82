/*
 * commit_gate.h - in-order commits for batches written concurrently (lib/kconsumer.c with
 * more than one writer; the chat sink's two PostgreSQL connections).
 *
 * Batches are numbered in consumption order (seq). Each may do its slow part (COPY) in
 * parallel with the others, but before it makes itself durable (the offsets upsert and
 * COMMIT) it waits for its turn: every earlier batch has finished. If one of them failed, the
 * turn is refused and the batch must roll back: committing it would store offsets past rows
 * that were never written. The loop then retries the failed batch and the refused ones in
 * order. Thread-safe; the loop resets the gate whenever nothing is in flight.
 */
#ifndef WORKERS_COMMIT_GATE_H
#define WORKERS_COMMIT_GATE_H

#include <pthread.h>
#include <stdint.h>

struct commit_gate {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    uint64_t next;         /* every batch before this one finished successfully */
    uint64_t first_failed; /* lowest seq that failed since the last reset; UINT64_MAX = none */
};

/* 0, or -1 when the mutex or condition variable cannot be set up. */
int commit_gate_init(struct commit_gate *g);
void commit_gate_destroy(struct commit_gate *g);

/* Nothing is in flight: `seq` is the next batch to commit; earlier failures are forgotten
 * (they were retried or dropped). */
void commit_gate_reset(struct commit_gate *g, uint64_t seq);

/* Block until every batch before `seq` has finished. 0: all succeeded, `seq` may commit;
 * -1: one of them failed, `seq` must not commit. */
int commit_gate_await(struct commit_gate *g, uint64_t seq);

/* Batch `seq` finished its attempt (ok = durable). Wakes the batches waiting for it. */
void commit_gate_finish(struct commit_gate *g, uint64_t seq, int ok);

#endif
