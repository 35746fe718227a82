/*
 * order_sink.c - the order sink daemon: Kafka `orders` -> PostgreSQL stock reservations.
 *
 * The edge keys every order by its book, so one partition holds all the orders of a book in
 * the order they were accepted. Each batch is ONE PostgreSQL transaction:
 *   BEGIN; SELECT ... FROM order_reserve(<the batch's orders as arrays, in order>);
 *   INSERT INTO sink_offsets ... GREATEST(...); COMMIT
 * order_reserve() (stack/schema.sql) takes the stock of each order in turn only when enough
 * is left, else rejects it sold_out (or unknown_book), and skips an order that is already
 * stored; the offsets commit with the rows. So a replay (a crash before the Kafka commit, a
 * rebalance, --replay-from-start) changes nothing and the stock never goes below zero: the
 * sink resumes from sink_offsets, and a row that is there is never applied twice.
 * Whether an order's simulated payment will fail is decided here, from a hash of its id
 * (the same answer on every replay), and stored with the order; order_advance.c then moves
 * orders through payment and shipping on their own clock. After each commit the new states are
 * pushed to the buyers' live streams (order_notify.c).
 */
#include "kconsumer.h"
#include "metrics.h"
#include "msg.h"
#include "order_sink.h"
#include "pg_conn.h"
#include "sink_options.h"
#include "strbuf.h"
#include "wconfig.h"
#include "wlog.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RESERVE_COLS 7

struct order_sink {
    const struct order_opts *o;
    struct pg_conn pg;
    struct order_notify notify; /* the writer's: states after each commit */
    strbuf cols[RESERVE_COLS];  /* array parameters of order_reserve(), reused */
    strbuf parts, offsets;      /* the batch's partitions and next offsets */
    _Atomic uint64_t *reserved, *sold_out, *unknown, *replayed;
};

static struct order_opts opts;

static const struct wopt option_table[] = {
    SINK_KAFKA_OPTIONS(opts.kafka, "ORDER_SINK", "order-sink", "orders", "orders.dlq"),
    { "pg", "PG_CONNINFO", WOPT_STR, &opts.pg_conninfo, NULL,
      "libpq conninfo (overrides --pg-port)" },
    { "pg-port", "PG_PORT", WOPT_INT, &opts.pg_port, "5432",
      "PostgreSQL port on 127.0.0.1 (db vote, user vote)" },
    { "pay-delay-ms", "ORDER_PAY_DELAY_MS", WOPT_INT, &opts.pay_delay_ms, "2000",
      "simulated payment: milliseconds from reserved to paid or payment_failed" },
    { "ship-delay-ms", "ORDER_SHIP_DELAY_MS", WOPT_INT, &opts.ship_delay_ms, "3000",
      "simulated shipping: milliseconds from paid to shipped" },
    { "payment-failure-pct", "ORDER_PAYMENT_FAILURE_PCT", WOPT_INT, &opts.payment_failure_pct, "10",
      "percent of orders whose payment fails (0-100; decided by the order id, so replays agree)" },
    { "tick-ms", "ORDER_TICK_MS", WOPT_INT, &opts.tick_ms, "100",
      "how often due transitions are looked for" },
    { "advance-batch", "ORDER_ADVANCE_BATCH", WOPT_INT, &opts.advance_batch, "500",
      "orders moved per transition statement" },
    { "redis-host", "REDIS_HOST", WOPT_STR, &opts.redis_host, "127.0.0.1",
      "Redis host (live order states)" },
    { "redis-port", "REDIS_PORT", WOPT_INT, &opts.redis_port, "6379", "Redis port" },
    { "redis-prefix", "ORDER_SINK_REDIS_PREFIX", WOPT_STR, &opts.redis_prefix, "",
      "prefix for Redis channels (tests)" },
    { "metrics-addr", "SINK_METRICS_ADDR", WOPT_STR, &opts.metrics_addr, "127.0.0.1",
      "metrics listen address" },
    { "metrics-port", "ORDER_SINK_METRICS_PORT", WOPT_INT, &opts.metrics_port, "9103",
      "metrics port (0 = off)" },
    SINK_REPLAY_OPTION(opts.kafka),
    { "log-level", "LOG_LEVEL", WOPT_STR, &opts.log_level, "info", "debug|info|warn|error" },
};

