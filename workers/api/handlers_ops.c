/*
 * handlers_ops.c - GET /healthz (readiness: every store answers) and
 * GET /metrics (Prometheus text; the edge does not expose it publicly).
 */
#include "handlers.h"

#include <jansson.h>

#include "db.h"
#include "api_metrics.h"
#include "thread_redis.h"
#include "respond.h"
#include "revoked.h"
#include "revoker.h"
#include "sse.h"
#include "strbuf.h"

static int redis_ping(void)
{
    redisReply *rep = thread_redis_command("PING");
    int ok = rep && rep->type == REDIS_REPLY_STATUS;
    freeReplyObject(rep);
    return ok ? 0 : -1;
}

enum MHD_Result handle_healthz(api_request *r)
{
    int pg = db_ping() == 0, redis = redis_ping() == 0;
    int revocations_ok = revoker_ready(r->app->revoker);
    /* Not ready until the revocation backlog is loaded: before that a
     * logged-out token could still be accepted by this replica. */
    int ok = pg && redis && revocations_ok && !atomic_load(&r->app->stopping);
    json_t *body = json_pack("{s:s, s:s, s:s, s:s}", "status", ok ? "ok" : "degraded", "postgres",
                             pg ? "ok" : "down", "redis", redis ? "ok" : "down", "revocations",
                             revocations_ok ? "ok" : "loading");
    return respond_json(r, ok ? 200 : 503, body);
}

enum MHD_Result handle_metrics(api_request *r)
{
    metrics_gauges g = {
        .sse_chat_clients = sse_count(r->app->hub, SSE_CHAT),
        .sse_poll_clients = sse_count(r->app->hub, SSE_POLL),
        .revoked_tokens = revocations_count(r->app->revoked),
    };
    strbuf out = { 0 };
    if (metrics_render(&out, &g) < 0) {
        sb_free(&out);
        return respond_error(r, 500, "internal", "out of memory", NULL);
    }
    enum MHD_Result ret =
        respond_raw(r, 200, "text/plain; version=0.0.4; charset=utf-8", out.data, out.len);
    sb_free(&out);
    return ret;
}
