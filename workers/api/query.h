/*
 * query.h - reading and checking query-string parameters.
 */
#ifndef API_QUERY_H
#define API_QUERY_H

#include "api.h"

#define QUERY_MAX_PARAMS 8
#define QUERY_MAX_VALUE 128

/* The value of name, or NULL if absent. */
const char *query_get(api_request *r, const char *name);

/* *out = value of name in [min,max], or def when absent.  -1 when present
 * but not such a number. */
int query_uint(api_request *r, const char *name, unsigned def, unsigned min, unsigned max,
               unsigned *out);

/* 1 if the request has more than QUERY_MAX_PARAMS parameters or one longer
 * than QUERY_MAX_VALUE (checked once, before routing). */
int query_too_large(struct MHD_Connection *conn);

#endif
