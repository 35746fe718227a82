/*
 * ulid.c - ULID generator and checker (see ulid.h and docs/CONTRACT.md).
 */
#include "ulid.h"

#include <errno.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

static const char crockford[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

int vc_ulid_init(vc_ulid_gen *g)
{
    unsigned char buf[10];
    size_t got = 0;

    while (got < sizeof(buf)) {
        ssize_t n = getrandom(buf + got, sizeof(buf) - got, 0);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            return -1;
        }
        got += (size_t)n;
    }

    uint64_t lo = 0;
    for (int i = 2; i < 10; i++) {
        lo = (lo << 8) | buf[i];
    }
    /* Keep the top random bit clear so that ~2^79 increments fit before the
     * 80-bit counter could wrap: wrapping would break ordering within a ms. */
    vc_ulid_init_seed(g, (uint16_t)(((buf[0] << 8) | buf[1]) & 0x7fff), lo);
    return 0;
}

void vc_ulid_init_seed(vc_ulid_gen *g, uint16_t hi, uint64_t lo)
{
    g->last_ms = 0;
    g->rnd_hi = hi;
    g->rnd_lo = lo;
}

uint64_t vc_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void vc_ulid_next(vc_ulid_gen *g, uint64_t now_ms, char out[VC_ULID_LEN + 1])
{
    uint64_t t;
    int i;

    if (now_ms < g->last_ms) {
        now_ms = g->last_ms; /* clock stepped back: stay monotonic */
    }
    g->last_ms = now_ms;

    /* increment the 80-bit random part for every id (CONTRACT.md) */
    if (++g->rnd_lo == 0) {
        g->rnd_hi++;
    }

    /* 48-bit time: 10 chars (50 bits, top 2 zero) */
    t = now_ms & 0xffffffffffffULL;
    for (i = 9; i >= 0; i--) {
        out[i] = crockford[t & 31];
        t >>= 5;
    }

    /* 80 random bits: 16 chars, taken 5 bits at a time from the low end */
    uint64_t lo = g->rnd_lo;
    uint32_t hi = g->rnd_hi;
    for (i = 25; i >= 10; i--) {
        out[i] = crockford[lo & 31];
        lo = (lo >> 5) | ((uint64_t)(hi & 31) << 59);
        hi >>= 5;
    }
    out[VC_ULID_LEN] = '\0';
}

static int crockford_value(char c)
{
    const char *p;

    if (c == '\0') {
        return -1;
    }
    p = strchr(crockford, c);
    return p ? (int)(p - crockford) : -1;
}

int vc_ulid_valid(const char *s, size_t len)
{
    if (len != VC_ULID_LEN || s[0] > '7') {
        return 0;
    }
    for (size_t i = 0; i < len; i++) {
        if (crockford_value(s[i]) < 0) {
            return 0;
        }
    }
    return 1;
}

uint64_t vc_ulid_time_ms(const char *s)
{
    uint64_t t = 0;

    for (int i = 0; i < 10; i++) {
        t = (t << 5) | (uint64_t)crockford_value(s[i]);
    }
    return t;
}
