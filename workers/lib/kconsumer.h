/*
 * kconsumer.h - the Kafka consumer loop shared by the sinks (librdkafka high-level consumer).
 *
 * The loop owns batching, offsets and failure handling; a sink only decodes messages and
 * writes a batch. Guarantees the loop gives every sink:
 *   - Kafka offsets are committed only after write_batch() succeeded for the whole batch
 *     (enable.auto.commit=false, enable.auto.offset.store=false); at most every
 *     commit_interval_ms, and always on revoke and stop (the stores hold the offsets the
 *     sinks resume from; Kafka's are a fallback that may lag, never lead).
 *   - On partition assignment, the sink's load_offsets() supplies the offsets stored with
 *     the data; those win over Kafka's committed ones (the store is the source of truth).
 *   - A failing write_batch() pauses every assigned partition, retries the same batch with
 *     bounded exponential backoff + jitter while still calling rd_kafka_consumer_poll() (so
 *     the member stays in the group: max.poll.interval.ms is never exceeded), logs once per
 *     state change, and resumes by itself.
 *   - Poison messages (decode() returned NULL) are produced to the DLQ topic with header
 *     `dlq-reason` before the batch is written; their offsets are covered by the batch so the
 *     partition never blocks.
 *   - SIGTERM/SIGINT: finish (or give up retrying) the current batch, commit, close.
 *   - With sink_config.writers > 1 (the chat sink), up to that many batches are written at
 *     once, each on its own writer thread, handed out in consumption order. The loop still
 *     settles them strictly in order (Kafka commit of batch k only after k and every earlier
 *     batch succeeded; a failed batch and every later one in flight retried in order, on the
 *     main thread, before anything newer). The sink must keep its store's order too: before
 *     making a batch durable it calls sink_batch_await_turn(), which waits until every
 *     earlier batch finished and refuses the commit when one of them failed. A part of the
 *     write that must also run in batch order (the vote sink's Redis scripts: they advance
 *     the stored offset and apply the voter rule) is bracketed by sink_batch_ordered_begin()
 *     and sink_batch_ordered_end(); the loop ends it with the batch's result if the sink
 *     returned without doing so.
 */
#ifndef WORKERS_KCONSUMER_H
#define WORKERS_KCONSUMER_H

#include "commit_gate.h"

#include <librdkafka/rdkafka.h>
#include <stddef.h>
#include <stdint.h>

#define SINK_MAX_PARTITIONS 256
#define SINK_MAX_WRITERS 4
#define SINK_REASON_MAX 128

struct sink_entry {
    rd_kafka_message_t *rkm;
    void *decoded;                /* sink-owned decoded form; NULL = poison */
    char reason[SINK_REASON_MAX]; /* why it is poison */
};

/* Offsets one batch covers in one partition: [first_offset, next_offset). */
struct sink_part_range {
    int32_t partition;
    int64_t first_offset;
    int64_t next_offset;
};

struct sink_batch {
    const char *topic;
    struct sink_entry *entries; /* in consumption order (per-partition order kept) */
    size_t n;
    size_t cap;
    struct sink_part_range parts[SINK_MAX_PARTITIONS];
    size_t nparts;
    size_t npoison;
    uint64_t seq;             /* consumption order among written batches (0 = not yet numbered) */
    unsigned writer;          /* which writer (0..writers-1) writes it: a sink keeps one
                                    * store connection per writer */
    struct commit_gate *gate; /* the loop's; see sink_batch_await_turn() */
    struct commit_gate *ordered; /* the loop's; see sink_batch_ordered_begin() */
    int dlq_done;                /* poison already in the DLQ: don't re-send on retry */
    /* How entries' messages are released; NULL = rd_kafka_message_destroy (tests override). */
    void (*destroy_msg)(rd_kafka_message_t *rkm);
};

struct sink_ops {
    /* Decode one message; NULL (with reason filled) marks it poison. */
    void *(*decode)(void *ctx, const rd_kafka_message_t *rkm, char *reason, size_t cap);
    void (*free_decoded)(void *ctx, void *decoded);
    /* Write the whole batch idempotently. 0 = durable; -1 = retry later (err filled). */
    int (*write_batch)(void *ctx, const struct sink_batch *b, char *err, size_t errcap);
    /* Fill parts[i].offset with the stored next offset (leave RD_KAFKA_OFFSET_INVALID when
     * unknown). 0 on success, -1 when the store is unreachable (err filled). */
    int (*load_offsets)(void *ctx, rd_kafka_topic_partition_list_t *parts, char *err,
                        size_t errcap);
};

struct sink_config {
    const char *brokers;
    const char *topic;
    const char *group;
    const char *dlq_topic;
    const char *client_id;
    /* extra "key=value,key=value" librdkafka properties, or NULL (common/kafka_conf.h) */
    const char *kafka_props;
    /* The sink's own "key=value,..." defaults, applied over the loop's and under kafka_props
     * (e.g. a larger prefetch for a faster sink); NULL = none. */
    const char *sink_props;
    long batch_max;          /* messages per batch */
    long batch_ms;           /* max wait to fill a batch */
    long commit_interval_ms; /* Kafka commit at most this often (0 = after every batch) */
    long backoff_base_ms;
    long backoff_cap_ms;
    /* Ignore stored and committed offsets and re-read every partition from its start
     * (operator replay / tests). Safe because every write is idempotent. */
    long replay_from_start;
    /* Batches written concurrently, one writer thread each (0 or 1 = one; at most
     * SINK_MAX_WRITERS). A sink asking for more must call sink_batch_await_turn(). */
    long writers;
};

/* Run until SIGTERM / SIGINT (sink_install_signals()). Returns 0 on clean stop, -1 on setup
 * error. */
int sink_run(const struct sink_config *cfg, const struct sink_ops *ops, void *ctx);

/* For a sink with writers > 1, inside write_batch() just before making the batch durable:
 * waits until every earlier batch finished. 0 = commit; -1 = an earlier batch failed: roll
 * back and return -1 (the loop retries them in order). Always 0 with one writer. */
int sink_batch_await_turn(const struct sink_batch *b);

/* For a sink with writers > 1, around a part of write_batch() that must run in batch order
 * although the rest overlaps: begin waits until every earlier batch ended its ordered part
 * (0), or returns -1 when one of them failed (write nothing more, return -1: the loop
 * retries them in order); end(b, ok) lets the next batch in. Without an end the loop ends
 * it when write_batch() returns. With one writer begin never waits. */
int sink_batch_ordered_begin(const struct sink_batch *b);
void sink_batch_ordered_end(const struct sink_batch *b, int ok);

/* Install SIGTERM/SIGINT handlers that request a graceful stop. */
void sink_install_signals(void);

/* Batch bookkeeping, exposed for unit tests (no Kafka needed). */
int sink_batch_add(struct sink_batch *b, rd_kafka_message_t *rkm, void *decoded,
                   const char *reason);
struct sink_part_range *sink_batch_part(struct sink_batch *b, int32_t partition);
/* Releases entries via free_decoded (may be NULL) and rd_kafka_message_destroy; keeps capacity. */
void sink_batch_clear(struct sink_batch *b, void (*free_decoded)(void *, void *), void *ctx);
void sink_batch_free(struct sink_batch *b);

/* Raise pending[p] (next offset to commit per partition, -1 = nothing pending) to the
 * batch's next offsets. Returns how many of its partitions did not fit (p >= max). */
size_t sink_offsets_note(int64_t *pending, size_t max, const struct sink_batch *b);

#endif
