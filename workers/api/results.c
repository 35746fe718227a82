/*
 * results.c - results snapshots from Redis and their cache (see results.h).
 *
 * Keys (docs/CONTRACT.md): poll:{p}:totals, poll:{p}:count, poll:{p}:dupes,
 * poll:{p}:attr:{attr} ("{value}\t{choice}" -> count).  All are read in one
 * MULTI/EXEC round trip.
 */
#include "results.h"

#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "etag.h"
#include "log.h"
#include "api_metrics.h"
#include "thread_redis.h"
#include "respond.h"
#include "ulid.h"

typedef struct {
    char *json;
    size_t len;
    struct MHD_Response *resp; /* the same bytes as a ready answer (shared by readers) */
    char etag[ETAG_MAX];
    double built_at;    /* monotonic seconds: when its Redis read started */
    unsigned gen;       /* bumped by every change notification */
    int stale;          /* a change arrived after built_at: rebuild before the next use */
    int building;       /* a reader is rebuilding it: others keep serving this one */
    atomic_int changed; /* pending stream push */
} cache_entry;

/* Without any change notification a snapshot is read again after RECHECK_AHEAD_S
 * (in case one was lost) and never served older than RECHECK_MAX_S. */
#define RECHECK_AHEAD_S 4.0
#define RECHECK_MAX_S 5.0
#define BUILD_WAIT_S 2 /* a reader waits this long for another's rebuild, then reads itself */
/* A snapshot that missed a change is still served during another reader's rebuild
 * while it is younger than max_age + BUILD_GRACE_S (a read takes ~30 ms for the 46 kB
 * election results, more under load); older, readers wait for the rebuild. */
#define BUILD_GRACE_S 0.1

struct results_cache {
    pthread_mutex_t lock;
    pthread_cond_t built; /* a rebuild ended (entry replaced or abandoned) */
    cache_entry *entries;
    size_t n;
    double max_age;
};

static void drop_entry_locked(cache_entry *e);

results_cache *results_cache_new(size_t npolls, unsigned max_age_ms)
{
    results_cache *rc = calloc(1, sizeof *rc);
    if (!rc || !(rc->entries = calloc(npolls ? npolls : 1, sizeof *rc->entries))) {
        free(rc);
        return NULL;
    }
    if (pthread_mutex_init(&rc->lock, NULL) != 0) {
        free(rc->entries);
        free(rc);
        return NULL;
    }
    if (pthread_cond_init(&rc->built, NULL) != 0) {
        pthread_mutex_destroy(&rc->lock);
        free(rc->entries);
        free(rc);
        return NULL;
    }
    rc->n = npolls;
    rc->max_age = max_age_ms / 1000.0;
    return rc;
}

void results_cache_free(results_cache *rc)
{
    if (!rc)
        return;
    for (size_t i = 0; i < rc->n; i++)
        drop_entry_locked(&rc->entries[i]);
    free(rc->entries);
    pthread_cond_destroy(&rc->built);
    pthread_mutex_destroy(&rc->lock);
    free(rc);
}

static void drop_entry_locked(cache_entry *e)
{
    free(e->json);
    e->json = NULL;
    e->len = 0;
    if (e->resp) /* connections still sending it hold their own reference */
        MHD_destroy_response(e->resp);
    e->resp = NULL;
}

/* Headers of a results answer: public (the same for every reader, no credentials
 * involved), cacheable for RESULTS_MAX_AGE_S by browsers and the edge, and its tag.
 * 0, or -1 if MHD could not add one. */
static int add_public_headers(struct MHD_Response *resp, const char *etag)
{
    return MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, RESULTS_CACHE_CONTROL) ==
                       MHD_YES &&
                   MHD_add_response_header(resp, MHD_HTTP_HEADER_ETAG, etag) == MHD_YES &&
                   MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff") == MHD_YES
               ? 0
               : -1;
}

/* A shareable answer owning a copy of json; NULL on allocation failure. */
static struct MHD_Response *make_response(const char *json, size_t len, const char *etag)
{
    char *body = malloc(len ? len : 1);
    if (!body)
        return NULL;
    memcpy(body, json, len);
    struct MHD_Response *resp = MHD_create_response_from_buffer_with_free_callback(len, body, free);
    if (!resp) {
        free(body);
        return NULL;
    }
    if (MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json") !=
            MHD_YES ||
        add_public_headers(resp, etag) < 0) {
        MHD_destroy_response(resp);
        return NULL;
    }
    return resp;
}

/* 1 if the request's If-None-Match names etag: the reader already has these results. */
static int client_has(api_request *r, const char *etag)
{
    return etag_matches(
        MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_IF_NONE_MATCH), etag);
}

