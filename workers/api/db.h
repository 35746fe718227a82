/*
 * db.h - PostgreSQL access for handler threads.
 *
 * Each MHD worker thread owns one lazily opened connection (no pool lock, no
 * connection shared between threads); it is closed when the thread exits.
 * Only parameterised statements are offered: user input never becomes SQL.
 */
#ifndef API_DB_H
#define API_DB_H

#include <libpq-fe.h>

int db_init(const char *conninfo); /* once, before threads start; 0 or -1 */

/* Runs sql with text parameters.  Returns a result whose status is
 * PGRES_TUPLES_OK or PGRES_COMMAND_OK (caller PQclears it), or NULL after
 * logging the error.  *unique_violation (may be NULL) is set to 1 when the
 * statement failed on a unique constraint. */
PGresult *db_exec(const char *sql, int nparams, const char *const *params, int *unique_violation);

/* 0 when a trivial query answers (health check). */
int db_ping(void);

#endif