/* FNV-1a of the id: the same order fails its payment on every replay and every host. */
static int payment_fails(const char *id)
{
    uint32_t h = 2166136261u;
    for (const char *p = id; *p; p++)
        h = (h ^ (unsigned char)*p) * 16777619u;
    return (long)(h % 100) < opts.payment_failure_pct;
}

/* Append one element to an array literal; text values are quoted (ids and usernames have
 * no quote or backslash: common/ checked them). */
static int arr_add(strbuf *b, const char *fmt_quoted, const char *s, int64_t v)
{
    const char *sep = b->len > 1 ? "," : "";
    return s != NULL ? sb_appendf(b, fmt_quoted, sep, s) : sb_appendf(b, "%s%" PRId64, sep, v);
}

static int build_params(struct order_sink *s, const struct sink_batch *b)
{
    for (int c = 0; c < RESERVE_COLS - 1; c++) {
        s->cols[c].len = 0;
        if (sb_append(&s->cols[c], "{", 1) != 0)
            return -1;
    }
    for (size_t i = 0; i < b->n; i++) {
        const struct order_msg *m = b->entries[i].decoded;
        if (m == NULL)
            continue;
        if (arr_add(&s->cols[0], "%s\"%s\"", m->id, 0) ||
            arr_add(&s->cols[1], NULL, NULL, m->book) ||
            arr_add(&s->cols[2], "%s\"%s\"", m->buyer, 0) ||
            arr_add(&s->cols[3], NULL, NULL, m->copies) ||
            arr_add(&s->cols[4], NULL, NULL, m->received_at) ||
            sb_appendf(&s->cols[5], "%s%s", s->cols[5].len > 1 ? "," : "",
                       payment_fails(m->id) ? "t" : "f"))
            return -1;
    }
    for (int c = 0; c < RESERVE_COLS - 1; c++)
        if (sb_append(&s->cols[c], "}", 1) != 0)
            return -1;
    s->cols[6].len = 0;
    if (sb_appendf(&s->cols[6], "%ld", opts.pay_delay_ms) != 0)
        return -1;
    s->parts.len = s->offsets.len = 0;
    if (sb_append(&s->parts, "{", 1) || sb_append(&s->offsets, "{", 1))
        return -1;
    for (size_t k = 0; k < b->nparts; k++)
        if (arr_add(&s->parts, NULL, NULL, b->parts[k].partition) ||
            arr_add(&s->offsets, NULL, NULL, b->parts[k].next_offset))
            return -1;
    return sb_append(&s->parts, "}", 1) || sb_append(&s->offsets, "}", 1) ? -1 : 0;
}

/* One statement inside the open transaction; the result (caller PQclears) or NULL. */
static PGresult *exec(struct order_sink *s, const char *sql, int n, const char *const *params,
                      ExecStatusType want, char *err, size_t errcap)
{
    PGresult *res = PQexecParams(s->pg.conn, sql, n, NULL, params, NULL, NULL, 0);
    if (res == NULL || PQresultStatus(res) != want) {
        pg_conn_note_failure(&s->pg, res);
        snprintf(err, errcap, "postgres: %s", s->pg.last_error);
        PQclear(res);
        return NULL;
    }
    return res;
}

static void count_outcomes(struct order_sink *s, const PGresult *res, size_t orders)
{
    int n = PQntuples(res);
    for (int i = 0; i < n; i++) {
        const char *st = PQgetvalue(res, i, 2), *why = PQgetvalue(res, i, 3);
        atomic_fetch_add(strcmp(st, "reserved") == 0    ? s->reserved
                         : strcmp(why, "sold_out") == 0 ? s->sold_out
                                                        : s->unknown,
                         1);
    }
    atomic_fetch_add(s->replayed, orders - (size_t)n);
}

