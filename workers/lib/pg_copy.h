/*
 * pg_copy.h - PostgreSQL binary COPY: encode rows into a buffer and send them in one
 * COPY ... FROM STDIN (FORMAT binary). Used by the chat sink's fast path.
 *
 * Binary format (PostgreSQL docs, "COPY", "Binary Format"): an 11-byte signature, flags and
 * header-extension length; per row a 16-bit field count and, per field, a 32-bit length and
 * the type's binary form; a 16-bit -1 trailer. Every integer is big-endian. A text field's
 * binary form is its bytes, so nothing needs escaping.
 */
#ifndef WORKERS_PG_COPY_H
#define WORKERS_PG_COPY_H

#include <stddef.h>
#include <stdint.h>

#include "pg_conn.h"
#include "strbuf.h"

/* Encoders: each returns 0, or -1 on allocation failure. pgcopy_start resets the buffer. */
int pgcopy_start(strbuf *b);
int pgcopy_row(strbuf *b, int16_t nfields);
int pgcopy_text(strbuf *b, const char *s, size_t len);
/* timestamptz from milliseconds since the Unix epoch (microseconds since 2000-01-01). */
int pgcopy_timestamptz_ms(strbuf *b, int64_t unix_ms);
int pgcopy_finish(strbuf *b);

enum pgcopy_result {
    PGCOPY_OK = 0,
    PGCOPY_UNIQUE_VIOLATION = 1, /* SQLSTATE 23505: the transaction is aborted */
    PGCOPY_FAILED = -1,          /* anything else; pc->last_error says what */
};

/* Where one pgcopy_send() spent its time (milliseconds, wclock.h), for the chat sink's
 * per-batch debug line. */
struct pgcopy_timing {
    double query_ms;  /* copy_sql sent until CopyInResponse: the statements before COPY */
    double send_ms;   /* the rows and CopyDone handed to the socket */
    double finish_ms; /* CopyDone sent until the last result: COPY's work and the COMMIT */
};

/* Run `copy_sql` (a simple query whose last statement is COPY ... FROM STDIN; statements
 * before it run first, and with no BEGIN the whole string is one implicit transaction that
 * commits when the COPY ends) on the open connection and send `data` as the COPY's whole
 * input. PGCOPY_OK only when every statement succeeded. Every PGresult is cleared here.
 * `t` (may be NULL) receives the time split. */
enum pgcopy_result pgcopy_send(struct pg_conn *pc, const char *copy_sql, const char *data,
                               size_t len, struct pgcopy_timing *t);

#endif
