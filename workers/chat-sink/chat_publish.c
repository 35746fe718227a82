/*
 * chat_publish.c - live push of stored chat messages (chat_sink.c): the writer queues RESP
 * PUBLISH commands after COMMIT, a publisher thread sends them on its own Redis connection,
 * best effort and off the storage path.
 */
#include "chat_sink.h"

#include "msg.h"
#include "wlog.h"
#include "wthread.h"

#include <stdio.h>
#include <string.h>

/*
 * The writer thread only formats the PUBLISH commands of a committed batch (RESP, into
 * `pub.fill`, under pub.mu) and goes on with the next batch; the publisher thread takes
 * everything queued, sends it on its own connection and reads the replies. So Redis never
 * sits on the storage path: a slow or down Redis delays or fails live pushes only. Order is
 * kept (one queue, one connection). The queue is bounded (PUB_QUEUE_MAX bytes): past it a
 * batch's publishes are dropped and counted as failed, like any other publish failure.
 */
#define PUB_QUEUE_MAX (32u << 20)

/* "$<n>\r\n" without printf (four of these per message, on the writer thread). */
static int sb_resp_len(strbuf *b, char type, size_t n)
{
    char tmp[24];
    size_t k = sizeof tmp;
    tmp[--k] = '\n';
    tmp[--k] = '\r';
    do
        tmp[--k] = (char)('0' + n % 10);
    while ((n /= 10) != 0);
    tmp[--k] = type;
    return sb_append(b, tmp + k, sizeof tmp - k);
}

/* PUBLISH {prefix}chat:user:{user} {payload} as one RESP command. */
static int resp_publish(strbuf *b, const char *prefix, size_t prefix_len, const char *user,
                        size_t user_len, const void *payload, size_t payload_len)
{
    return sb_append(b, "*3\r\n$7\r\nPUBLISH\r\n", 17) ||
                   sb_resp_len(b, '$', prefix_len + 10 + user_len) ||
                   sb_append(b, prefix, prefix_len) || sb_append(b, "chat:user:", 10) ||
                   sb_append(b, user, user_len) || sb_append(b, "\r\n", 2) ||
                   sb_resp_len(b, '$', payload_len) || sb_append(b, payload, payload_len) ||
                   sb_append(b, "\r\n", 2)
               ? -1
               : 0;
}

/* Log publish outages once per state change (publisher thread). */
static void note_publish_state(struct chat_sink *s, size_t failed)
{
    if ((failed > 0) != s->redis_was_down) {
        s->redis_was_down = failed > 0;
        if (failed)
            wlog_warn("redis publish failing; messages are stored, live push skipped", "err=\"%s\"",
                      s->redis.last_error);
        else
            wlog_info("redis publish recovered", NULL);
    }
}

/* Send `n` pre-formatted commands and read their replies; returns how many failed. */
static size_t publish_send(struct chat_sink *s, const strbuf *cmds, size_t n)
{
    redisContext *c = redis_conn_get(&s->redis);
    if (c == NULL)
        return n;
    if (redisAppendFormattedCommand(c, cmds->data, cmds->len) != REDIS_OK) {
        redis_conn_drop(&s->redis);
        return n;
    }
    for (int done = 0; !done;) {
        if (redisBufferWrite(c, &done) != REDIS_OK) {
            snprintf(s->redis.last_error, sizeof s->redis.last_error, "%s", c->errstr);
            redis_conn_drop(&s->redis);
            return n;
        }
    }
    size_t failed = 0;
    for (size_t k = 0; k < n; k++) {
        void *reply = NULL;
        if (redisGetReply(c, &reply) != REDIS_OK || reply == NULL) {
            snprintf(s->redis.last_error, sizeof s->redis.last_error, "%s", c->errstr);
            redis_conn_drop(&s->redis); /* NULL reply: the connection is gone */
            return failed + (n - k);
        }
        if (((redisReply *)reply)->type == REDIS_REPLY_ERROR)
            failed++;
        freeReplyObject(reply);
    }
    return failed;
}

static void *publisher_main(void *arg)
{
    struct chat_sink *s = arg;
    pthread_mutex_lock(&s->pub.mu);
    for (;;) {
        while (s->pub.fill_n == 0 && !s->pub.quit)
            pthread_cond_wait(&s->pub.cv, &s->pub.mu);
        if (s->pub.fill_n == 0)
            break; /* quit with nothing queued */
        strbuf tmp = s->pub.send;
        s->pub.send = s->pub.fill;
        s->pub.fill = tmp;
        s->pub.fill.len = 0;
        size_t n = s->pub.fill_n;
        s->pub.fill_n = 0;
        pthread_mutex_unlock(&s->pub.mu);
        size_t failed = publish_send(s, &s->pub.send, n);
        atomic_fetch_add(s->published, n - failed);
        atomic_fetch_add(s->publish_failed, failed);
        note_publish_state(s, failed);
        pthread_mutex_lock(&s->pub.mu);
    }
    pthread_mutex_unlock(&s->pub.mu);
    return NULL;
}

/* Writer thread, after COMMIT: queue PUBLISH chat:user:{to} and chat:user:{from} for every
 * newly stored message and wake the publisher. */
void publish_fresh(struct chat_sink *s, const struct sink_batch *b, const unsigned char *fresh)
{
    const char *prefix = s->o->redis_prefix;
    size_t prefix_len = strlen(prefix), queued = 0, dropped = 0;
    pthread_mutex_lock(&s->pub.mu);
    size_t start = s->pub.fill.len;
    for (size_t i = 0; i < b->n; i++) {
        const struct chat_msg *m = b->entries[i].decoded;
        if (m == NULL || !fresh[i])
            continue;
        const rd_kafka_message_t *rkm = b->entries[i].rkm;
        if (dropped == 0 && s->pub.fill.len < PUB_QUEUE_MAX &&
            resp_publish(&s->pub.fill, prefix, prefix_len, m->to, m->to_len, rkm->payload,
                         rkm->len) == 0 &&
            resp_publish(&s->pub.fill, prefix, prefix_len, m->from, m->from_len, rkm->payload,
                         rkm->len) == 0) {
            queued += 2;
            continue;
        }
        dropped += 2; /* queue full or out of memory: this batch's pushes are skipped */
    }
    if (dropped > 0) {
        s->pub.fill.len = start; /* whole commands only */
        if (s->pub.fill.data != NULL)
            s->pub.fill.data[start] = '\0';
        dropped += queued;
        queued = 0;
    }
    s->pub.fill_n += queued;
    if (queued > 0)
        pthread_cond_signal(&s->pub.cv);
    pthread_mutex_unlock(&s->pub.mu);
    if (dropped > 0) {
        atomic_fetch_add(s->publish_failed, dropped);
        wlog_debug("publish queue full, live push skipped", "messages=%zu", dropped / 2);
    }
}

int publisher_start(struct chat_sink *s)
{
    return wthread_start_waiting(&s->pub.thread, &s->pub.mu, &s->pub.cv, "chat-publisher",
                                 publisher_main, s);
}

/* Publish what is still queued, then stop the thread. */
void publisher_stop(struct chat_sink *s)
{
    if (wthread_stop_waiting(s->pub.thread, &s->pub.mu, &s->pub.cv, &s->pub.quit) != 0)
        wlog_warn("publisher thread join failed", NULL);
    sb_free(&s->pub.fill);
    sb_free(&s->pub.send);
}
