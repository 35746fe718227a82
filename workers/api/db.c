/*
 * db.c - per-thread PostgreSQL connections (workers/lib/pg_conn: lazy reconnect) and
 * parameterised execution (see db.h).
 */
#include "db.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "api_metrics.h"
#include "pg_conn.h"

static char *conninfo;
static pthread_key_t conn_key;

static void close_conn(void *p)
{
    pg_conn_close(p);
    free(p);
}

int db_init(const char *ci)
{
    conninfo = strdup(ci);
    if (!conninfo || pthread_key_create(&conn_key, close_conn) != 0)
        return -1;
    return 0;
}

/* The thread's connection holder, created on first use. */
static struct pg_conn *thread_pg(void)
{
    struct pg_conn *pc = pthread_getspecific(conn_key);
    if (pc)
        return pc;
    if (!(pc = calloc(1, sizeof *pc)))
        return NULL;
    pg_conn_init(pc, conninfo);
    pthread_setspecific(conn_key, pc);
    return pc;
}

PGresult *db_exec(const char *sql, int nparams, const char *const *params, int *unique_violation)
{
    if (unique_violation)
        *unique_violation = 0;
    struct pg_conn *pc = thread_pg();
    /* pg_conn_get reconnects only before a statement is sent, so a statement is never
     * silently executed twice. */
    PGconn *c = pc ? pg_conn_get(pc) : NULL;
    if (!c) {
        log_error("pg_connect", "%s", pc ? pc->last_error : "out of memory");
        metrics_inc(M_PG_ERRORS);
        return NULL;
    }
    PGresult *res = PQexecParams(c, sql, nparams, NULL, params, NULL, NULL, 0);
    ExecStatusType st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
    if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK)
        return res;

    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    if (state && strcmp(state, "23505") == 0 && unique_violation) {
        *unique_violation = 1; /* expected outcome (e.g. username taken), not an error */
    } else {
        pg_conn_note_failure(pc, res); /* drops the connection if it broke */
        log_error("pg_query", "%s", pc->last_error);
        metrics_inc(M_PG_ERRORS);
    }
    PQclear(res);
    return NULL;
}
int db_ping(void)
{
    PGresult *res = db_exec("SELECT 1", 0, NULL, NULL);
    if (!res)
        return -1;
    PQclear(res);
    return 0;
}
