/*
 * ngx_http_vote_metrics.h - the counters every part of the module updates,
 * kept in a shared memory zone and rendered by the vote_metrics location.
 */
#ifndef NGX_HTTP_VOTE_METRICS_H
#define NGX_HTTP_VOTE_METRICS_H

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "jwt.h"
#include "validate.h"

typedef enum {
    NGX_HTTP_VOTE_S_202 = 0,
    NGX_HTTP_VOTE_S_400,
    NGX_HTTP_VOTE_S_401,
    NGX_HTTP_VOTE_S_405,
    NGX_HTTP_VOTE_S_413,
    NGX_HTTP_VOTE_S_415,
    NGX_HTTP_VOTE_S_422,
    NGX_HTTP_VOTE_S_500,
    NGX_HTTP_VOTE_S_503,
    NGX_HTTP_VOTE_S_499,
    NGX_HTTP_VOTE_S__COUNT
} ngx_http_vote_status_e;

typedef enum {
    NGX_HTTP_VOTE_PE_QUEUE_FULL = 0,
    NGX_HTTP_VOTE_PE_OTHER,
    NGX_HTTP_VOTE_PE_DELIVERY,
    NGX_HTTP_VOTE_PE_ACK_TIMEOUT,
    NGX_HTTP_VOTE_PE_STALLED,
    NGX_HTTP_VOTE_PE__COUNT
} ngx_http_vote_produce_err_e;

/* authentication outcomes: the vc_jwt_status values, then these */
#define NGX_HTTP_VOTE_AUTH_MISSING (VC_JWT_BAD_CLAIMS + 1)
#define NGX_HTTP_VOTE_AUTH_REVOKED (VC_JWT_BAD_CLAIMS + 2)
#define NGX_HTTP_VOTE_AUTH_BAD_SUB (VC_JWT_BAD_CLAIMS + 3)
#define NGX_HTTP_VOTE_AUTH_REASONS (VC_JWT_BAD_CLAIMS + 4)

/* the zone, added at configuration time (postconfiguration) */
ngx_shm_zone_t *ngx_http_vote_metrics_zone(ngx_conf_t *cf);
void            ngx_http_vote_metrics_worker_init(ngx_shm_zone_t *zone);
void            ngx_http_vote_metrics_worker_exit(void);

void ngx_http_vote_metric_request(ngx_uint_t kind, ngx_uint_t status);
void ngx_http_vote_metric_invalid(vc_reason reason);
void ngx_http_vote_metric_auth(ngx_uint_t reason);
void ngx_http_vote_metric_produce_error(ngx_http_vote_produce_err_e e);
void ngx_http_vote_metric_delivered(ngx_uint_t kind, uint64_t latency_us,
                                    ngx_uint_t ok);
void ngx_http_vote_metric_inflight(ngx_int_t delta);
void ngx_http_vote_metric_queue_len(ngx_int_t len);

ngx_int_t ngx_http_vote_metrics_handler(ngx_http_request_t *r);

#endif
