/*
 * ngx_http_vote_kafka.c - librdkafka helpers of the module (see
 * ngx_http_vote_kafka.h): the io-event pipe that lets the nginx event loop
 * serve a librdkafka queue without blocking or busy-polling, the clock, the
 * log callback and the property list both Kafka clients share.
 */
#include "ngx_http_vote_kafka.h"

#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "kafka_conf.h"

/* nginx's debug log prints ((ngx_connection_t *) ev->data)->fd when a timer
 * is added */
ngx_connection_t ngx_http_vote_dummy_conn = { .fd = -1 };

uint64_t
ngx_http_vote_now_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t) ts.tv_sec * 1000000 + (uint64_t) ts.tv_nsec / 1000;
}

/* runs inside rd_kafka_poll() on the worker thread (log.queue is set) */
void
ngx_http_vote_kafka_log_cb(const rd_kafka_t *rk, int level, const char *fac,
                           const char *buf)
{
    ngx_uint_t lvl = level <= LOG_ERR       ? NGX_LOG_ERR
                     : level == LOG_WARNING ? NGX_LOG_WARN
                     : level <= LOG_INFO    ? NGX_LOG_INFO
                                            : NGX_LOG_DEBUG;

    /* The revocation consumer is configured with the same vote_kafka_property
     * list as the producer (TLS, SASL, ...); librdkafka warns once per
     * producer-only property, which says nothing the operator must act on. */
    if (lvl == NGX_LOG_WARN && ngx_strcmp(fac, "CONFWARN") == 0
        && ngx_strstr(buf, "is a producer property") != NULL)
    {
        lvl = NGX_LOG_INFO;
    }

    ngx_log_error(lvl, ngx_cycle->log, 0, "vote: kafka %s: %s: %s",
                  rd_kafka_name(rk), fac, buf);
}

ngx_int_t
ngx_http_vote_kafka_conf(ngx_log_t *log, ngx_str_t *brokers, ngx_array_t *props,
                         rd_kafka_conf_t *conf)
{
    char          err[512], list[1024];
    ngx_keyval_t *kv = props->elts;
    ngx_uint_t    i;

    if (brokers->len >= sizeof(list)) {
        ngx_log_error(NGX_LOG_EMERG, log, 0,
                      "vote: vote_kafka_brokers too long");
        return NGX_ERROR;
    }
    ngx_cpystrn((u_char *) list, brokers->data, brokers->len + 1);
    if (vc_kafka_conf_set(conf, "bootstrap.servers", list, err, sizeof(err))
        < 0) {
        ngx_log_error(NGX_LOG_EMERG, log, 0, "vote: %s", err);
        return NGX_ERROR;
    }
    /* nginx.conf properties last: they override the module's defaults */
    for (i = 0; i < props->nelts; i++) {
        if (vc_kafka_conf_set(conf, (char *) kv[i].key.data,
                              (char *) kv[i].value.data, err, sizeof(err))
            < 0)
        {
            ngx_log_error(NGX_LOG_EMERG, log, 0, "vote: %s", err);
            return NGX_ERROR;
        }
    }
    return NGX_OK;
}

ngx_int_t
ngx_http_vote_queue_pipe_open(ngx_http_vote_queue_pipe_t *qp,
                              ngx_cycle_t *cycle, rd_kafka_queue_t *q,
                              ngx_event_handler_pt handler)
{
    int               fds[2];
    ngx_connection_t *c;

    if (pipe2(fds, O_NONBLOCK | O_CLOEXEC) == -1) {
        ngx_log_error(NGX_LOG_EMERG, cycle->log, ngx_errno,
                      "vote: pipe2() failed");
        return NGX_ERROR;
    }
    c = ngx_get_connection(fds[0], cycle->log);
    if (c == NULL) {
        close(fds[0]);
        close(fds[1]);
        return NGX_ERROR;
    }
    c->read->handler = handler;
    c->read->log = cycle->log;
    c->write->log = cycle->log;
    c->data = qp;
    qp->conn = c;
    qp->wfd = fds[1];
    qp->queue = q;
    if (ngx_handle_read_event(c->read, 0) != NGX_OK) {
        ngx_log_error(NGX_LOG_EMERG, cycle->log, 0,
                      "vote: cannot watch the kafka event pipe");
        ngx_http_vote_queue_pipe_close(qp);
        return NGX_ERROR;
    }
    /* librdkafka writes one byte whenever the queue becomes non-empty */
    rd_kafka_queue_io_event_enable(q, fds[1], "1", 1);
    return NGX_OK;
}

void
ngx_http_vote_queue_pipe_drain(ngx_http_vote_queue_pipe_t *qp)
{
    u_char  buf[64];
    ssize_t n;

    do {
        n = read(qp->conn->fd, buf, sizeof(buf));
    } while (n > 0 || (n == -1 && ngx_errno == NGX_EINTR));
}

void
ngx_http_vote_queue_pipe_close(ngx_http_vote_queue_pipe_t *qp)
{
    if (qp->queue != NULL) {
        rd_kafka_queue_io_event_enable(qp->queue, -1, NULL, 0);
        rd_kafka_queue_destroy(qp->queue);
        qp->queue = NULL;
    }
    if (qp->conn != NULL) {
        ngx_close_connection(qp->conn);
        qp->conn = NULL;
    }
    if (qp->wfd != -1) {
        close(qp->wfd);
        qp->wfd = -1;
    }
}
