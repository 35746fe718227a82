/*
 * ngx_http_vote.h - the configuration and per-request types of
 * ngx_http_vote_module and the request side's functions.
 *
 * The module is split by concern (each file's header says what it offers; the
 * includes point one way: request side -> producer/revocations -> kafka):
 *   ngx_http_vote_module.c       directives, create/merge conf, init/exit
 * process, variables ngx_http_vote_handler.c      request handler: checks, body
 * reading, validation, sending ngx_http_vote_auth.c         bearer-token (JWT)
 * check for chat ngx_http_vote_response.c     JSON 202 / error responses
 *   ngx_http_vote_producer.c     per-worker librdkafka producers, delivery
 * reports, stall state ngx_http_vote_revocations.c  the logout-revocation
 * consumer and the revoked-jti set ngx_http_vote_kafka.c        librdkafka
 * helpers: queue io-event pipe, clock, log callback ngx_http_vote_metrics.c
 * shared-memory counters and the Prometheus location The validator, JWT and
 * catalog code is nginx-free in ../common.
 */
#ifndef NGX_HTTP_VOTE_H
#define NGX_HTTP_VOTE_H

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <librdkafka/rdkafka.h>

#include "catalog.h"
#include "jwt.h"
#include "ulid.h"
#include "validate.h"

#define NGX_HTTP_VOTE_LOCAL  0
#define NGX_HTTP_VOTE_BROKER 1

/* ---- configuration ---- */

typedef struct {
    ngx_str_t    brokers;
    ngx_array_t *props; /* ngx_keyval_t: librdkafka pass-through */
    ngx_array_t
             *local_props; /* ngx_keyval_t: only for the local-mode producer */
    ngx_str_t catalog_path;
    vc_catalog   *catalog; /* loaded at config time: nginx -t fails on errors */
    ngx_str_t     jwt_path;
    vc_jwt_keyset jwt_keys;
    ngx_uint_t    jwt_loaded;
    ngx_str_t     revocation_topic; /* "" = no revocation consumer */
    ngx_msec_t    flush_timeout;    /* bounded flush on worker exit */
    ngx_shm_zone_t *shm_zone;
    ngx_uint_t      used; /* bit 1 << durability: some location enqueues so */
} ngx_http_vote_main_conf_t;

typedef struct {
    ngx_uint_t                kind; /* 0 = off, VC_KIND_* */
    ngx_str_t                 topic;
    ngx_http_complex_value_t *key;        /* NULL = $vote_msg_key */
    ngx_http_complex_value_t *request_id; /* NULL = the message id */
    ngx_uint_t                durability;
    ngx_msec_t                ack_timeout;
    ngx_msec_t        stall_timeout; /* 0 = never refuse for lack of progress */
    size_t            max_body;
    ngx_uint_t        max_text;
    ngx_uint_t        max_depth;
    time_t            retry_after;
    time_t            jwt_leeway;
    ngx_flag_t        metrics;
    rd_kafka_topic_t *rkt; /* per worker, created on first use */
} ngx_http_vote_loc_conf_t;

/* ---- per request ---- */

struct ngx_http_vote_ticket_s;

typedef struct {
    ngx_http_request_t *request;
    struct ngx_http_vote_ticket_s
               *ticket; /* broker mode: waiting for the delivery report */
    ngx_event_t timer;  /* broker mode: ack timeout */
    char        id[VC_ULID_LEN + 1];
    ngx_str_t   key; /* $vote_msg_key */
    ngx_str_t   conversation;
    ngx_str_t   sender;
    ngx_uint_t  kind;
} ngx_http_vote_ctx_t;

extern ngx_module_t ngx_http_vote_module;

/* ---- handler (ngx_http_vote_handler.c) ---- */
ngx_int_t ngx_http_vote_handler(ngx_http_request_t *r);

/* ---- auth (ngx_http_vote_auth.c) ---- */
/* NGX_OK (ctx->sender set), or an HTTP status with *code and *detail for the
 * body */
ngx_int_t ngx_http_vote_authenticate(ngx_http_request_t        *r,
                                     ngx_http_vote_main_conf_t *vmcf,
                                     ngx_http_vote_loc_conf_t  *vlcf,
                                     ngx_http_vote_ctx_t       *ctx,
                                     const char **code, const char **detail);

/* ---- responses (ngx_http_vote_response.c) ---- */
ngx_int_t ngx_http_vote_send_error(ngx_http_request_t *r, ngx_uint_t status,
                                   const char *code, const char *detail,
                                   const char *field);
ngx_int_t ngx_http_vote_send_accepted(ngx_http_request_t  *r,
                                      ngx_http_vote_ctx_t *ctx);
void      ngx_http_vote_count_status(ngx_http_request_t *r, ngx_uint_t status);
void      ngx_http_vote_finish(ngx_http_request_t *r, ngx_int_t rc);

#endif
