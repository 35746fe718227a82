/*
 * results_view.c - the optional parameters of the results document (see results_view.h).
 */
#include "results_view.h"

#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "query.h"
#include "thread_redis.h"
#include "respond.h"
#include "results.h"
#include "validate.h"

static int view_error(api_problem *err, unsigned status, const char *code, const char *detail,
                      const char *field)
{
    *err = (api_problem){ status, code, detail, field };
    return -1;
}

int results_view_check(const vc_poll *p, const char *top, const char *attr, const char *value,
                       results_view *v, api_problem *err)
{
    *v = (results_view){ RESULTS_TOP_N, NULL, NULL };
    if (parse_uint_value(top, RESULTS_TOP_N, 1, RESULTS_TOP_N, &v->top) < 0)
        return view_error(err, 422, "bad_top", "top must be an integer 1-10", "top");
    if (!attr && !value)
        return 0;
    if (!attr)
        return view_error(err, 422, "missing_attr",
                          "value needs attr (the attribute it belongs to)", "attr");
    size_t a = 0;
    while (a < p->nattrs && strcmp(p->attrs[a], attr) != 0)
        a++;
    if (a == p->nattrs)
        return view_error(err, 422, "unknown_attr",
                          p->nattrs ? "attr is not an attribute of this poll"
                                    : "this poll has no attributes",
                          "attr");
    if (!value)
        return view_error(err, 422, "missing_value", "attr needs value (the one to break down)",
                          "value");
    if (!*value || strlen(value) > VC_ATTR_VALUE_MAX)
        return view_error(err, 422, "bad_value", "value must be 1-128 bytes", "value");
    v->attr = p->attrs[a];
    v->value = value;
    return 0;
}

/* Cuts every list of snap's "top" to n entries. */
static void cut_top(json_t *snap, unsigned n)
{
    const char *attr;
    json_t *list;
    json_object_foreach(json_object_get(snap, "top"), attr, list)
    {
        while (json_array_size(list) > n)
            json_array_remove(list, json_array_size(list) - 1);
    }
}

/* {"attr","value","total","choices":{every choice of p: n}}; from by_attr when known
 * (part of the same consistent snapshot) or from counts. */
static json_t *breakdown(json_t *snap, const vc_poll *p, const results_view *v,
                         const long long *counts)
{
    json_t *known = json_object_get(json_object_get(snap, "by_attr"), v->attr);
    json_t *of_value = known ? json_object_get(known, v->value) : NULL;
    json_t *choices = json_object();
    long long total = 0;
    for (size_t i = 0; choices && i < p->nchoices; i++) {
        long long n =
            known ? json_integer_value(json_object_get(of_value, p->choices[i])) : counts[i];
        total += n;
        json_object_set_new(choices, p->choices[i], json_integer(n));
    }
    return choices ? json_pack("{s:s, s:s, s:I, s:o}", "attr", v->attr, "value", v->value, "total",
                               (json_int_t)total, "choices", choices)
                   : NULL;
}

int results_view_apply(json_t *snap, const vc_poll *p, const results_view *v,
                       const long long *counts)
{
    if (!json_is_object(snap) || !json_is_object(json_object_get(snap, "totals")))
        return -1;
    cut_top(snap, v->top);
    if (!v->attr)
        return 0;
    if (!counts && !json_object_get(json_object_get(snap, "by_attr"), v->attr))
        return -1;
    return json_object_set_new(snap, "breakdown", breakdown(snap, p, v, counts));
}

/* counts[i] = tally of choice i for v->value, one HMGET of the attribute's hash
 * ("{value}\t{choice}" fields, docs/CONTRACT.md).  0, or -1 if Redis cannot be read. */
