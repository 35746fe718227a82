/*
 * sink_writers.c - the writer threads (sink_config.writers) and settling their batches in
 * consumption order: a batch is committed only once it and every earlier one were written;
 * a failed one is retried on the main thread, followed by the ones behind it.
 */
#include "sink_loop.h"

#include "wlog.h"
#include "wthread.h"

#include <stdio.h>
#include <string.h>

/* One writer thread: runs sink_attempt_batch() on the batch it was handed. The main thread hands
 * batches out in consumption order, round-robin over the slots, and collects the results in
 * the same order (the oldest in flight is at loop->head). */
static void *writer_main(void *arg)
{
    struct sink_writer *w = arg;
    struct sink_loop *loop = w->loop;
    pthread_mutex_lock(&w->mu);
    for (;;) {
        while (!w->job && !w->quit)
            pthread_cond_wait(&w->cv, &w->mu);
        if (!w->job)
            break;
        pthread_mutex_unlock(&w->mu);
        char err[512] = "";
        int rc = sink_attempt_batch(loop, &w->b, err, sizeof err);
        /* Right away, not when the main thread collects it: the next batch may be waiting
         * in sink_batch_await_turn() for exactly this. */
        sink_gates_finish(loop, w->b.seq, rc == 0);
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
void sink_writer_start(struct sink_loop *loop)
{
    unsigned slot = (loop->head + loop->inflight_n) % loop->nwriters;
    struct sink_writer *w = &loop->wr[slot];
    if (loop->inflight_n == 0)
        /* every earlier batch is settled (written, or dropped on revoke): its turn has come */
        sink_gates_reset(loop, loop->next_seq);
    struct sink_batch tmp = w->b;
    w->b = loop->batch;
    loop->batch = tmp;
    w->b.seq = loop->next_seq++;
    w->b.writer = slot;
    w->started = sink_now_ms();
    w->busy = 1;
    loop->inflight_n++;
    pthread_mutex_lock(&w->mu);
    w->done = 0;
    w->job = 1;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

static int writer_finished(struct sink_writer *w)
{
    pthread_mutex_lock(&w->mu);
    int done = w->done;
    pthread_mutex_unlock(&w->mu);
    return done;
}

/* Wait for the writer and collect its result into w->result (err filled on failure). */
static int writer_wait(struct sink_writer *w, char *err, size_t errcap)
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

struct sink_writer *sink_head_writer(struct sink_loop *loop) { return &loop->wr[loop->head]; }

void sink_pop_head(struct sink_loop *loop)
{
    loop->head = (loop->head + 1) % loop->nwriters;
    loop->inflight_n--;
}

/* Collect every batch still being written (results land in each writer's `result`). */
void sink_wait_all_writers(struct sink_loop *loop)
{
    char err[512];
    for (unsigned i = 0; i < loop->inflight_n; i++) {
        struct sink_writer *w = &loop->wr[(loop->head + i) % loop->nwriters];
        if (w->busy)
            (void)writer_wait(w, err, sizeof err);
    }
}

/* The oldest batch failed and every writer was collected: retry the batches in flight in
 * order on the main thread (partitions paused), the failed one first. The later ones failed
 * only because their turn was refused; one that succeeded anyway (a sink that does not wait
 * for its turn) is committed only after the earlier ones were written. Returns early when
 * stop is requested (final_flush() takes over) or a revoke dropped them. */
static void retry_inflight_in_order(struct sink_loop *loop)
{
    while (loop->inflight_n > 0 && !sink_stopping()) {
        struct sink_writer *w = sink_head_writer(loop);
        loop->retrying_behind = loop->inflight_n > 1;
        if (w->result == 0)
            sink_batch_succeeded(loop, &w->b, w->started, 1);
        else
            sink_drain_batch(loop, &w->b);
        loop->retrying_behind = 0;
        if (loop->inflight_n == 0 || w->b.n > 0)
            return; /* dropped by a revoke inside sink_drain_batch(), or stopping */
        sink_pop_head(loop);
    }
    loop->retrying_behind = 0;
}

/* Settle the oldest batch in flight (waiting for it): commit it when it succeeded, else
 * retry it and everything after it in order. */
static void settle_head(struct sink_loop *loop)
{
    struct sink_writer *w = sink_head_writer(loop);
    char err[512];
    if (writer_wait(w, err, sizeof err) == 0) {
        sink_batch_succeeded(loop, &w->b, w->started, 1);
        sink_pop_head(loop);
        return;
    }
    sink_batch_failed(loop, &w->b, err);
    sink_wait_all_writers(loop);
    retry_inflight_in_order(loop);
}

/* Settle, in order, the batches whose writers are done (commit promptly, even when nothing
 * new arrives). */
void sink_settle_finished(struct sink_loop *loop)
{
    while (!sink_stopping() && loop->inflight_n > 0 &&
           (!sink_head_writer(loop)->busy || writer_finished(sink_head_writer(loop))))
        settle_head(loop);
}

/* Settle every batch in flight (waiting for them); a failed one is retried first. */
void sink_settle_all(struct sink_loop *loop)
{
    while (!sink_stopping() && loop->inflight_n > 0)
        settle_head(loop);
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
int sink_hand_over_due_batch(struct sink_loop *loop)
{
    if (loop->inflight_n == 0 || loop->failing)
        return 0;
    if (loop->inflight_n < loop->nwriters) {
        sink_writer_start(loop);
        return 1;
    }
    struct sink_writer *w = sink_head_writer(loop);
    char err[512];
    if (writer_wait(w, err, sizeof err) != 0) {
        sink_batch_failed(loop, &w->b, err);
        sink_wait_all_writers(loop);
        retry_inflight_in_order(loop);
        return 0;
    }
    int64_t started = w->started;
    if (sink_stopping()) {
        sink_batch_succeeded(loop, &w->b, started, 1);
        sink_pop_head(loop);
        return 0;
    }
    struct sink_batch finished = w->b;
    w->b = loop->spare; /* empty: sink_writer_start() swaps the due batch in */
    loop->spare = finished;
    sink_pop_head(loop);
    sink_writer_start(loop);
    sink_batch_succeeded(loop, &loop->spare, started, 1); /* leaves it empty again */
    return 1;
}

/* Stops the writer threads that were started (sink_run's cleanup). */
void sink_writers_stop(struct sink_loop *loop)
{
    for (unsigned i = 0; i < loop->nstarted; i++)
        (void)wthread_stop_waiting(loop->wr[i].thread, &loop->wr[i].mu, &loop->wr[i].cv,
                                   &loop->wr[i].quit);
    loop->nstarted = 0;
}

int sink_writers_start(struct sink_loop *loop)
{
    loop->nwriters = loop->cfg->writers < 1                  ? 1
                     : loop->cfg->writers > SINK_MAX_WRITERS ? SINK_MAX_WRITERS
                                                             : (unsigned)loop->cfg->writers;
    for (unsigned i = 0; i < loop->nwriters; i++) {
        struct sink_writer *w = &loop->wr[i];
        char name[16];
        snprintf(name, sizeof name, i == 0 ? "sink-writer" : "sink-writer%u", i);
        w->loop = loop;
        w->b.topic = loop->cfg->topic;
        w->b.gate = &loop->gate;
        w->b.ordered = &loop->ordered;
        w->b.writer = i;
        if (wthread_start_waiting(&w->thread, &w->mu, &w->cv, name, writer_main, w) != 0)
            return -1;
        loop->nstarted++;
    }
    return 0;
}
