/*
 * chat_sink.h - the chat sink's state, shared by its parts: chat_sink.c (options, the loop's
 * callbacks, startup), chat_pg.c (a batch's PostgreSQL transaction) and chat_publish.c (the
 * publisher thread's Redis PUBLISH queue). chat_sink.c says how a batch is written.
 */
#ifndef WORKERS_CHAT_SINK_H
#define WORKERS_CHAT_SINK_H

#include "kconsumer.h"
#include "pg_conn.h"
#include "pg_copy.h"
#include "redis_conn.h"
#include "strbuf.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#define COLS_PER_ROW 6

struct chat_opts {
    struct sink_config kafka; /* Kafka, batching, backoff and replay: sink_options.h */
    const char *pg_conninfo, *redis_host, *redis_prefix;
    long pg_port, writers, redis_port, redis_timeout_ms;
    const char *metrics_addr, *log_level;
    long metrics_port;
};

/* Where one batch's time went on the writer (milliseconds): the `batch stored` debug line. */
struct batch_timing {
    double idle_ms;            /* since this slot's previous write returned: waiting for work */
    double encode_ms;          /* binary COPY rows + offsets SQL built */
    struct pgcopy_timing copy; /* the COPY's round trips (lib/pg_copy.h) */
    double turn_ms;            /* waiting for the earlier batches to finish (commit gate) */
    double commit_ms;          /* offsets upsert + COMMIT round trip (explicit transaction) */
    double publish_ms;         /* PUBLISH commands formatted and queued */
};

/* One per kconsumer writer (sink_batch.writer): a batch in flight has its own PostgreSQL
 * session and scratch buffers, so two batches can be written at once. */
struct pg_slot {
    struct pg_conn pg;
    char conninfo[1100];
    unsigned long
        session_gen; /* pg session generation set up (lock_timeout, prepared) (0 = none) */
    strbuf cols[COLS_PER_ROW];  /* array parameters of the fallback, reused */
    strbuf copy;                /* binary COPY data of the fast path, reused */
    strbuf sql;                 /* offsets upsert + COMMIT text, reused */
    struct batch_timing timing; /* of the batch being written */
    double last_write_end_ms;   /* when the previous write_batch returned (0 = none yet) */
};

struct chat_sink {
    struct chat_opts *o;
    struct pg_slot slot[SINK_MAX_WRITERS];
    unsigned nslots;
    struct redis_conn redis;
    int redis_was_down; /* publisher thread: log publish outages once per state change */
    struct {
        pthread_t thread;
        pthread_mutex_t mu;
        pthread_cond_t cv;
        strbuf fill;   /* under mu: RESP PUBLISH commands queued by the writer */
        size_t fill_n; /* under mu: commands in fill */
        strbuf send;   /* publisher thread only: the commands being sent */
        int quit;      /* under mu */
    } pub;             /* `redis` belongs to the publisher thread */
    _Atomic uint64_t *written;
    _Atomic uint64_t *replayed;
    _Atomic uint64_t *published;
    _Atomic uint64_t *publish_failed;
    _Atomic uint64_t *copy_fallbacks;
};

/* chat_pg.c */
PGresult *exec_params(struct pg_slot *ps, const char *sql, int n, const char *const *params,
                      ExecStatusType want, char *err, size_t errcap);
int store_batch(struct chat_sink *s, struct pg_slot *ps, const struct sink_batch *b,
                unsigned char *fresh, char *err, size_t errcap);

/* chat_publish.c */
void publish_fresh(struct chat_sink *s, const struct sink_batch *b, const unsigned char *fresh);
int publisher_start(struct chat_sink *s);
void publisher_stop(struct chat_sink *s);

#endif
