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
 */#include "kconsumer.h"
#include "metrics.h"
#include "msg.h"
#include "pg_conn.h"
#include "pg_copy.h"
#include "redis_conn.h"
#include "sink_options.h"
#include "strbuf.h"
#include "wconfig.h"
#include "wclock.h"
#include "wlog.h"
#include "wthread.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define COLS_PER_ROW 6


struct chat_opts {
    struct sink_config kafka;      /* Kafka, batching, backoff and replay: sink_options.h */
    const char *pg_conninfo, *redis_host, *redis_prefix;
    long pg_port, writers, redis_port, redis_timeout_ms;
    const char *metrics_addr, *log_level;
    long metrics_port;
};

/* Where one batch's time went on the writer (milliseconds): the `batch stored` debug line. */
struct batch_timing {
    double idle_ms;                /* since this slot's previous write returned: waiting for work */
    double encode_ms;              /* binary COPY rows + offsets SQL built */
    struct pgcopy_timing copy;     /* the COPY's round trips (lib/pg_copy.h) */
    double turn_ms;                /* waiting for the earlier batches to finish (commit gate) */
    double commit_ms;              /* offsets upsert + COMMIT round trip (explicit transaction) */
    double publish_ms;             /* PUBLISH commands formatted and queued */
};

/* One per kconsumer writer (sink_batch.writer): a batch in flight has its own PostgreSQL
 * session and scratch buffers, so two batches can be written at once. */
struct pg_slot {
    struct pg_conn pg;
    char conninfo[1100];
    unsigned long session_gen;     /* pg session generation set up (lock_timeout, prepared) (0 = none) */
    strbuf cols[COLS_PER_ROW];     /* array parameters of the fallback, reused */
    strbuf copy;                   /* binary COPY data of the fast path, reused */
    strbuf sql;                    /* offsets upsert + COMMIT text, reused */
    struct batch_timing timing;    /* of the batch being written */
    double last_write_end_ms;      /* when the previous write_batch returned (0 = none yet) */
};

struct chat_sink {
    struct chat_opts *o;
    struct pg_slot slot[SINK_MAX_WRITERS];
    unsigned nslots;
    struct redis_conn redis;
    int redis_was_down;            /* publisher thread: log publish outages once per state change */
    struct {
        pthread_t thread;
        pthread_mutex_t mu;
        pthread_cond_t cv;
        strbuf fill;               /* under mu: RESP PUBLISH commands queued by the writer */
        size_t fill_n;             /* under mu: commands in fill */
        strbuf send;               /* publisher thread only: the commands being sent */
        int quit;                  /* under mu */
    } pub;                         /* `redis` belongs to the publisher thread */
    _Atomic uint64_t *written;
    _Atomic uint64_t *replayed;
    _Atomic uint64_t *published;
    _Atomic uint64_t *publish_failed;
    _Atomic uint64_t *copy_fallbacks;
};

static struct chat_opts opts;

static const struct wopt option_table[] = {
    SINK_KAFKA_OPTIONS(opts.kafka, "CHAT_SINK", "chat-sink", "chat", "chat.dlq"),
    { "pg", "PG_CONNINFO", WOPT_STR, &opts.pg_conninfo, NULL, "libpq conninfo (overrides --pg-port); add options='-csearch_path=x' for a schema" },
    { "pg-port", "PG_PORT", WOPT_INT, &opts.pg_port, "5432", "PostgreSQL port on 127.0.0.1 (db vote, user vote)" },
    { "writers", "CHAT_SINK_WRITERS", WOPT_INT, &opts.writers, "2",
      "batches written at once, each on its own PostgreSQL connection (1-4; 1 = no overlap)" },
    { "redis-host", "REDIS_HOST", WOPT_STR, &opts.redis_host, "127.0.0.1", "Redis host (pub/sub)" },
    { "redis-port", "REDIS_PORT", WOPT_INT, &opts.redis_port, "6379", "Redis port" },
    { "redis-timeout-ms", "REDIS_TIMEOUT_MS", WOPT_INT, &opts.redis_timeout_ms, "1000", "Redis connect/command timeout" },
    { "redis-prefix", "CHAT_SINK_REDIS_PREFIX", WOPT_STR, &opts.redis_prefix, "", "prefix for Redis channels (tests)" },
    { "metrics-addr", "SINK_METRICS_ADDR", WOPT_STR, &opts.metrics_addr, "127.0.0.1", "metrics listen address" },
    { "metrics-port", "CHAT_SINK_METRICS_PORT", WOPT_INT, &opts.metrics_port, "9102", "metrics port (0 = off)" },
    SINK_REPLAY_OPTION(opts.kafka),
    { "log-level", "LOG_LEVEL", WOPT_STR, &opts.log_level, "info", "debug|info|warn|error" },
};

