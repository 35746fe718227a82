/*
 * ngx_http_vote_metrics.c - Prometheus metrics summed over all workers.
 *
 * Counters live in a shared memory zone ("vote_metrics") updated with atomic
 * adds, so any worker's metrics location shows the whole server.  The zone is
 * reused across `nginx -s reload` (same name and size), so counters stay
 * monotonic as Prometheus expects.  Gauges (in-flight messages, producer queue
 * length) are per worker slot, written only by their worker, zeroed when it
 * exits, and summed when rendered.
 */
#include "ngx_http_vote.h"
#include "ngx_http_vote_metrics.h"

#define NGX_HTTP_VOTE_SHM_SIZE (256 * 1024)
#define NGX_HTTP_VOTE_KINDS    4  /* 0 unused, vote, chat, order */
#define NGX_HTTP_VOTE_HIST_N   15 /* 14 bounds + Inf */

static const uint64_t ngx_http_vote_hist_le_us[NGX_HTTP_VOTE_HIST_N - 1] = {
    500,    1000,   2500,   5000,    10000,   25000,   50000,
    100000, 250000, 500000, 1000000, 2500000, 5000000, 10000000
};

static const char *ngx_http_vote_status_names[NGX_HTTP_VOTE_S__COUNT] = {
    "202", "400", "401", "405", "413", "415", "422", "500", "503", "499"
};

static const char *ngx_http_vote_pe_names[NGX_HTTP_VOTE_PE__COUNT] = {
    "queue_full", "produce_failed", "delivery_failed", "ack_timeout", "stalled"
};

static const char *ngx_http_vote_auth_names[NGX_HTTP_VOTE_AUTH_REASONS] = {
    "ok",         "malformed",     "bad_alg",    "unknown_kid", "bad_signature",
    "expired",    "not_yet_valid", "bad_claims", "missing",     "revoked",
    "bad_subject"
};

static const char *ngx_http_vote_kind_names[NGX_HTTP_VOTE_KINDS] = {
    "none", "vote", "chat", "order"
};

typedef struct {
    ngx_atomic_t requests[NGX_HTTP_VOTE_KINDS][NGX_HTTP_VOTE_S__COUNT];
    ngx_atomic_t invalid[VC_R__COUNT];
    ngx_atomic_t auth[NGX_HTTP_VOTE_AUTH_REASONS];
    ngx_atomic_t produce_err[NGX_HTTP_VOTE_PE__COUNT];
    ngx_atomic_t delivered[NGX_HTTP_VOTE_KINDS][2];
    ngx_atomic_t hist[NGX_HTTP_VOTE_KINDS][NGX_HTTP_VOTE_HIST_N];
    ngx_atomic_t hist_sum_us[NGX_HTTP_VOTE_KINDS];
    ngx_atomic_t inflight[NGX_MAX_PROCESSES];
    ngx_atomic_t queue_len[NGX_MAX_PROCESSES];
} ngx_http_vote_shm_t;

static ngx_http_vote_shm_t *ngx_http_vote_stats;
static ngx_int_t            ngx_http_vote_inflight_local;

static ngx_int_t
ngx_http_vote_zone_init(ngx_shm_zone_t *zone, void *data)
{
    ngx_slab_pool_t *shpool;

    if (data != NULL) {
        zone->data = data; /* reload: keep the counters */
        return NGX_OK;
    }
    shpool = (ngx_slab_pool_t *) zone->shm.addr;
    zone->data = ngx_slab_calloc(shpool, sizeof(ngx_http_vote_shm_t));
    if (zone->data == NULL) {
        return NGX_ERROR;
    }
    return NGX_OK;
}

ngx_shm_zone_t *
ngx_http_vote_metrics_zone(ngx_conf_t *cf)
{
    ngx_str_t       name = ngx_string("vote_metrics");
    ngx_shm_zone_t *zone;

    zone = ngx_shared_memory_add(cf, &name, NGX_HTTP_VOTE_SHM_SIZE,
                                 &ngx_http_vote_module);
    if (zone == NULL) {
        return NULL;
    }
    zone->init = ngx_http_vote_zone_init;
    return zone;
}

static ngx_uint_t
ngx_http_vote_slot(void)
{
    return ngx_process_slot >= 0 && ngx_process_slot < NGX_MAX_PROCESSES
               ? (ngx_uint_t) ngx_process_slot
               : 0;
}

void
ngx_http_vote_metrics_worker_init(ngx_shm_zone_t *zone)
{
    ngx_http_vote_stats = zone ? zone->data : NULL;
    ngx_http_vote_inflight_local = 0;
    if (ngx_http_vote_stats) {
        /* the slot may be left over from a crashed worker */
        ngx_http_vote_stats->inflight[ngx_http_vote_slot()] = 0;
        ngx_http_vote_stats->queue_len[ngx_http_vote_slot()] = 0;
    }
}

void
ngx_http_vote_metrics_worker_exit(void)
{
    if (ngx_http_vote_stats) {
        ngx_http_vote_stats->inflight[ngx_http_vote_slot()] = 0;
        ngx_http_vote_stats->queue_len[ngx_http_vote_slot()] = 0;
    }
    ngx_http_vote_stats = NULL;
}

