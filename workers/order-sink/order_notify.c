/*
 * order_notify.c - live order states for the buyer's stream: PUBLISH order:user:{buyer}
 * {"id","status"[,"reason"]} after the change is committed (the api daemon turns it into an
 * `event: order` on the user's SSE stream). Best effort, as the chat sink's pushes: a page
 * that missed one reads GET /api/orders. A failed publish silences Redis for a few seconds,
 * so an outage costs one timeout now and then, never one per batch.
 */
#include "order_sink.h"

#include "wclock.h"
#include "wlog.h"

#include <stdio.h>
#include <string.h>

#define NOTIFY_QUIET_MS 5000.0

void order_notify_init(struct order_notify *n, const char *host, int port, const char *prefix,
                       _Atomic uint64_t *published, _Atomic uint64_t *failed)
{
    memset(n, 0, sizeof *n);
    redis_conn_init(&n->redis, host, port, 250);
    n->prefix = prefix;
    n->published = published;
    n->failed = failed;
}

/* Every returned row is (order id, buyer, status[, reason]); reason may be NULL or "". */
void order_notify_rows(struct order_notify *n, const PGresult *res, int reason_col)
{
    int rows = PQntuples(res), sent = 0;
    if (rows == 0)
        return;
    if (wclock_ms() < n->quiet_until) {
        atomic_fetch_add(n->failed, (uint64_t)rows);
        return;
    }
    char channel[128], payload[160];
    for (int i = 0; i < rows; i++) {
        const char *why = reason_col >= 0 ? PQgetvalue(res, i, reason_col) : "";
        /* ids, usernames, states and reasons are [0-9A-Za-z_.-]: nothing to escape */
        snprintf(channel, sizeof channel, "%sorder:user:%s", n->prefix, PQgetvalue(res, i, 1));
        int len = snprintf(payload, sizeof payload, "{\"id\":\"%s\",\"status\":\"%s\"%s%s%s}",
                           PQgetvalue(res, i, 0), PQgetvalue(res, i, 2),
                           why[0] ? ",\"reason\":\"" : "", why, why[0] ? "\"" : "");
        const char *argv[3] = { "PUBLISH", channel, payload };
        size_t lens[3] = { 7, strlen(channel), (size_t)len };
        if (redis_conn_send(&n->redis, 3, argv, lens) != 0)
            break;
        sent++;
    }
    int ok = 0;
    for (int i = 0; i < sent; i++) {
        redisReply *r = redis_conn_read(&n->redis);
        if (r == NULL)
            break;
        ok++;
        freeReplyObject(r);
    }
    atomic_fetch_add(n->published, (uint64_t)ok);
    atomic_fetch_add(n->failed, (uint64_t)(rows - ok));
    if (ok < rows) {
        n->quiet_until = wclock_ms() + NOTIFY_QUIET_MS;
        wlog_debug("order push failing, skipped for 5 s", "err=\"%s\"", n->redis.last_error);
    }
}

void order_notify_close(struct order_notify *n) { redis_conn_close(&n->redis); }