/* ---------------- SQL building ---------------- */

/*
 * One fixed, prepared statement per connection whatever the batch size: each column travels
 * as ONE array parameter and unnest() turns the arrays back into rows. Compared with a
 * multi-row VALUES list this avoids re-parsing and re-planning a statement with thousands
 * of parameters on every batch; it is still a parameterised query (values never touch the
 * SQL text).
 */
#define INSERT_STMT "chat_sink_insert"
static const char insert_sql[] =
    "INSERT INTO messages (id, conversation, sender, recipient, body, received_at) "
    "SELECT i, c, s, r, b, to_timestamp(t / 1000.0) "
    "FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::bigint[]) "
    "AS u(i, c, s, r, b, t) "
    "ON CONFLICT (id) DO NOTHING RETURNING id";

/* The fast path's COPY; one connection puts the offsets upsert before it in the same message
 * (implicit transaction), several open an explicit one with BEGIN (copy_batch()). */
#define COPY_SQL "COPY messages (id, conversation, sender, recipient, body, received_at) FROM STDIN (FORMAT binary)"
static const char begin_copy_sql[] = "BEGIN; " COPY_SQL;

/*
 * Set once per session. lock_timeout bounds the one lock wait that could otherwise last
 * forever: with two batches in flight, an id that is in both (a record produced twice) makes
 * the earlier batch's COPY wait for the later one's transaction, while the later one waits
 * for the earlier one's turn to commit. After lock_timeout the earlier batch fails, the later
 * one is refused its turn and rolls back, and both are retried in order. No legitimate wait
 * of ours comes near it (another worker's batch transaction during a rebalance: tens of ms).
 */
static const char session_sql[] = "SET lock_timeout = '2s'";

/* Encode the batch's valid messages as binary COPY rows. */
static int build_copy(struct pg_slot *ps, const struct sink_batch *b)
{
    if (pgcopy_start(&ps->copy) != 0)
        return -1;
    for (size_t i = 0; i < b->n; i++) {
        const struct chat_msg *m = b->entries[i].decoded;
        if (m == NULL)
            continue;
        if (pgcopy_row(&ps->copy, COLS_PER_ROW) || pgcopy_text(&ps->copy, m->id, m->id_len) ||
            pgcopy_text(&ps->copy, m->conversation, m->conversation_len) ||
            pgcopy_text(&ps->copy, m->from, m->from_len) || pgcopy_text(&ps->copy, m->to, m->to_len) ||
            pgcopy_text(&ps->copy, m->text, m->text_len) ||
            pgcopy_timestamptz_ms(&ps->copy, m->received_at))
            return -1;
    }
    return pgcopy_finish(&ps->copy);
}

/* Append one element of a text[] literal: always double-quoted, with \ and " escaped, so
 * commas, braces, NULL-looking words and quotes in chat text stay data. */
static int sb_array_text(strbuf *b, const char *v)
{
    if ((b->len > 1 && sb_append(b, ",", 1) != 0) || sb_append(b, "\"", 1) != 0)
        return -1;
    for (const char *run = v;;) {
        size_t n = strcspn(run, "\"\\");
        if (sb_append(b, run, n) != 0)
            return -1;
        if (run[n] == '\0')
            break;
        if (sb_append(b, "\\", 1) != 0 || sb_append(b, run + n, 1) != 0)
            return -1;
        run += n + 1;
    }
    return sb_append(b, "\"", 1);
}

