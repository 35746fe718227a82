/*
 * sse.c - SSE client registry, suspend/resume streaming and fan-out (sse.h).
 *
 * Locking: hub->lock (the client list) is taken before a client's lock.  The
 * MHD reader callback takes only the client's lock.  A client is unlinked
 * under hub->lock by the response's free callback, so a publisher iterating
 * under hub->lock never sees a freed client.
 */
#include "sse.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "api_metrics.h"
#include "respond.h"
#include "strbuf.h"

#define SSE_MAX_BUFFERED (1024 * 1024) /* a client this far behind is cut off */
#define SSE_KEY_MAX 96

typedef struct pending_frame {
    struct pending_frame *next;
    char *id; /* may be NULL */
    char *frame;
    size_t len;
} pending_frame;

struct sse_client {
    sse_client *prev, *next;
    sse_hub *hub;
    sse_kind kind;
    char key[SSE_KEY_MAX];
    struct MHD_Connection *conn; /* set once the response is queued */
    char jti[72];                /* token that opened the stream; "" for public streams */
    int64_t token_exp;
    pthread_mutex_t lock;
    strbuf out; /* bytes not yet handed to MHD */
    int suspended;
    int closing;
    int live; /* 0: deferred, frames go to pending */
    pending_frame *pending, **pending_tail;
};

struct sse_hub {
    pthread_mutex_t lock;
    sse_client *head;
    long count[2];
    unsigned max;
};

sse_hub *sse_hub_new(unsigned max_clients)
{
    sse_hub *hub = calloc(1, sizeof *hub);
    if (!hub)
        return NULL;
    pthread_mutex_init(&hub->lock, NULL);
    hub->max = max_clients;
    return hub;
}

void sse_hub_free(sse_hub *hub)
{
    if (!hub)
        return;
    pthread_mutex_destroy(&hub->lock);
    free(hub);
}

static void free_pending(pending_frame *p)
{
    while (p) {
        pending_frame *next = p->next;
        free(p->id);
        free(p->frame);
        free(p);
        p = next;
    }
}

static void unlink_client(sse_client *c)
{
    sse_hub *hub = c->hub;
    pthread_mutex_lock(&hub->lock);
    if (c->prev)
        c->prev->next = c->next;
    else
        hub->head = c->next;
    if (c->next)
        c->next->prev = c->prev;
    hub->count[c->kind]--;
    pthread_mutex_unlock(&hub->lock);
}

static void destroy_client(sse_client *c)
{
    unlink_client(c);
    free_pending(c->pending);
    sb_free(&c->out);
    pthread_mutex_destroy(&c->lock);
    free(c);
}

sse_client *sse_client_open(sse_hub *hub, sse_kind kind, const char *key, int deferred)
{
    sse_client *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    pthread_mutex_init(&c->lock, NULL);
    c->hub = hub;
    c->kind = kind;
    snprintf(c->key, sizeof c->key, "%s", key);
    c->live = !deferred;
    c->pending_tail = &c->pending;

    pthread_mutex_lock(&hub->lock);
    if ((unsigned long)(hub->count[0] + hub->count[1]) >= hub->max) {
        pthread_mutex_unlock(&hub->lock);
        metrics_inc(M_SSE_REJECTED_FULL);
        pthread_mutex_destroy(&c->lock);
        free(c);
        return NULL;
    }
    c->next = hub->head;
    if (hub->head)
        hub->head->prev = c;
    hub->head = c;
    hub->count[kind]++;
    pthread_mutex_unlock(&hub->lock);
    return c;
}

void sse_client_abandon(sse_client *c) { destroy_client(c); }

void sse_client_set_token(sse_client *c, const char *jti, int64_t exp)
{
    pthread_mutex_lock(&c->lock);
    snprintf(c->jti, sizeof c->jti, "%s", jti ? jti : "");
    c->token_exp = exp;
    pthread_mutex_unlock(&c->lock);
}

/* Resumes the connection if the reader parked it; caller holds c->lock. */
static void wake_locked(sse_client *c)
{
    if (c->suspended && c->conn) {
        c->suspended = 0;
        MHD_resume_connection(c->conn);
    }
}

/* Caller holds c->lock. */
static int append_locked(sse_client *c, const char *frame, size_t len)
{
    if (c->closing)
        return 0;
    if (c->out.len + len > SSE_MAX_BUFFERED) {
        log_warn("sse_slow_client", "%s stream of %s is %zu bytes behind; closing",
                 c->kind == SSE_CHAT ? "chat" : "poll", c->key, c->out.len);
        metrics_inc(M_SSE_DROPPED_SLOW);
        c->closing = 1;
        sb_consume(&c->out, c->out.len);
    } else if (sb_append(&c->out, frame, len) < 0) {
        c->closing = 1; /* out of memory: end the stream, client will resume */
    }
    wake_locked(c);
    return 1;
}

/* Caller holds c->lock. */
static int defer_locked(sse_client *c, const char *id, const char *frame, size_t len)
{
    pending_frame *p = calloc(1, sizeof *p);
    if (!p)
        return -1;
    p->id = id ? strdup(id) : NULL;
    p->frame = malloc(len);
    if (!p->frame || (id && !p->id)) {
        free(p->id);
        free(p->frame);
        free(p);
        return -1;
    }
    memcpy(p->frame, frame, len);
    p->len = len;
    *c->pending_tail = p;
    c->pending_tail = &p->next;
    return 0;
}

