/*
 * chat_sink.c - the chat sink daemon: Kafka `chat` -> PostgreSQL `messages` + Redis pub/sub.
 *
 * Two batches are written at once by default (--writers 2): kconsumer runs one
 * writer thread per connection and hands batches out in consumption order (kconsumer.h).
 * Each batch is ONE PostgreSQL transaction holding its rows and its partitions' next
 * offsets, so rows and offsets commit together:
 *   BEGIN; COPY messages (...) FROM STDIN (FORMAT binary)        -- one message
 *   <the binary rows>                                            -- CopyDone => rows written
 *   [wait for this batch's turn: sink_batch_await_turn()]
 *   INSERT INTO sink_offsets ... ON CONFLICT DO UPDATE SET next_offset = GREATEST(...); COMMIT
 * The COPY (PostgreSQL's CPU-heavy part) of batch k+1 runs on its connection while batch k
 * finishes and commits on the other. Commits stay strictly in order: batch k+1 sends its
 * offsets upsert and COMMIT only after batch k's write returned successfully; if batch k
 * failed, k+1 is refused its turn and rolls back, and kconsumer retries k, then k+1, in
 * order. So the stored offsets never pass a row that is not stored (exactly-once: we resume
 * from sink_offsets, and every later batch's offsets are only committed behind earlier
 * rows). sink_offsets is touched only at the commit, so the later batch never holds its row
 * lock while waiting, and never takes it before the earlier batch committed. The one wait
 * that could close a cycle (an id in both batches: the earlier COPY waits on the later
 * transaction, which waits for the earlier turn) is bounded by lock_timeout: the earlier
 * batch fails, both are retried in order. With --writers 1 (no overlap) the offsets
 * upsert and the COPY go as ONE simple-query message without BEGIN, an implicit transaction
 * committed when the COPY completes (two round trips instead of three).
 *
 * A batch that was already (partly) stored can only come back when another worker or an
 * operator replay wrote it (our own committed batches are never re-read: we resume from
 * sink_offsets); COPY then fails with unique_violation (23505), the transaction is rolled
 * back (offsets included) and the batch is redone in an explicit transaction with
 *   INSERT INTO messages ... SELECT unnest(...) ON CONFLICT (id) DO NOTHING RETURNING id
 * (then the same turn + offsets + COMMIT), which stores only the missing rows and tells
 * which were new. A duplicate id inside one batch takes the same fallback. After COMMIT,
 * every newly stored message is queued for PUBLISH on chat:user:{to} and chat:user:{from}
 * before the write returns (so in commit order); a publisher thread sends the queue on its
 * own Redis connection, off the storage path. Publishing is best effort: pub/sub has no
 * memory, a client that was not listening catches up through the history API, so a Redis
 * outage does not stop storage. A replayed row is not new and is not published again.
 * Decoding (main thread) parses inside common's JSON arena and keeps one allocation per
 * message (lib/msg.c). --log-level debug logs each batch's time split (`batch stored`).
 */
#include "chat_sink.h"

#include "metrics.h"
#include "msg.h"
#include "sink_options.h"
#include "wconfig.h"
#include "wclock.h"
#include "wlog.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static struct chat_opts opts;

static const struct wopt option_table[] = {
    SINK_KAFKA_OPTIONS(opts.kafka, "CHAT_SINK", "chat-sink", "chat", "chat.dlq"),
    { "pg", "PG_CONNINFO", WOPT_STR, &opts.pg_conninfo, NULL,
      "libpq conninfo (overrides --pg-port); add options='-csearch_path=x' for a schema" },
    { "pg-port", "PG_PORT", WOPT_INT, &opts.pg_port, "5432",
      "PostgreSQL port on 127.0.0.1 (db vote, user vote)" },
    { "writers", "CHAT_SINK_WRITERS", WOPT_INT, &opts.writers, "2",
      "batches written at once, each on its own PostgreSQL connection (1-4; 1 = no overlap)" },
    { "redis-host", "REDIS_HOST", WOPT_STR, &opts.redis_host, "127.0.0.1", "Redis host (pub/sub)" },
    { "redis-port", "REDIS_PORT", WOPT_INT, &opts.redis_port, "6379", "Redis port" },
    { "redis-timeout-ms", "REDIS_TIMEOUT_MS", WOPT_INT, &opts.redis_timeout_ms, "1000",
      "Redis connect/command timeout" },
    { "redis-prefix", "CHAT_SINK_REDIS_PREFIX", WOPT_STR, &opts.redis_prefix, "",
      "prefix for Redis channels (tests)" },
    { "metrics-addr", "SINK_METRICS_ADDR", WOPT_STR, &opts.metrics_addr, "127.0.0.1",
      "metrics listen address" },
    { "metrics-port", "CHAT_SINK_METRICS_PORT", WOPT_INT, &opts.metrics_port, "9102",
      "metrics port (0 = off)" },
    SINK_REPLAY_OPTION(opts.kafka),
    { "log-level", "LOG_LEVEL", WOPT_STR, &opts.log_level, "info", "debug|info|warn|error" },
};

