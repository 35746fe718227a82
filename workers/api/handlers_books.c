/*
 * handlers_books.c - the bookstore's catalog: POST /api/books (the seller is
 * the token's user), GET /api/books (keyset pages of books with stock, by
 * text and seller), GET /api/books/{id}, and the seller's own PATCH and
 * DELETE.  Bodies follow common/shop.c's rules, the same as the edge's.
 */
#include "handlers.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "query.h"
#include "respond.h"
#include "shop.h"
#include "token.h"

/* Columns every book query selects, in this order (book_json). */
#define BOOK_COLUMNS                                                                               \
    "id, seller, title, author, condition, price_cents, copies, copies_left, "                     \
    "(extract(epoch FROM created_at) * 1000)::bigint"

static json_int_t col_int(const PGresult *res, int row, int col)
{
    return (json_int_t)strtoll(PQgetvalue(res, row, col), NULL, 10);
}

static json_t *book_json(const PGresult *res, int row)
{
    return json_pack("{s:I, s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:I}", "id", col_int(res, row, 0),
                     "seller", PQgetvalue(res, row, 1), "title", PQgetvalue(res, row, 2), "author",
                     PQgetvalue(res, row, 3), "condition", PQgetvalue(res, row, 4), "price_cents",
                     col_int(res, row, 5), "copies", col_int(res, row, 6), "copies_left",
                     col_int(res, row, 7), "created_at", col_int(res, row, 8));
}

/* The 4xx of a body common/shop.c refused. */
static enum MHD_Result respond_invalid(api_request *r, const vc_error *e)
{
    return respond_error(r, (unsigned)e->status, vc_reason_str(e->reason), e->detail,
                         e->field[0] ? e->field : NULL);
}

static void int_param(char *buf, size_t cap, int64_t v, const char **param)
{
    snprintf(buf, cap, "%lld", (long long)v);
    *param = v < 0 ? NULL : buf;
}

enum MHD_Result handle_book_create(api_request *r)
{
    const char *why;
    if (token_check(r, &why) < 0)
        return respond_unauthorized(r, why);
    vc_limits lim;
    vc_book b;
    vc_error e;
    json_t *root;
    vc_limits_default(&lim);
    if (vc_validate_book(&lim, (const unsigned char *)r->body, r->body_len, 0, &root, &b, &e) < 0) {
        json_decref(root);
        return respond_invalid(r, &e);
    }
    char price[24], copies[24];
    const char *params[7] = { r->claims.sub, b.title, b.author, b.condition };
    int_param(price, sizeof price, b.price_cents, &params[4]);
    int_param(copies, sizeof copies, b.copies, &params[5]);
    PGresult *res = db_exec("INSERT INTO books (seller, title, author, condition, price_cents,"
                            " copies, copies_left) VALUES ($1, $2, $3, $4, $5, $6, $6)"
                            " RETURNING " BOOK_COLUMNS,
                            6, params, NULL);
    json_decref(root);
    if (!res)
        return respond_unavailable(r, "book store unavailable");
    json_t *book = book_json(res, 0);
    PQclear(res);
    return respond_json(r, 201, book);
}

static const char list_sql[] =
    "SELECT " BOOK_COLUMNS " FROM books WHERE copies_left > 0 AND deleted_at IS NULL"
    " AND ($1::text IS NULL OR strpos(lower(title), lower($1)) > 0"
    "      OR strpos(lower(author), lower($1)) > 0)"
    " AND ($2::text IS NULL OR seller = $2) AND ($3::bigint IS NULL OR id < $3)"
    " ORDER BY id DESC LIMIT $4";

enum MHD_Result handle_books(api_request *r)
{
    catalog_query c;
    api_problem p;
    if (parse_catalog(query_get(r, "q"), query_get(r, "seller"), query_get(r, "before"),
                      query_get(r, "limit"), &c, &p) < 0)
        return respond_problem(r, &p);
    char limit[16];
    snprintf(limit, sizeof limit, "%u", c.limit + 1); /* one more: is there a next page */
    const char *params[4] = { c.q, c.seller, c.before, limit };
    PGresult *res = db_exec(list_sql, 4, params, NULL);
    if (!res)
        return respond_unavailable(r, "book store unavailable");
    int n = PQntuples(res), has_more = n > (int)c.limit;
    if (has_more)
        n = (int)c.limit;
    json_t *books = json_array();
    for (int i = 0; books && i < n; i++)
        json_array_append_new(books, book_json(res, i));
    json_t *next = n > 0 && has_more ? json_integer(col_int(res, n - 1, 0)) : json_null();
    PQclear(res);
    return respond_json(
        r, 200,
        json_pack("{s:o, s:b, s:o}", "books", books, "has_more", has_more, "next_before", next));
}

