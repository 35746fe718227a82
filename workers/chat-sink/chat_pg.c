/*
 * chat_pg.c - a chat batch's PostgreSQL transaction (chat_sink.c): the binary COPY fast
 * path, the INSERT ... ON CONFLICT fallback when stored ids come back, the offsets upsert and
 * COMMIT in batch order.
 */
#include "chat_sink.h"

#include "msg.h"
#include "wclock.h"
#include "wlog.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
#define COPY_SQL                                                                                   \
    "COPY messages (id, conversation, sender, recipient, body, received_at) FROM STDIN (FORMAT "   \
    "binary)"
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
            pgcopy_text(&ps->copy, m->from, m->from_len) ||
            pgcopy_text(&ps->copy, m->to, m->to_len) ||
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
PGresult *exec_params(struct pg_slot *ps, const char *sql, int n, const char *const *params,
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
              sb_appends(&ps->sql,
                         "INSERT INTO sink_offsets (topic, partition, next_offset) VALUES ") != 0;
    for (size_t p = 0; p < b->nparts && !bad; p++)
        bad = sb_appendf(&ps->sql, "%s(%s, %" PRId32 ", %" PRId64 ")", p ? ", " : "", topic,
                         b->parts[p].partition, b->parts[p].next_offset) != 0;
    PQfreemem(topic);
    if (bad ||
        sb_appends(
            &ps->sql,
            " ON CONFLICT (topic, partition) DO UPDATE "
            "SET next_offset = GREATEST(sink_offsets.next_offset, EXCLUDED.next_offset); ") != 0 ||
        sb_appends(&ps->sql, tail) != 0) {
        snprintf(err, errcap,
                 b->nparts == 0 ? "internal: batch without partitions" : "out of memory");
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
    int ok = res != NULL && PQresultStatus(res) == PGRES_COMMAND_OK &&
             strcmp(PQcmdStatus(res), "COMMIT") == 0;
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
    enum pgcopy_result rc =
        pgcopy_send(&ps->pg, sql, ps->copy.data, ps->copy.len, &ps->timing.copy);
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
int store_batch(struct chat_sink *s, struct pg_slot *ps, const struct sink_batch *b,
                unsigned char *fresh, char *err, size_t errcap)
{
    int rc = run_transaction(s, ps, b, fresh, PATH_COPY, err, errcap);
    if (rc != 1)
        return rc;
    atomic_fetch_add(s->copy_fallbacks, 1);
    wlog_debug("copy hit stored ids, redoing the batch with ON CONFLICT", "rows=%zu",
               b->n - b->npoison);
    rc = run_transaction(s, ps, b, fresh, PATH_ON_CONFLICT, err, errcap);
    return rc == 1 ? -1 : rc;
}
