/*
 * router.c - the route table (see router.h).  Patterns are matched segment
 * by segment; "*" matches one non-empty segment and becomes a path param.
 */
#include "router.h"

#include <string.h>

#include "handlers.h"
#include "api_metrics.h"
#include "respond.h"

typedef struct {
    const char *method;
    const char *pattern;
    api_handler handler;
    const char *name; /* metrics label */
    int metric;
} route;

static route routes[] = {
    { "POST", "/api/auth/register", handle_register, "auth_register", -1 },
    { "POST", "/api/auth/login", handle_login, "auth_login", -1 },
    { "POST", "/api/auth/logout", handle_logout, "auth_logout", -1 },
    { "GET", "/api/auth/me", handle_me, "auth_me", -1 },
    { "GET", "/api/polls", handle_polls, "polls", -1 },
    { "GET", "/api/polls/*/results", handle_results, "poll_results", -1 },
    { "GET", "/api/polls/*/recent", handle_recent, "poll_recent", -1 },
    { "GET", "/api/polls/*/stream", handle_poll_stream, "poll_stream", -1 },
    { "GET", "/api/chat/conversations", handle_conversations, "chat_conversations", -1 },
    { "GET", "/api/chat/conversations/*/messages", handle_messages, "chat_messages", -1 },
    { "GET", "/api/chat/stream", handle_chat_stream, "chat_stream", -1 },
    { "POST", "/api/books", handle_book_create, "books_create", -1 },
    { "GET", "/api/books", handle_books, "books_list", -1 },
    { "GET", "/api/books/*", handle_book, "book_get", -1 },
    { "PATCH", "/api/books/*", handle_book_update, "book_update", -1 },
    { "DELETE", "/api/books/*", handle_book_delete, "book_delete", -1 },
    { "GET", "/api/orders", handle_orders, "orders_list", -1 },
    { "GET", "/api/orders/*", handle_order, "order_get", -1 },
    { "GET", "/healthz", handle_healthz, "healthz", -1 },
    { "GET", "/metrics", handle_metrics, "metrics", -1 },
};
#define NROUTES (sizeof routes / sizeof routes[0])

static int unmatched_metric = -1;

void router_init(void)
{
    for (size_t i = 0; i < NROUTES; i++)
        routes[i].metric = metrics_register_route(routes[i].name);
    unmatched_metric = metrics_register_route("unmatched");
}

/* 1 if path matches pattern; wildcard segments are stored in params/lens. */
static int match(const char *pattern, const char *path, const char **params, size_t *lens)
{
    size_t np = 0;
    while (*pattern && *path) {
        if (*pattern == '*') {
            size_t seg = strcspn(path, "/");
            if (seg == 0 || np >= API_MAX_PATH_PARAMS)
                return 0;
            params[np] = path;
            lens[np++] = seg;
            path += seg;
            pattern++;
        } else if (*pattern++ != *path++) {
            return 0;
        }
    }
    return *pattern == '\0' && *path == '\0';
}

/* HEAD is served as GET (MHD drops the body). */
static int method_is(const char *want, const char *got)
{
    return strcmp(want, got) == 0 || (strcmp(want, "GET") == 0 && strcmp(got, "HEAD") == 0);
}

int router_find(const char *method, const char *path, const char **params, size_t *lens,
                int *path_route)
{
    *path_route = -1;
    for (size_t i = 0; i < NROUTES; i++) {
        if (!match(routes[i].pattern, path, params, lens))
            continue;
        *path_route = (int)i;
        if (method_is(routes[i].method, method))
            return (int)i;
    }
    return -1;
}

const char *router_route_name(int i)
{
    return i >= 0 && (size_t)i < NROUTES ? routes[i].name : NULL;
}

enum MHD_Result router_dispatch(api_request *r)
{
    int path_route;
    int i = router_find(r->method, r->path, r->params, r->param_lens, &path_route);
    if (i >= 0) {
        r->route = routes[i].metric;
        return routes[i].handler(r);
    }
    const route *path_match = path_route >= 0 ? &routes[path_route] : NULL;
    r->route = path_match ? path_match->metric : unmatched_metric;
    if (!path_match)
        return respond_error(r, 404, "not_found", "no such endpoint", NULL);
    struct MHD_Response *resp = MHD_create_response_from_buffer(
        sizeof "{\"error\":\"method_not_allowed\",\"detail\":\"wrong method\"}" - 1,
        (void *)"{\"error\":\"method_not_allowed\",\"detail\":\"wrong method\"}",
        MHD_RESPMEM_PERSISTENT);
    if (resp) {
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
        MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, path_match->method);
    }
    return respond_queue(r, 405, resp);
}