static int sb_array_int(strbuf *b, int64_t v)
{
    return sb_appendf(b, "%s%" PRId64, b->len > 1 ? "," : "", v);
}

static int sb_start(strbuf *b)
{
    b->len = 0;
    return sb_append(b, "{", 1);
}

static int sb_finish(strbuf *b) { return sb_append(b, "}", 1); }

/* ---------------- PostgreSQL transaction ---------------- */

/* Run one parameterised statement expecting `want`; the result is returned (caller PQclears). */
static PGresult *exec_params(struct pg_slot *ps, const char *sql, int n, const char *const *params,
                             ExecStatusType want, char *err, size_t errcap)
{
    PGresult *res = PQexecParams(ps->pg.conn, sql, n, NULL, params, NULL, NULL, 0);
    if (res == NULL || PQresultStatus(res) != want) {
        pg_conn_note_failure(&ps->pg, res);
        snprintf(err, errcap, "postgres: %s", ps->pg.last_error);
        PQclear(res);
        return NULL;
    }
    return res;
}

/* The slot's connection, with its session set up (lock_timeout, the prepared insert) once per
 * session (a reconnect starts a new one). NULL with err filled. */
static PGconn *slot_conn(struct pg_slot *ps, char *err, size_t errcap)
{
    if (pg_conn_get(&ps->pg) == NULL) {
        snprintf(err, errcap, "postgres: %s", ps->pg.last_error);
        return NULL;
    }
    if (ps->session_gen == ps->pg.generation)
        return ps->pg.conn;
    if (pg_exec_ok(&ps->pg, session_sql) != 0) {
        snprintf(err, errcap, "postgres session: %s", ps->pg.last_error);
        return NULL;
    }
    PGresult *res = PQprepare(ps->pg.conn, INSERT_STMT, insert_sql, COLS_PER_ROW, NULL);
    int ok = res != NULL && PQresultStatus(res) == PGRES_COMMAND_OK;
    if (!ok) {
        pg_conn_note_failure(&ps->pg, res);
        snprintf(err, errcap, "postgres prepare: %s", ps->pg.last_error);
    }
    PQclear(res);
    if (!ok)
        return NULL;
    ps->session_gen = ps->pg.generation;
    return ps->pg.conn;
}

/* Build the six array parameters from the batch's valid messages. */
static int build_columns(struct pg_slot *ps, const struct sink_batch *b)
{
    for (int c = 0; c < COLS_PER_ROW; c++)
        if (sb_start(&ps->cols[c]) != 0)
            return -1;
    for (size_t i = 0; i < b->n; i++) {
        const struct chat_msg *m = b->entries[i].decoded;
        if (m == NULL)
            continue;
        if (sb_array_text(&ps->cols[0], m->id) || sb_array_text(&ps->cols[1], m->conversation) ||
            sb_array_text(&ps->cols[2], m->from) || sb_array_text(&ps->cols[3], m->to) ||
            sb_array_text(&ps->cols[4], m->text) || sb_array_int(&ps->cols[5], m->received_at))
            return -1;
    }
    for (int c = 0; c < COLS_PER_ROW; c++)
        if (sb_finish(&ps->cols[c]) != 0)
            return -1;
    return 0;
}

/* Insert the valid entries inside the open transaction; marks the ones that were new
 * (RETURNING) in `fresh` and returns how many were (-1 on failure, err filled). */