static int order_write_batch(void *ctx, const struct sink_batch *b, char *err, size_t errcap)
{
    struct order_sink *s = ctx;
    PGresult *res = NULL;
    if (build_params(s, b) != 0) {
        snprintf(err, errcap, "out of memory");
        return -1;
    }
    if (pg_conn_get(&s->pg) == NULL) {
        snprintf(err, errcap, "postgres: %s", s->pg.last_error);
        return -1;
    }
    if (pg_exec_ok(&s->pg, "BEGIN") != 0) {
        snprintf(err, errcap, "postgres: %s", s->pg.last_error);
        return -1;
    }
    const char *rp[RESERVE_COLS];
    for (int c = 0; c < RESERVE_COLS; c++)
        rp[c] = s->cols[c].data;
    res = exec(s,
               "SELECT order_id, buyer, status, coalesce(reason, '') FROM "
               "order_reserve($1::text[], $2::bigint[],"
               " $3::text[], $4::int[], $5::bigint[], $6::boolean[], $7::int)",
               RESERVE_COLS, rp, PGRES_TUPLES_OK, err, errcap);
    if (res == NULL)
        goto error;
    const char *op[3] = { b->topic, s->parts.data, s->offsets.data };
    PGresult *off =
        exec(s,
             "INSERT INTO sink_offsets (topic, partition, next_offset)"
             " SELECT $1, p, o FROM unnest($2::int[], $3::bigint[]) AS u(p, o)"
             " ON CONFLICT (topic, partition) DO UPDATE"
             " SET next_offset = GREATEST(sink_offsets.next_offset, EXCLUDED.next_offset)",
             3, op, PGRES_COMMAND_OK, err, errcap);
    if (off == NULL)
        goto error;
    PQclear(off);
    if (pg_exec_ok(&s->pg, "COMMIT") != 0) {
        snprintf(err, errcap, "postgres commit: %s", s->pg.last_error);
        goto error;
    }
    count_outcomes(s, res, b->n - b->npoison);
    order_notify_rows(&s->notify, res, 3);
    PQclear(res);
    return 0;

error:
    PQclear(res);
    if (s->pg.conn != NULL && pg_exec_ok(&s->pg, "ROLLBACK") != 0)
        wlog_debug("rollback failed", "err=\"%s\"", s->pg.last_error);
    return -1;
}

/* The stored offsets win: they were committed with the reservations they cover. */
static int order_load_offsets(void *ctx, rd_kafka_topic_partition_list_t *parts, char *err,
                              size_t errcap)
{
    struct order_sink *s = ctx;
    if (pg_conn_get(&s->pg) == NULL) {
        snprintf(err, errcap, "postgres: %s", s->pg.last_error);
        return -1;
    }
    for (int i = 0; i < parts->cnt; i++) {
        char part[16];
        snprintf(part, sizeof part, "%" PRId32, parts->elems[i].partition);
        const char *params[] = { parts->elems[i].topic, part };
        PGresult *res =
            exec(s, "SELECT next_offset FROM sink_offsets WHERE topic = $1 AND partition = $2", 2,
                 params, PGRES_TUPLES_OK, err, errcap);
        if (res == NULL)
            return -1;
        if (PQntuples(res) == 1)
            parts->elems[i].offset = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
        PQclear(res);
    }
    return 0;
}

static void *order_decode(void *ctx, const rd_kafka_message_t *rkm, char *reason, size_t cap)
{
    (void)ctx;
    return order_msg_decode(rkm->payload, rkm->len, reason, cap);
}

static void order_free(void *ctx, void *decoded)
{
    (void)ctx;
    order_msg_free(decoded);
}

/* A bounded connect keeps a black-holed server from stalling the loop; the application name
 * tells the two connections apart in pg_stat_activity. A URI is taken as given. */