#define VOTE_INC(field)                                                        \
    do {                                                                       \
        if (ngx_http_vote_stats)                                               \
            (void) ngx_atomic_fetch_add(&ngx_http_vote_stats->field, 1);       \
    } while (0)

void
ngx_http_vote_metric_request(ngx_uint_t kind, ngx_uint_t status)
{
    if (kind < NGX_HTTP_VOTE_KINDS && status < NGX_HTTP_VOTE_S__COUNT) {
        VOTE_INC(requests[kind][status]);
    }
}

void
ngx_http_vote_metric_invalid(vc_reason reason)
{
    if ((unsigned) reason < VC_R__COUNT) {
        VOTE_INC(invalid[reason]);
    }
}

void
ngx_http_vote_metric_auth(ngx_uint_t reason)
{
    if (reason < NGX_HTTP_VOTE_AUTH_REASONS) {
        VOTE_INC(auth[reason]);
    }
}

void
ngx_http_vote_metric_produce_error(ngx_http_vote_produce_err_e e)
{
    VOTE_INC(produce_err[e]);
}

void
ngx_http_vote_metric_delivered(ngx_uint_t kind, uint64_t latency_us,
                               ngx_uint_t ok)
{
    ngx_uint_t b;

    if (ngx_http_vote_stats == NULL || kind >= NGX_HTTP_VOTE_KINDS) {
        return;
    }
    VOTE_INC(delivered[kind][ok ? 1 : 0]);
    if (!ok) {
        return; /* the histogram is of successful deliveries */
    }
    for (b = 0; b < NGX_HTTP_VOTE_HIST_N - 1
                && latency_us > ngx_http_vote_hist_le_us[b];
         b++)
    {
        /* find the first bucket that holds it */
    }
    VOTE_INC(hist[kind][b]);
    (void) ngx_atomic_fetch_add(&ngx_http_vote_stats->hist_sum_us[kind],
                                latency_us);
}

void
ngx_http_vote_metric_inflight(ngx_int_t delta)
{
    ngx_http_vote_inflight_local += delta;
    if (ngx_http_vote_stats) {
        ngx_http_vote_stats->inflight[ngx_http_vote_slot()] =
            ngx_http_vote_inflight_local;
    }
}

void
ngx_http_vote_metric_queue_len(ngx_int_t len)
{
    if (ngx_http_vote_stats) {
        ngx_http_vote_stats->queue_len[ngx_http_vote_slot()] = len;
    }
}

/* ---- rendering ---- */

/* microseconds as seconds in the shortest form, as the daemons' "%g" prints a
 * bucket bound (0.0005, 1, 2.5): one exposition rule for every component */
static u_char *
ngx_http_vote_seconds(u_char *p, u_char *last, uint64_t us)
{
    u_char frac[8], *f;

    p = ngx_slprintf(p, last, "%uL", us / 1000000);
    if (us % 1000000 == 0) {
        return p;
    }
    f = ngx_sprintf(frac, "%06uL", us % 1000000);
    while (f[-1] == '0') {
        f--;
    }
    return ngx_slprintf(p, last, ".%*s", (size_t) (f - frac), frac);
}

