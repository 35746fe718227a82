/*
 * kconsumer.c - shared Kafka consumer loop for the sinks (contract in kconsumer.h).
 *
 * The main thread polls, decodes and fills the next batch while writer threads run
 * write_batch() (and the DLQ step) on earlier ones, so the stores' round trips overlap the
 * decoding instead of adding to it. One writer by default (the vote sink): one batch in
 * flight, written strictly one after another. With sink_config.writers = N (the chat sink:
 * 2, one PostgreSQL connection each) up to N batches are in flight, handed out in
 * consumption order; each sink commits its store in that order through the commit gate
 * (commit_gate.h, sink_batch_await_turn()), so a batch never becomes durable before an
 * earlier one, nor after an earlier one failed. The main thread alone commits Kafka
 * offsets, collecting results oldest first, and only once a batch and every earlier one
 * were written. A failed write is retried on the main thread (partitions paused), followed
 * by the batches in flight behind it, in order, before anything newer is written.
 * Rebalance callbacks run inside rd_kafka_consumer_poll() on the main thread and first wait
 * for every writer, so load_offsets() never runs while a batch is being written.
 * librdkafka's own threads handle fetching and group heartbeats.
 */
#include "kconsumer.h"

#include "backoff.h"
#include "metrics.h"
#include "wclock.h"
#include "wlog.h"
#include "wthread.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define DLQ_FLUSH_MS 5000
#define STOP_RETRY_MS 10000  /* how long a stopping worker keeps retrying its last batch */
#define ASSIGN_TRIES 3

static volatile sig_atomic_t stop_flag;

static void on_signal(int sig)
{
    (void)sig;
    stop_flag = 1;
}

void sink_install_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGTERM, &sa, NULL) != 0 || sigaction(SIGINT, &sa, NULL) != 0 ||
        signal(SIGPIPE, SIG_IGN) == SIG_ERR)
        wlog_error("cannot install signal handlers", "err=\"%s\"", strerror(errno));
}

void sink_request_stop(void)
{
    stop_flag = 1;
}

int sink_stop_requested(void)
{
    return stop_flag != 0;
}

/* ---- metrics (registered once) ---- */

struct loop_metrics {
    _Atomic uint64_t *consumed;
    _Atomic uint64_t *batches;
    _Atomic uint64_t *batch_failures;
    _Atomic uint64_t *dlq;
    _Atomic int64_t *lag;
    _Atomic int64_t *paused;
    struct whist *batch_seconds;
};

static void register_metrics(struct loop_metrics *m)
{
    m->consumed = wmetrics_counter("sink_messages_consumed_total", "Kafka messages consumed");
    m->batches = wmetrics_counter("sink_batches_total", "Batches written and committed");
    m->batch_failures = wmetrics_counter("sink_batch_failures_total",
                                         "Batch write attempts that failed and were retried");
    m->dlq = wmetrics_counter("sink_dlq_total", "Poison messages sent to the dead-letter topic");
    m->lag = wmetrics_gauge("sink_lag_messages",
                            "Messages behind the high watermark, summed over assigned partitions");
    m->paused = wmetrics_gauge("sink_paused", "1 while consumption is paused by a store failure");
    m->batch_seconds = wmetrics_histogram("sink_batch_seconds",
                                          "Batch latency from first attempt to commit");
}

/* ---- batch bookkeeping ---- */

struct sink_part_range *sink_batch_part(struct sink_batch *b, int32_t partition)
{
    for (size_t i = 0; i < b->nparts; i++)
        if (b->parts[i].partition == partition)
            return &b->parts[i];
    if (b->nparts >= SINK_MAX_PARTITIONS)
        return NULL;
    struct sink_part_range *r = &b->parts[b->nparts++];
    r->partition = partition;
    r->first_offset = -1;
    r->next_offset = -1;
    return r;
}

int sink_batch_add(struct sink_batch *b, rd_kafka_message_t *rkm, void *decoded,
                   const char *reason)
{
    struct sink_part_range *r = sink_batch_part(b, rkm->partition);
    if (r == NULL)
        return -1;
    if (b->n == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 256;
        struct sink_entry *e = realloc(b->entries, cap * sizeof *e);
        if (e == NULL)
            return -1;
        b->entries = e;
        b->cap = cap;
    }
    struct sink_entry *e = &b->entries[b->n++];
    e->rkm = rkm;
    e->decoded = decoded;
    if (decoded != NULL)
        e->reason[0] = '\0'; /* no snprintf per message: this runs for every message */
    else
        snprintf(e->reason, sizeof e->reason, "%s", reason ? reason : "poison");
    if (decoded == NULL)
        b->npoison++;
    if (r->first_offset < 0)
        r->first_offset = rkm->offset;
    if (rkm->offset + 1 > r->next_offset)
        r->next_offset = rkm->offset + 1;
    return 0;
}

void sink_batch_clear(struct sink_batch *b, void (*free_decoded)(void *, void *), void *ctx)
{
    for (size_t i = 0; i < b->n; i++) {
        if (b->entries[i].decoded != NULL && free_decoded != NULL)
            free_decoded(ctx, b->entries[i].decoded);
        if (b->destroy_msg != NULL)
            b->destroy_msg(b->entries[i].rkm);
        else
            rd_kafka_message_destroy(b->entries[i].rkm);
    }
    b->n = 0;
    b->nparts = 0;
    b->npoison = 0;
    b->dlq_done = 0;
    b->seq = 0;
}

