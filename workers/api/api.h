/*
 * api.h - the daemon-wide context and the per-request view handlers get.
 *
 * One api_app lives for the whole process; every handler receives an
 * api_request that points to it, so no handler reaches for globals.
 */
#ifndef API_API_H
#define API_API_H

#include <microhttpd.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "catalog.h"
#include "config.h"
#include "jwt.h"

typedef struct revocations revocations;
typedef struct revoker revoker;
typedef struct sse_hub sse_hub;
typedef struct results_cache results_cache;

typedef struct {
    const api_config *cfg;
    vc_catalog *catalog;
    char *polls_json; /* GET /api/polls body, rendered once at start */
    size_t polls_json_len;
    vc_jwt_keyset keys;
    revocations *revoked; /* local set of logged-out jti, fed by Kafka */
    revoker *revoker;     /* Kafka producer + consumer of auth.revocations */
    sse_hub *hub;
    results_cache *results;
    atomic_int stopping;
} api_app;

#define API_MAX_PATH_PARAMS 2

typedef struct {
    api_app *app;
    struct MHD_Connection *conn;
    const char *method;
    const char *path;
    const char *body; /* NUL-terminated; "" when none */
    size_t body_len;
    int route;                               /* metrics route index */
    const char *params[API_MAX_PATH_PARAMS]; /* "{poll}", "{peer}" segments */
    size_t param_lens[API_MAX_PATH_PARAMS];
    double started; /* monotonic seconds */
    /* Filled by auth_require() */
    vc_jwt_claims claims;
} api_request;

typedef enum MHD_Result (*api_handler)(api_request *r);

double api_now_monotonic(void);

#endif
