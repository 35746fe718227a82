/*
 * pg_conn.h - a libpq connection that reconnects lazily, plus result helpers.
 *
 * Every PGresult obtained through these helpers must be PQclear'ed by the caller;
 * pg_exec_ok() clears its own result.
 */
#ifndef WORKERS_PG_CONN_H
#define WORKERS_PG_CONN_H

#include <libpq-fe.h>

struct pg_conn {
    const char *conninfo;
    PGconn *conn;             /* NULL while disconnected */
    unsigned long generation; /* +1 per new session: per-session state (prepared statements)
                               * compares this, never the PGconn pointer, which malloc reuses */
    char last_error[256];
};

void pg_conn_init(struct pg_conn *pc, const char *conninfo);
/* Returns a connection in CONNECTION_OK state or NULL (last_error set). An idle session the
 * server closed meanwhile (a restart) is replaced here, before any statement is sent. */
PGconn *pg_conn_get(struct pg_conn *pc);
void pg_conn_drop(struct pg_conn *pc);
/* Run a parameter-less command expected to return PGRES_COMMAND_OK; 0 on success. */
int pg_exec_ok(struct pg_conn *pc, const char *sql);
/* Record a failed result's message into last_error (and drop the connection if it broke). */
void pg_conn_note_failure(struct pg_conn *pc, const PGresult *res);
void pg_conn_close(struct pg_conn *pc);

#endif
