/*
 * redis_conn.c - lazily reconnecting hiredis connection (see redis_conn.h).
 */
#include "redis_conn.h"

#include <stdio.h>
#include <string.h>

void redis_conn_init(struct redis_conn *rc, const char *host, int port, int timeout_ms)
{
    memset(rc, 0, sizeof *rc);
    rc->host = host;
    rc->port = port;
    rc->timeout_ms = timeout_ms > 0 ? timeout_ms : 5000;
}

void redis_conn_drop(struct redis_conn *rc)
{
    if (rc->ctx != NULL) {
        if (rc->ctx->err)
            snprintf(rc->last_error, sizeof rc->last_error, "%s", rc->ctx->errstr);
        redisFree(rc->ctx);
        rc->ctx = NULL;
    }
}

redisContext *redis_conn_get(struct redis_conn *rc)
{
    if (rc->ctx != NULL && rc->ctx->err == 0)
        return rc->ctx;
    redis_conn_drop(rc);
    struct timeval tv = { rc->timeout_ms / 1000, (rc->timeout_ms % 1000) * 1000 };
    redisContext *c = redisConnectWithTimeout(rc->host, rc->port, tv);
    if (c == NULL) {
        snprintf(rc->last_error, sizeof rc->last_error, "out of memory");
        return NULL;
    }
    if (c->err) {
        snprintf(rc->last_error, sizeof rc->last_error, "%s", c->errstr);
        redisFree(c);
        return NULL;
    }
    /* Commands get the same bound so a hung server looks like a down server. */
    if (redisSetTimeout(c, tv) != REDIS_OK) {
        snprintf(rc->last_error, sizeof rc->last_error, "cannot set timeout");
        redisFree(c);
        return NULL;
    }
    rc->ctx = c;
    if (rc->on_connect != NULL)
        rc->on_connect(rc, rc->on_connect_arg);
    return rc->ctx; /* on_connect may have dropped it again: callers re-check */
}

redisReply *redis_conn_commandv(struct redis_conn *rc, int argc, const char **argv,
                                const size_t *argvlen)
{
    redisContext *c = redis_conn_get(rc);
    if (c == NULL)
        return NULL;
    redisReply *r = redisCommandArgv(c, argc, argv, argvlen);
    if (r == NULL) {
        redis_conn_drop(rc);
        return NULL;
    }
    return r;
}

void redis_conn_close(struct redis_conn *rc)
{
    if (rc->ctx != NULL)
        redisFree(rc->ctx);
    rc->ctx = NULL;
}

int redis_conn_send(struct redis_conn *rc, int argc, const char **argv, const size_t *argvlen)
{
    redisContext *c = redis_conn_get(rc);
    if (c == NULL)
        return -1;
    if (redisAppendCommandArgv(c, argc, argv, argvlen) != REDIS_OK) {
        redis_conn_drop(rc);
        return -1;
    }
    int done = 0;
    while (!done) {
        if (redisBufferWrite(c, &done) != REDIS_OK) {
            redis_conn_drop(rc);
            return -1;
        }
    }
    return 0;
}

redisReply *redis_conn_read(struct redis_conn *rc)
{
    void *reply = NULL;
    if (rc->ctx == NULL || redisGetReply(rc->ctx, &reply) != REDIS_OK || reply == NULL) {
        if (reply != NULL)
            freeReplyObject(reply);
        redis_conn_drop(rc);
        return NULL;
    }
    return reply;
}