static long insert_messages(struct pg_slot *ps, const struct sink_batch *b, unsigned char *fresh,
                            char *err, size_t errcap)
{
    size_t rows = b->n - b->npoison;
    if (rows == 0)
        return 0;
    if (build_columns(ps, b) != 0) {
        snprintf(err, errcap, "out of memory");
        return -1;
    }
    const char *params[COLS_PER_ROW];
    for (int c = 0; c < COLS_PER_ROW; c++)
        params[c] = ps->cols[c].data;
    PGresult *res = PQexecPrepared(ps->pg.conn, INSERT_STMT, COLS_PER_ROW, params, NULL, NULL, 0);
    if (res == NULL || PQresultStatus(res) != PGRES_TUPLES_OK) {
        pg_conn_note_failure(&ps->pg, res);
        snprintf(err, errcap, "postgres: %s", ps->pg.last_error);
        PQclear(res);
        return -1;
    }
    /* Mark which batch entries were new: RETURNING lists the inserted ids. The common case
     * (nothing replayed) needs no matching. */
    long inserted = PQntuples(res);
    if ((size_t)inserted == rows) {
        for (size_t i = 0; i < b->n; i++)
            fresh[i] = b->entries[i].decoded != NULL;
    }
    for (int t = 0; (size_t)inserted != rows && t < inserted; t++) {
        const char *id = PQgetvalue(res, t, 0);
        for (size_t i = 0; i < b->n; i++) {
            const struct chat_msg *m = b->entries[i].decoded;
            if (m != NULL && !fresh[i] && strcmp(m->id, id) == 0) {
                fresh[i] = 1;
                break;
            }
        }
    }
    PQclear(res);
    return inserted;
}

/*
 * "INSERT INTO sink_offsets ... VALUES (...), (...) ON CONFLICT ...; <tail>" into ps->sql:
 * every partition of the batch in one statement, raised with GREATEST (never moves back),
 * followed by `tail` in the same simple-query message (COMMIT, or the one-connection fast
 * path's COPY). The values are integers we format and the topic as a libpq-escaped literal.
 * A simple query stops at the first error, so `tail` runs only after the upsert succeeded.
 */
static int build_offsets_sql(struct pg_slot *ps, const struct sink_batch *b, const char *tail,
                             char *err, size_t errcap)
{
    char *topic = PQescapeLiteral(ps->pg.conn, b->topic, strlen(b->topic));
    if (topic == NULL) {
        pg_conn_note_failure(&ps->pg, NULL);
        snprintf(err, errcap, "postgres: %s", ps->pg.last_error);
        return -1;
    }
    ps->sql.len = 0;
    int bad = b->nparts == 0 ||
              sb_appends(&ps->sql, "INSERT INTO sink_offsets (topic, partition, next_offset) VALUES ") != 0;
    for (size_t p = 0; p < b->nparts && !bad; p++)
        bad = sb_appendf(&ps->sql, "%s(%s, %" PRId32 ", %" PRId64 ")", p ? ", " : "", topic,
                         b->parts[p].partition, b->parts[p].next_offset) != 0;
    PQfreemem(topic);
    if (bad || sb_appends(&ps->sql, " ON CONFLICT (topic, partition) DO UPDATE "
                          "SET next_offset = GREATEST(sink_offsets.next_offset, EXCLUDED.next_offset); ") != 0 ||
        sb_appends(&ps->sql, tail) != 0) {
        snprintf(err, errcap, b->nparts == 0 ? "internal: batch without partitions" : "out of memory");
        return -1;
    }
    return 0;
}

/* Leave the session outside any transaction after a failure (or drop it when that fails). */
static void rollback_if_open(struct pg_slot *ps)
{
    if (ps->pg.conn != NULL && PQtransactionStatus(ps->pg.conn) != PQTRANS_IDLE &&
        pg_exec_ok(&ps->pg, "ROLLBACK") != 0)
        pg_conn_drop(&ps->pg); /* unknown transaction state: start clean next time */
}

