/*
 * test_commit_gate.c - the in-order commit gate (lib/commit_gate.c) that lets the chat sink
 * write two batches at once: a batch commits only after every earlier one succeeded, never
 * after an earlier one failed, a later failure does not hold back an earlier batch, a reset
 * forgets settled failures; and, with two real writer threads and random failures, what gets
 * committed is always a gap-free prefix in consumption order.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "commit_gate.h"

struct waiter {
    struct commit_gate *g;
    uint64_t seq;
    volatile int done;
    int rc;
    pthread_t thread;
};

static void *await_main(void *arg)
{
    struct waiter *w = arg;
    w->rc = commit_gate_await(w->g, w->seq);
    __atomic_store_n(&w->done, 1, __ATOMIC_SEQ_CST);
    return NULL;
}

static void start_waiter(struct waiter *w, struct commit_gate *g, uint64_t seq)
{
    memset(w, 0, sizeof *w);
    w->g = g;
    w->seq = seq;
    assert_int_equal(pthread_create(&w->thread, NULL, await_main, w), 0);
}

static void sleep_ms(long ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
}

static int waiter_done(struct waiter *w) { return __atomic_load_n(&w->done, __ATOMIC_SEQ_CST); }

static void test_waits_for_the_earlier_batch(void **state)
{
    (void)state;
    struct commit_gate g;
    assert_int_equal(commit_gate_init(&g), 0);
    commit_gate_reset(&g, 1);
    assert_int_equal(commit_gate_await(&g, 1), 0); /* nothing before it: its turn at once */
    struct waiter w;
    start_waiter(&w, &g, 2);
    sleep_ms(50);
    assert_false(waiter_done(&w)); /* batch 1 still in flight */
    commit_gate_finish(&g, 1, 1);
    assert_int_equal(pthread_join(w.thread, NULL), 0);
    assert_int_equal(w.rc, 0);
    commit_gate_destroy(&g);
}

static void test_earlier_failure_refuses_every_later_batch(void **state)
{
    (void)state;
    struct commit_gate g;
    assert_int_equal(commit_gate_init(&g), 0);
    commit_gate_reset(&g, 10);
    struct waiter w;
    start_waiter(&w, &g, 11);
    sleep_ms(20);
    assert_false(waiter_done(&w));
    commit_gate_finish(&g, 10, 0);
    assert_int_equal(pthread_join(w.thread, NULL), 0);
    assert_int_equal(w.rc, -1);
    assert_int_equal(commit_gate_await(&g, 12), -1);
    /* a late success of a later batch does not reopen the gate past the failure */
    commit_gate_finish(&g, 11, 1);
    assert_int_equal(commit_gate_await(&g, 13), -1);
    commit_gate_destroy(&g);
}

static void test_later_failure_does_not_hold_back_earlier(void **state)
{
    (void)state;
    struct commit_gate g;
    assert_int_equal(commit_gate_init(&g), 0);
    commit_gate_reset(&g, 1);
    commit_gate_finish(&g, 3, 0); /* batch 3 failed before batch 2 reached its commit */
    struct waiter w;
    start_waiter(&w, &g, 2);
    sleep_ms(20);
    assert_false(waiter_done(&w)); /* still waiting for batch 1 */
    commit_gate_finish(&g, 1, 1);
    assert_int_equal(pthread_join(w.thread, NULL), 0);
    assert_int_equal(w.rc, 0);
    commit_gate_finish(&g, 2, 1);
    assert_int_equal(commit_gate_await(&g, 4), -1);
    commit_gate_destroy(&g);
}

