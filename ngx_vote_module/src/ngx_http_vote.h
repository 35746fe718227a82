/*
 * ngx_http_vote.h - shared types and cross-file functions of ngx_http_vote_module.
 *
 * The module is split by concern:
 *   ngx_http_vote_module.c     directives, create/merge conf, init/exit process, variables
 *   ngx_http_vote_producer.c   per-worker librdkafka producer, io-event fd, delivery reports
 *   ngx_http_vote_handler.c    request handler: checks, body reading, validation, produce
 *   ngx_http_vote_auth.c       JWT verification glue and the logout-revocation consumer
 *   ngx_http_vote_metrics.c    shared-memory counters and the Prometheus location
 *   ngx_http_vote_response.c   JSON 202 / error responses
 * The validator, JWT and catalog code is nginx-free in ../common.
 */
#ifndef NGX_HTTP_VOTE_H
#define NGX_HTTP_VOTE_H

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <librdkafka/rdkafka.h>

#include "catalog.h"
#include "jwt.h"
#include "revocation.h"
#include "ulid.h"
#include "validate.h"

#define NGX_HTTP_VOTE_LOCAL   0
#define NGX_HTTP_VOTE_BROKER  1

/* ---- configuration ---- */

typedef struct {
    ngx_str_t        brokers;
    ngx_array_t     *props;            /* ngx_keyval_t: librdkafka pass-through */
    ngx_array_t     *local_props;      /* ngx_keyval_t: only for the local-mode producer */
    ngx_str_t        catalog_path;
    vc_catalog      *catalog;          /* loaded at config time: nginx -t fails on errors */
    ngx_str_t        jwt_path;
    vc_jwt_keyset    jwt_keys;
    ngx_uint_t       jwt_loaded;
    ngx_str_t        revocation_topic; /* "" = no revocation consumer */
    ngx_msec_t       revocation_wait;  /* chat answers 503 until caught up, at most this long */
    ngx_msec_t       flush_timeout;    /* bounded flush on worker exit */
    ngx_shm_zone_t  *shm_zone;
    ngx_uint_t       used;             /* bit 1 << durability: some location enqueues so */
} ngx_http_vote_main_conf_t;

typedef struct {
    ngx_uint_t                kind;          /* 0 = off, VC_KIND_VOTE, VC_KIND_CHAT */
    ngx_str_t                 topic;
    ngx_http_complex_value_t *key;           /* NULL = $vote_msg_key */
    ngx_http_complex_value_t *request_id;    /* NULL = the message id */
    ngx_uint_t                durability;
    ngx_msec_t                ack_timeout;
    ngx_msec_t                stall_timeout;  /* 0 = never refuse for lack of progress */
    size_t                    max_body;
    ngx_uint_t                max_text;
    ngx_uint_t                max_depth;
    time_t                    retry_after;
    time_t                    jwt_leeway;
    ngx_flag_t                metrics;
    rd_kafka_topic_t         *rkt;           /* per worker, created on first use */
} ngx_http_vote_loc_conf_t;

/* ---- per request ---- */

struct ngx_http_vote_ticket_s;

typedef struct {
    ngx_http_request_t             *request;
    struct ngx_http_vote_ticket_s  *ticket;    /* broker mode: waiting for the delivery report */
    ngx_event_t                     timer;     /* broker mode: ack timeout */
    char                            id[VC_ULID_LEN + 1];
    ngx_str_t                       key;       /* $vote_msg_key */
    ngx_str_t                       conversation;
    ngx_str_t                       sender;
    ngx_uint_t                      kind;
} ngx_http_vote_ctx_t;

/* One produced message; the librdkafka msg_opaque.  malloc'd (not pool) because it
 * outlives the request when the client goes away; `ctx` is cleared by the request
 * pool cleanup, so a late delivery report never touches freed memory. */
typedef struct ngx_http_vote_ticket_s {
    ngx_http_vote_ctx_t  *ctx;
    uint64_t              start_us;   /* monotonic, for the latency histogram */
    ngx_uint_t            kind;
} ngx_http_vote_ticket_t;

extern ngx_module_t ngx_http_vote_module;

/* ---- producer (ngx_http_vote_producer.c) ---- */

/* a librdkafka queue whose "became non-empty" signal is a pipe in the event loop */
typedef struct {
    rd_kafka_queue_t  *queue;
    ngx_connection_t  *conn;      /* read end */
    int                wfd;       /* write end, written by librdkafka */
} ngx_http_vote_qev_t;

ngx_int_t ngx_http_vote_producer_init(ngx_cycle_t *cycle, ngx_http_vote_main_conf_t *vmcf);
void ngx_http_vote_producer_exit(ngx_cycle_t *cycle, ngx_http_vote_main_conf_t *vmcf);
extern ngx_connection_t ngx_http_vote_dummy_conn;
rd_kafka_t *ngx_http_vote_producer(ngx_uint_t durability);
rd_kafka_topic_t *ngx_http_vote_topic(ngx_http_vote_loc_conf_t *vlcf, ngx_log_t *log);
void ngx_http_vote_produced(void);
ngx_uint_t ngx_http_vote_stalled(ngx_msec_t stall_timeout);
ngx_int_t ngx_http_vote_kafka_conf(ngx_log_t *log, ngx_http_vote_main_conf_t *vmcf,
    rd_kafka_conf_t *conf);