/*
 * The end of an explicit transaction: wait for this batch's turn (every earlier batch in
 * flight finished, none failed: kconsumer.h, commit_gate.h), then the offsets upsert and
 * COMMIT in ONE message. Only here does this transaction touch sink_offsets, so the rows
 * (the long part) are written in parallel with the earlier batch, and the row lock on its
 * partitions' offsets is only taken once the earlier batch committed. The final result must
 * be COMMIT's own (an aborted transaction's COMMIT says ROLLBACK). Returns 0 committed, -1
 * not committed or outcome unknown (err filled; the session is left outside any
 * transaction, or dropped).
 */
static int turn_and_commit(struct pg_slot *ps, const struct sink_batch *b, char *err, size_t errcap)
{
    double t0 = wclock_ms();
    int turn = sink_batch_await_turn(b);
    double t1 = wclock_ms();
    ps->timing.turn_ms = t1 - t0;
    if (turn != 0) {
        snprintf(err, errcap, "an earlier batch in flight failed; rolled back, retried in order");
        rollback_if_open(ps);
        return -1;
    }
    if (build_offsets_sql(ps, b, "COMMIT", err, errcap) != 0) {
        rollback_if_open(ps);
        return -1;
    }
    PGresult *res = PQexec(ps->pg.conn, ps->sql.data);
    int ok = res != NULL && PQresultStatus(res) == PGRES_COMMAND_OK && strcmp(PQcmdStatus(res), "COMMIT") == 0;
    if (!ok) {
        /* COMMIT outcome unknown (e.g. connection lost) or not committed: retrying is safe
         * (a stored batch makes the retried COPY fail and fall back to ON CONFLICT); only
         * the live notification of this batch could be missed. */
        pg_conn_note_failure(&ps->pg, res);
        snprintf(err, errcap, "postgres offsets/commit: %s", ps->pg.last_error);
    }
    PQclear(res);
    ps->timing.commit_ms = wclock_ms() - t1;
    if (!ok)
        rollback_if_open(ps);
    return ok ? 0 : -1;
}

/*
 * Fast path: COPY of every valid entry, all new when it succeeds.
 *   One connection: the offsets upsert + COPY as ONE implicit transaction (no BEGIN: the
 *   simple query's statements commit together when the COPY completes, and the COPY's
 *   CommandComplete is only sent after that COMMIT). Two round trips.
 *   Several: BEGIN + COPY, the rows, then turn_and_commit(). Three round trips, but the
 *   COPY runs while the earlier batch commits on the other connection.
 * Returns 0 committed, 1 on unique_violation (some row is already stored; the whole
 * transaction, offsets included, was rolled back), -1 (err filled; outcome unknown when the
 * connection broke: a retry is safe, see turn_and_commit()).
 */
static int copy_batch(struct chat_sink *s, struct pg_slot *ps, const struct sink_batch *b,
                      unsigned char *fresh, char *err, size_t errcap)
{
    double t0 = wclock_ms();
    if (build_copy(ps, b) != 0) {
        snprintf(err, errcap, "out of memory");
        return -1;
    }
    int explicit_tx = s->nslots > 1;
    const char *sql = begin_copy_sql;
    if (!explicit_tx) {
        if (build_offsets_sql(ps, b, COPY_SQL, err, errcap) != 0)
            return -1;
        sql = ps->sql.data;
    }
    ps->timing.encode_ms = wclock_ms() - t0;
    enum pgcopy_result rc = pgcopy_send(&ps->pg, sql, ps->copy.data, ps->copy.len, &ps->timing.copy);
    if (rc != PGCOPY_OK)
        rollback_if_open(ps); /* an explicit transaction is still open after a failed COPY */
    if (rc == PGCOPY_UNIQUE_VIOLATION)
        return 1;
    if (rc != PGCOPY_OK) {
        snprintf(err, errcap, "postgres copy: %s", ps->pg.last_error);
        return -1;
    }
    if (explicit_tx && turn_and_commit(ps, b, err, errcap) != 0)
        return -1;
    for (size_t i = 0; i < b->n; i++)
        fresh[i] = b->entries[i].decoded != NULL;
    atomic_fetch_add(s->written, (uint64_t)(b->n - b->npoison));
    return 0;
}

