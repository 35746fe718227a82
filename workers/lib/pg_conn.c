/*
 * pg_conn.c - lazily reconnecting libpq connection (see pg_conn.h).
 */
#include "pg_conn.h"

#include <stdio.h>
#include <string.h>

void pg_conn_init(struct pg_conn *pc, const char *conninfo)
{
    memset(pc, 0, sizeof *pc);
    pc->conninfo = conninfo;
}

void pg_conn_drop(struct pg_conn *pc)
{
    if (pc->conn != NULL)
        PQfinish(pc->conn);
    pc->conn = NULL;
}

/* Copy a libpq message without its trailing newline. */
static void set_error(struct pg_conn *pc, const char *msg)
{
    snprintf(pc->last_error, sizeof pc->last_error, "%s", msg ? msg : "unknown");
    size_t n = strlen(pc->last_error);
    while (n > 0 && (pc->last_error[n - 1] == '\n' || pc->last_error[n - 1] == '"'))
        pc->last_error[--n] = '\0';
    for (char *p = pc->last_error; *p; p++)
        if (*p == '\n' || *p == '"')
            *p = ' '; /* keep log lines single-line and quotable */
}

/* 1 when an idle session was closed by the server meanwhile (a restart, an administrator's
 * terminate): reading what is pending, without blocking, finds the EOF before a statement is
 * sent, so the statement goes to a new session instead of failing on the dead one. Never
 * inside a transaction: a session is only replaced between transactions. */
static int idle_session_gone(PGconn *c)
{
    if (PQtransactionStatus(c) != PQTRANS_IDLE)
        return 0;
    /* twice: a terminated backend's last words (FATAL) come first, its EOF on the next read */
    for (int i = 0; i < 2; i++)
        if (!PQconsumeInput(c) || PQstatus(c) != CONNECTION_OK)
            return 1;
    return 0;
}

PGconn *pg_conn_get(struct pg_conn *pc)
{
    if (pc->conn != NULL && PQstatus(pc->conn) == CONNECTION_OK && !idle_session_gone(pc->conn))
        return pc->conn;
    pg_conn_drop(pc);
    PGconn *c = PQconnectdb(pc->conninfo);
    if (c == NULL) {
        set_error(pc, "out of memory");
        return NULL;
    }
    if (PQstatus(c) != CONNECTION_OK) {
        set_error(pc, PQerrorMessage(c));
        PQfinish(c);
        return NULL;
    }
    pc->conn = c;
    pc->generation++;
    return c;
}

void pg_conn_note_failure(struct pg_conn *pc, const PGresult *res)
{
    const char *msg = res ? PQresultErrorMessage(res) : NULL;
    if ((msg == NULL || *msg == '\0') && pc->conn != NULL)
        msg = PQerrorMessage(pc->conn);
    set_error(pc, msg);
    if (pc->conn != NULL && PQstatus(pc->conn) != CONNECTION_OK)
        pg_conn_drop(pc);
}

int pg_exec_ok(struct pg_conn *pc, const char *sql)
{
    PGconn *c = pg_conn_get(pc);
    if (c == NULL)
        return -1;
    PGresult *res = PQexec(c, sql);
    int ok = res != NULL && PQresultStatus(res) == PGRES_COMMAND_OK;
    if (!ok)
        pg_conn_note_failure(pc, res);
    PQclear(res);
    return ok ? 0 : -1;
}

void pg_conn_close(struct pg_conn *pc) { pg_conn_drop(pc); }
