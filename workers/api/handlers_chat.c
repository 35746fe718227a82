/*
 * handlers_chat.c - GET /api/chat/conversations, /conversations/{peer}/messages,
 * /api/chat/stream (SSE with Last-Event-ID resume).  All need a valid token;
 * the conversation id is derived from the token's user and the peer, so a
 * user can only ever address conversations they take part in.
 */
#include "handlers.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "query.h"
#include "respond.h"
#include "sse.h"
#include "strbuf.h"
#include "token.h"
#include "ulid.h"
#include "validate.h"

#define RESUME_MAX 1000 /* backlog sent on resume; older gaps need a page fetch */

/* Columns every message query selects, in this order. */
#define MESSAGE_COLUMNS                                                                            \
    "id, conversation, sender, recipient, body, "                                                  \
    "(extract(epoch FROM received_at) * 1000)::bigint AS received_ms"

/* A message row as the chat message JSON of docs/CONTRACT.md. */
static json_t *message_json(const PGresult *res, int row, int col)
{
    return json_pack("{s:i, s:s, s:s, s:s, s:s, s:s, s:s, s:I}", "v", 1, "kind", "chat", "id",
                     PQgetvalue(res, row, col), "conversation", PQgetvalue(res, row, col + 1),
                     "from", PQgetvalue(res, row, col + 2), "to", PQgetvalue(res, row, col + 3),
                     "text", PQgetvalue(res, row, col + 4), "received_at",
                     (json_int_t)strtoll(PQgetvalue(res, row, col + 5), NULL, 10));
}

static const char conversations_sql[] =
    "WITH last AS ("
    "  SELECT DISTINCT ON (conversation) " MESSAGE_COLUMNS
    "  FROM messages WHERE sender = $1 OR recipient = $1"
    "  ORDER BY conversation, id DESC),"
    " peers AS ("
    "  SELECT CASE WHEN l.sender = $1 THEN l.recipient ELSE l.sender END AS peer, l.*"
    "  FROM last l)"
    " SELECT p.peer, p.id, p.conversation, p.sender, p.recipient, p.body, p.received_ms,"
    "  (SELECT count(*) FROM messages m"
    "    WHERE m.conversation = p.conversation AND m.recipient = $1"
    "      AND m.id > COALESCE((SELECT r.last_read_id FROM conversation_reads r"
    "                           WHERE r.username = $1 AND r.peer = p.peer), ''))"
    " FROM peers p ORDER BY p.id DESC LIMIT 500";

enum MHD_Result handle_conversations(api_request *r)
{
    const char *why;
    if (token_check(r, &why) < 0)
        return respond_unauthorized(r, why);
    const char *params[1] = { r->claims.sub };
    PGresult *res = db_exec(conversations_sql, 1, params, NULL);
    if (!res)
        return respond_unavailable(r, "chat store unavailable");
    json_t *list = json_array();
    for (int i = 0; list && i < PQntuples(res); i++)
        json_array_append_new(list,
                              json_pack("{s:s, s:o, s:I}", "peer", PQgetvalue(res, i, 0),
                                        "last_message", message_json(res, i, 1), "unread",
                                        (json_int_t)strtoll(PQgetvalue(res, i, 7), NULL, 10)));
    PQclear(res);
    return respond_json(r, 200, json_pack("{s:o}", "conversations", list));
}

/* Newest first, except "after only" which walks forward from the cursor
 * (ascending) so no message between the cursor and the page is skipped. */
static const char page_desc_sql[] =
    "SELECT " MESSAGE_COLUMNS " FROM messages WHERE conversation = $1"
    " AND ($2::text IS NULL OR id < $2) AND ($3::text IS NULL OR id > $3)"
    " ORDER BY id DESC LIMIT $4";
static const char page_asc_sql[] =
    "SELECT " MESSAGE_COLUMNS " FROM messages WHERE conversation = $1"
    " AND ($2::text IS NULL OR id < $2) AND ($3::text IS NULL OR id > $3)"
    " ORDER BY id ASC LIMIT $4";

/* Remember that me has read the conversation up to newest_id. */
static int mark_read(const char *me, const char *peer, const char *newest_id)
{
    const char *params[3] = { me, peer, newest_id };
    PGresult *res = db_exec(
        "INSERT INTO conversation_reads (username, peer, last_read_id) VALUES ($1, $2, $3)"
        " ON CONFLICT (username, peer) DO UPDATE"
        " SET last_read_id = GREATEST(conversation_reads.last_read_id, EXCLUDED.last_read_id)",
        3, params, NULL);
    if (!res)
        return -1;
    PQclear(res);
    return 0;
}

/* The page as a JSON array, newest first; rows beyond limit are the
 * "has more" probe and are left out. */
static json_t *page_messages(const PGresult *res, unsigned limit, int ascending)
{
    json_t *arr = json_array();
    int n = PQntuples(res);
    if (n > (int)limit)
        n = (int)limit;
    for (int i = 0; arr && i < n; i++)
        json_array_append_new(arr, message_json(res, ascending ? n - 1 - i : i, 0));
    return arr;
}

