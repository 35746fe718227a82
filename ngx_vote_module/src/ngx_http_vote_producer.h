/*
 * ngx_http_vote_producer.h - the per-worker librdkafka producers and the
 * tickets that carry a message's delivery report back to whoever waits.
 */
#ifndef NGX_HTTP_VOTE_PRODUCER_H
#define NGX_HTTP_VOTE_PRODUCER_H

#include "ngx_http_vote.h"

/* called from the delivery report (inside rd_kafka_poll()) while `data` is set;
 * maybe_stored: the message failed after reaching a broker, so it may be in
 * Kafka all the same (the outcome is unknown, not refused) */
typedef void (*ngx_http_vote_delivered_pt)(void *data, rd_kafka_resp_err_t err,
                                           ngx_flag_t maybe_stored);

/* One produced message; the librdkafka msg_opaque.  malloc'd (not pool)
 * because it outlives the request when the client goes away: the waiter
 * clears `data` when it stops waiting, so a late delivery report only updates
 * the metrics and frees the ticket. */
typedef struct ngx_http_vote_ticket_s {
    void                      *data;
    ngx_http_vote_delivered_pt delivered;
    uint64_t   start_us; /* monotonic, for the latency histogram */
    ngx_uint_t kind;
} ngx_http_vote_ticket_t;

/* a ticket for a message of this kind, not waited for yet (data NULL) */
ngx_http_vote_ticket_t *ngx_http_vote_ticket_create(
    ngx_uint_t kind, ngx_http_vote_delivered_pt delivered, ngx_log_t *log);

ngx_int_t ngx_http_vote_producer_init(ngx_cycle_t               *cycle,
                                      ngx_http_vote_main_conf_t *vmcf);
void      ngx_http_vote_producer_exit(ngx_cycle_t               *cycle,
                                      ngx_http_vote_main_conf_t *vmcf);

/* the producer that serves locations of this vote_durability */
rd_kafka_t *ngx_http_vote_producer_handle(ngx_uint_t durability);
/* the location's topic handle, created on first use */
rd_kafka_topic_t *ngx_http_vote_topic(ngx_http_vote_loc_conf_t *vlcf,
                                      ngx_log_t                *log);

/* a message was handed to librdkafka: it counts as waiting for delivery */
void ngx_http_vote_count_queued(void);
/* Updates the stall state (logging when it changes) and returns it: 1 when
 * messages wait and none was delivered for stall_timeout. */
ngx_uint_t ngx_http_vote_update_stall(ngx_msec_t stall_timeout);

#endif
