/*
 * query.c - query-string helpers (see query.h).
 */
#include "query.h"

#include <stdlib.h>
#include <string.h>

const char *query_get(api_request *r, const char *name)
{
    return MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, name);
}

int query_uint(api_request *r, const char *name, unsigned def, unsigned min, unsigned max,
               unsigned *out)
{
    const char *v = query_get(r, name);
    if (!v) {
        *out = def;
        return 0;
    }
    char *end;
    if (*v < '0' || *v > '9')
        return -1;
    unsigned long n = strtoul(v, &end, 10);
    if (*end || n < min || n > max)
        return -1;
    *out = (unsigned)n;
    return 0;
}

static enum MHD_Result check_param(void *cls, enum MHD_ValueKind kind, const char *key,
                                   const char *value)
{
    (void)kind;
    (void)key;
    int *too_long = cls;
    if (value && strlen(value) > QUERY_MAX_VALUE) {
        *too_long = 1;
        return MHD_NO; /* stop iterating */
    }
    return MHD_YES;
}

int query_too_large(struct MHD_Connection *conn)
{
    int too_long = 0;
    int n = MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, check_param, &too_long);
    return too_long || n > QUERY_MAX_PARAMS;
}