/* 304 Not Modified with the tag and the caching headers, no body. */
static enum MHD_Result respond_not_modified(api_request *r, const char *etag)
{
    struct MHD_Response *resp = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
    if (!resp || add_public_headers(resp, etag) < 0) {
        if (resp)
            MHD_destroy_response(resp);
        log_error("response_alloc", "cannot build a 304");
        return MHD_NO;
    }
    enum MHD_Result ret = respond_queue_shared(r, 304, resp);
    MHD_destroy_response(resp);
    return ret;
}

enum MHD_Result results_respond(api_request *r, const char *json, size_t len)
{
    char etag[ETAG_MAX];
    etag_of_results(json, len, etag);
    if (client_has(r, etag))
        return respond_not_modified(r, etag);
    struct MHD_Response *resp = make_response(json, len, etag);
    if (!resp) {
        log_error("response_alloc", "cannot build the results answer");
        return MHD_NO;
    }
    enum MHD_Result ret = respond_queue_shared(r, 200, resp);
    MHD_destroy_response(resp);
    return ret;
}

/* Under rc->lock.  Whether entry e should be read from Redis again: a change was
 * notified and the snapshot is at least max_age old (so a stream of changes costs
 * at most one read per max_age; after a quiet spell the first change is read at
 * once), or no change came for RECHECK_AHEAD_S. */
static int entry_wants_rebuild(const results_cache *rc, const cache_entry *e, double age)
{
    return (e->stale && age >= rc->max_age) || age >= RECHECK_AHEAD_S;
}

/* Under rc->lock.  Whether e can answer now: it is current, or a reader is already
 * rebuilding it (single flight: every other reader keeps getting this one meanwhile,
 * so a burst of readers costs one Redis read at a time, not one each) and it is not
 * much older than max_age: a snapshot that missed a change and is older than
 * max_age + BUILD_GRACE_S (the first reader after a quiet spell) is not handed out
 * while it is rebuilt; those readers wait for the rebuild.  So an answer never lags a
 * notified change by more than max_age + BUILD_GRACE_S. */
static int entry_servable(const results_cache *rc, const cache_entry *e, double now)
{
    double age = now - e->built_at;
    if (!e->json || age > RECHECK_MAX_S)
        return 0;
    if (!entry_wants_rebuild(rc, e, age))
        return 1;
    return e->building && (!e->stale || age < rc->max_age + BUILD_GRACE_S);
}

int results_respond_cached(api_request *r, size_t idx, enum MHD_Result *ret)
{
    results_cache *rc = r->app->results;
    int rcode = -1;
    pthread_mutex_lock(&rc->lock);
    cache_entry *e = &rc->entries[idx];
    if (e->resp && entry_servable(rc, e, api_now_monotonic())) {
        *ret = client_has(r, e->etag) ? respond_not_modified(r, e->etag)
                                      : respond_queue_shared(r, 200, e->resp);
        rcode = 0;
    }
    pthread_mutex_unlock(&rc->lock);
    if (rcode == 0)
        metrics_inc(M_RESULTS_CACHE_HIT);
    return rcode;
}

void results_mark_changed(results_cache *rc, size_t idx)
{
    if (idx >= rc->n)
        return;
    pthread_mutex_lock(&rc->lock);
    rc->entries[idx].stale = 1;
    rc->entries[idx].gen++;
    pthread_mutex_unlock(&rc->lock);
    atomic_store(&rc->entries[idx].changed, 1);
}

void results_mark_all_changed(results_cache *rc)
{
    for (size_t i = 0; i < rc->n; i++)
        results_mark_changed(rc, i);
}

int results_take_changed(results_cache *rc, size_t idx)
{
    return idx < rc->n && atomic_exchange(&rc->entries[idx].changed, 0);
}

/* What a reader about to read Redis must hand back to cache_put. */
typedef struct {
    unsigned gen; /* the entry's generation when the read started */
    int claimed;  /* this reader is the one rebuilding (clears building when done) */
} build_ticket;

/* Under rc->lock: wait (bounded) while another reader rebuilds an entry too old to
 * serve, rather than reading the same keys alongside it. */
static void wait_for_build_locked(results_cache *rc, cache_entry *e)
{
    struct timespec until;
    if (clock_gettime(CLOCK_REALTIME, &until) != 0)
        return;
    until.tv_sec += BUILD_WAIT_S;
    while (e->building && !entry_servable(rc, e, api_now_monotonic()))
        if (pthread_cond_timedwait(&rc->built, &rc->lock, &until) != 0)
            return; /* timed out: read it ourselves */
}

/* A copy of the cached snapshot if servable: 0 hit.  On a miss (-1) *t says whether
 * this reader claimed the rebuild (fresh=1: the coalescer reads whatever the entry holds). */