/* ---------------- sink callbacks ---------------- */

static void *chat_decode(void *ctx, const rd_kafka_message_t *rkm, char *reason, size_t cap)
{
    (void)ctx;
    return chat_msg_decode(rkm->payload, rkm->len, reason, cap);
}

static void chat_free(void *ctx, void *decoded)
{
    (void)ctx;
    chat_msg_free(decoded);
}

/* The `batch stored` debug line (--log-level debug): where the batch's time went on its
 * writer (struct batch_timing); `conn` is the slot, i.e. the PostgreSQL connection. */
static void log_batch_timing(const struct pg_slot *ps, const struct sink_batch *b, double total_ms)
{
    const struct batch_timing *t = &ps->timing;
    wlog_debug(
        "batch stored",
        "rows=%zu conn=%u idle_ms=%.2f encode_ms=%.2f query_ms=%.2f "
        "send_ms=%.2f finish_ms=%.2f turn_ms=%.2f commit_ms=%.2f publish_ms=%.2f total_ms=%.2f",
        b->n - b->npoison, b->writer, t->idle_ms, t->encode_ms, t->copy.query_ms, t->copy.send_ms,
        t->copy.finish_ms, t->turn_ms, t->commit_ms, t->publish_ms, total_ms);
}

/* kconsumer writer `b->writer` (or the main thread retrying with no writer busy): the
 * batch goes through that writer's own connection. */
static int chat_write_batch(void *ctx, const struct sink_batch *b, char *err, size_t errcap)
{
    struct chat_sink *s = ctx;
    struct pg_slot *ps = &s->slot[b->writer < s->nslots ? b->writer : 0];
    double t0 = wclock_ms();
    memset(&ps->timing, 0, sizeof ps->timing);
    ps->timing.idle_ms = ps->last_write_end_ms > 0 ? t0 - ps->last_write_end_ms : 0;
    unsigned char *fresh = calloc(b->n ? b->n : 1, 1);
    if (fresh == NULL) {
        snprintf(err, errcap, "out of memory");
        return -1;
    }
    int rc = store_batch(s, ps, b, fresh, err, errcap);
    if (rc == 0) {
        /* Before returning: the next batch commits only after this one returned (the gate
         * opens when write_batch() is done), so the publish queue keeps commit order. */
        double t1 = wclock_ms();
        publish_fresh(s, b, fresh);
        ps->timing.publish_ms = wclock_ms() - t1;
    }
    free(fresh);
    ps->last_write_end_ms = wclock_ms();
    if (rc == 0)
        log_batch_timing(ps, b, ps->last_write_end_ms - t0);
    return rc;
}

/* Seek source of truth: sink_offsets, committed in the same transaction as the rows. Runs
 * with no batch in flight (kconsumer waits for its writers first), on connection 0. */
static int chat_load_offsets(void *ctx, rd_kafka_topic_partition_list_t *parts, char *err,
                             size_t errcap)
{
    struct chat_sink *s = ctx;
    struct pg_slot *ps = &s->slot[0];
    if (pg_conn_get(&ps->pg) == NULL) {
        snprintf(err, errcap, "postgres: %s", ps->pg.last_error);
        return -1;
    }
    for (int i = 0; i < parts->cnt; i++) {
        char part[16];
        snprintf(part, sizeof part, "%" PRId32, parts->elems[i].partition);
        const char *params[] = { parts->elems[i].topic, part };
        PGresult *res = exec_params(
            ps, "SELECT next_offset FROM sink_offsets WHERE topic = $1 AND partition = $2", 2,
            params, PGRES_TUPLES_OK, err, errcap);
        if (res == NULL)
            return -1;
        if (PQntuples(res) == 1)
            parts->elems[i].offset = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
        PQclear(res);
    }
    return 0;
}

/* ---------------- startup ---------------- */

