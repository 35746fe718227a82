/*
 * sink_batch.c - a batch's entries and per-partition offset ranges (kconsumer.h), and the
 * gates that keep concurrent writers' commits and ordered sections in batch order.
 */
#include "sink_loop.h"

#include <stdio.h>
#include <stdlib.h>

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

int sink_batch_add(struct sink_batch *b, rd_kafka_message_t *rkm, void *decoded, const char *reason)
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

/* Both gates move together: the loop resets them when nothing is in flight and finishes
 * a batch in both when its write returned (a sink may have ended its ordered section
 * earlier; finishing it again with the batch's result only ever refuses later batches
 * sooner, which they would have been at their commit turn anyway). */
void sink_gates_reset(struct sink_loop *loop, uint64_t seq)
{
    commit_gate_reset(&loop->gate, seq);
    commit_gate_reset(&loop->ordered, seq);
}

void sink_gates_finish(struct sink_loop *loop, uint64_t seq, int ok)
{
    commit_gate_finish(&loop->ordered, seq, ok);
    commit_gate_finish(&loop->gate, seq, ok);
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
