/*
 * backoff.c - bounded exponential backoff with jitter (see backoff.h).
 */
#include "backoff.h"

void backoff_init(struct backoff *b, uint32_t base_ms, uint32_t cap_ms, uint64_t seed)
{
    b->base_ms = base_ms ? base_ms : 1;
    b->cap_ms = cap_ms < b->base_ms ? b->base_ms : cap_ms;
    b->attempt = 0;
    b->rng = seed ? seed : 0x9e3779b97f4a7c15ULL;
}

static uint64_t xorshift64(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    *s = x;
    return x;
}

uint32_t backoff_next(struct backoff *b)
{
    uint64_t ceiling = b->base_ms;
    /* Stop doubling once past the cap so the shift can never overflow. */
    for (uint32_t i = 0; i < b->attempt && ceiling < b->cap_ms; i++)
        ceiling *= 2;
    if (ceiling > b->cap_ms)
        ceiling = b->cap_ms;
    if (b->attempt < 64)
        b->attempt++;
    uint64_t floor = b->base_ms / 2;
    if (floor >= ceiling)
        return (uint32_t)ceiling;
    return (uint32_t)(floor + xorshift64(&b->rng) % (ceiling - floor + 1));
}

void backoff_reset(struct backoff *b) { b->attempt = 0; }
