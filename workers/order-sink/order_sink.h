/*
 * order_sink.h - what the order sink's parts share: its options, the simulated payment and
 * shipping (order_advance.c) that run beside the Kafka loop (order_sink.c), and the live order
 * states both push (order_notify.c).
 */
#ifndef ORDER_SINK_H
#define ORDER_SINK_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "kconsumer.h"
#include "pg_conn.h"
#include "redis_conn.h"

struct order_opts {
    struct sink_config kafka; /* Kafka, batching, backoff and replay: sink_options.h */
    const char *pg_conninfo, *metrics_addr, *log_level, *redis_host, *redis_prefix;
    long pg_port, metrics_port, redis_port;
    long pay_delay_ms, ship_delay_ms, payment_failure_pct, tick_ms, advance_batch;
};

/* Live order states on Redis pub/sub (order_notify.c); one per thread. */
struct order_notify {
    struct redis_conn redis;
    const char *prefix; /* channel prefix (tests) */
    double quiet_until; /* after a failure, no publish before this (wclock ms) */
    _Atomic uint64_t *published, *failed;
};

void order_notify_init(struct order_notify *n, const char *host, int port, const char *prefix,
                       _Atomic uint64_t *published, _Atomic uint64_t *failed);
/* PUBLISH each row (order id, buyer, status, and the reason in column reason_col, -1 = none). */
void order_notify_rows(struct order_notify *n, const PGresult *res, int reason_col);
void order_notify_close(struct order_notify *n);

/* The thread that moves due orders on: reserved -> paid -> shipped, or payment_failed. */
struct order_advancer {
    const struct order_opts *o;
    struct pg_conn pg;
    struct order_notify notify;
    pthread_t thread;
    atomic_int quit;
    _Atomic uint64_t *paid, *failed, *shipped, *errors;
};

/* Connects lazily with conninfo; 0, or -1 when the thread could not start. */
int order_advancer_start(struct order_advancer *a, const struct order_opts *o, const char *conninfo,
                         _Atomic uint64_t *published, _Atomic uint64_t *failed);
void order_advancer_stop(struct order_advancer *a);

#endif
