/*
 * order_sink.h - what the order sink's two parts share: its options, and the simulated
 * payment and shipping (order_advance.c) that run beside the Kafka loop (order_sink.c).
 */
#ifndef ORDER_SINK_H
#define ORDER_SINK_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "kconsumer.h"
#include "pg_conn.h"

struct order_opts {
    struct sink_config kafka;      /* Kafka, batching, backoff and replay: sink_options.h */
    const char *pg_conninfo, *metrics_addr, *log_level;
    long pg_port, metrics_port;
    long pay_delay_ms, ship_delay_ms, payment_failure_pct, tick_ms, advance_batch;
};

/* The thread that moves due orders on: reserved -> paid -> shipped, or payment_failed. */
struct order_advancer {
    const struct order_opts *o;
    struct pg_conn pg;
    pthread_t thread;
    atomic_int quit;
    _Atomic uint64_t *paid, *failed, *shipped, *errors;
};

/* Connects lazily with conninfo; 0, or -1 when the thread could not start. */
int order_advancer_start(struct order_advancer *a, const struct order_opts *o,
                         const char *conninfo);
void order_advancer_stop(struct order_advancer *a);

#endif
