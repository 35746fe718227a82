/*
 * sse.h - Server-Sent Events clients and fan-out.
 *
 * Each stream is an MHD callback response.  When a client has nothing to
 * read its connection is suspended (no busy polling, no thread per client);
 * publishing appends a frame to every matching client's buffer and resumes
 * it.  Clients are keyed by kind (chat user / poll id).
 */
#ifndef API_SSE_H
#define API_SSE_H

#include <stddef.h>
#include <stdint.h>

#include "api.h"
#include "strbuf.h"

typedef enum { SSE_CHAT = 0, SSE_POLL = 1 } sse_kind;

typedef struct sse_client sse_client;

sse_hub *sse_hub_new(unsigned max_clients);
void sse_hub_free(sse_hub *hub); /* after the HTTP daemon stopped */

/* Registers a client.  A client opened "deferred" collects published frames
 * aside until sse_client_go_live(), so a resume backlog read from the
 * database can be sent first without losing or doubling a message.
 * NULL when the client limit is reached. */
sse_client *sse_client_open(sse_hub *hub, sse_kind kind, const char *key, int deferred);

/* Ties a stream to the token that opened it, so it ends when that token expires or is
 * revoked (see sse_close_if).  jti NULL: a public stream. */
void sse_client_set_token(sse_client *c, const char *jti, int64_t exp);

/* Queues backlog (frames whose event ids are backlog_ids) and then every
 * frame published meanwhile whose id is not among them. */
int sse_client_go_live(sse_client *c, const char *backlog, size_t len, char *const *backlog_ids,
                       size_t nids);

/* Appends raw bytes (initial frames) to one client. */
int sse_client_push(sse_client *c, const char *frame, size_t len);

/* Queue the stream response; on failure the client is closed.  The client
 * belongs to the connection afterwards (freed when the stream ends). */
enum MHD_Result sse_client_respond(api_request *r, sse_client *c);

/* Drop a client that was opened but never responded with. */
void sse_client_abandon(sse_client *c);

/* Sends frame to every client of (kind, key); event_id may be NULL.
 * Returns the number of clients reached. */
int sse_publish(sse_hub *hub, sse_kind kind, const char *key, const char *event_id,
                const char *frame, size_t len);

/* Keys (poll ids) that have at least one client: 1 if any for key. */
int sse_has_clients(sse_hub *hub, sse_kind kind, const char *key);

/* Comment line to every client: keeps proxies from idling the stream out and
 * makes dead peers surface (a write fails) even while suspended. */
void sse_heartbeat(sse_hub *hub);

/* End every stream of a kind (all kinds with kind < 0): the browser's
 * EventSource reconnects, with Last-Event-ID for chat. */
void sse_close_kind(sse_hub *hub, int kind);

long sse_count(sse_hub *hub, sse_kind kind);

/* Ends every token-bound stream for which dead(jti, exp, arg) returns 1. */
typedef int (*sse_token_dead_fn)(const char *jti, int64_t exp, void *arg);
void sse_close_if(sse_hub *hub, sse_token_dead_fn dead, void *arg);

/* Appends "id: ..\nevent: ..\ndata: ..\n\n" (id may be NULL).  data must be
 * a single line, as compact JSON is.  0 or -1. */
int sse_format(strbuf *out, const char *event, const char *id, const char *data, size_t len);

#endif
