/*
 * backoff.h - bounded exponential backoff with full jitter for store/broker retries.
 *
 * delay(k) = random in [base/2, min(cap, base * 2^k)], so a fleet of workers that lost the
 * same store does not retry in lockstep, and no wait ever exceeds `cap_ms`.
 */
#ifndef WORKERS_BACKOFF_H
#define WORKERS_BACKOFF_H

#include <stdint.h>

struct backoff {
    uint32_t base_ms;
    uint32_t cap_ms;
    uint32_t attempt; /* failures since the last reset */
    uint64_t rng;     /* xorshift state; per instance so tests are deterministic */
};

void backoff_init(struct backoff *b, uint32_t base_ms, uint32_t cap_ms, uint64_t seed);
/* Delay before the next retry; advances the attempt counter. */
uint32_t backoff_next(struct backoff *b);
/* Call after a success. */
void backoff_reset(struct backoff *b);

#endif