void sink_batch_free(struct sink_batch *b)
{
    free(b->entries);
    b->entries = NULL;
    b->cap = 0;
}

int sink_conf_apply_props(rd_kafka_conf_t *conf, const char *props, char *errstr, size_t cap)
{
    if (props == NULL || *props == '\0')
        return 0;
    char *copy = strdup(props);
    if (copy == NULL) {
        snprintf(errstr, cap, "out of memory");
        return -1;
    }
    int rc = 0;
    char *save = NULL;
    for (char *item = strtok_r(copy, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(item, '=');
        if (eq == NULL) {
            snprintf(errstr, cap, "kafka property '%s' is not key=value", item);
            rc = -1;
            break;
        }
        *eq = '\0';
        if (rd_kafka_conf_set(conf, item, eq + 1, errstr, cap) != RD_KAFKA_CONF_OK) {
            rc = -1;
            break;
        }
    }
    free(copy);
    return rc;
}

/* ---- the loop state ---- */

struct loop;

/* A writer thread and the batch it writes (sink_config.writers of them). */
struct writer {
    struct loop *l;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int job, done, quit;           /* under mu */
    int rc;                        /* under mu: the attempt's result */
    char err[512];                 /* under mu */
    struct sink_batch b;           /* the writer thread's while busy */
    int64_t started;               /* main thread: when `b` was handed over */
    int busy;                      /* main thread: handed over, result not collected yet */
    int result;                    /* main thread: the collected result (when !busy) */
};

struct loop {
    const struct sink_config *cfg;
    const struct sink_ops *ops;
    void *ctx;
    rd_kafka_t *consumer;
    rd_kafka_t *dlq_producer;
    struct sink_batch batch;       /* being filled by the main thread */
    /* Batches in flight, oldest first: slots head, head+1, ... (mod nwriters), inflight_n of
     * them; all written before `batch`. Main thread only. */
    struct writer wr[SINK_MAX_WRITERS];
    unsigned nwriters, head, inflight_n;
    struct sink_batch spare;       /* empty; briefly the finished batch in hand_over_due_batch() */
    struct commit_gate gate;       /* in-order commits of concurrent writers (commit_gate.h) */
    struct commit_gate ordered;    /* the sinks' in-order sections (sink_batch_ordered_begin) */
    uint64_t next_seq;             /* main thread: number of the next batch written */
    pthread_mutex_t dlq_mu;        /* one batch's poison at a time: they share the failure count */
    struct backoff backoff;
    struct loop_metrics m;
    int failing;              /* last write attempt failed: partitions are paused */
    int retrying_behind;      /* retrying in order, more batches behind this one: one outage
                               * is over (and logged as such) only after the last of them */
    int64_t lag_by_part[SINK_MAX_PARTITIONS];
    int64_t commit_next[SINK_MAX_PARTITIONS]; /* written, not yet committed; -1 = none */
    int64_t last_commit_ms;
    _Atomic int dlq_delivery_failures;
};

static int64_t now_ms(void) { return (int64_t)wclock_ms(); }

static void set_paused(struct loop *l, int pause)
{
    rd_kafka_topic_partition_list_t *assigned = NULL;
    if (rd_kafka_assignment(l->consumer, &assigned) != RD_KAFKA_RESP_ERR_NO_ERROR)
        return;
    rd_kafka_resp_err_t err = pause ? rd_kafka_pause_partitions(l->consumer, assigned)
                                    : rd_kafka_resume_partitions(l->consumer, assigned);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR)
        wlog_warn(pause ? "pause failed" : "resume failed", "err=\"%s\"", rd_kafka_err2str(err));
    rd_kafka_topic_partition_list_destroy(assigned);
    atomic_store(l->m.paused, pause ? 1 : 0);
}

/* ---- DLQ ---- */

static void dlq_delivery_report(rd_kafka_t *rk, const rd_kafka_message_t *rkm, void *opaque)
{
    (void)rk;
    struct loop *l = opaque;
    if (rkm->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        atomic_fetch_add(&l->dlq_delivery_failures, 1);
        wlog_warn("dlq delivery failed", "err=\"%s\"", rd_kafka_err2str(rkm->err));
    }
}

/* librdkafka's own log lines, in our structured format. */
static void kafka_log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    (void)rk;
    enum wlog_level lvl = level <= 3 ? WLOG_ERROR : level <= 4 ? WLOG_WARN : level <= 6 ? WLOG_INFO : WLOG_DEBUG;
    wlog(lvl, "librdkafka", "facility=%s msg=\"%s\"", fac, buf);
}