static void conninfo_for(char *out, size_t cap, const char *role)
{
    const char *ci = opts.pg_conninfo;
    if (ci != NULL && strstr(ci, "://") != NULL)
        snprintf(out, cap, "%s", ci);
    else if (ci != NULL)
        snprintf(out, cap, "%s%s fallback_application_name=order-sink/%s", ci,
                 strstr(ci, "connect_timeout") ? "" : " connect_timeout=3", role);
    else
        snprintf(out, cap,
                 "host=127.0.0.1 port=%ld dbname=vote user=vote connect_timeout=3"
                 " application_name=order-sink/%s",
                 opts.pg_port, role);
}

static int check_opts(void)
{
    if (opts.payment_failure_pct < 0 || opts.payment_failure_pct > 100 || opts.pay_delay_ms < 0 ||
        opts.ship_delay_ms < 0 || opts.tick_ms < 1 || opts.advance_batch < 1) {
        wlog_error("bad option: --payment-failure-pct 0-100, delays >= 0, --tick-ms and"
                   " --advance-batch >= 1",
                   NULL);
        return -1;
    }
    opts.kafka.writers = 1; /* one partition's orders must be applied strictly in order */
    return 0;
}

int main(int argc, char **argv)
{
    enum wconfig_result cr = wconfig_parse(
        option_table, sizeof option_table / sizeof option_table[0], argc, argv,
        "order-sink: reserve the bookstore's orders from Kafka in PostgreSQL, exactly once, "
        "then simulate payment and shipping.");
    if (cr != WCONFIG_OK)
        return cr == WCONFIG_HELP ? 0 : 2;
    int level = wlog_level_parse(opts.log_level);
    wlog_init("order-sink", level < 0 ? WLOG_INFO : (enum wlog_level)level);
    if (check_opts() != 0)
        return 2;
    wmetrics_init("sink=\"order-sink\"");
    char sink_ci[1100], advance_ci[1100];
    conninfo_for(sink_ci, sizeof sink_ci, "reserve");
    conninfo_for(advance_ci, sizeof advance_ci, "advance");
    struct order_sink s = { .o = &opts };
    struct order_advancer adv;
    memset(&adv, 0, sizeof adv);
    pg_conn_init(&s.pg, sink_ci);
    s.reserved = wmetrics_counter("order_reserved_total", "Orders that got their copies");
    s.sold_out =
        wmetrics_counter("order_sold_out_total", "Orders rejected: not enough copies left");
    s.unknown =
        wmetrics_counter("order_unknown_book_total", "Orders rejected: no such listed book");
    s.replayed = wmetrics_counter("sink_duplicates_skipped_total",
                                  "Orders already stored (replays), unchanged");
    _Atomic uint64_t *published =
        wmetrics_counter("sink_published_total", "Order states pushed on Redis pub/sub");
    _Atomic uint64_t *unpublished = wmetrics_counter(
        "sink_publish_failed_total", "Order states not pushed (Redis down: live push skipped)");
    order_notify_init(&s.notify, opts.redis_host, (int)opts.redis_port, opts.redis_prefix,
                      published, unpublished);
    sink_install_signals();
    int rc = 1;
    if (wmetrics_serve(opts.metrics_addr, (int)opts.metrics_port) != 0)
        goto error;
    if (order_advancer_start(&adv, &opts, advance_ci, published, unpublished) != 0) {
        wlog_error("cannot start the transition thread", NULL);
        goto error;
    }
    struct sink_ops ops = { order_decode, order_free, order_write_batch, order_load_offsets };
    rc = sink_run(&opts.kafka, &ops, &s) == 0 ? 0 : 1;
    order_advancer_stop(&adv);

error:
    wmetrics_stop();
    pg_conn_close(&s.pg);
    order_notify_close(&s.notify);
    for (int c = 0; c < RESERVE_COLS; c++)
        sb_free(&s.cols[c]);
    sb_free(&s.parts);
    sb_free(&s.offsets);
    return rc;
}
