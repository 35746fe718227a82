/*
 * http_server.c - libmicrohttpd setup and the access handler (http_server.h).
 *
 * Threading: an internal thread pool (epoll).  Handlers may block on
 * argon2id, PostgreSQL or Kafka acks, so the pool is larger than the cores;
 * SSE streams do not hold threads (suspend/resume in sse.c).
 */
#include "http_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "query.h"
#include "request_parse.h"
#include "respond.h"
#include "router.h"
#include "sse.h"
#include "strbuf.h"

/* Per-connection state across the access handler's calls for one request. */
typedef struct {
    strbuf body;
    int too_large;
    double started;
} request_state;

double api_now_monotonic(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Declared length above the limit: refuse before reading the body. */
static int declared_too_large(struct MHD_Connection *conn)
{
    return parse_declared_too_large(
        MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH));
}

/* Checks that do not depend on the route; answers and returns 1 if one fails. */
static int precheck(api_request *r, request_state *st, enum MHD_Result *ret)
{
    size_t nparams, longest;
    api_problem p;
    query_measure(r->conn, &nparams, &longest);
    const char *ct =
        MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
    if (parse_request_limits(st->too_large, nparams, longest, r->method, r->body_len, ct, &p) < 0) {
        *ret = respond_problem(r, &p);
        return 1;
    }
    return 0;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_size, void **con_cls)
{
    (void)version;
    api_app *app = cls;
    request_state *st = *con_cls;
    if (!st) { /* first call: headers only */
        if (!(st = calloc(1, sizeof *st)))
            return MHD_NO;
        st->started = api_now_monotonic();
        *con_cls = st;
        if (declared_too_large(conn)) {
            api_request r = { .app = app, .conn = conn, .route = -1, .started = st->started };
            return respond_error(&r, 413, "too_large", "body exceeds 4096 bytes", NULL);
        }
        return MHD_YES;
    }
    if (*upload_size) {
        if (st->body.len + *upload_size > HTTP_MAX_BODY)
            st->too_large = 1;
        else if (sb_append(&st->body, upload_data, *upload_size) < 0)
            return MHD_NO;
        *upload_size = 0;
        return MHD_YES;
    }
    api_request r = {
        .app = app,
        .conn = conn,
        .method = method,
        .path = url,
        .route = -1,
        .body = st->body.data ? st->body.data : "",
        .body_len = st->body.len,
        .started = st->started,
    };
    enum MHD_Result ret;
    if (precheck(&r, st, &ret))
        return ret;
    return router_dispatch(&r);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)conn;
    (void)toe;
    request_state *st = *con_cls;
    if (st) {
        sb_free(&st->body);
        free(st);
        *con_cls = NULL;
    }
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    msg[strcspn(msg, "\n")] = '\0';
    log_warn("mhd", "%s", msg);
}

struct MHD_Daemon *http_start(api_app *app)
{
    const api_config *cfg = app->cfg;
    struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons((uint16_t)cfg->port) };
    if (inet_pton(AF_INET, cfg->listen_addr, &addr.sin_addr) != 1) {
        log_error("listen_addr", "not an IPv4 address: %s", cfg->listen_addr);
        return NULL;
    }
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME |
                     MHD_USE_ERROR_LOG;
    struct MHD_Daemon *d = MHD_start_daemon(
        flags, (uint16_t)cfg->port, NULL, NULL, on_request, app, MHD_OPTION_EXTERNAL_LOGGER,
        mhd_log, NULL, /* first, or early messages escape it */
        MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr, MHD_OPTION_THREAD_POOL_SIZE,
        (unsigned int)cfg->threads, MHD_OPTION_CONNECTION_LIMIT, (unsigned int)cfg->max_connections,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)60, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
        (size_t)32 * 1024, MHD_OPTION_LISTEN_BACKLOG_SIZE, (unsigned int)1024,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL, MHD_OPTION_END);
    if (!d)
        log_error("listen", "cannot listen on %s:%u", cfg->listen_addr, cfg->port);
    return d;
}

void http_stop(struct MHD_Daemon *d, api_app *app, unsigned grace_ms)
{
    MHD_socket fd = MHD_quiesce_daemon(d);
    if (fd != MHD_INVALID_SOCKET)
        close(fd);
    sse_close_kind(app->hub, -1);
    /* Let in-flight answers and the SSE closing chunks go out. */
    for (unsigned waited = 0; waited < grace_ms; waited += 50) {
        const union MHD_DaemonInfo *info =
            MHD_get_daemon_info(d, MHD_DAEMON_INFO_CURRENT_CONNECTIONS);
        if (!info || info->num_connections == 0)
            break;
        sse_close_kind(app->hub, -1); /* streams opened meanwhile */
        usleep(50000);
    }
    MHD_stop_daemon(d);
}