static int cache_get(results_cache *rc, size_t idx, int fresh, char **json, size_t *len,
                     build_ticket *t)
{
    int rcode = -1;
    pthread_mutex_lock(&rc->lock);
    cache_entry *e = &rc->entries[idx];
    if (!fresh)
        wait_for_build_locked(rc, e);
    if (!fresh && entry_servable(rc, e, api_now_monotonic()) && (*json = malloc(e->len + 1))) {
        memcpy(*json, e->json, e->len + 1);
        *len = e->len;
        rcode = 0;
    } else {
        t->gen = e->gen;
        t->claimed = !e->building;
        e->building = 1;
    }
    pthread_mutex_unlock(&rc->lock);
    return rcode;
}

/* The rebuild that ticket t claimed failed: let the next reader try. */
static void cache_abandon(results_cache *rc, size_t idx, const build_ticket *t)
{
    if (!t->claimed)
        return;
    pthread_mutex_lock(&rc->lock);
    rc->entries[idx].building = 0;
    pthread_cond_broadcast(&rc->built);
    pthread_mutex_unlock(&rc->lock);
}

static void cache_put(results_cache *rc, size_t idx, const char *json, size_t len, double t,
                      const build_ticket *ticket)
{
    char etag[ETAG_MAX];
    etag_of_results(json, len, etag);
    char *copy = malloc(len + 1);
    struct MHD_Response *resp = copy ? make_response(json, len, etag) : NULL;
    if (!resp) {
        free(copy);
        cache_abandon(rc, idx, ticket);
        return;
    }
    memcpy(copy, json, len + 1);
    pthread_mutex_lock(&rc->lock);
    cache_entry *e = &rc->entries[idx];
    if (!e->json || e->built_at <= t) {
        drop_entry_locked(e);
        e->json = copy;
        e->len = len;
        e->resp = resp;
        memcpy(e->etag, etag, sizeof e->etag);
        e->built_at = t;
        /* A change notified while we were reading Redis may be missing from this
         * snapshot: it is served (it is no older than any other), but rebuilt next. */
        e->stale = e->gen != ticket->gen;
        copy = NULL;
        resp = NULL;
    }
    if (ticket->claimed)
        e->building = 0;
    pthread_cond_broadcast(&rc->built);
    pthread_mutex_unlock(&rc->lock);
    free(copy);
    if (resp)
        MHD_destroy_response(resp);
}

/* Integer value of a reply (string or integer), 0 for nil/other. */
static long long reply_int(const redisReply *r)
{
    if (r->type == REDIS_REPLY_INTEGER)
        return r->integer;
    if (r->type == REDIS_REPLY_STRING)
        return strtoll(r->str, NULL, 10);
    return 0;
}

static json_t *totals_object(const vc_poll *p, const redisReply *h)
{
    json_t *o = json_object();
    for (size_t i = 0; o && i < p->nchoices; i++)
        json_object_set_new(o, p->choices[i], json_integer(0));
    for (size_t i = 0; o && i + 1 < h->elements; i += 2)
        json_object_set_new(o, h->element[i]->str, json_integer(reply_int(h->element[i + 1])));
    return o;
}

typedef struct {
    const char *value;
    long long total;
} value_total;

static int by_total_desc(const void *a, const void *b)
{
    const value_total *x = a, *y = b;
    if (x->total != y->total)
        return x->total < y->total ? 1 : -1;
    return strcmp(x->value, y->value);
}

/* {value: {choice: n}} from the "{value}\t{choice}" hash. */
static json_t *group_by_value(const redisReply *h)
{
    json_t *by_value = json_object();
    for (size_t i = 0; by_value && i + 1 < h->elements; i += 2) {
        char *field = h->element[i]->str;
        char *tab = strrchr(field, '\t');
        if (!tab)
            continue; /* not written by the sink: ignore rather than fail */
        *tab = '\0';  /* reply buffers are ours to modify */
        json_t *choices = json_object_get(by_value, field);
        if (!choices) {
            choices = json_object();
            json_object_set_new(by_value, field, choices);
        }
        json_object_set_new(choices, tab + 1, json_integer(reply_int(h->element[i + 1])));
        *tab = '\t';
    }
    return by_value;
}

/* [{"value","total","choices"}] of the RESULTS_TOP_N values with most votes. */
static json_t *top_values(json_t *by_value)
{
    size_t n = json_object_size(by_value), k = 0;
    value_total *vt = calloc(n ? n : 1, sizeof *vt);
    json_t *top = json_array();
    if (!vt || !top) {
        free(vt);
        return top;
    }
    const char *value;
    json_t *choices, *count;
    json_object_foreach(by_value, value, choices)
    {
        long long sum = 0;
        const char *choice;
        json_object_foreach(choices, choice, count) sum += json_integer_value(count);
        vt[k++] = (value_total){ value, sum };
    }
    qsort(vt, k, sizeof *vt, by_total_desc);
    for (size_t i = 0; i < k && i < RESULTS_TOP_N; i++)
        json_array_append_new(top, json_pack("{s:s, s:I, s:O}", "value", vt[i].value, "total",
                                             (json_int_t)vt[i].total, "choices",
                                             json_object_get(by_value, vt[i].value)));
    free(vt);
    return top;
}

