/*
 * ngx_http_vote_kafka.h - librdkafka helpers shared by the producer and the
 * revocation consumer: a queue whose "became non-empty" signal is a pipe in
 * the nginx event loop, the dummy connection timer events point at, a
 * monotonic clock, librdkafka's log callback and the nginx.conf properties.
 * Nothing here knows about requests.
 */
#ifndef NGX_HTTP_VOTE_KAFKA_H
#define NGX_HTTP_VOTE_KAFKA_H

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>

#include <librdkafka/rdkafka.h>

/* a librdkafka queue whose "became non-empty" signal is a pipe in the event
 * loop */
typedef struct {
    rd_kafka_queue_t *queue;
    ngx_connection_t *conn; /* read end */
    int               wfd;  /* write end, written by librdkafka */
} ngx_http_vote_queue_pipe_t;

ngx_int_t ngx_http_vote_queue_pipe_open(ngx_http_vote_queue_pipe_t *qp,
                                        ngx_cycle_t *cycle, rd_kafka_queue_t *q,
                                        ngx_event_handler_pt handler);
void      ngx_http_vote_queue_pipe_drain(ngx_http_vote_queue_pipe_t *qp);
void      ngx_http_vote_queue_pipe_close(ngx_http_vote_queue_pipe_t *qp);

/* timer events need ev->data to look like a connection */
extern ngx_connection_t ngx_http_vote_dummy_conn;

uint64_t ngx_http_vote_now_us(void);

void ngx_http_vote_kafka_log_cb(const rd_kafka_t *rk, int level,
                                const char *fac, const char *buf);

/* bootstrap.servers from vote_kafka_brokers, then every vote_kafka_property */
ngx_int_t ngx_http_vote_kafka_conf(ngx_log_t *log, ngx_str_t *brokers,
                                   ngx_array_t *props, rd_kafka_conf_t *conf);

#endif
