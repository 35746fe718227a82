/*
 * order_advance.c - the order sink's simulated payment and shipping: a thread with its own
 * PostgreSQL connection calls order_advance() (stack/schema.sql) every --tick-ms. That one
 * statement moves every due order a step, stores each transition once (the status condition
 * and order_events' primary key) and gives a failed payment's copies back to the book, so a
 * crash at any point leaves either the whole step or none of it.
 */
#include "order_sink.h"

#include "metrics.h"
#include "wlog.h"
#include "wthread.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* One call; the number of orders moved, or -1 (logged once per outage by the caller). */
static long advance_once(struct order_advancer *a)
{
    char max[24], delay[24];
    snprintf(max, sizeof max, "%ld", a->o->advance_batch);
    snprintf(delay, sizeof delay, "%ld", a->o->ship_delay_ms);
    const char *params[2] = { max, delay };
    PGconn *c = pg_conn_get(&a->pg);
    if (c == NULL)
        return -1;
    PGresult *res =
        PQexecParams(c, "SELECT order_id, buyer, status FROM order_advance($1::int, $2::int)", 2,
                     NULL, params, NULL, NULL, 0);
    if (res == NULL || PQresultStatus(res) != PGRES_TUPLES_OK) {
        pg_conn_note_failure(&a->pg, res);
        PQclear(res);
        return -1;
    }
    long n = PQntuples(res);
    for (long i = 0; i < n; i++) {
        const char *st = PQgetvalue(res, (int)i, 2);
        atomic_fetch_add(strcmp(st, "shipped") == 0 ? a->shipped
                         : strcmp(st, "paid") == 0  ? a->paid
                                                    : a->failed,
                         1);
    }
    order_notify_rows(&a->notify, res, -1);
    PQclear(res);
    return n;
}

static void sleep_ms(long ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
}

static void *advancer_main(void *arg)
{
    struct order_advancer *a = arg;
    int down = 0;
    while (!atomic_load(&a->quit)) {
        long n = advance_once(a);
        if ((n < 0) != down) {
            down = n < 0;
            if (down)
                wlog_warn("order transitions failing, retrying", "err=\"%s\"", a->pg.last_error);
            else
                wlog_info("order transitions recovered", NULL);
        }
        if (n < 0)
            atomic_fetch_add(a->errors, 1);
        /* a full batch means more are due: go on at once */
        if (n < a->o->advance_batch)
            sleep_ms(n < 0 ? 500 : a->o->tick_ms);
    }
    return NULL;
}

int order_advancer_start(struct order_advancer *a, const struct order_opts *o, const char *conninfo,
                         _Atomic uint64_t *published, _Atomic uint64_t *failed)
{
    a->o = o;
    atomic_store(&a->quit, 0);
    pg_conn_init(&a->pg, conninfo);
    order_notify_init(&a->notify, o->redis_host, (int)o->redis_port, o->redis_prefix, published,
                      failed);
    a->paid = wmetrics_counter("order_paid_total", "Orders paid (simulated)");
    a->failed = wmetrics_counter("order_payment_failed_total",
                                 "Orders whose simulated payment failed (stock released)");
    a->shipped = wmetrics_counter("order_shipped_total", "Orders shipped (simulated)");
    a->errors = wmetrics_counter("order_transition_errors_total",
                                 "Transition rounds that failed (PostgreSQL unreachable)");
    return wthread_start(&a->thread, "order-advance", advancer_main, a);
}

void order_advancer_stop(struct order_advancer *a)
{
    atomic_store(&a->quit, 1);
    if (pthread_join(a->thread, NULL) != 0)
        wlog_warn("order transition thread join failed", NULL);
    pg_conn_close(&a->pg);
    order_notify_close(&a->notify);
}
