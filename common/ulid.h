/*
 * ulid.h - time-ordered unique message ids (ULID, Crockford base32).
 *
 * Used by the edge module (one generator per nginx worker) and by the api
 * daemon (token jti).  Layout per docs/CONTRACT.md: 48-bit milliseconds since
 * the Unix epoch followed by 80 bits that are random per process at start and
 * incremented for every id.  Ids therefore sort by time, and two processes only
 * collide if their random 80-bit starting points overlap within one ms.
 *
 * The generator is NOT thread-safe: nginx workers are single-threaded; a
 * multi-threaded daemon must use one generator per thread or its own lock.
 */
#ifndef VC_ULID_H
#define VC_ULID_H

#include <stddef.h>
#include <stdint.h>

#define VC_ULID_LEN 26 /* characters, without the terminating NUL */

typedef struct {
    uint64_t last_ms; /* highest timestamp handed out (ids never go backwards) */
    uint16_t rnd_hi;  /* upper 16 of the 80 random bits */
    uint64_t rnd_lo;  /* lower 64 of the 80 random bits */
} vc_ulid_gen;

/* Seed from getrandom(2).  Call after fork() (nginx: init_process), so that
 * every worker gets its own random starting point.  Returns 0 or -1 (errno). */
int vc_ulid_init(vc_ulid_gen *g);

/* Seed explicitly (tests). */
void vc_ulid_init_seed(vc_ulid_gen *g, uint16_t hi, uint64_t lo);

/* Write the next id into out (VC_ULID_LEN chars + NUL).  now_ms is the
 * caller's clock (nginx: ngx_current_msec-derived wall time); a clock that
 * steps backwards reuses the last timestamp so ids stay ordered. */
void vc_ulid_next(vc_ulid_gen *g, uint64_t now_ms, char out[VC_ULID_LEN + 1]);

/* Current wall clock in ms (CLOCK_REALTIME). */
uint64_t vc_now_ms(void);

/* 1 when s is a syntactically valid ULID (26 Crockford chars, upper case,
 * first char <= '7' so the time fits 48 bits), else 0. */
int vc_ulid_valid(const char *s, size_t len);

/* Decode the millisecond timestamp of a valid ULID. */
uint64_t vc_ulid_time_ms(const char *s);

#endif