/* Reads every key of the poll inside MULTI/EXEC, so the snapshot is one
 * consistent state (the sink updates tallies atomically; a plain pipeline
 * could interleave with its transaction and show count != sum of totals).
 * On success *exec is the EXEC reply: an array of n replies. */
static int read_keys(const vc_poll *p, size_t n, redisReply **exec)
{
    redisContext *c = thread_redis_get();
    if (!c)
        return -1;
    int ok = redisAppendCommand(c, "MULTI") == REDIS_OK &&
             redisAppendCommand(c, "HGETALL poll:%s:totals", p->id) == REDIS_OK &&
             redisAppendCommand(c, "GET poll:%s:count", p->id) == REDIS_OK &&
             redisAppendCommand(c, "GET poll:%s:dupes", p->id) == REDIS_OK;
    for (size_t a = 0; ok && a < p->nattrs; a++)
        ok = redisAppendCommand(c, "HGETALL poll:%s:attr:%s", p->id, p->attrs[a]) == REDIS_OK;
    ok = ok && redisAppendCommand(c, "EXEC") == REDIS_OK;
    /* MULTI and each queued command answer +OK / +QUEUED; then EXEC. */
    for (size_t i = 0; ok && i < n + 1; i++) {
        void *r = NULL;
        ok = redisGetReply(c, &r) == REDIS_OK && r;
        freeReplyObject(r);
    }
    void *r = NULL;
    if (ok && redisGetReply(c, &r) == REDIS_OK && r) {
        *exec = r;
        if ((*exec)->type == REDIS_REPLY_ARRAY && (*exec)->elements == n)
            return 0;
        log_error("redis_exec", "unexpected EXEC reply type %d", (*exec)->type);
        freeReplyObject(r);
        return -1;
    }
    thread_redis_drop();
    return -1;
}

static int is_hash_reply(const redisReply *r) { return r->type == REDIS_REPLY_ARRAY; }

static json_t *build_snapshot(const vc_poll *p, redisReply **rep)
{
    json_t *snap =
        json_pack("{s:s, s:s, s:I, s:I, s:I}", "poll", p->id, "title", p->title, "count",
                  (json_int_t)reply_int(rep[1]), "duplicates", (json_int_t)reply_int(rep[2]),
                  "generated_at", (json_int_t)vc_now_ms());
    json_t *by_attr = json_object(), *top = json_object();
    if (!snap || !by_attr || !top || !is_hash_reply(rep[0])) {
        json_decref(snap);
        json_decref(by_attr);
        json_decref(top);
        return NULL;
    }
    json_object_set_new(snap, "totals", totals_object(p, rep[0]));
    for (size_t a = 0; a < p->nattrs; a++) {
        if (!is_hash_reply(rep[3 + a]))
            continue;
        json_t *by_value = group_by_value(rep[3 + a]);
        json_object_set_new(top, p->attrs[a], top_values(by_value));
        if (json_object_size(by_value) <= RESULTS_FULL_ATTR_MAX)
            json_object_set(by_attr, p->attrs[a], by_value);
        json_decref(by_value);
    }
    json_object_set_new(snap, "by_attr", by_attr);
    json_object_set_new(snap, "top", top);
    return snap;
}

int results_snapshot(api_app *app, size_t idx, int fresh, char **json, size_t *len)
{
    results_cache *rc = app->results;
    build_ticket ticket;
    if (cache_get(rc, idx, fresh, json, len, &ticket) == 0) {
        metrics_inc(M_RESULTS_CACHE_HIT);
        return 0;
    }
    metrics_inc(M_RESULTS_CACHE_MISS);
    const vc_poll *p = &app->catalog->polls[idx];
    redisReply *exec;
    double started = api_now_monotonic();
    if (read_keys(p, 3 + p->nattrs, &exec) < 0) {
        cache_abandon(rc, idx, &ticket);
        return -1;
    }
    json_t *snap = build_snapshot(p, exec->element);
    freeReplyObject(exec);
    *json = snap ? json_dumps(snap, JSON_COMPACT) : NULL;
    json_decref(snap);
    if (!*json) {
        cache_abandon(rc, idx, &ticket);
        return -1;
    }
    *len = strlen(*json);
    cache_put(rc, idx, *json, *len, started, &ticket);
    return 0;
}