/* Connection `index`'s conninfo: a bounded connect keeps a black-holed server from stalling
 * the loop forever; the application name tells the connections apart in pg_stat_activity
 * (chat-sink/0, chat-sink/1; tests terminate one of them). A URI is taken as given. */
static void slot_init(struct pg_slot *ps, unsigned index)
{
    memset(ps, 0, sizeof *ps);
    const char *ci = opts.pg_conninfo;
    if (ci != NULL && strstr(ci, "://") != NULL)
        snprintf(ps->conninfo, sizeof ps->conninfo, "%s", ci);
    else if (ci != NULL)
        snprintf(ps->conninfo, sizeof ps->conninfo, "%s%s fallback_application_name=chat-sink/%u",
                 ci, strstr(ci, "connect_timeout") ? "" : " connect_timeout=3", index);
    else
        snprintf(ps->conninfo, sizeof ps->conninfo,
                 "host=127.0.0.1 port=%ld dbname=vote user=vote connect_timeout=3 "
                 "application_name=chat-sink/%u",
                 opts.pg_port, index);
    pg_conn_init(&ps->pg, ps->conninfo);
}

static void slot_close(struct pg_slot *ps)
{
    pg_conn_close(&ps->pg);
    for (int c = 0; c < COLS_PER_ROW; c++)
        sb_free(&ps->cols[c]);
    sb_free(&ps->copy);
    sb_free(&ps->sql);
}

static void register_chat_metrics(struct chat_sink *s)
{
    s->written =
        wmetrics_counter("sink_messages_written_total", "Chat messages inserted into PostgreSQL");
    s->replayed =
        wmetrics_counter("sink_duplicates_skipped_total",
                         "Chat messages already stored (replays), skipped by ON CONFLICT");
    s->published = wmetrics_counter("sink_published_total", "Redis PUBLISH calls for new messages");
    s->publish_failed = wmetrics_counter("sink_publish_failed_total",
                                         "Redis PUBLISH calls that failed (live push skipped)");
    s->copy_fallbacks = wmetrics_counter(
        "sink_copy_fallbacks_total",
        "Batches whose COPY hit an already stored id and were redone with ON CONFLICT");
}

int main(int argc, char **argv)
{
    enum wconfig_result cr =
        wconfig_parse(option_table, sizeof option_table / sizeof option_table[0], argc, argv,
                      "chat-sink: consume chat messages from Kafka into PostgreSQL, effectively "
                      "once, and push them on Redis pub/sub.");
    if (cr != WCONFIG_OK)
        return cr == WCONFIG_HELP ? 0 : 2;
    int level = wlog_level_parse(opts.log_level);
    if (level < 0) {
        wconfig_error("--log-level must be debug, info, warn or error, not '%s'", opts.log_level);
        return 2;
    }
    wlog_init("chat-sink", (enum wlog_level)level);
    wmetrics_init("sink=\"chat-sink\"");
    /* Prefetch sized for this sink's drain rate (lib/sink_kafka.c says why the queue must
     * hold over a second of draining with librdkafka 2.0): 60000 messages (~1.2 s at
     * 50k msgs/s) and 16 MB for large messages, within the 64 MB RSS budget.
     * --kafka-props still overrides both. */
    opts.kafka.sink_props = "queued.min.messages=60000,queued.max.messages.kbytes=16384";
    if (wconfig_check_range("writers", opts.writers, 1, SINK_MAX_WRITERS) < 0)
        return 2;
    opts.kafka.writers = opts.writers; /* one kconsumer writer per connection */
    struct chat_sink s = { .o = &opts, .nslots = (unsigned)opts.writers };
    register_chat_metrics(&s);
    for (unsigned i = 0; i < s.nslots; i++)
        slot_init(&s.slot[i], i);
    redis_conn_init(&s.redis, opts.redis_host, (int)opts.redis_port, (int)opts.redis_timeout_ms);
    sink_install_signals();
    if (wmetrics_serve(opts.metrics_addr, (int)opts.metrics_port) != 0)
        return 1;
    if (publisher_start(&s) != 0) {
        wlog_error("cannot start the publisher thread", NULL);
        return 1;
    }
    struct sink_ops ops = { chat_decode, chat_free, chat_write_batch, chat_load_offsets };
    int rc = sink_run(&opts.kafka, &ops, &s);
    publisher_stop(&s);
    wmetrics_stop();
    for (unsigned i = 0; i < s.nslots; i++)
        slot_close(&s.slot[i]);
    redis_conn_close(&s.redis);
    return rc == 0 ? 0 : 1;
}