static json_t *page_body(const char *conv, const char *peer, json_t *msgs, int has_more)
{
    size_t n = json_array_size(msgs);
    json_t *newest = n ? json_object_get(json_array_get(msgs, 0), "id") : NULL;
    json_t *oldest = n ? json_object_get(json_array_get(msgs, n - 1), "id") : NULL;
    return json_pack("{s:s, s:s, s:o, s:b, s:O?, s:O?}", "conversation", conv, "peer", peer,
                     "messages", msgs, "has_more", has_more, "next_before", oldest, "next_after",
                     newest);
}

enum MHD_Result handle_messages(api_request *r)
{
    const char *why;
    if (token_check(r, &why) < 0)
        return respond_unauthorized(r, why);
    char peer[VC_USERNAME_MAX + 1];
    page_query q;
    api_problem p;
    if (parse_peer(r->params[0], r->param_lens[0], peer, &p) < 0 ||
        parse_page(query_get(r, "before"), query_get(r, "after"), query_get(r, "limit"), &q, &p) <
            0)
        return respond_problem(r, &p);
    char conv[VC_CONV_MAX + 1], limit[16];
    vc_conversation_id(r->claims.sub, peer, conv);
    snprintf(limit, sizeof limit, "%u", q.limit + 1);
    int ascending = q.after && !q.before;
    const char *params[4] = { conv, q.before, q.after, limit };
    PGresult *res = db_exec(ascending ? page_asc_sql : page_desc_sql, 4, params, NULL);
    if (!res)
        return respond_unavailable(r, "chat store unavailable");
    int has_more = PQntuples(res) > (int)q.limit;
    json_t *msgs = page_messages(res, q.limit, ascending);
    PQclear(res);

    json_t *newest = json_object_get(json_array_get(msgs, 0), "id");
    if (newest && mark_read(r->claims.sub, peer, json_string_value(newest)) < 0) {
        json_decref(msgs);
        return respond_unavailable(r, "chat store unavailable");
    }
    return respond_json(r, 200, page_body(conv, peer, msgs, has_more));
}

/* Messages of me after last_id, as SSE frames, ids collected for dedup. */
static int load_backlog(const char *me, const char *last_id, strbuf *frames, char ***ids,
                        size_t *nids)
{
    const char *params[2] = { me, last_id };
    PGresult *res = db_exec("SELECT " MESSAGE_COLUMNS " FROM messages"
                            " WHERE (recipient = $1 OR sender = $1) AND id > $2"
                            " ORDER BY id LIMIT 1000",
                            2, params, NULL);
    if (!res)
        return -1;
    int n = PQntuples(res), rc = 0;
    *ids = calloc((size_t)n + 1, sizeof **ids);
    *nids = 0;
    for (int i = 0; *ids && rc == 0 && i < n; i++) {
        json_t *m = message_json(res, i, 0);
        char *text = m ? json_dumps(m, JSON_COMPACT) : NULL;
        char *id = strdup(PQgetvalue(res, i, 0));
        rc = text && id ? sse_format(frames, "message", id, text, strlen(text)) : -1;
        if (id)
            (*ids)[(*nids)++] = id;
        free(text);
        json_decref(m);
    }
    PQclear(res);
    return *ids ? rc : -1;
}

static void free_ids(char **ids, size_t n)
{
    for (size_t i = 0; ids && i < n; i++)
        free(ids[i]);
    free(ids);
}

enum MHD_Result handle_chat_stream(api_request *r)
{
    const char *why;
    if (token_check(r, &why) < 0)
        return respond_unauthorized(r, why);
    /* Last-Event-ID header (EventSource reconnect) or ?last_event_id= (first
     * connect of a page that remembers where it was). */
    const char *last;
    api_problem p;
    if (parse_resume_cursor(MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Last-Event-ID"),
                            query_get(r, "last_event_id"), &last, &p) < 0)
        return respond_problem(r, &p);
    /* Register before reading the backlog so nothing published in between
     * is lost; go_live drops what the backlog already holds. */
    sse_client *c = sse_client_open(r->app->hub, SSE_CHAT, r->claims.sub, 1);
    if (!c)
        return respond_unavailable(r, "too many live streams");
    sse_client_set_token(c, r->claims.jti, r->claims.exp);
    strbuf frames = { 0 };
    char **ids = NULL;
    size_t nids = 0;
    int rc = sb_appends(&frames, "retry: 2000\n\n");
    if (rc == 0 && last)
        rc = load_backlog(r->claims.sub, last, &frames, &ids, &nids);
    if (rc == 0)
        rc = sse_client_go_live(c, frames.data, frames.len, ids, nids);
    sb_free(&frames);
    free_ids(ids, nids);
    if (rc < 0) {
        sse_client_abandon(c);
        return respond_unavailable(r, "chat store unavailable");
    }
    return sse_client_respond(r, c);
}