/* Fallback path (and a batch of poison only): BEGIN, the ON CONFLICT insert, then
 * turn_and_commit(); four round trips. 0 committed, -1 failed (err filled). */
static int insert_batch(struct chat_sink *s, struct pg_slot *ps, const struct sink_batch *b,
                        unsigned char *fresh, char *err, size_t errcap)
{
    if (pg_exec_ok(&ps->pg, "BEGIN") != 0) {
        snprintf(err, errcap, "postgres: %s", ps->pg.last_error);
        return -1;
    }
    long inserted = insert_messages(ps, b, fresh, err, errcap);
    if (inserted < 0) {
        rollback_if_open(ps);
        return -1;
    }
    if (turn_and_commit(ps, b, err, errcap) != 0)
        return -1;
    /* counted once committed: a rolled-back attempt is retried and would count twice */
    atomic_fetch_add(s->written, (uint64_t)inserted);
    atomic_fetch_add(s->replayed, (uint64_t)(b->n - b->npoison) - (uint64_t)inserted);
    return 0;
}

enum write_path { PATH_COPY, PATH_ON_CONFLICT };

/* One transaction: rows + offsets. 0 committed; 1 COPY hit a stored id (rolled back,
 * nothing written: redo with PATH_ON_CONFLICT); -1 failed (err filled). */
static int run_transaction(struct chat_sink *s, struct pg_slot *ps, const struct sink_batch *b,
                           unsigned char *fresh, enum write_path path, char *err, size_t errcap)
{
    if (slot_conn(ps, err, errcap) == NULL)
        return -1;
    memset(fresh, 0, b->n);
    int rc = path == PATH_COPY && b->n > b->npoison ? copy_batch(s, ps, b, fresh, err, errcap)
                                                    : insert_batch(s, ps, b, fresh, err, errcap);
    if (rc != 0)
        memset(fresh, 0, b->n);
    return rc;
}

/* COPY first; a batch that is already (partly) stored is redone with ON CONFLICT. */
static int store_batch(struct chat_sink *s, struct pg_slot *ps, const struct sink_batch *b,
                       unsigned char *fresh, char *err, size_t errcap)
{
    int rc = run_transaction(s, ps, b, fresh, PATH_COPY, err, errcap);
    if (rc != 1)
        return rc;
    atomic_fetch_add(s->copy_fallbacks, 1);
    wlog_debug("copy hit stored ids, redoing the batch with ON CONFLICT", "rows=%zu", b->n - b->npoison);
    rc = run_transaction(s, ps, b, fresh, PATH_ON_CONFLICT, err, errcap);
    return rc == 1 ? -1 : rc;
}

/* ---------------- Redis pub/sub (publisher thread) ---------------- */

/*
 * The writer thread only formats the PUBLISH commands of a committed batch (RESP, into
 * `pub.fill`, under pub.mu) and goes on with the next batch; the publisher thread takes
 * everything queued, sends it on its own connection and reads the replies. So Redis never
 * sits on the storage path: a slow or down Redis delays or fails live pushes only. Order is
 * kept (one queue, one connection). The queue is bounded (PUB_QUEUE_MAX bytes): past it a
 * batch's publishes are dropped and counted as failed, like any other publish failure.
 */
#define PUB_QUEUE_MAX (32u << 20)

/* "$<n>\r\n" without printf (four of these per message, on the writer thread). */
static int sb_resp_len(strbuf *b, char type, size_t n)
{
    char tmp[24];
    size_t k = sizeof tmp;
    tmp[--k] = '\n';
    tmp[--k] = '\r';
    do
        tmp[--k] = (char)('0' + n % 10);
    while ((n /= 10) != 0);
    tmp[--k] = type;
    return sb_append(b, tmp + k, sizeof tmp - k);
}