static int read_counts(const vc_poll *p, const results_view *v, long long *counts)
{
    size_t n = p->nchoices + 2;
    const char **argv = calloc(n, sizeof *argv);
    char **fields = calloc(n, sizeof *fields);
    char key[VC_POLL_ID_MAX + VC_ATTR_NAME_MAX + 16];
    int rc = -1;
    redisContext *c = thread_redis_get();
    if (!argv || !fields || !c)
        goto out;
    snprintf(key, sizeof key, "poll:%s:attr:%s", p->id, v->attr);
    argv[0] = "HMGET";
    argv[1] = key;
    for (size_t i = 0; i < p->nchoices; i++)
        if (asprintf(&fields[i], "%s\t%s", v->value, p->choices[i]) < 0) {
            fields[i] = NULL;
            goto out;
        } else {
            argv[i + 2] = fields[i];
        }
    redisReply *rep = redisCommandArgv(c, (int)n, argv, NULL);
    if (!rep) {
        thread_redis_drop();
        goto out;
    }
    if (rep->type == REDIS_REPLY_ARRAY && rep->elements == p->nchoices) {
        for (size_t i = 0; i < p->nchoices; i++)
            counts[i] = rep->element[i]->type == REDIS_REPLY_STRING
                            ? strtoll(rep->element[i]->str, NULL, 10)
                            : 0;
        rc = 0;
    } else {
        log_error("redis_hmget", "unexpected HMGET reply type %d", rep->type);
    }
    freeReplyObject(rep);
out:
    for (size_t i = 0; fields && i < p->nchoices; i++)
        free(fields[i]);
    free(fields);
    free(argv);
    return rc;
}

typedef struct {
    const char *unknown; /* a parameter that is not a view parameter */
    const char *empty;   /* a view parameter without a value ("?top") */
} param_scan;

/* MHD iterator over the query: stops at the first parameter it refuses. */
static enum MHD_Result scan_param(void *cls, enum MHD_ValueKind kind, const char *key,
                                  const char *value)
{
    (void)kind;
    param_scan *s = cls;
    if (strcmp(key, "top") != 0 && strcmp(key, "attr") != 0 && strcmp(key, "value") != 0)
        s->unknown = key;
    else if (!value)
        s->empty = key;
    return s->unknown || s->empty ? MHD_NO : MHD_YES;
}

enum MHD_Result results_view_respond(api_request *r, size_t idx)
{
    const vc_poll *p = &r->app->catalog->polls[idx];
    param_scan scan = { 0 };
    MHD_get_connection_values(r->conn, MHD_GET_ARGUMENT_KIND, scan_param, &scan);
    if (scan.unknown)
        return respond_error(r, 400, "unknown_parameter", "results take only " RESULTS_VIEW_PARAMS,
                             scan.unknown);
    if (scan.empty)
        return respond_error(r, 422, "missing_value", "a results parameter needs a value",
                             scan.empty);
    results_view v;
    api_problem err;
    if (results_view_check(p, query_get(r, "top"), query_get(r, "attr"), query_get(r, "value"), &v,
                           &err) < 0)
        return respond_problem(r, &err);
    char *json;
    size_t len;
    if (results_snapshot(r->app, idx, 0, &json, &len) < 0)
        return respond_unavailable(r, "results store unavailable");
    json_t *snap = json_loadb(json, len, 0, NULL);
    free(json);
    long long *counts = NULL;
    if (snap && v.attr && !json_object_get(json_object_get(snap, "by_attr"), v.attr)) {
        counts = calloc(p->nchoices ? p->nchoices : 1, sizeof *counts);
        if (!counts || read_counts(p, &v, counts) < 0) {
            free(counts);
            json_decref(snap);
            return respond_unavailable(r, "results store unavailable");
        }
    }
    int ok = snap && results_view_apply(snap, p, &v, counts) == 0;
    free(counts);
    json = ok ? json_dumps(snap, JSON_COMPACT) : NULL;
    json_decref(snap);
    if (!json)
        return respond_error(r, 500, "internal", "cannot build the results", NULL);
    enum MHD_Result ret = results_respond(r, json, strlen(json));
    free(json);
    return ret;
}