static void test_reset_forgets_settled_failures(void **state)
{
    (void)state;
    struct commit_gate g;
    assert_int_equal(commit_gate_init(&g), 0);
    commit_gate_reset(&g, 1);
    commit_gate_finish(&g, 1, 0);
    assert_int_equal(commit_gate_await(&g, 2), -1);
    commit_gate_reset(&g, 1); /* the loop retries batch 1 with nothing in flight */
    assert_int_equal(commit_gate_await(&g, 1), 0);
    commit_gate_finish(&g, 1, 1);
    assert_int_equal(commit_gate_await(&g, 2), 0); /* then batch 2, in order */
    commit_gate_reset(&g, 7);                      /* batches 2-6 dropped on a revoke */
    assert_int_equal(commit_gate_await(&g, 7), 0);
    commit_gate_destroy(&g);
}

/* Two writers taking alternate batches as the loop hands them out, each "writing" for a
 * random while, failing at random, and committing only when the gate allows. */
#define SIM_BATCHES 400

struct sim {
    struct commit_gate g;
    pthread_mutex_t mu;
    uint64_t committed[SIM_BATCHES];
    size_t ncommitted;
    uint64_t first;
    uint64_t first_failure; /* lowest seq whose own write failed (UINT64_MAX = none) */
    unsigned fail_one_in;
};

struct sim_writer {
    struct sim *sim;
    unsigned index;
    unsigned seed;
};

static void *sim_writer_main(void *arg)
{
    struct sim_writer *w = arg;
    struct sim *sim = w->sim;
    for (uint64_t seq = sim->first + w->index; seq < sim->first + SIM_BATCHES; seq += 2) {
        sleep_ms(rand_r(&w->seed) % 3); /* the COPY, in parallel with the other writer */
        int ok = rand_r(&w->seed) % sim->fail_one_in != 0;
        if (!ok) {
            pthread_mutex_lock(&sim->mu);
            if (seq < sim->first_failure)
                sim->first_failure = seq;
            pthread_mutex_unlock(&sim->mu);
        }
        if (ok && commit_gate_await(&sim->g, seq) == 0) {
            pthread_mutex_lock(&sim->mu);
            sim->committed[sim->ncommitted++] = seq;
            pthread_mutex_unlock(&sim->mu);
        } else {
            ok = 0;
        }
        commit_gate_finish(&sim->g, seq, ok);
    }
    return NULL;
}

static void test_two_writers_commit_a_gap_free_prefix(void **state)
{
    (void)state;
    for (unsigned round = 0; round < 20; round++) {
        struct sim sim = { .first = 1 + round * 1000,
                           .first_failure = UINT64_MAX,
                           .fail_one_in = 40 + round * 10 };
        assert_int_equal(commit_gate_init(&sim.g), 0);
        assert_int_equal(pthread_mutex_init(&sim.mu, NULL), 0);
        commit_gate_reset(&sim.g, sim.first);
        struct sim_writer w[2] = { { &sim, 0, 7 * round + 1 }, { &sim, 1, 13 * round + 5 } };
        pthread_t t[2];
        for (int i = 0; i < 2; i++)
            assert_int_equal(pthread_create(&t[i], NULL, sim_writer_main, &w[i]), 0);
        for (int i = 0; i < 2; i++)
            assert_int_equal(pthread_join(t[i], NULL), 0);
        /* committed in order, no gaps: exactly first, first+1, ... up to the first failure */
        for (size_t k = 0; k < sim.ncommitted; k++)
            assert_int_equal(sim.committed[k], sim.first + k);
        uint64_t expected =
            sim.first_failure == UINT64_MAX ? SIM_BATCHES : sim.first_failure - sim.first;
        assert_int_equal(sim.ncommitted, expected);
        pthread_mutex_destroy(&sim.mu);
        commit_gate_destroy(&sim.g);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_waits_for_the_earlier_batch),
        cmocka_unit_test(test_earlier_failure_refuses_every_later_batch),
        cmocka_unit_test(test_later_failure_does_not_hold_back_earlier),
        cmocka_unit_test(test_reset_forgets_settled_failures),
        cmocka_unit_test(test_two_writers_commit_a_gap_free_prefix),
    };
    return cmocka_run_group_tests_name("workers-commit-gate", tests, NULL, NULL);
}
