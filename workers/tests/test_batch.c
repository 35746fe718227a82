/*
 * test_batch.c - batch bookkeeping of the consumer loop (lib/sink_batch.c, lib/sink_commit.c) without a broker:
 * per-partition offset ranges (what gets committed and stored), poison counting, that
 * clearing releases every message and decoded value exactly once, how the offsets of
 * written batches accumulate between interval commits, and what a batch's turn to commit
 * (sink_batch_await_turn(), for sinks with several writers) depends on.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "kconsumer.h"

static int destroyed;
static int freed;

static void fake_destroy(rd_kafka_message_t *rkm)
{
    destroyed++;
    free(rkm);
}

static void fake_free(void *ctx, void *decoded)
{
    (void)ctx;
    freed++;
    free(decoded);
}

static rd_kafka_message_t *fake_msg(int32_t partition, int64_t offset)
{
    rd_kafka_message_t *m = calloc(1, sizeof *m);
    m->partition = partition;
    m->offset = offset;
    return m;
}

static void test_ranges_per_partition(void **state)
{
    (void)state;
    struct sink_batch b = { .topic = "votes", .destroy_msg = fake_destroy };
    assert_int_equal(sink_batch_add(&b, fake_msg(0, 10), malloc(1), NULL), 0);
    assert_int_equal(sink_batch_add(&b, fake_msg(1, 3), malloc(1), NULL), 0);
    assert_int_equal(sink_batch_add(&b, fake_msg(0, 11), NULL, "bad json"), 0);
    assert_int_equal(sink_batch_add(&b, fake_msg(0, 12), malloc(1), NULL), 0);
    assert_int_equal(b.n, 4);
    assert_int_equal(b.nparts, 2);
    /* the commit offset is one past the last message, poison included, so it never blocks */
    struct sink_part_range *p0 = sink_batch_part(&b, 0);
    assert_int_equal(p0->first_offset, 10);
    assert_int_equal(p0->next_offset, 13);
    struct sink_part_range *p1 = sink_batch_part(&b, 1);
    assert_int_equal(p1->first_offset, 3);
    assert_int_equal(p1->next_offset, 4);
    assert_int_equal(b.npoison, 1);
    assert_string_equal(b.entries[2].reason, "bad json");
    destroyed = freed = 0;
    sink_batch_clear(&b, fake_free, NULL);
    assert_int_equal(destroyed, 4);
    assert_int_equal(freed, 3);
    assert_int_equal(b.n, 0);
    assert_int_equal(b.nparts, 0);
    assert_int_equal(b.npoison, 0);
    sink_batch_free(&b);
}

static void test_grows_past_initial_capacity(void **state)
{
    (void)state;
    struct sink_batch b = { .topic = "votes", .destroy_msg = fake_destroy };
    for (int i = 0; i < 1000; i++)
        assert_int_equal(sink_batch_add(&b, fake_msg(i % 3, i), malloc(1), NULL), 0);
    assert_int_equal(b.n, 1000);
    assert_int_equal(sink_batch_part(&b, 2)->next_offset, 999);
    destroyed = freed = 0;
    sink_batch_clear(&b, fake_free, NULL);
    assert_int_equal(destroyed, 1000);
    assert_int_equal(freed, 1000);
    sink_batch_free(&b);
}

/* Batches written between two interval commits: each partition's pending offset only
 * rises, untouched partitions stay unset, a partition past the table is reported. */
static void test_offsets_noted_between_commits(void **state)
{
    (void)state;
    int64_t pending[4] = { -1, -1, -1, -1 };
    struct sink_batch b = { .topic = "chat", .destroy_msg = fake_destroy };
    assert_int_equal(sink_batch_add(&b, fake_msg(0, 10), malloc(1), NULL), 0);
    assert_int_equal(sink_batch_add(&b, fake_msg(2, 5), malloc(1), NULL), 0);
    assert_int_equal(sink_offsets_note(pending, 4, &b), 0);
    assert_int_equal(pending[0], 11);
    assert_int_equal(pending[1], -1);
    assert_int_equal(pending[2], 6);
    sink_batch_clear(&b, fake_free, NULL);
    /* the next batch moves partition 0 on; partition 2 keeps what the first batch reached */
    assert_int_equal(sink_batch_add(&b, fake_msg(0, 11), malloc(1), NULL), 0);
    assert_int_equal(sink_batch_add(&b, fake_msg(0, 12), NULL, "poison"), 0);
    assert_int_equal(sink_offsets_note(pending, 4, &b), 0);
    assert_int_equal(pending[0], 13);
    assert_int_equal(pending[2], 6);
    sink_batch_clear(&b, fake_free, NULL);
    /* never backwards (a retried or replayed range behind what was noted) */
    assert_int_equal(sink_batch_add(&b, fake_msg(0, 3), malloc(1), NULL), 0);
    assert_int_equal(sink_batch_add(&b, fake_msg(7, 1), malloc(1), NULL), 0);
    assert_int_equal(sink_offsets_note(pending, 4, &b), 1); /* partition 7 does not fit */
    assert_int_equal(pending[0], 13);
    sink_batch_clear(&b, fake_free, NULL);
    sink_batch_free(&b);
}

static void test_await_turn(void **state)
{
    (void)state;
    struct commit_gate g;
    assert_int_equal(commit_gate_init(&g), 0);
    commit_gate_reset(&g, 5);
    struct sink_batch b = { .topic = "chat", .destroy_msg = fake_destroy, .gate = &g };
    assert_int_equal(sink_batch_await_turn(&b), 0); /* not numbered yet: nothing to wait for */
    b.seq = 5;
    assert_int_equal(sink_batch_await_turn(&b), 0); /* the oldest: its turn */
    commit_gate_finish(&g, 5, 0);
    b.seq = 6;
    assert_int_equal(sink_batch_await_turn(&b), -1); /* batch 5 failed: must not commit */
    assert_int_equal(sink_batch_add(&b, fake_msg(0, 1), malloc(1), NULL), 0);
    destroyed = freed = 0;
    sink_batch_clear(&b, fake_free, NULL);
    assert_int_equal(b.seq, 0); /* a cleared batch is numbered again when next written */
    assert_int_equal(destroyed, 1);
    sink_batch_free(&b);
    struct sink_batch alone = { .topic = "votes", .seq = 3 };
    assert_int_equal(sink_batch_await_turn(&alone), 0); /* no gate: one writer */
    commit_gate_destroy(&g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ranges_per_partition),
        cmocka_unit_test(test_grows_past_initial_capacity),
        cmocka_unit_test(test_offsets_noted_between_commits),
        cmocka_unit_test(test_await_turn),
    };
    return cmocka_run_group_tests_name("workers-batch", tests, NULL, NULL);
}