void ngx_http_vote_kafka_log_cb(const rd_kafka_t *rk, int level, const char *fac,
    const char *buf);
ngx_int_t ngx_http_vote_qev_open(ngx_http_vote_qev_t *qev, ngx_cycle_t *cycle,
    rd_kafka_queue_t *q, ngx_event_handler_pt handler);
void ngx_http_vote_qev_drain(ngx_http_vote_qev_t *qev);
void ngx_http_vote_qev_close(ngx_http_vote_qev_t *qev);
uint64_t ngx_http_vote_now_us(void);

/* ---- request completion (ngx_http_vote_handler.c) ---- */
void ngx_http_vote_detach(ngx_http_vote_ctx_t *ctx);
void ngx_http_vote_delivered(ngx_http_vote_ctx_t *ctx, rd_kafka_resp_err_t err,
    ngx_flag_t maybe_stored);

/* ---- handler (ngx_http_vote_handler.c) ---- */
ngx_int_t ngx_http_vote_handler(ngx_http_request_t *r);

/* ---- auth (ngx_http_vote_auth.c) ---- */
/* NGX_OK (ctx->sender set), or an HTTP status with *code and *detail for the body */
ngx_int_t ngx_http_vote_authenticate(ngx_http_request_t *r, ngx_http_vote_main_conf_t *vmcf,
    ngx_http_vote_loc_conf_t *vlcf, ngx_http_vote_ctx_t *ctx, const char **code,
    const char **detail);
ngx_int_t ngx_http_vote_revocations_init(ngx_cycle_t *cycle, ngx_http_vote_main_conf_t *vmcf);
void ngx_http_vote_revocations_exit(ngx_cycle_t *cycle);

/* ---- metrics (ngx_http_vote_metrics.c) ---- */
typedef enum {
    NGX_HTTP_VOTE_S_202 = 0, NGX_HTTP_VOTE_S_400, NGX_HTTP_VOTE_S_401, NGX_HTTP_VOTE_S_405,
    NGX_HTTP_VOTE_S_413, NGX_HTTP_VOTE_S_415, NGX_HTTP_VOTE_S_422, NGX_HTTP_VOTE_S_500,
    NGX_HTTP_VOTE_S_503, NGX_HTTP_VOTE_S_499, NGX_HTTP_VOTE_S__COUNT
} ngx_http_vote_status_e;

typedef enum {
    NGX_HTTP_VOTE_PE_QUEUE_FULL = 0, NGX_HTTP_VOTE_PE_OTHER, NGX_HTTP_VOTE_PE_DELIVERY,
    NGX_HTTP_VOTE_PE_ACK_TIMEOUT, NGX_HTTP_VOTE_PE_STALLED, NGX_HTTP_VOTE_PE__COUNT
} ngx_http_vote_produce_err_e;

#define NGX_HTTP_VOTE_AUTH_REASONS (VC_JWT_BAD_CLAIMS + 4)  /* jwt statuses + missing, revoked, bad_sub */

ngx_int_t ngx_http_vote_metrics_zone(ngx_conf_t *cf, ngx_http_vote_main_conf_t *vmcf);
void ngx_http_vote_metrics_worker_init(ngx_http_vote_main_conf_t *vmcf);
void ngx_http_vote_metrics_worker_exit(void);
void ngx_http_vote_metric_request(ngx_uint_t kind, ngx_uint_t status);
void ngx_http_vote_metric_invalid(vc_reason reason);
void ngx_http_vote_metric_auth(ngx_uint_t reason);
void ngx_http_vote_metric_produce_error(ngx_http_vote_produce_err_e e);
void ngx_http_vote_metric_delivered(ngx_uint_t kind, uint64_t latency_us, ngx_uint_t ok);
void ngx_http_vote_metric_inflight(ngx_int_t delta);
void ngx_http_vote_metric_queue_len(ngx_int_t len);
ngx_int_t ngx_http_vote_metrics_handler(ngx_http_request_t *r);

/* ---- responses (ngx_http_vote_response.c) ---- */
ngx_int_t ngx_http_vote_send_error(ngx_http_request_t *r, ngx_uint_t status,
    const char *code, const char *detail, const char *field);
ngx_int_t ngx_http_vote_send_accepted(ngx_http_request_t *r, ngx_http_vote_ctx_t *ctx);
void ngx_http_vote_count_status(ngx_http_request_t *r, ngx_uint_t status);
void ngx_http_vote_finish(ngx_http_request_t *r, ngx_int_t rc);

#endif
