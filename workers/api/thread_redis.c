/*
 * thread_redis.c - per-thread hiredis connections over workers/lib/redis_conn (lazy reconnect,
 * connect and command timeouts); see thread_redis.h.
 */
#include "thread_redis.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "api_metrics.h"
#include "redis_conn.h"

#define THREAD_REDIS_TIMEOUT_MS 2000 /* bounds every command: a wedged Redis cannot hold a thread */

static char *rhost;
static int rport;
static pthread_key_t conn_key;

static void free_conn(void *p)
{
    redis_conn_close(p);
    free(p);
}

int thread_redis_init(const char *host, int port)
{
    rhost = strdup(host);
    rport = port;
    if (!rhost || pthread_key_create(&conn_key, free_conn) != 0)
        return -1;
    return 0;
}

static struct redis_conn *thread_rc(void)
{
    struct redis_conn *rc = pthread_getspecific(conn_key);
    if (rc)
        return rc;
    if (!(rc = calloc(1, sizeof *rc)))
        return NULL;
    redis_conn_init(rc, rhost, rport, THREAD_REDIS_TIMEOUT_MS);
    pthread_setspecific(conn_key, rc);
    return rc;
}

redisContext *thread_redis_connect_new(void)
{
    struct redis_conn tmp;
    redis_conn_init(&tmp, rhost, rport, THREAD_REDIS_TIMEOUT_MS);
    redisContext *c = redis_conn_get(&tmp);
    if (!c) {
        log_error("redis_connect", "%s:%d: %s", rhost, rport, tmp.last_error);
        metrics_inc(M_REDIS_ERRORS);
        return NULL;
    }
    tmp.ctx = NULL; /* the caller owns the context now */
    return c;
}

redisContext *thread_redis_get(void)
{
    struct redis_conn *rc = thread_rc();
    redisContext *c = rc ? redis_conn_get(rc) : NULL;
    if (!c) {
        log_error("redis_connect", "%s:%d: %s", rhost, rport, rc ? rc->last_error : "oom");
        metrics_inc(M_REDIS_ERRORS);
    }
    return c;
}

void thread_redis_drop(void)
{
    struct redis_conn *rc = pthread_getspecific(conn_key);
    if (rc && rc->ctx) {
        metrics_inc(M_REDIS_ERRORS);
        log_warn("redis_drop", "dropping connection: %s",
                 rc->ctx->errstr[0] ? rc->ctx->errstr : "error");
        redis_conn_drop(rc);
    }
}
redisReply *thread_redis_command(const char *fmt, ...)
{
    redisContext *c = thread_redis_get();
    if (!c)
        return NULL;
    va_list ap;
    va_start(ap, fmt);
    redisReply *reply = redisvCommand(c, fmt, ap);
    va_end(ap);
    if (!reply)
        thread_redis_drop();
    return reply;
}
