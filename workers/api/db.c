/*
 * db.c - per-thread libpq connections and parameterised execution (db.h).
 */
#include "db.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "metrics.h"

static char *conninfo;
static pthread_key_t conn_key;

static void close_conn(void *p) { PQfinish(p); }

int db_init(const char *ci)
{
    conninfo = strdup(ci);
    if (!conninfo || pthread_key_create(&conn_key, close_conn) != 0)
        return -1;
    return 0;
}

/* The thread's connection, (re)connected if it is missing or broken.  A
 * broken connection is replaced only before a statement is sent, so a
 * statement is never silently executed twice. */
static PGconn *thread_conn(void)
{
    PGconn *c = pthread_getspecific(conn_key);
    if (c && PQstatus(c) == CONNECTION_OK)
        return c;
    if (c) {
        PQfinish(c);
        pthread_setspecific(conn_key, NULL);
    }
    c = PQconnectdb(conninfo);
    if (!c || PQstatus(c) != CONNECTION_OK) {
        log_error("pg_connect", "%s", c ? PQerrorMessage(c) : "out of memory");
        metrics_inc(M_PG_ERRORS);
        PQfinish(c);
        return NULL;
    }
    pthread_setspecific(conn_key, c);
    return c;
}

PGresult *db_exec(const char *sql, int nparams, const char *const *params,
                  int *unique_violation)
{
    if (unique_violation)
        *unique_violation = 0;
    PGconn *c = thread_conn();
    if (!c)
        return NULL;
    PGresult *res = PQexecParams(c, sql, nparams, NULL, params, NULL, NULL, 0);
    ExecStatusType st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
    if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK)
        return res;

    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    if (state && strcmp(state, "23505") == 0 && unique_violation) {
        *unique_violation = 1; /* expected outcome (e.g. username taken), not an error */
    } else {
        log_error("pg_query", "%s", res ? PQresultErrorMessage(res) : PQerrorMessage(c));
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