/* The listed (not deleted) book {id}: its row in *res, or an answer in *ret. */
static int load_book(api_request *r, const char *id, PGresult **res, enum MHD_Result *ret)
{
    const char *params[1] = { id };
    *res = db_exec("SELECT " BOOK_COLUMNS " FROM books WHERE id = $1 AND deleted_at IS NULL", 1,
                   params, NULL);
    if (!*res) {
        *ret = respond_unavailable(r, "book store unavailable");
        return -1;
    }
    if (PQntuples(*res) == 0) {
        PQclear(*res);
        *ret = respond_error(r, 404, "book_not_found", "no such book", "id");
        return -1;
    }
    return 0;
}

enum MHD_Result handle_book(api_request *r)
{
    char id[24];
    api_problem p;
    PGresult *res;
    enum MHD_Result ret;
    if (parse_book_id(r->params[0], r->param_lens[0], id, &p) < 0)
        return respond_problem(r, &p);
    if (load_book(r, id, &res, &ret) < 0)
        return ret;
    json_t *book = book_json(res, 0);
    PQclear(res);
    return respond_json(r, 200, book);
}

/* Token, id and ownership of a PATCH or DELETE: 0 with the id, or answered (-1). */
static int own_book(api_request *r, char id[24], enum MHD_Result *ret)
{
    const char *why;
    api_problem p;
    PGresult *res;
    if (token_check(r, &why) < 0) {
        *ret = respond_unauthorized(r, why);
        return -1;
    }
    if (parse_book_id(r->params[0], r->param_lens[0], id, &p) < 0) {
        *ret = respond_problem(r, &p);
        return -1;
    }
    if (load_book(r, id, &res, ret) < 0)
        return -1;
    int mine = strcmp(PQgetvalue(res, 0, 1), r->claims.sub) == 0;
    PQclear(res);
    if (!mine) {
        *ret = respond_error(r, 403, "not_owner", "only the seller may change this book", "id");
        return -1;
    }
    return 0;
}

/* copies moves copies_left by the same amount, so copies - copies_left (sold or reserved)
 * never changes here; a copies below what is sold is refused, not clamped. */
static const char update_sql[] =
    "UPDATE books SET title = COALESCE($3, title), author = COALESCE($4, author),"
    " condition = COALESCE($5, condition), price_cents = COALESCE($6::bigint, price_cents),"
    " copies = COALESCE($7::int, copies),"
    " copies_left = copies_left + COALESCE($7::int, copies) - copies"
    " WHERE id = $1 AND seller = $2 AND deleted_at IS NULL"
    " AND copies_left + COALESCE($7::int, copies) - copies >= 0"
    " RETURNING " BOOK_COLUMNS;

enum MHD_Result handle_book_update(api_request *r)
{
    char id[24];
    enum MHD_Result ret;
    if (own_book(r, id, &ret) < 0)
        return ret;
    vc_limits lim;
    vc_book b;
    vc_error e;
    json_t *root;
    vc_limits_default(&lim);
    if (vc_validate_book(&lim, (const unsigned char *)r->body, r->body_len, 1, &root, &b, &e) < 0) {
        json_decref(root);
        return respond_invalid(r, &e);
    }
    char price[24], copies[24];
    const char *params[7] = { id, r->claims.sub, b.title, b.author, b.condition };
    int_param(price, sizeof price, b.price_cents, &params[5]);
    int_param(copies, sizeof copies, b.copies, &params[6]);
    PGresult *res = db_exec(update_sql, 7, params, NULL);
    json_decref(root);
    if (!res)
        return respond_unavailable(r, "book store unavailable");
    if (PQntuples(res) == 0) {
        PQclear(res);
        return respond_error(r, 409, "copies_below_sold",
                             "copies cannot go below the copies already sold", "copies");
    }
    json_t *book = book_json(res, 0);
    PQclear(res);
    return respond_json(r, 200, book);
}

enum MHD_Result handle_book_delete(api_request *r)
{
    char id[24];
    enum MHD_Result ret;
    if (own_book(r, id, &ret) < 0)
        return ret;
    /* Delisted, not removed: its orders keep their book, and new orders end unknown_book. */
    const char *params[2] = { id, r->claims.sub };
    PGresult *res = db_exec("UPDATE books SET deleted_at = now()"
                            " WHERE id = $1 AND seller = $2 AND deleted_at IS NULL",
                            2, params, NULL);
    if (!res)
        return respond_unavailable(r, "book store unavailable");
    PQclear(res);
    return respond_empty(r, 204);
}