int sse_client_push(sse_client *c, const char *frame, size_t len)
{
    pthread_mutex_lock(&c->lock);
    int rc = append_locked(c, frame, len) ? 0 : -1;
    pthread_mutex_unlock(&c->lock);
    return rc;
}

static int id_in(const char *id, char *const *ids, size_t n)
{
    for (size_t i = 0; id && i < n; i++)
        if (strcmp(ids[i], id) == 0)
            return 1;
    return 0;
}

int sse_client_go_live(sse_client *c, const char *backlog, size_t len, char *const *backlog_ids,
                       size_t nids)
{
    pthread_mutex_lock(&c->lock);
    int rc = 0;
    if (len)
        append_locked(c, backlog, len);
    for (pending_frame *p = c->pending; p; p = p->next)
        if (!id_in(p->id, backlog_ids, nids))
            append_locked(c, p->frame, p->len);
    free_pending(c->pending);
    c->pending = NULL;
    c->pending_tail = &c->pending;
    c->live = 1;
    if (c->closing)
        rc = -1;
    pthread_mutex_unlock(&c->lock);
    return rc;
}

/* MHD content reader: hand out what is buffered, or park the connection. */
static ssize_t read_stream(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)pos;
    sse_client *c = cls;
    pthread_mutex_lock(&c->lock);
    ssize_t n;
    if (c->out.len > 0) {
        size_t take = c->out.len < max ? c->out.len : max;
        memcpy(buf, c->out.data, take);
        sb_consume(&c->out, take);
        n = (ssize_t)take;
    } else if (c->closing) {
        n = MHD_CONTENT_READER_END_OF_STREAM;
    } else {
        c->suspended = 1;
        MHD_suspend_connection(c->conn);
        n = 0;
    }
    pthread_mutex_unlock(&c->lock);
    return n;
}

static void free_stream(void *cls) { destroy_client(cls); }

enum MHD_Result sse_client_respond(api_request *r, sse_client *c)
{
    struct MHD_Response *resp =
        MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16 * 1024, read_stream, c, free_stream);
    if (!resp) {
        destroy_client(c);
        return MHD_NO;
    }
    pthread_mutex_lock(&c->lock);
    c->conn = r->conn;
    pthread_mutex_unlock(&c->lock);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "text/event-stream");
    /* nginx: do not buffer this response even if the location forgot to. */
    MHD_add_response_header(resp, "X-Accel-Buffering", "no");
    return respond_queue(r, 200, resp);
}

int sse_publish(sse_hub *hub, sse_kind kind, const char *key, const char *event_id,
                const char *frame, size_t len)
{
    int reached = 0;
    pthread_mutex_lock(&hub->lock);
    for (sse_client *c = hub->head; c; c = c->next) {
        if (c->kind != kind || strcmp(c->key, key) != 0)
            continue;
        pthread_mutex_lock(&c->lock);
        if (c->live)
            reached += append_locked(c, frame, len);
        else if (defer_locked(c, event_id, frame, len) == 0)
            reached++;
        pthread_mutex_unlock(&c->lock);
    }
    pthread_mutex_unlock(&hub->lock);
    if (reached)
        metrics_inc(M_SSE_EVENTS);
    return reached;
}

int sse_has_clients(sse_hub *hub, sse_kind kind, const char *key)
{
    int found = 0;
    pthread_mutex_lock(&hub->lock);
    for (sse_client *c = hub->head; c && !found; c = c->next)
        found = c->kind == kind && strcmp(c->key, key) == 0;
    pthread_mutex_unlock(&hub->lock);
    return found;
}

void sse_heartbeat(sse_hub *hub)
{
    static const char ping[] = ": ping\n\n";
    pthread_mutex_lock(&hub->lock);
    for (sse_client *c = hub->head; c; c = c->next) {
        pthread_mutex_lock(&c->lock);
        if (c->live)
            append_locked(c, ping, sizeof ping - 1);
        pthread_mutex_unlock(&c->lock);
    }
    pthread_mutex_unlock(&hub->lock);
}

void sse_close_kind(sse_hub *hub, int kind)
{
    pthread_mutex_lock(&hub->lock);
    for (sse_client *c = hub->head; c; c = c->next) {
        if (kind >= 0 && (int)c->kind != kind)
            continue;
        pthread_mutex_lock(&c->lock);
        c->closing = 1;
        wake_locked(c);
        pthread_mutex_unlock(&c->lock);
    }
    pthread_mutex_unlock(&hub->lock);
}

void sse_close_if(sse_hub *hub, sse_token_dead_fn dead, void *arg)
{
    pthread_mutex_lock(&hub->lock);
    for (sse_client *c = hub->head; c; c = c->next) {
        pthread_mutex_lock(&c->lock);
        if (c->jti[0] && !c->closing && dead(c->jti, c->token_exp, arg)) {
            c->closing = 1;
            wake_locked(c);
        }
        pthread_mutex_unlock(&c->lock);
    }
    pthread_mutex_unlock(&hub->lock);
}

long sse_count(sse_hub *hub, sse_kind kind)
{
    pthread_mutex_lock(&hub->lock);
    long n = hub->count[kind];
    pthread_mutex_unlock(&hub->lock);
    return n;
}

int sse_format(strbuf *out, const char *event, const char *id, const char *data, size_t len)
{
    int rc = 0;
    if (id)
        rc |= sb_appendf(out, "id: %s\n", id);
    rc |= sb_appendf(out, "event: %s\ndata: ", event);
    rc |= sb_append(out, data, len);
    rc |= sb_appends(out, "\n\n");
    return rc ? -1 : 0;
}
