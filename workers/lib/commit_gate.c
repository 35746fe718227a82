/*
 * commit_gate.c - in-order commits for concurrently written batches (see commit_gate.h).
 */
#include "commit_gate.h"

#define NONE_FAILED UINT64_MAX

int commit_gate_init(struct commit_gate *g)
{
    if (pthread_mutex_init(&g->mu, NULL) != 0)
        return -1;
    if (pthread_cond_init(&g->cv, NULL) != 0) {
        pthread_mutex_destroy(&g->mu);
        return -1;
    }
    g->next = 0;
    g->first_failed = NONE_FAILED;
    return 0;
}

void commit_gate_destroy(struct commit_gate *g)
{
    pthread_cond_destroy(&g->cv);
    pthread_mutex_destroy(&g->mu);
}

void commit_gate_reset(struct commit_gate *g, uint64_t seq)
{
    pthread_mutex_lock(&g->mu);
    g->next = seq;
    g->first_failed = NONE_FAILED;
    pthread_cond_broadcast(&g->cv);
    pthread_mutex_unlock(&g->mu);
}

int commit_gate_await(struct commit_gate *g, uint64_t seq)
{
    pthread_mutex_lock(&g->mu);
    /* Successes arrive in order (each waited here), so `next` reaching seq means all
     * earlier ones are durable; a failure anywhere before seq settles it the other way. */
    while (g->next < seq && g->first_failed >= seq)
        pthread_cond_wait(&g->cv, &g->mu);
    int ok = g->first_failed >= seq;
    pthread_mutex_unlock(&g->mu);
    return ok ? 0 : -1;
}

void commit_gate_finish(struct commit_gate *g, uint64_t seq, int ok)
{
    pthread_mutex_lock(&g->mu);
    if (!ok) {
        if (seq < g->first_failed)
            g->first_failed = seq;
    } else if (seq + 1 > g->next) {
        g->next = seq + 1;
    }
    pthread_cond_broadcast(&g->cv);
    pthread_mutex_unlock(&g->mu);
}
