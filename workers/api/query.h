/*
 * query.h - reading query-string parameters from the connection.
 */
#ifndef API_QUERY_H
#define API_QUERY_H

#include "api.h"

/* The value of name, or NULL if absent. */
const char *query_get(api_request *r, const char *name);

/* How many query parameters the request has, and the length of the longest
 * value (request_parse.c decides what is too large). */
void query_measure(struct MHD_Connection *conn, size_t *nparams, size_t *longest_value);

#endif
