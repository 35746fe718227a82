/*
 * handlers_orders.c - GET /api/orders (the token user's own orders, newest
 * first, keyset pages) and GET /api/orders/{id} with its state history.
 * Orders are placed at the edge (POST /api/orders, ngx_vote_module) and
 * written only by the order sink; another buyer's order is answered 404, as
 * if it did not exist.
 */
#include "handlers.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>

#include "db.h"
#include "query.h"
#include "respond.h"
#include "token.h"

#define ORDER_COLUMNS                                                                              \
    "id, book_id, copies, status, reason, "                                                        \
    "(extract(epoch FROM received_at) * 1000)::bigint, "                                           \
    "(extract(epoch FROM updated_at) * 1000)::bigint"

static json_int_t col_int(const PGresult *res, int row, int col)
{
    return (json_int_t)strtoll(PQgetvalue(res, row, col), NULL, 10);
}

static json_t *order_json(const PGresult *res, int row)
{
    json_t *o = json_pack("{s:s, s:I, s:I, s:s, s:I, s:I}", "id", PQgetvalue(res, row, 0), "book",
                          col_int(res, row, 1), "copies", col_int(res, row, 2), "status",
                          PQgetvalue(res, row, 3), "received_at", col_int(res, row, 5),
                          "updated_at", col_int(res, row, 6));
    if (o && !PQgetisnull(res, row, 4))
        json_object_set_new(o, "reason", json_string(PQgetvalue(res, row, 4)));
    return o;
}

enum MHD_Result handle_orders(api_request *r)
{
    const char *why;
    if (token_check(r, &why) < 0)
        return respond_unauthorized(r, why);
    page_query q;
    api_problem p;
    if (parse_page(query_get(r, "before"), NULL, query_get(r, "limit"), &q, &p) < 0)
        return respond_problem(r, &p);
    char limit[16];
    snprintf(limit, sizeof limit, "%u", q.limit + 1);
    const char *params[3] = { r->claims.sub, q.before, limit };
    PGresult *res = db_exec("SELECT " ORDER_COLUMNS " FROM orders WHERE buyer = $1"
                            " AND ($2::text IS NULL OR id < $2) ORDER BY id DESC LIMIT $3",
                            3, params, NULL);
    if (!res)
        return respond_unavailable(r, "order store unavailable");
    int n = PQntuples(res), has_more = n > (int)q.limit;
    if (has_more)
        n = (int)q.limit;
    json_t *orders = json_array();
    for (int i = 0; orders && i < n; i++)
        json_array_append_new(orders, order_json(res, i));
    json_t *next = n > 0 && has_more ? json_string(PQgetvalue(res, n - 1, 0)) : json_null();
    PQclear(res);
    return respond_json(
        r, 200,
        json_pack("{s:o, s:b, s:o}", "orders", orders, "has_more", has_more, "next_before", next));
}

/* The order's states, oldest first, into o["events"]; -1 when the store failed. */
static int add_events(json_t *o, const char *id)
{
    const char *params[1] = { id };
    PGresult *res = db_exec("SELECT status, (extract(epoch FROM at) * 1000)::bigint"
                            " FROM order_events WHERE order_id = $1 ORDER BY at, status",
                            1, params, NULL);
    if (!res)
        return -1;
    json_t *events = json_array();
    for (int i = 0; events && i < PQntuples(res); i++)
        json_array_append_new(events, json_pack("{s:s, s:I}", "status", PQgetvalue(res, i, 0), "at",
                                                col_int(res, i, 1)));
    PQclear(res);
    json_object_set_new(o, "events", events);
    return 0;
}

enum MHD_Result handle_order(api_request *r)
{
    const char *why;
    if (token_check(r, &why) < 0)
        return respond_unauthorized(r, why);
    char id[27];
    api_problem p;
    if (parse_order_id(r->params[0], r->param_lens[0], id, &p) < 0)
        return respond_problem(r, &p);
    const char *params[2] = { id, r->claims.sub };
    PGresult *res = db_exec("SELECT " ORDER_COLUMNS " FROM orders WHERE id = $1 AND buyer = $2", 2,
                            params, NULL);
    if (!res)
        return respond_unavailable(r, "order store unavailable");
    if (PQntuples(res) == 0) {
        PQclear(res);
        /* Also the answer for an order just accepted that the sink has not read yet. */
        return respond_error(r, 404, "order_not_found",
                             "no such order of yours (yet: a new order appears once the order "
                             "sink has read it)",
                             "id");
    }
    json_t *o = order_json(res, 0);
    PQclear(res);
    if (o && add_events(o, id) < 0) {
        json_decref(o);
        return respond_unavailable(r, "order store unavailable");
    }
    return respond_json(r, 200, o);
}