static u_char *
ngx_http_vote_render(u_char *p, u_char *last, ngx_http_vote_shm_t *s)
{
    ngx_uint_t k, i;
    ngx_int_t  inflight = 0, qlen = 0;
    uint64_t   cum;

    p = ngx_slprintf(
        p, last,
        "# HELP vote_edge_requests_total Answers of the enqueue locations.\n"
        "# TYPE vote_edge_requests_total counter\n");
    for (k = 1; k < NGX_HTTP_VOTE_KINDS; k++) {
        for (i = 0; i < NGX_HTTP_VOTE_S__COUNT; i++) {
            p = ngx_slprintf(
                p, last,
                "vote_edge_requests_total{kind=\"%s\",status=\"%s\"} %uA\n",
                ngx_http_vote_kind_names[k], ngx_http_vote_status_names[i],
                s->requests[k][i]);
        }
    }
    p = ngx_slprintf(p, last,
                     "# HELP vote_edge_validation_failures_total Rejected "
                     "bodies by reason.\n"
                     "# TYPE vote_edge_validation_failures_total counter\n");
    for (i = 1; i < VC_R__COUNT; i++) {
        p = ngx_slprintf(
            p, last, "vote_edge_validation_failures_total{reason=\"%s\"} %uA\n",
            vc_reason_str((vc_reason) i), s->invalid[i]);
    }
    p = ngx_slprintf(
        p, last,
        "# HELP vote_edge_auth_failures_total Rejected chat tokens by reason.\n"
        "# TYPE vote_edge_auth_failures_total counter\n");
    for (i = 1; i < NGX_HTTP_VOTE_AUTH_REASONS; i++) {
        p = ngx_slprintf(p, last,
                         "vote_edge_auth_failures_total{reason=\"%s\"} %uA\n",
                         ngx_http_vote_auth_names[i], s->auth[i]);
    }
    p = ngx_slprintf(p, last,
                     "# HELP vote_edge_produce_errors_total Kafka "
                     "produce/delivery failures.\n"
                     "# TYPE vote_edge_produce_errors_total counter\n");
    for (i = 0; i < NGX_HTTP_VOTE_PE__COUNT; i++) {
        p = ngx_slprintf(p, last,
                         "vote_edge_produce_errors_total{reason=\"%s\"} %uA\n",
                         ngx_http_vote_pe_names[i], s->produce_err[i]);
    }
    p = ngx_slprintf(
        p, last,
        "# HELP vote_edge_deliveries_total Delivery reports from Kafka.\n"
        "# TYPE vote_edge_deliveries_total counter\n");
    for (k = 1; k < NGX_HTTP_VOTE_KINDS; k++) {
        p = ngx_slprintf(
            p, last,
            "vote_edge_deliveries_total{kind=\"%s\",result=\"ok\"} %uA\n"
            "vote_edge_deliveries_total{kind=\"%s\",result=\"failed\"} %uA\n",
            ngx_http_vote_kind_names[k], s->delivered[k][1],
            ngx_http_vote_kind_names[k], s->delivered[k][0]);
    }
    p = ngx_slprintf(
        p, last,
        "# HELP vote_edge_delivery_latency_seconds Produce call to broker "
        "acknowledgement.\n# TYPE vote_edge_delivery_latency_seconds "
        "histogram\n");
    for (k = 1; k < NGX_HTTP_VOTE_KINDS; k++) {
        cum = 0;
        for (i = 0; i < NGX_HTTP_VOTE_HIST_N; i++) {
            cum += s->hist[k][i];
            if (i < NGX_HTTP_VOTE_HIST_N - 1) {
                p = ngx_slprintf(
                    p, last,
                    "vote_edge_delivery_latency_seconds_bucket{kind=\"%s\","
                    "le=\"",
                    ngx_http_vote_kind_names[k]);
                p = ngx_http_vote_seconds(p, last, ngx_http_vote_hist_le_us[i]);
                p = ngx_slprintf(p, last, "\"} %uL\n", cum);
            } else {
                p = ngx_slprintf(
                    p, last,
                    "vote_edge_delivery_latency_seconds_bucket{kind=\"%s\","
                    "le=\"+Inf\"} %uL\n",
                    ngx_http_vote_kind_names[k], cum);
            }
        }
        p = ngx_slprintf(
            p, last,
            "vote_edge_delivery_latency_seconds_sum{kind=\"%s\"} %uA.%06uA\n"
            "vote_edge_delivery_latency_seconds_count{kind=\"%s\"} %uL\n",
            ngx_http_vote_kind_names[k], s->hist_sum_us[k] / 1000000,
            s->hist_sum_us[k] % 1000000, ngx_http_vote_kind_names[k], cum);
    }
    for (i = 0; i < NGX_MAX_PROCESSES; i++) {
        inflight += (ngx_int_t) s->inflight[i];
        qlen += (ngx_int_t) s->queue_len[i];
    }
    p = ngx_slprintf(p, last,
                     "# HELP vote_edge_inflight_messages Produced, delivery "
                     "report pending.\n"
                     "# TYPE vote_edge_inflight_messages gauge\n"
                     "vote_edge_inflight_messages %i\n"
                     "# HELP vote_edge_queue_messages librdkafka queue length "
                     "(all workers).\n"
                     "# TYPE vote_edge_queue_messages gauge\n"
                     "vote_edge_queue_messages %i\n",
                     inflight, qlen);
    return p;
}

ngx_int_t
ngx_http_vote_metrics_handler(ngx_http_request_t *r)
{
    ngx_buf_t  *b;
    ngx_chain_t out;
    ngx_int_t   rc;
    size_t      size = 32768;

    ngx_log_debug0(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "vote metrics handler");

    if (!(r->method & (NGX_HTTP_GET | NGX_HTTP_HEAD))) {
        return NGX_HTTP_NOT_ALLOWED;
    }
    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }
    if (ngx_http_vote_stats == NULL) {
        return NGX_HTTP_SERVICE_UNAVAILABLE;
    }
    b = ngx_create_temp_buf(r->pool, size);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }
    b->last = ngx_http_vote_render(b->pos, b->end, ngx_http_vote_stats);
    if (b->last == b->end) {
        ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                      "vote: metrics truncated");
    }
    b->last_buf = (r == r->main) ? 1 : 0;
    b->last_in_chain = 1;

    r->headers_out.status = NGX_HTTP_OK;
    r->headers_out.content_length_n = b->last - b->pos;
    ngx_str_set(&r->headers_out.content_type, "text/plain; version=0.0.4");
    r->headers_out.content_type_len = r->headers_out.content_type.len;
    rc = ngx_http_send_header(r);
    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }
    out.buf = b;
    out.next = NULL;
    return ngx_http_output_filter(r, &out);
}
