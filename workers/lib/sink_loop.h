/*
 * sink_loop.h - the consumer loop's internal state, shared by its parts (not for sinks:
 * their interface is kconsumer.h).
 *
 *   kconsumer.c      sink_run(): setup, the main loop, stop
 *   sink_signals.c   SIGTERM/SIGINT -> graceful stop
 *   sink_metrics.c   the loop's Prometheus metrics
 *   sink_batch.c     batch bookkeeping and the commit/ordered gates
 *   sink_kafka.c     the consumer handle: configuration, pause/resume, librdkafka's logs
 *   sink_dlq.c       the dead-letter producer
 *   sink_attempt.c   one write attempt and its outcome (success, failure, retry state)
 *   sink_commit.c    Kafka offset commits and the lag gauge
 *   sink_writers.c   writer threads and settling their batches in order
 *   sink_rebalance.c partition assignment and revocation
 */
#ifndef WORKERS_SINK_LOOP_H
#define WORKERS_SINK_LOOP_H

#include "backoff.h"
#include "commit_gate.h"
#include "kconsumer.h"
#include "metrics.h"
#include "wclock.h"

#include <pthread.h>
#include <stdint.h>

#define SINK_DLQ_FLUSH_MS 5000

struct sink_loop;

struct sink_loop_metrics {
    _Atomic uint64_t *consumed;
    _Atomic uint64_t *batches;
    _Atomic uint64_t *batch_failures;
    _Atomic uint64_t *dlq;
    _Atomic int64_t *lag;
    _Atomic int64_t *paused;
    struct whist *batch_seconds;
};

/* A writer thread and the batch it writes (sink_config.writers of them). */
struct sink_writer {
    struct sink_loop *loop;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int job, done, quit; /* under mu */
    int rc;              /* under mu: the attempt's result */
    char err[512];       /* under mu */
    struct sink_batch b; /* the writer thread's while busy */
    int64_t started;     /* main thread: when `b` was handed over */
    int busy;            /* main thread: handed over, result not collected yet */
    int result;          /* main thread: the collected result (when !busy) */
};

struct sink_loop {
    const struct sink_config *cfg;
    const struct sink_ops *ops;
    void *ctx;
    rd_kafka_t *consumer;
    rd_kafka_t *dlq_producer;
    struct sink_batch batch; /* being filled by the main thread */
    /* Batches in flight, oldest first: slots head, head+1, ... (mod nwriters), inflight_n of
     * them; all written before `batch`. Main thread only. */
    struct sink_writer wr[SINK_MAX_WRITERS];
    unsigned nwriters, head, inflight_n;
    unsigned nstarted;       /* writer threads running (sink_writers_start) */
    struct sink_batch spare; /* empty; briefly the finished batch in sink_hand_over_due_batch() */
    struct commit_gate gate; /* in-order commits of concurrent writers (commit_gate.h) */
    struct commit_gate ordered; /* the sinks' in-order sections (sink_batch_ordered_begin) */
    int have_gate, have_ordered, have_dlq_mu; /* initialized: sink_run's cleanup destroys them */
    uint64_t next_seq;                        /* main thread: number of the next batch written */
    pthread_mutex_t dlq_mu; /* one batch's poison at a time: they share the failure count */
    struct backoff backoff;
    struct sink_loop_metrics m;
    int failing;         /* last write attempt failed: partitions are paused */
    int retrying_behind; /* retrying in order, more batches behind this one: one outage
                               * is over (and logged as such) only after the last of them */
    int64_t lag_by_part[SINK_MAX_PARTITIONS];
    int64_t commit_next[SINK_MAX_PARTITIONS]; /* written, not yet committed; -1 = none */
    int64_t last_commit_ms;
    _Atomic int dlq_delivery_failures;
};

static inline int64_t sink_now_ms(void) { return (int64_t)wclock_ms(); }

/* sink_signals.c */
int sink_stopping(void);

/* sink_metrics.c */
void sink_metrics_register(struct sink_loop_metrics *m);

/* sink_batch.c: both gates move together (see there) */
void sink_gates_reset(struct sink_loop *loop, uint64_t seq);
void sink_gates_finish(struct sink_loop *loop, uint64_t seq, int ok);

/* sink_kafka.c */
rd_kafka_t *sink_consumer_create(struct sink_loop *loop);
void sink_set_paused(struct sink_loop *loop, int pause);
void sink_kafka_log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf);

/* sink_dlq.c */
rd_kafka_t *sink_dlq_create(struct sink_loop *loop);
int sink_dlq_send(struct sink_loop *loop, struct sink_batch *b, char *err, size_t errcap);

/* sink_attempt.c */
int sink_attempt_batch(struct sink_loop *loop, struct sink_batch *b, char *err, size_t errcap);
void sink_batch_succeeded(struct sink_loop *loop, struct sink_batch *b, int64_t started_ms,
                          int async_commit);
void sink_batch_failed(struct sink_loop *loop, const struct sink_batch *b, const char *err);
int sink_process_batch_once(struct sink_loop *loop, struct sink_batch *b, int64_t started_ms,
                            int async_commit);

/* sink_commit.c */
void sink_commit_batch(struct sink_loop *loop, const struct sink_batch *b, int async);
void sink_commit_pending(struct sink_loop *loop, int async);
int sink_commit_due(const struct sink_loop *loop);
void sink_update_lag(struct sink_loop *loop, const struct sink_batch *b);

/* sink_writers.c */
int sink_writers_start(struct sink_loop *loop);
void sink_writers_stop(struct sink_loop *loop);
void sink_writer_start(struct sink_loop *loop);
struct sink_writer *sink_head_writer(struct sink_loop *loop);
void sink_pop_head(struct sink_loop *loop);
void sink_wait_all_writers(struct sink_loop *loop);
void sink_settle_finished(struct sink_loop *loop);
void sink_settle_all(struct sink_loop *loop);
int sink_hand_over_due_batch(struct sink_loop *loop);

/* sink_rebalance.c */
void sink_rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                       rd_kafka_topic_partition_list_t *parts, void *opaque);

/* kconsumer.c: retry a batch until written, revoked or stopping */
void sink_drain_batch(struct sink_loop *loop, struct sink_batch *b);

#endif
