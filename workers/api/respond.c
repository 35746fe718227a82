/*
 * respond.c - answers, error bodies and per-route metrics (see respond.h).
 */
#include "respond.h"

#include <string.h>

#include "log.h"
#include "api_metrics.h"

void respond_add_common_headers(struct MHD_Response *resp)
{
    /* Answers carry per-user or live data: never let a proxy or browser cache them
     * (the public results set their own headers, results.c). */
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "private, no-store");
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
}

enum MHD_Result respond_queue_shared(api_request *r, unsigned status, struct MHD_Response *resp)
{
    /* MHD counts its own reference: the response outlives our caller's if need be. */
    enum MHD_Result ret = MHD_queue_response(r->conn, status, resp);
    metrics_observe_request(r->route, (int)status, api_now_monotonic() - r->started);
    return ret;
}

enum MHD_Result respond_queue(api_request *r, unsigned status, struct MHD_Response *resp)
{
    if (!resp) {
        log_error("response_alloc", "cannot allocate a response");
        return MHD_NO; /* MHD closes the connection */
    }
    respond_add_common_headers(resp);
    enum MHD_Result ret = respond_queue_shared(r, status, resp);
    MHD_destroy_response(resp);
    return ret;
}

enum MHD_Result respond_raw(api_request *r, unsigned status, const char *content_type,
                            const char *data, size_t len)
{
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(len, (void *)data, MHD_RESPMEM_MUST_COPY);
    if (resp && content_type)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
    return respond_queue(r, status, resp);
}

enum MHD_Result respond_json(api_request *r, unsigned status, json_t *body)
{
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    if (!text) {
        static const char oom[] = "{\"error\":\"internal\",\"detail\":\"out of memory\"}";
        return respond_raw(r, 500, "application/json", oom, sizeof oom - 1);
    }
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
    if (!resp) {
        free(text);
        return MHD_NO;
    }
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
    return respond_queue(r, status, resp);
}

enum MHD_Result respond_empty(api_request *r, unsigned status)
{
    struct MHD_Response *resp = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
    return respond_queue(r, status, resp);
}

json_t *respond_error_body(const char *code, const char *detail, const char *field)
{
    json_t *body = json_pack("{s:s, s:s}", "error", code, "detail", detail);
    if (body && field)
        json_object_set_new(body, "field", json_string(field));
    return body;
}

enum MHD_Result respond_error(api_request *r, unsigned status, const char *code, const char *detail,
                              const char *field)
{
    return respond_json(r, status, respond_error_body(code, detail, field));
}

enum MHD_Result respond_problem(api_request *r, const api_problem *p)
{
    return respond_error(r, p->status, p->error, p->detail, p->field);
}

enum MHD_Result respond_unavailable(api_request *r, const char *what)
{
    json_t *body = json_pack("{s:s, s:s}", "error", "unavailable", "detail", what);
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    struct MHD_Response *resp =
        text ? MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE) : NULL;
    if (!resp) {
        free(text);
        return MHD_NO;
    }
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
    MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, "1");
    return respond_queue(r, 503, resp);
}