/* PUBLISH {prefix}chat:user:{user} {payload} as one RESP command. */
static int resp_publish(strbuf *b, const char *prefix, size_t prefix_len, const char *user,
                        size_t user_len, const void *payload, size_t payload_len)
{
    return sb_append(b, "*3\r\n$7\r\nPUBLISH\r\n", 17) || sb_resp_len(b, '$', prefix_len + 10 + user_len) ||
           sb_append(b, prefix, prefix_len) || sb_append(b, "chat:user:", 10) ||
           sb_append(b, user, user_len) || sb_append(b, "\r\n", 2) || sb_resp_len(b, '$', payload_len) ||
           sb_append(b, payload, payload_len) || sb_append(b, "\r\n", 2)
               ? -1 : 0;
}

/* Log publish outages once per state change (publisher thread). */
static void note_publish_state(struct chat_sink *s, size_t failed)
{
    if ((failed > 0) != s->redis_was_down) {
        s->redis_was_down = failed > 0;
        if (failed)
            wlog_warn("redis publish failing; messages are stored, live push skipped", "err=\"%s\"", s->redis.last_error);
        else
            wlog_info("redis publish recovered", NULL);
    }
}

/* Send `n` pre-formatted commands and read their replies; returns how many failed. */
static size_t publish_send(struct chat_sink *s, const strbuf *cmds, size_t n)
{
    redisContext *c = redis_conn_get(&s->redis);
    if (c == NULL)
        return n;
    if (redisAppendFormattedCommand(c, cmds->data, cmds->len) != REDIS_OK) {
        redis_conn_drop(&s->redis);
        return n;
    }
    for (int done = 0; !done;) {
        if (redisBufferWrite(c, &done) != REDIS_OK) {
            snprintf(s->redis.last_error, sizeof s->redis.last_error, "%s", c->errstr);
            redis_conn_drop(&s->redis);
            return n;
        }
    }
    size_t failed = 0;
    for (size_t k = 0; k < n; k++) {
        void *reply = NULL;
        if (redisGetReply(c, &reply) != REDIS_OK || reply == NULL) {
            snprintf(s->redis.last_error, sizeof s->redis.last_error, "%s", c->errstr);
            redis_conn_drop(&s->redis); /* NULL reply: the connection is gone */
            return failed + (n - k);
        }
        if (((redisReply *)reply)->type == REDIS_REPLY_ERROR)
            failed++;
        freeReplyObject(reply);
    }
    return failed;
}

static void *publisher_main(void *arg)
{
    struct chat_sink *s = arg;
    pthread_mutex_lock(&s->pub.mu);
    for (;;) {
        while (s->pub.fill_n == 0 && !s->pub.quit)
            pthread_cond_wait(&s->pub.cv, &s->pub.mu);
        if (s->pub.fill_n == 0)
            break; /* quit with nothing queued */
        strbuf tmp = s->pub.send;
        s->pub.send = s->pub.fill;
        s->pub.fill = tmp;
        s->pub.fill.len = 0;
        size_t n = s->pub.fill_n;
        s->pub.fill_n = 0;
        pthread_mutex_unlock(&s->pub.mu);
        size_t failed = publish_send(s, &s->pub.send, n);
        atomic_fetch_add(s->published, n - failed);
        atomic_fetch_add(s->publish_failed, failed);
        note_publish_state(s, failed);
        pthread_mutex_lock(&s->pub.mu);
    }
    pthread_mutex_unlock(&s->pub.mu);
    return NULL;
}

/* Writer thread, after COMMIT: queue PUBLISH chat:user:{to} and chat:user:{from} for every
 * newly stored message and wake the publisher. */