static rd_kafka_t *create_dlq_producer(struct loop *l)
{
    char err[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    if (rd_kafka_conf_set(conf, "bootstrap.servers", l->cfg->brokers, err, sizeof err) ||
        rd_kafka_conf_set(conf, "enable.idempotence", "true", err, sizeof err) ||
        rd_kafka_conf_set(conf, "linger.ms", "5", err, sizeof err) ||
        rd_kafka_conf_set(conf, "client.id", l->cfg->client_id, err, sizeof err)) {
        wlog_error("dlq producer config", "err=\"%s\"", err);
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    rd_kafka_conf_set_dr_msg_cb(conf, dlq_delivery_report);
    rd_kafka_conf_set_log_cb(conf, kafka_log_cb);
    rd_kafka_conf_set_opaque(conf, l);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    if (rk == NULL)
        wlog_error("dlq producer create", "err=\"%s\"", err); /* conf freed by rd_kafka_new */
    return rk;
}

/* Produce every poison entry with its reason and source; 0 once all are acknowledged. */
static int send_poison_to_dlq(struct loop *l, struct sink_batch *b, char *err, size_t errcap)
{
    atomic_store(&l->dlq_delivery_failures, 0);
    for (size_t i = 0; i < b->n; i++) {
        struct sink_entry *e = &b->entries[i];
        if (e->decoded != NULL)
            continue;
        char source[256];
        snprintf(source, sizeof source, "%s:%" PRId32 ":%" PRId64, b->topic,
                 e->rkm->partition, e->rkm->offset);
        rd_kafka_resp_err_t rerr = rd_kafka_producev(
            l->dlq_producer, RD_KAFKA_V_TOPIC(l->cfg->dlq_topic),
            RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
            RD_KAFKA_V_KEY(e->rkm->key, e->rkm->key_len),
            RD_KAFKA_V_VALUE(e->rkm->payload, e->rkm->len),
            RD_KAFKA_V_HEADER("dlq-reason", e->reason, -1),
            RD_KAFKA_V_HEADER("dlq-source", source, -1), RD_KAFKA_V_END);
        if (rerr != RD_KAFKA_RESP_ERR_NO_ERROR) {
            snprintf(err, errcap, "dlq produce: %s", rd_kafka_err2str(rerr));
            return -1;
        }
    }
    rd_kafka_resp_err_t ferr = rd_kafka_flush(l->dlq_producer, DLQ_FLUSH_MS);
    if (ferr != RD_KAFKA_RESP_ERR_NO_ERROR || atomic_load(&l->dlq_delivery_failures) > 0) {
        snprintf(err, errcap, "dlq not acknowledged: %s", rd_kafka_err2str(ferr));
        return -1;
    }
    for (size_t i = 0; i < b->n; i++)
        if (b->entries[i].decoded == NULL)
            wlog_warn("poison message sent to dlq", "topic=%s partition=%" PRId32
                      " offset=%" PRId64 " reason=\"%s\"", b->topic,
                      b->entries[i].rkm->partition, b->entries[i].rkm->offset,
                      b->entries[i].reason);
    atomic_fetch_add(l->m.dlq, b->npoison);
    return 0;
}

/* ---- commit and lag ---- */

static void update_lag(struct loop *l, const struct sink_batch *b)
{
    for (size_t i = 0; i < b->nparts; i++) {
        const struct sink_part_range *r = &b->parts[i];
        int64_t lo = 0, hi = 0;
        if (r->partition < 0 || r->partition >= SINK_MAX_PARTITIONS)
            continue;
        if (rd_kafka_get_watermark_offsets(l->consumer, b->topic, r->partition, &lo,
                                           &hi) == RD_KAFKA_RESP_ERR_NO_ERROR && hi >= 0)
            l->lag_by_part[r->partition] = hi > r->next_offset ? hi - r->next_offset : 0;
    }
    int64_t total = 0;
    for (int p = 0; p < SINK_MAX_PARTITIONS; p++)
        total += l->lag_by_part[p];
    atomic_store(l->m.lag, total);
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
static void commit_list(struct loop *l, rd_kafka_topic_partition_list_t *offs, int async)
{
    if (offs->cnt > 0) {
        rd_kafka_resp_err_t err = rd_kafka_commit(l->consumer, offs, async);
        if (err != RD_KAFKA_RESP_ERR_NO_ERROR)
            wlog_warn("kafka commit failed", "err=\"%s\"", rd_kafka_err2str(err));
    }
    rd_kafka_topic_partition_list_destroy(offs);
}

/* Commit every written-but-uncommitted offset. */
static void commit_pending(struct loop *l, int async)
{
    rd_kafka_topic_partition_list_t *offs = rd_kafka_topic_partition_list_new(4);
    for (int p = 0; p < SINK_MAX_PARTITIONS; p++) {
        if (l->commit_next[p] < 0)
            continue;
        rd_kafka_topic_partition_list_add(offs, l->cfg->topic, p)->offset = l->commit_next[p];
        l->commit_next[p] = -1;
    }
    commit_list(l, offs, async);
    l->last_commit_ms = now_ms();
}

static int commit_due(const struct loop *l)
{
    return now_ms() - l->last_commit_ms >= l->cfg->commit_interval_ms;
}

/*
 * After a batch was written: note its offsets and commit what is pending once
 * commit_interval_ms has passed, or right away when `async` is 0 (stop, revoke). Each
 * OffsetCommit costs the broker far more than its size suggests: committing after every
 * 1000-message batch took 3-6 us of Kafka's CPU per chat message, ~1.3 us once commits were
 * 20 batches apart, on a 2-core machine where PostgreSQL needs that CPU. Kafka's committed
 * offsets only matter when a store cannot tell where to resume, so lagging them costs at
 * most a longer (idempotent) replay then.
 */
static void commit_batch(struct loop *l, const struct sink_batch *b, int async)
{
    if (sink_offsets_note(l->commit_next, SINK_MAX_PARTITIONS, b) > 0) {
        /* a partition beyond the table (never in practice): commit this batch as it is */
        rd_kafka_topic_partition_list_t *offs = rd_kafka_topic_partition_list_new((int)b->nparts);
        for (size_t i = 0; i < b->nparts; i++)
            rd_kafka_topic_partition_list_add(offs, b->topic, b->parts[i].partition)
                ->offset = b->parts[i].next_offset;
        commit_list(l, offs, async);
    }
    if (!async || commit_due(l))
        commit_pending(l, async);
}

/* DLQ + write: the part of a batch that may run on the writer thread. 0 = durable. */
static int attempt_batch(struct loop *l, struct sink_batch *b, char *err, size_t errcap)
{
    if (b->npoison > 0 && !b->dlq_done) {
        pthread_mutex_lock(&l->dlq_mu);
        int sent = send_poison_to_dlq(l, b, err, errcap);
        pthread_mutex_unlock(&l->dlq_mu);
        if (sent != 0)
            return -1;
        b->dlq_done = 1;
    }
    return l->ops->write_batch(l->ctx, b, err, errcap);
}

/* Main thread, after a successful attempt: commit, account, release. */
static void batch_succeeded(struct loop *l, struct sink_batch *b, int64_t started_ms, int async_commit)
{
    commit_batch(l, b, async_commit);
    update_lag(l, b);
    atomic_fetch_add(l->m.batches, 1);
    whist_observe(l->m.batch_seconds, (double)(now_ms() - started_ms) / 1000.0);
    if (l->failing && !l->retrying_behind) {
        wlog_info("store recovered, resuming consumption", "attempts=%u", l->backoff.attempt);
        l->failing = 0;
        set_paused(l, 0);
    }
    backoff_reset(&l->backoff);
    sink_batch_clear(b, l->ops->free_decoded, l->ctx);
}

static void batch_failed(struct loop *l, const struct sink_batch *b, const char *err)
{
    atomic_fetch_add(l->m.batch_failures, 1);
    if (!l->failing) {
        wlog_warn("batch write failed, pausing consumption", "messages=%zu err=\"%s\"",
                  b->n, err);
        l->failing = 1;
        set_paused(l, 1);
    } else {
        wlog_debug("batch write still failing", "err=\"%s\"", err);
    }
}

/* Both gates move together: the loop resets them when nothing is in flight and finishes
 * a batch in both when its write returned (a sink may have ended its ordered section
 * earlier; finishing it again with the batch's result only ever refuses later batches
 * sooner, which they would have been at their commit turn anyway). */
static void gates_reset(struct loop *l, uint64_t seq)
{
    commit_gate_reset(&l->gate, seq);
    commit_gate_reset(&l->ordered, seq);
}

static void gates_finish(struct loop *l, uint64_t seq, int ok)
{
    commit_gate_finish(&l->ordered, seq, ok);
    commit_gate_finish(&l->gate, seq, ok);
}

static void gates_destroy(struct loop *l)
{
    commit_gate_destroy(&l->ordered);
    commit_gate_destroy(&l->gate);
}

/* One attempt at DLQ + write + commit on the main thread. 0 when the batch is done and released. */
static int process_batch_once(struct loop *l, struct sink_batch *b, int64_t started_ms, int async_commit)
{
    char err[512] = "";
    if (b->seq == 0)
        b->seq = l->next_seq++;
    gates_reset(l, b->seq); /* nothing else is in flight now: its turn has come */
    int rc = attempt_batch(l, b, err, sizeof err);
    gates_finish(l, b->seq, rc == 0);
    if (rc != 0) {
        batch_failed(l, b, err);
        return -1;
    }
    batch_succeeded(l, b, started_ms, async_commit);
    return 0;
}

int sink_batch_await_turn(const struct sink_batch *b)
{
    return b->gate != NULL && b->seq != 0 ? commit_gate_await(b->gate, b->seq) : 0;
}

int sink_batch_ordered_begin(const struct sink_batch *b)
{
    return b->ordered != NULL && b->seq != 0 ? commit_gate_await(b->ordered, b->seq) : 0;
}

void sink_batch_ordered_end(const struct sink_batch *b, int ok)
{
    if (b->ordered != NULL && b->seq != 0)
        commit_gate_finish(b->ordered, b->seq, ok);
}

/* ---- the writers ---- */

/* One writer thread: runs attempt_batch() on the batch it was handed. The main thread hands
 * batches out in consumption order, round-robin over the slots, and collects the results in
 * the same order (the oldest in flight is at l->head). */
static void *writer_main(void *arg)
{
    struct writer *w = arg;
    struct loop *l = w->l;
    pthread_mutex_lock(&w->mu);
    for (;;) {
        while (!w->job && !w->quit)
            pthread_cond_wait(&w->cv, &w->mu);
        if (!w->job)
            break;
        pthread_mutex_unlock(&w->mu);
        char err[512] = "";
        int rc = attempt_batch(l, &w->b, err, sizeof err);
        /* Right away, not when the main thread collects it: the next batch may be waiting
         * in sink_batch_await_turn() for exactly this. */
        gates_finish(l, w->b.seq, rc == 0);
        pthread_mutex_lock(&w->mu);
        w->rc = rc;
        memcpy(w->err, err, sizeof err);
        w->job = 0;
        w->done = 1;
        pthread_cond_broadcast(&w->cv);
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

/* Hand the filled batch to the next free slot (the caller checked one is free). */
static void writer_start(struct loop *l)
{
    unsigned slot = (l->head + l->inflight_n) % l->nwriters;
    struct writer *w = &l->wr[slot];
    if (l->inflight_n == 0)
        /* every earlier batch is settled (written, or dropped on revoke): its turn has come */
        gates_reset(l, l->next_seq);
    struct sink_batch tmp = w->b;
    w->b = l->batch;
    l->batch = tmp;
    w->b.seq = l->next_seq++;
    w->b.writer = slot;
    w->started = now_ms();
    w->busy = 1;
    l->inflight_n++;
    pthread_mutex_lock(&w->mu);
    w->done = 0;
    w->job = 1;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

static int writer_finished(struct writer *w)
{
    pthread_mutex_lock(&w->mu);
    int done = w->done;
    pthread_mutex_unlock(&w->mu);
    return done;
}

/* Wait for the writer and collect its result into w->result (err filled on failure). */
static int writer_wait(struct writer *w, char *err, size_t errcap)
{
    pthread_mutex_lock(&w->mu);
    while (!w->done)
        pthread_cond_wait(&w->cv, &w->mu);
    w->result = w->rc;
    snprintf(err, errcap, "%s", w->err);
    pthread_mutex_unlock(&w->mu);
    w->busy = 0;
    return w->result;
}

static struct writer *head_writer(struct loop *l) { return &l->wr[l->head]; }

static void pop_head(struct loop *l)
{
    l->head = (l->head + 1) % l->nwriters;
    l->inflight_n--;
}

/* Collect every batch still being written (results land in each writer's `result`). */
static void wait_all_writers(struct loop *l)
{
    char err[512];
    for (unsigned i = 0; i < l->inflight_n; i++) {
        struct writer *w = &l->wr[(l->head + i) % l->nwriters];
        if (w->busy)
            (void)writer_wait(w, err, sizeof err);
    }
}

static void drain_batch(struct loop *l, struct sink_batch *b);

/* The oldest batch failed and every writer was collected: retry the batches in flight in
 * order on the main thread (partitions paused), the failed one first. The later ones failed
 * only because their turn was refused; one that succeeded anyway (a sink that does not wait
 * for its turn) is committed only after the earlier ones were written. Returns early when
 * stop is requested (final_flush() takes over) or a revoke dropped them. */
static void retry_inflight_in_order(struct loop *l)
{
    while (l->inflight_n > 0 && !stop_flag) {
        struct writer *w = head_writer(l);
        l->retrying_behind = l->inflight_n > 1;
        if (w->result == 0)
            batch_succeeded(l, &w->b, w->started, 1);
        else
            drain_batch(l, &w->b);
        l->retrying_behind = 0;
        if (l->inflight_n == 0 || w->b.n > 0)
            return; /* dropped by a revoke inside drain_batch(), or stopping */
        pop_head(l);
    }
    l->retrying_behind = 0;
}

/* Settle the oldest batch in flight (waiting for it): commit it when it succeeded, else
 * retry it and everything after it in order. */
static void settle_head(struct loop *l)
{
    struct writer *w = head_writer(l);
    char err[512];
    if (writer_wait(w, err, sizeof err) == 0) {
        batch_succeeded(l, &w->b, w->started, 1);
        pop_head(l);
        return;
    }
    batch_failed(l, &w->b, err);
    wait_all_writers(l);
    retry_inflight_in_order(l);
}

/* Settle, in order, the batches whose writers are done (commit promptly, even when nothing
 * new arrives). */
static void settle_finished(struct loop *l)
{
    while (!stop_flag && l->inflight_n > 0 &&
           (!head_writer(l)->busy || writer_finished(head_writer(l))))
        settle_head(l);
}

/* Settle every batch in flight (waiting for them); a failed one is retried first. */
static void settle_all(struct loop *l)
{
    while (!stop_flag && l->inflight_n > 0)
        settle_head(l);
}

/*
 * The filled batch is due. With a free writer (more than one configured) it is handed over
 * at once. Otherwise, when the oldest batch succeeded, the due batch is handed over FIRST
 * and the finished one settled after (commit, lag, metrics, release of its ~1000 messages,
 * ~0.2 ms), so the writer, whose store round trips are the critical path, does not wait on
 * that bookkeeping. Returns 1 when handed over; 0 when the caller goes the ordinary way:
 * nothing in flight, stores failing, the oldest failed (retried here with the rest in
 * flight, like settle_head()), or stopping. Ordering is unchanged: batches are handed out in
 * consumption order, and committed only once they and every earlier one were written.
 */
static int hand_over_due_batch(struct loop *l)
{
    if (l->inflight_n == 0 || l->failing)
        return 0;
    if (l->inflight_n < l->nwriters) {
        writer_start(l);
        return 1;
    }
    struct writer *w = head_writer(l);
    char err[512];
    if (writer_wait(w, err, sizeof err) != 0) {
        batch_failed(l, &w->b, err);
        wait_all_writers(l);
        retry_inflight_in_order(l);
        return 0;
    }
    int64_t started = w->started;
    if (stop_flag) {
        batch_succeeded(l, &w->b, started, 1);
        pop_head(l);
        return 0;
    }
    struct sink_batch finished = w->b;
    w->b = l->spare; /* empty: writer_start() swaps the due batch in */
    l->spare = finished;
    pop_head(l);
    writer_start(l);
    batch_succeeded(l, &l->spare, started, 1); /* leaves it empty again */
    return 1;
}

/* Inside a rebalance callback (no polling allowed): wait for the writers and commit, in
 * order, the batches that succeeded. From the first one that did not, drop them all
 * uncommitted (the next owner re-reads them) and return -1: the newer `batch` must then not
 * be written either, or the offsets stored with it would pass over the dropped ones. */
static int settle_inflight_in_rebalance(struct loop *l)
{
    wait_all_writers(l);
    while (l->inflight_n > 0 && head_writer(l)->result == 0) {
        struct writer *w = head_writer(l);
        batch_succeeded(l, &w->b, w->started, 0);
        pop_head(l);
    }
    if (l->inflight_n == 0)
        return 0;
    size_t dropped = 0;
    while (l->inflight_n > 0) {
        dropped += head_writer(l)->b.n;
        sink_batch_clear(&head_writer(l)->b, l->ops->free_decoded, l->ctx);
        pop_head(l);
    }
    wlog_info("dropping uncommitted batch on revoke", "messages=%zu", dropped);
    return -1;
}

static void writers_stop(struct loop *l, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        (void)wthread_stop_waiting(l->wr[i].thread, &l->wr[i].mu, &l->wr[i].cv, &l->wr[i].quit);
}

static int writers_init(struct loop *l)
{
    l->nwriters = l->cfg->writers < 1 ? 1 : l->cfg->writers > SINK_MAX_WRITERS ? SINK_MAX_WRITERS
                                                                              : (unsigned)l->cfg->writers;
    for (unsigned i = 0; i < l->nwriters; i++) {
        struct writer *w = &l->wr[i];
        char name[16];
        snprintf(name, sizeof name, i == 0 ? "sink-writer" : "sink-writer%u", i);
        w->l = l;
        w->b.topic = l->cfg->topic;
        w->b.gate = &l->gate;
        w->b.ordered = &l->ordered;
        w->b.writer = i;
        if (wthread_start_waiting(&w->thread, &w->mu, &w->cv, name, writer_main, w) != 0) {
            writers_stop(l, i);
            return -1;
        }
    }
    return 0;
}

/* ---- rebalance ---- */

static void handle_assign(struct loop *l, rd_kafka_topic_partition_list_t *parts)
{
    char err[512] = "";
    if (settle_inflight_in_rebalance(l) != 0) /* load_offsets() must not race a write */
        sink_batch_clear(&l->batch, l->ops->free_decoded, l->ctx);
    for (int i = 0; i < parts->cnt; i++)
        parts->elems[i].offset = RD_KAFKA_OFFSET_INVALID;
    if (l->cfg->replay_from_start) {
        for (int i = 0; i < parts->cnt; i++)
            parts->elems[i].offset = RD_KAFKA_OFFSET_BEGINNING;
        wlog_info("replaying assigned partitions from the start", "partitions=%d", parts->cnt);
        goto assign;
    }
    int loaded = -1;
    struct backoff b;
    backoff_init(&b, 100, 1000, (uint64_t)now_ms());
    for (int attempt = 0; attempt < ASSIGN_TRIES && loaded != 0; attempt++) {
        loaded = l->ops->load_offsets(l->ctx, parts, err, sizeof err);
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
    rd_kafka_resp_err_t aerr = rd_kafka_assign(l->consumer, parts);
    if (aerr != RD_KAFKA_RESP_ERR_NO_ERROR)
        wlog_error("assign failed", "err=\"%s\"", rd_kafka_err2str(aerr));
    /* New partitions must not flow while the store is down; otherwise make sure none is
     * left paused from an earlier assignment (librdkafka keeps the pause flag). */
    set_paused(l, l->failing);
}

/* Every pending batch is gone with the revoked partitions, so nothing is left to retry and
 * nothing would ever lift the pause: a failure state kept here (e.g. the revoke's own
 * write attempt just failed) made handle_assign() pause the new partitions and the loop,
 * having no batch to retry, never resumed them (t/integration/27-sink-revoke-outage.t);
 * the partitions are resumed before they go, since librdkafka keeps a pause across a
 * reassignment.
 * The next assignment's first batch probes the stores again and pauses if they are down. */
static void forget_failure_on_revoke(struct loop *l)
{
    if (!l->failing)
        return;
    wlog_info("batch dropped on revoke while failing; the next assignment probes the stores", NULL);
    l->failing = 0;
    set_paused(l, 0); /* librdkafka keeps a partition's pause across unassign + assign */
}

static void handle_revoke(struct loop *l, rd_kafka_topic_partition_list_t *parts)
{
    /* Finish the pending batches if the stores look healthy (saves the next owner a
     * replay); otherwise drop them: not committed, so the next owner re-reads them. */
    if (settle_inflight_in_rebalance(l) == 0 && l->batch.n > 0 && !l->failing)
        process_batch_once(l, &l->batch, now_ms(), 0);
    if (l->batch.n > 0)
        wlog_info("dropping uncommitted batch on revoke", "messages=%zu", l->batch.n);
    sink_batch_clear(&l->batch, l->ops->free_decoded, l->ctx);
    forget_failure_on_revoke(l);
    for (int i = 0; i < parts->cnt; i++) {
        if (parts->elems[i].partition >= 0 && parts->elems[i].partition < SINK_MAX_PARTITIONS)
            l->lag_by_part[parts->elems[i].partition] = 0;
        wlog_info("partition revoked", "topic=%s partition=%" PRId32, parts->elems[i].topic,
                  parts->elems[i].partition);
    }
    commit_pending(l, 0); /* what was written, before the partitions go */
    rd_kafka_resp_err_t uerr = rd_kafka_assign(l->consumer, NULL);
    if (uerr != RD_KAFKA_RESP_ERR_NO_ERROR)
        wlog_error("unassign failed", "err=\"%s\"", rd_kafka_err2str(uerr));
}

static void rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *parts, void *opaque)
{
    (void)rk;
    struct loop *l = opaque;
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS)
        handle_assign(l, parts);
    else
        handle_revoke(l, parts);
}

/* ---- setup ---- */

static rd_kafka_t *create_consumer(struct loop *l)
{
    const struct sink_config *c = l->cfg;
    char err[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    const char *props[][2] = {
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
         * more than a second of draining or the sink starves (measured: 0.3-0.6 s stalls
         * every ~17 batches with 10000 messages / 8 MB at ~30k msgs/s; 30000 messages
         * still left 50-250 ms gaps at 35-40k msgs/s). A faster sink raises these
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
    for (size_t i = 0; i < sizeof props / sizeof props[0]; i++) {
        if (rd_kafka_conf_set(conf, props[i][0], props[i][1], err, sizeof err) !=
            RD_KAFKA_CONF_OK) {
            wlog_error("kafka config", "key=%s err=\"%s\"", props[i][0], err);
            rd_kafka_conf_destroy(conf);
            return NULL;
        }
    }
    if (sink_conf_apply_props(conf, c->sink_props, err, sizeof err) != 0 ||
        sink_conf_apply_props(conf, c->kafka_props, err, sizeof err) != 0) {
        wlog_error("kafka config", "err=\"%s\"", err);
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    char strategy[128];
    size_t slen = sizeof strategy;
    if (rd_kafka_conf_get(conf, "partition.assignment.strategy", strategy, &slen) == RD_KAFKA_CONF_OK &&
        strstr(strategy, "cooperative") != NULL) {
        wlog_error("kafka config", "err=\"cooperative rebalancing is not supported by the sinks\"");
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    rd_kafka_conf_set_rebalance_cb(conf, rebalance_cb);
    rd_kafka_conf_set_log_cb(conf, kafka_log_cb);
    rd_kafka_conf_set_opaque(conf, l);
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

/* ---- main loop pieces ---- */

static void accept_message(struct loop *l, rd_kafka_message_t *rkm)
{
    if (rkm->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        /* Transient broker/partition errors are reported here; librdkafka recovers itself. */
        if (rkm->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
            wlog_warn("consumer error", "err=\"%s\"", rd_kafka_message_errstr(rkm));
        rd_kafka_message_destroy(rkm);
        return;
    }
    char reason[SINK_REASON_MAX] = "";
    void *decoded = l->ops->decode(l->ctx, rkm, reason, sizeof reason);
    atomic_fetch_add(l->m.consumed, 1);
    if (sink_batch_add(&l->batch, rkm, decoded, reason) != 0) {
        /* Out of memory or too many partitions: drop it uncommitted; it will be re-read. */
        wlog_error("batch add failed", "partition=%" PRId32, rkm->partition);
        if (decoded)
            l->ops->free_decoded(l->ctx, decoded);
        rd_kafka_message_destroy(rkm);
    }
}

/* Sleep `ms` in short poll slices so group membership and rebalances keep being served. */
static void wait_serving_group(struct loop *l, uint32_t ms)
{
    int64_t until = now_ms() + ms;
    while (!stop_flag && now_ms() < until) {
        rd_kafka_message_t *rkm = rd_kafka_consumer_poll(l->consumer, 100);
        if (rkm != NULL)
            accept_message(l, rkm); /* paused partitions deliver nothing; keep order anyway */
    }
}

/* Retry the current batch until it succeeds, the batch is revoked, or stop is requested. */
static void drain_batch(struct loop *l, struct sink_batch *b)
{
    int64_t started = now_ms();
    int written = 0;
    while (b->n > 0 && !(written = process_batch_once(l, b, started, 1) == 0)) {
        if (stop_flag)
            return;
        wait_serving_group(l, backoff_next(&l->backoff));
    }
    if (!written && b->n == 0 && l->failing) {
        /* Batch vanished in a revoke while failing: resume; the next batch re-probes. */
        l->failing = 0;
        set_paused(l, 0);
    }
}

/* Stopping: retry one batch for up to STOP_RETRY_MS; 0 when it was written. */
static int flush_one(struct loop *l, struct sink_batch *b)
{
    int64_t started = now_ms();
    while (b->n > 0 && now_ms() - started < STOP_RETRY_MS) {
        if (process_batch_once(l, b, started, 0) == 0)
            break;
        struct timespec ts = { 0, (long)backoff_next(&l->backoff) * 1000000L };
        nanosleep(&ts, NULL);
    }
    return b->n > 0 ? -1 : 0;
}

static void final_flush(struct loop *l)
{
    wait_all_writers(l);
    /* In order: a newer batch is written (or its success committed) only when every older
     * one was. */
    int written = 1;
    size_t unwritten = 0;
    while (l->inflight_n > 0) {
        struct writer *w = head_writer(l);
        if (written && w->result == 0)
            batch_succeeded(l, &w->b, w->started, 0);
        else if (!written || flush_one(l, &w->b) != 0)
            written = 0;
        unwritten += w->b.n;
        sink_batch_clear(&w->b, l->ops->free_decoded, l->ctx);
        pop_head(l);
    }
    if (!written || flush_one(l, &l->batch) != 0)
        wlog_warn("stopping with an unwritten batch; it will be replayed", "messages=%zu",
                  unwritten + l->batch.n);
    sink_batch_clear(&l->batch, l->ops->free_decoded, l->ctx);
}

static int batch_is_due(const struct loop *l, int64_t first_ms)
{
    return l->batch.n >= (size_t)l->cfg->batch_max ||
           (l->batch.n > 0 && now_ms() - first_ms >= l->cfg->batch_ms);
}

int sink_run(const struct sink_config *cfg, const struct sink_ops *ops, void *ctx)
{
    struct loop *l = calloc(1, sizeof *l);
    if (l == NULL)
        return -1;
    l->cfg = cfg;
    l->ops = ops;
    l->ctx = ctx;
    l->batch.topic = cfg->topic;
    l->batch.gate = &l->gate;
    l->batch.ordered = &l->ordered;
    l->spare.topic = cfg->topic;
    l->spare.gate = &l->gate;
    l->spare.ordered = &l->ordered;
    l->next_seq = 1;
    for (int p = 0; p < SINK_MAX_PARTITIONS; p++)
        l->commit_next[p] = -1;
    l->last_commit_ms = now_ms();
    register_metrics(&l->m);
    backoff_init(&l->backoff, (uint32_t)cfg->backoff_base_ms, (uint32_t)cfg->backoff_cap_ms,
                 (uint64_t)now_ms() ^ (uint64_t)getpid());
    if (commit_gate_init(&l->gate) != 0) {
        free(l);
        return -1;
    }
    if (commit_gate_init(&l->ordered) != 0) {
        commit_gate_destroy(&l->gate);
        free(l);
        return -1;
    }
    if (pthread_mutex_init(&l->dlq_mu, NULL) != 0) {
        gates_destroy(l);
        free(l);
        return -1;
    }
    l->dlq_producer = create_dlq_producer(l);
    if (writers_init(l) != 0) {
        wlog_error("cannot start the writer threads", NULL);
        if (l->dlq_producer)
            rd_kafka_destroy(l->dlq_producer);
        pthread_mutex_destroy(&l->dlq_mu);
        gates_destroy(l);
        free(l);
        return -1;
    }
    l->consumer = l->dlq_producer ? create_consumer(l) : NULL;
    if (l->consumer == NULL) {
        writers_stop(l, l->nwriters);
        if (l->dlq_producer)
            rd_kafka_destroy(l->dlq_producer);
        pthread_mutex_destroy(&l->dlq_mu);
        gates_destroy(l);
        free(l);
        return -1;
    }
    wlog_info("consumer started", "topic=%s group=%s dlq=%s batch_max=%ld batch_ms=%ld writers=%u",
              cfg->topic, cfg->group, cfg->dlq_topic, cfg->batch_max, cfg->batch_ms, l->nwriters);
    int64_t first_ms = 0;
    while (!stop_flag) {
        settle_finished(l); /* commit promptly, even when nothing new arrives */
        if (batch_is_due(l, first_ms)) {
            if (hand_over_due_batch(l))
                continue;
            settle_all(l); /* a failed one is retried first */
            if (stop_flag)
                break;
            if (l->failing || l->inflight_n > 0)
                drain_batch(l, &l->batch); /* stores unhealthy: write synchronously */
            else
                writer_start(l);
            continue;
        }
        int timeout = l->inflight_n > 0 ? 5 : 200;
        if (l->batch.n > 0) {
            int64_t left = first_ms + cfg->batch_ms - now_ms();
            timeout = left > 0 ? (int)left : 0;
        }
        rd_kafka_message_t *rkm = rd_kafka_consumer_poll(l->consumer, timeout);
        if (rkm == NULL) {
            if (commit_due(l))
                commit_pending(l, 1); /* quiet topic: commit what the last batches wrote */
            continue;
        }
        if (l->batch.n == 0)
            first_ms = now_ms();
        accept_message(l, rkm);
    }
    wlog_info("stop requested, finishing batch", "messages=%zu", l->batch.n);
    final_flush(l);
    commit_pending(l, 0); /* batches written since the last interval commit */
    writers_stop(l, l->nwriters);
    rd_kafka_resp_err_t cerr = rd_kafka_consumer_close(l->consumer);
    if (cerr != RD_KAFKA_RESP_ERR_NO_ERROR)
        wlog_warn("consumer close", "err=\"%s\"", rd_kafka_err2str(cerr));
    rd_kafka_destroy(l->consumer);
    rd_kafka_flush(l->dlq_producer, DLQ_FLUSH_MS);
    rd_kafka_destroy(l->dlq_producer);
    sink_batch_free(&l->batch);
    for (unsigned i = 0; i < l->nwriters; i++)
        sink_batch_free(&l->wr[i].b);
    sink_batch_free(&l->spare);
    pthread_mutex_destroy(&l->dlq_mu);
    gates_destroy(l);
    free(l);
    wlog_info("stopped", NULL);
    return 0;
}
