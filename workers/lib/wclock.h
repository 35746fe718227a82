/*
 * wclock.h - the workers' monotonic clock in milliseconds, for batch timings, backoff and
 * commit intervals (never wall-clock time, which NTP may move).
 */
#ifndef WORKERS_WCLOCK_H
#define WORKERS_WCLOCK_H

#include <time.h>

static inline double wclock_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

#endif