static void publish_fresh(struct chat_sink *s, const struct sink_batch *b, const unsigned char *fresh)
{
    const char *prefix = s->o->redis_prefix;
    size_t prefix_len = strlen(prefix), queued = 0, dropped = 0;
    pthread_mutex_lock(&s->pub.mu);
    size_t start = s->pub.fill.len;
    for (size_t i = 0; i < b->n; i++) {
        const struct chat_msg *m = b->entries[i].decoded;
        if (m == NULL || !fresh[i])
            continue;
        const rd_kafka_message_t *rkm = b->entries[i].rkm;
        if (dropped == 0 && s->pub.fill.len < PUB_QUEUE_MAX &&
            resp_publish(&s->pub.fill, prefix, prefix_len, m->to, m->to_len, rkm->payload, rkm->len) == 0 &&
            resp_publish(&s->pub.fill, prefix, prefix_len, m->from, m->from_len, rkm->payload, rkm->len) == 0) {
            queued += 2;
            continue;
        }
        dropped += 2; /* queue full or out of memory: this batch's pushes are skipped */
    }
    if (dropped > 0) {
        s->pub.fill.len = start; /* whole commands only */
        if (s->pub.fill.data != NULL)
            s->pub.fill.data[start] = '\0';
        dropped += queued;
        queued = 0;
    }
    s->pub.fill_n += queued;
    if (queued > 0)
        pthread_cond_signal(&s->pub.cv);
    pthread_mutex_unlock(&s->pub.mu);
    if (dropped > 0) {
        atomic_fetch_add(s->publish_failed, dropped);
        wlog_debug("publish queue full, live push skipped", "messages=%zu", dropped / 2);
    }
}

static int publisher_start(struct chat_sink *s)
{
    return wthread_start_waiting(&s->pub.thread, &s->pub.mu, &s->pub.cv, "chat-publisher",
                                 publisher_main, s);
}

/* Publish what is still queued, then stop the thread. */
static void publisher_stop(struct chat_sink *s)
{
    if (wthread_stop_waiting(s->pub.thread, &s->pub.mu, &s->pub.cv, &s->pub.quit) != 0)
        wlog_warn("publisher thread join failed", NULL);
    sb_free(&s->pub.fill);
    sb_free(&s->pub.send);
}

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
    wlog_debug("batch stored", "rows=%zu conn=%u idle_ms=%.2f encode_ms=%.2f query_ms=%.2f "
               "send_ms=%.2f finish_ms=%.2f turn_ms=%.2f commit_ms=%.2f publish_ms=%.2f total_ms=%.2f",
               b->n - b->npoison, b->writer, t->idle_ms, t->encode_ms, t->copy.query_ms,
               t->copy.send_ms, t->copy.finish_ms, t->turn_ms, t->commit_ms, t->publish_ms, total_ms);
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
static int chat_load_offsets(void *ctx, rd_kafka_topic_partition_list_t *parts, char *err, size_t errcap)
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
        PGresult *res = exec_params(ps, "SELECT next_offset FROM sink_offsets WHERE topic = $1 AND partition = $2",
                                    2, params, PGRES_TUPLES_OK, err, errcap);
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
        snprintf(ps->conninfo, sizeof ps->conninfo, "%s%s fallback_application_name=chat-sink/%u", ci,
                 strstr(ci, "connect_timeout") ? "" : " connect_timeout=3", index);
    else
        snprintf(ps->conninfo, sizeof ps->conninfo,
                 "host=127.0.0.1 port=%ld dbname=vote user=vote connect_timeout=3 application_name=chat-sink/%u",
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
    s->written = wmetrics_counter("sink_messages_written_total", "Chat messages inserted into PostgreSQL");
    s->replayed = wmetrics_counter("sink_duplicates_skipped_total", "Chat messages already stored (replays), skipped by ON CONFLICT");
    s->published = wmetrics_counter("sink_published_total", "Redis PUBLISH calls for new messages");
    s->publish_failed = wmetrics_counter("sink_publish_failed_total", "Redis PUBLISH calls that failed (live push skipped)");
    s->copy_fallbacks = wmetrics_counter("sink_copy_fallbacks_total", "Batches whose COPY hit an already stored id and were redone with ON CONFLICT");
}

int main(int argc, char **argv)
{
    enum wconfig_result cr = wconfig_parse(option_table, sizeof option_table / sizeof option_table[0], argc, argv,
                                           "chat-sink: consume chat messages from Kafka into PostgreSQL, effectively once, and push them on Redis pub/sub.");
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
