/*
 * handlers_polls.c - GET /api/polls, /api/polls/{poll}/results, /recent,
 * /stream (SSE).  Public: results are shown on the dashboard without login.
 */
#include "handlers.h"

#include <jansson.h>
#include <string.h>

#include "query.h"
#include "thread_redis.h"
#include "respond.h"
#include "results.h"
#include "results_view.h"
#include "sse.h"
#include "strbuf.h"

enum MHD_Result handle_polls(api_request *r)
{
    return respond_raw(r, 200, "application/json", r->app->polls_json, r->app->polls_json_len);
}

/* Index of the {poll} path segment in the catalog, or -1. */
static long poll_index(api_request *r)
{
    const vc_catalog *cat = r->app->catalog;
    const vc_poll *p = vc_catalog_find(cat, r->params[0], r->param_lens[0]);
    return p ? (long)(p - cat->polls) : -1;
}

static enum MHD_Result unknown_poll(api_request *r)
{
    return respond_error(r, 404, "unknown_poll", "no such poll in the catalog", "poll");
}

enum MHD_Result handle_results(api_request *r)
{
    long idx = poll_index(r);
    if (idx < 0)
        return unknown_poll(r);
    if (MHD_get_connection_values(r->conn, MHD_GET_ARGUMENT_KIND, NULL, NULL) > 0)
        return results_view_respond(r, (size_t)idx); /* ?top=, ?attr=&value= */
    enum MHD_Result ret;
    if (results_respond_cached(r, (size_t)idx, &ret) == 0)
        return ret; /* the hot path: no Redis, no copy */
    char *json;
    size_t len;
    if (results_snapshot(r->app, (size_t)idx, 0, &json, &len) < 0)
        return respond_unavailable(r, "results store unavailable");
    ret = results_respond(r, json, len);
    free(json);
    return ret;
}

/* A stored vote without its voter id: voters are personal data (a DPI
 * number), the dashboard needs only what was voted where. */
static json_t *public_vote(const redisReply *item)
{
    if (item->type != REDIS_REPLY_STRING)
        return NULL;
    json_t *v = json_loadb(item->str, item->len, 0, NULL);
    if (v && json_is_object(v)) {
        json_object_del(v, "voter");
        return v;
    }
    json_decref(v);
    return NULL;
}

enum MHD_Result handle_recent(api_request *r)
{
    long idx = poll_index(r);
    if (idx < 0)
        return unknown_poll(r);
    unsigned limit;
    api_problem p;
    if (parse_recent_limit(query_get(r, "limit"), &limit, &p) < 0)
        return respond_problem(r, &p);
    const char *id = r->app->catalog->polls[idx].id;
    redisReply *rep = thread_redis_command("LRANGE poll:%s:recent 0 %u", id, limit - 1);
    if (!rep || rep->type != REDIS_REPLY_ARRAY) {
        freeReplyObject(rep);
        return respond_unavailable(r, "results store unavailable");
    }
    json_t *votes = json_array();
    for (size_t i = 0; votes && i < rep->elements; i++) {
        json_t *v = public_vote(rep->element[i]);
        if (v)
            json_array_append_new(votes, v);
    }
    freeReplyObject(rep);
    return respond_json(r, 200, json_pack("{s:s, s:o}", "poll", id, "votes", votes));
}

enum MHD_Result handle_poll_stream(api_request *r)
{
    long idx = poll_index(r);
    if (idx < 0)
        return unknown_poll(r);
    char *json;
    size_t len;
    if (results_snapshot(r->app, (size_t)idx, 0, &json, &len) < 0)
        return respond_unavailable(r, "results store unavailable");
    sse_client *c = sse_client_open(r->app->hub, SSE_POLL, r->app->catalog->polls[idx].id, 0);
    if (!c) {
        free(json);
        return respond_unavailable(r, "too many live streams");
    }
    strbuf first = { 0 };
    int rc = sb_appends(&first, "retry: 2000\n\n") | sse_format(&first, "results", NULL, json, len);
    free(json);
    if (rc || sse_client_push(c, first.data, first.len) < 0) {
        sb_free(&first);
        sse_client_abandon(c);
        return respond_error(r, 500, "internal", "out of memory", NULL);
    }
    sb_free(&first);
    return sse_client_respond(r, c);
}
