/*
 * pg_copy.c - PostgreSQL binary COPY encoder and sender (see pg_copy.h).
 */
#include "pg_copy.h"

#include "wclock.h"

#include <string.h>

/* Seconds between 1970-01-01 and 2000-01-01, PostgreSQL's timestamp epoch. */
#define PG_EPOCH_UNIX_MS INT64_C(946684800000)

static int put_be(strbuf *b, uint64_t v, int bytes)
{
    char out[8];
    for (int i = 0; i < bytes; i++)
        out[i] = (char)(v >> (8 * (bytes - 1 - i)));
    return sb_append(b, out, (size_t)bytes);
}

int pgcopy_start(strbuf *b)
{
    static const char signature[11] = {
        'P', 'G', 'C', 'O', 'P', 'Y', '\n', '\377', '\r', '\n', '\0'
    };
    b->len = 0;
    if (sb_append(b, signature, sizeof signature) != 0)
        return -1;
    return put_be(b, 0, 4) != 0 || put_be(b, 0, 4) != 0 ? -1 : 0; /* flags, extension length */
}

int pgcopy_row(strbuf *b, int16_t nfields) { return put_be(b, (uint16_t)nfields, 2); }

int pgcopy_text(strbuf *b, const char *s, size_t len)
{
    if (len > INT32_MAX || put_be(b, (uint32_t)len, 4) != 0)
        return -1;
    return sb_append(b, s, len);
}

int pgcopy_timestamptz_ms(strbuf *b, int64_t unix_ms)
{
    int64_t us = (unix_ms - PG_EPOCH_UNIX_MS) * 1000;
    if (put_be(b, 8, 4) != 0)
        return -1;
    return put_be(b, (uint64_t)us, 8);
}

int pgcopy_finish(strbuf *b) { return put_be(b, (uint16_t)-1, 2); }

/* Read every remaining result. Any error fails the COPY (copy_sql may run more statements
 * after the COPY, or end an implicit transaction whose COMMIT reports its own error); the
 * first error decides whether it was a unique_violation. */
static enum pgcopy_result collect_results(struct pg_conn *pc)
{
    enum pgcopy_result rc = PGCOPY_OK;
    PGresult *res;
    while ((res = PQgetResult(pc->conn)) != NULL) {
        if (rc == PGCOPY_OK && PQresultStatus(res) != PGRES_COMMAND_OK) {
            const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
            rc = state != NULL && strcmp(state, "23505") == 0 ? PGCOPY_UNIQUE_VIOLATION
                                                              : PGCOPY_FAILED;
            pg_conn_note_failure(pc, res);
        }
        PQclear(res);
        if (pc->conn == NULL)
            return PGCOPY_FAILED; /* the connection broke and was dropped */
    }
    return rc;
}

enum pgcopy_result pgcopy_send(struct pg_conn *pc, const char *copy_sql, const char *data,
                               size_t len, struct pgcopy_timing *t)
{
    struct pgcopy_timing ignored;
    if (t == NULL)
        t = &ignored;
    memset(t, 0, sizeof *t);
    if (pc->conn == NULL || len > INT32_MAX)
        return PGCOPY_FAILED;
    double t0 = wclock_ms();
    PGresult *res = PQexec(pc->conn, copy_sql);
    double t1 = wclock_ms();
    t->query_ms = t1 - t0;
    if (res == NULL || PQresultStatus(res) != PGRES_COPY_IN) {
        pg_conn_note_failure(pc, res);
        PQclear(res);
        return PGCOPY_FAILED;
    }
    PQclear(res);
    /* Blocking connection: PQputCopyData returns 1 once queued, -1 on failure. A failed
     * PQputCopyData still needs PQputCopyEnd so the server leaves COPY state. */
    int sent = len == 0 || PQputCopyData(pc->conn, data, (int)len) == 1;
    if (PQputCopyEnd(pc->conn, sent ? NULL : "client could not send the data") != 1) {
        pg_conn_note_failure(pc, NULL);
        pg_conn_drop(pc);
        return PGCOPY_FAILED;
    }
    double t2 = wclock_ms();
    t->send_ms = t2 - t1;
    enum pgcopy_result rc = collect_results(pc);
    t->finish_ms = wclock_ms() - t2;
    if (rc == PGCOPY_OK && !sent) {
        pg_conn_note_failure(pc, NULL);
        return PGCOPY_FAILED;
    }
    return rc;
}
