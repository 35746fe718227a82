/*
 * query.c - query-string helpers (see query.h).
 */
#include "query.h"

#include <string.h>

const char *query_get(api_request *r, const char *name)
{
    return MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, name);
}

static enum MHD_Result measure_param(void *cls, enum MHD_ValueKind kind, const char *key,
                                     const char *value)
{
    (void)kind;
    (void)key;
    size_t *longest = cls;
    if (value && strlen(value) > *longest)
        *longest = strlen(value);
    return MHD_YES;
}

void query_measure(struct MHD_Connection *conn, size_t *nparams, size_t *longest_value)
{
    *longest_value = 0;
    int n = MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, measure_param, longest_value);
    *nparams = n > 0 ? (size_t)n : 0;
}
