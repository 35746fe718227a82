/*
 * vote_sink.c - the vote sink daemon: Kafka `votes` -> Redis live tallies + MongoDB.
 *
 * Per batch (see lib/kconsumer.h for the loop's guarantees):
 *   1. Redis, one EVALSHA of tally.lua per chunk of one partition: applies the tallies, the
 *      one-vote-per-voter rule, the recent list and the partition offset atomically, skipping
 *      offsets already applied, and answers each vote's duplicate flag.
 *   2. MongoDB, one unordered bulk insert of every vote (`_id` = id, `duplicate: true` for
 *      duplicate voters). Duplicate-key errors (11000) are replays and count as success.
 *   3. MongoDB `sink_offsets` collection: {_id: "{topic}:{partition}", next_offset} raised
 *      with $max after the insert succeeded.
 * Redis goes first because its answer (the duplicate flag) is part of the Mongo document;
 * tally.lua answers the same flag on every replay, so a batch retried after a Mongo failure
 * or a crash stores exactly the same documents. Kafka is committed after all three.
 *
 * Steps 1 and 2 are pipelined in chunks (--chunk-votes votes of one partition): the script
 * of chunk k+1 is sent before the Mongo insert of chunk k, so Redis runs it while MongoDB
 * inserts. Each chunk's script raises the Redis offset to the end of that chunk only, so
 * Redis may be any number of chunks ahead of MongoDB, never behind: the same crash window
 * as above, covered by the same resume rule (t/integration/22-sink-vote-crash-window.t).
 *
 * Two batches at once (--writers 2, the default): kconsumer hands batches out in order to
 * two writer threads, each with its own Redis and MongoDB connection. Step 1 runs in batch
 * order (sink_batch_ordered_begin/end: the script advances the stored offset and applies the
 * voter rule, so batch k+1's scripts wait for batch k's), chunk by chunk without the
 * pipeline; step 2 is one bulk insert of the batch, overlapping the other writer's scripts
 * and insert (MongoDB's server takes more documents per second over two connections than
 * over one); step 3 waits for every earlier batch to be stored (sink_batch_await_turn), so
 * MongoDB's offset never passes a batch with missing documents. Redis may be up to two
 * batches ahead of MongoDB: the same crash window, the same resume rule.
 *
 * Where to resume: each store records the offset it reached, so on assignment the sink
 * seeks to the LOWER of the two. A crash between step 1 and step 2 leaves Redis ahead;
 * resuming from Redis's offset alone would skip those votes' Mongo documents forever.
 * Resuming from Mongo's offset replays them: Redis skips them (already applied) and
 * answers the same duplicate flags, Mongo inserts what it lacks.
 */
#include "vote_sink.h"

#include "metrics.h"
#include "sink_options.h"
#include "wconfig.h"
#include "wclock.h"
#include "wlog.h"

#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---------------- configuration ---------------- */

static struct vote_opts opts;

static const struct wopt option_table[] = {
    SINK_KAFKA_OPTIONS(opts.kafka, "VOTE_SINK", "vote-sink", "votes", "votes.dlq"),
    { "redis-host", "REDIS_HOST", WOPT_STR, &opts.redis_host, "127.0.0.1", "Redis host" },
    { "redis-port", "REDIS_PORT", WOPT_INT, &opts.redis_port, "6379", "Redis port" },
    { "redis-timeout-ms", "REDIS_TIMEOUT_MS", WOPT_INT, &opts.redis_timeout_ms, "3000",
      "Redis connect/command timeout" },
    { "redis-prefix", "VOTE_SINK_REDIS_PREFIX", WOPT_STR, &opts.redis_prefix, "",
      "prefix for every Redis key and channel (tests)" },
    { "chunk-votes", "VOTE_SINK_CHUNK_VOTES", WOPT_INT, &opts.chunk_votes, "250",
      "votes per Redis script call (0 = a partition's whole slice); the MongoDB insert of one "
      "chunk overlaps the script of the next" },
    { "writers", "VOTE_SINK_WRITERS", WOPT_INT, &opts.writers, "2",
      "batches written at once, each on its own Redis and MongoDB connection (1-4; 1 = the chunk "
      "pipeline alone)" },
    { "recent-cap", "VOTE_SINK_RECENT_CAP", WOPT_INT, &opts.recent_cap, "100",
      "length of poll:{p}:recent" },
    { "mongo-uri", "MONGO_URI", WOPT_STR, &opts.mongo_uri, NULL,
      "MongoDB URI (overrides --mongo-host/--mongo-port)" },
    { "mongo-host", "MONGO_HOST", WOPT_STR, &opts.mongo_host, "127.0.0.1", "MongoDB host" },
    { "mongo-port", "MONGO_PORT", WOPT_INT, &opts.mongo_port, "27017", "MongoDB port" },
    { "mongo-db", "VOTE_SINK_MONGO_DB", WOPT_STR, &opts.mongo_db, "vote", "MongoDB database" },
    { "mongo-collection", "VOTE_SINK_MONGO_COLLECTION", WOPT_STR, &opts.mongo_collection, "votes",
      "MongoDB collection" },
    { "catalog", "POLL_CATALOG", WOPT_STR, &opts.catalog_path, "stack/polls.json",
      "poll catalog JSON (poison check)" },
    { "metrics-addr", "SINK_METRICS_ADDR", WOPT_STR, &opts.metrics_addr, "127.0.0.1",
      "metrics listen address" },
    { "metrics-port", "VOTE_SINK_METRICS_PORT", WOPT_INT, &opts.metrics_port, "9101",
      "metrics port (0 = off)" },
    SINK_REPLAY_OPTION(opts.kafka),
    { "fault-exit-after-redis", "VOTE_SINK_FAULT_EXIT_AFTER_REDIS", WOPT_INT,
      &opts.fault_exit_after_redis, "0",
      "TESTS ONLY: die like kill -9 right after the Nth Redis step (the worst crash point)" },
    { "log-level", "LOG_LEVEL", WOPT_STR, &opts.log_level, "info", "debug|info|warn|error" },
};

/* ---------------- sink callbacks ---------------- */

static void *vote_decode(void *ctx, const rd_kafka_message_t *rkm, char *reason, size_t cap)
{
    struct vote_sink *s = ctx;
    struct vote_msg *v = malloc(sizeof *v);
    if (v == NULL) {
        snprintf(reason, cap, "out of memory");
        return NULL;
    }
    if (rkm->payload == NULL ||
        vote_msg_decode(&s->catalog, rkm->payload, rkm->len, v, reason, cap) != 0) {
        if (rkm->payload == NULL)
            snprintf(reason, cap, "empty message");
        free(v);
        return NULL;
    }
    return v;
}

static void vote_free(void *ctx, void *decoded)
{
    (void)ctx;
    vote_msg_clear(decoded);
    free(decoded);
}

/* Test hook: die like kill -9 with Redis ahead of MongoDB (a chunk applied, its documents
 * not inserted, and the next chunk's script possibly running). */
static void fault_point(struct vote_sink *s)
{
    if (atomic_load(&s->fault_exits_left) > 0 && atomic_fetch_sub(&s->fault_exits_left, 1) == 1) {
        wlog_warn("fault injection: exiting between the Redis and MongoDB writes", NULL);
        _exit(137);
    }
}

/* Where a batch's time went, for the debug log: waiting on Redis replies, MongoDB inserts. */
struct batch_timing {
    double redis_wait_ms, mongo_ms;
};

/* Steps 1 and 2, pipelined: chunk k+1's script runs in Redis while chunk k is inserted. */
static int write_chunks(struct vote_sink *s, struct vote_writer *w, const struct sink_batch *b,
                        struct batch_timing *t, char *err, size_t errcap)
{
    if (send_chunk(s, w, b, &w->chunks[0], err, errcap) != 0)
        return -1;
    for (size_t k = 0; k < w->nchunks; k++) {
        int more = k + 1 < w->nchunks;
        double t0 = wclock_ms();
        if (redis_step(s, w, b, &w->chunks[k], k == 0, err, errcap) != 0)
            return -1;
        t->redis_wait_ms += wclock_ms() - t0;
        if (more && send_chunk(s, w, b, &w->chunks[k + 1], err, errcap) != 0)
            return -1;
        fault_point(s);
        t0 = wclock_ms();
        if (w->chunks[k].nvotes > 0 && write_mongo(s, w, b, &w->chunks[k], err, errcap) != 0) {
            if (more)
                redis_conn_drop(
                    &w->redis); /* chunk k+1's reply is in flight; its retry is a replay */
            return -1;
        }
        t->mongo_ms += wclock_ms() - t0;
    }
    return 0;
}

/* More than one writer (see the top of this file): the Redis step in batch order, every
 * chunk's script sent and answered in turn, then the turn passes to the next batch. */
static int write_redis_in_turn(struct vote_sink *s, struct vote_writer *w,
                               const struct sink_batch *b, struct batch_timing *t, char *err,
                               size_t errcap)
{
    double t0 = wclock_ms();
    if (sink_batch_ordered_begin(b) != 0) {
        snprintf(err, errcap, "an earlier batch failed; retried in order");
        return -1;
    }
    int rc = 0;
    for (size_t k = 0; rc == 0 && k < w->nchunks; k++) {
        rc = send_chunk(s, w, b, &w->chunks[k], err, errcap);
        if (rc == 0)
            rc = redis_step(s, w, b, &w->chunks[k], k == 0, err, errcap);
        if (rc == 0)
            fault_point(s);
    }
    sink_batch_ordered_end(b, rc == 0);
    t->redis_wait_ms += wclock_ms() - t0;
    return rc;
}

/* Steps 1 and 2 with more than one writer, then the wait for step 3's turn (the caller
 * writes the Mongo offsets). */
static int write_concurrently(struct vote_sink *s, struct vote_writer *w,
                              const struct sink_batch *b, struct batch_timing *t, char *err,
                              size_t errcap)
{
    if (write_redis_in_turn(s, w, b, t, err, errcap) != 0)
        return -1;
    struct vote_chunk all = {
        .partition = ALL_PARTITIONS, .begin = 0, .end = b->n, .nvotes = b->n - b->npoison
    };
    double t0 = wclock_ms();
    if (all.nvotes > 0 && write_mongo(s, w, b, &all, err, errcap) != 0)
        return -1;
    t->mongo_ms += wclock_ms() - t0;
    if (sink_batch_await_turn(b) != 0) {
        snprintf(err, errcap, "an earlier batch failed; retried in order");
        return -1;
    }
    return 0;
}

static int reserve_flags(struct vote_writer *w, size_t n)
{
    if (n > w->dup_cap) {
        unsigned char *f = realloc(w->dup_flags, n);
        if (f == NULL)
            return -1;
        w->dup_flags = f;
        w->dup_cap = n;
    }
    memset(w->dup_flags, 0, n);
    return 0;
}

static int vote_write_batch(void *ctx, const struct sink_batch *b, char *err, size_t errcap)
{
    struct vote_sink *s = ctx;
    struct vote_writer *w = &s->writers[b->writer < s->nwriters ? b->writer : 0];
    if (reserve_flags(w, b->n) != 0 || plan_chunks(w, s->o->chunk_votes, b) != 0) {
        snprintf(err, errcap, "out of memory");
        return -1;
    }
    struct batch_timing t = { 0, 0 };
    double t0 = wclock_ms();
    int rc = s->nwriters > 1 ? write_concurrently(s, w, b, &t, err, errcap)
                             : write_chunks(s, w, b, &t, err, errcap);
    if (rc != 0)
        return -1;
    double t1 = wclock_ms();
    if (write_mongo_offsets(w, b, err, errcap) != 0)
        return -1;
    wlog_debug("batch stored",
               "votes=%zu chunks=%zu redis_wait_ms=%.2f mongo_insert_ms=%.2f "
               "mongo_offsets_ms=%.2f total_ms=%.2f",
               b->n - b->npoison, w->nchunks, t.redis_wait_ms, t.mongo_ms, wclock_ms() - t1,
               wclock_ms() - t0);
    uint64_t dups = 0;
    for (size_t i = 0; i < b->n; i++)
        dups += b->entries[i].decoded != NULL && w->dup_flags[i];
    atomic_fetch_add(s->written, (uint64_t)(b->n - b->npoison));
    atomic_fetch_add(s->dup_voters, dups);
    return 0;
}

/* Seek position: the lower of Redis's sink:votes:offsets (atomic with the tallies) and
 * MongoDB's sink_offsets (written after the insert); see the top of this file. */
static int vote_load_offsets(void *ctx, rd_kafka_topic_partition_list_t *parts, char *err,
                             size_t errcap)
{
    struct vote_sink *s = ctx;
    struct vote_writer *w = &s->writers[0]; /* writers are idle during a rebalance */
    for (int i = 0; i < parts->cnt; i++) {
        char field[256];
        snprintf(field, sizeof field, "%s:%" PRId32, parts->elems[i].topic,
                 parts->elems[i].partition);
        const char *argv[] = { "HGET", s->offsets_key, field };
        redisReply *r = redis_conn_commandv(&w->redis, 3, argv, NULL);
        if (r == NULL) {
            snprintf(err, errcap, "redis: %s", w->redis.last_error);
            return -1;
        }
        int64_t redis_next = r->type == REDIS_REPLY_STRING ? strtoll(r->str, NULL, 10) : -1;
        int bad = r->type == REDIS_REPLY_ERROR;
        if (bad)
            snprintf(err, errcap, "redis: %s", r->str);
        freeReplyObject(r);
        if (bad)
            return -1;
        int64_t mongo_next =
            load_mongo_offset(w, parts->elems[i].topic, parts->elems[i].partition, err, errcap);
        if (mongo_next == -2)
            return -1;
        /* Resume where the store that is behind stopped; nothing stored = from the start. */
        if (redis_next < 0 || mongo_next < 0)
            parts->elems[i].offset = RD_KAFKA_OFFSET_BEGINNING;
        else
            parts->elems[i].offset = redis_next < mongo_next ? redis_next : mongo_next;
    }
    return 0;
}

/* ---------------- startup ---------------- */

/* mongo-c-driver's own log lines, in our structured format (its chatter below warning is
 * dropped: the sink logs store state changes itself). */
static void mongo_log(mongoc_log_level_t level, const char *domain, const char *message, void *arg)
{
    (void)arg;
    if (level > MONGOC_LOG_LEVEL_WARNING)
        return;
    /* FerretDB lacks endSessions; the driver's complaint at shutdown is harmless. */
    if (strstr(message, "endSessions") != NULL)
        return;
    wlog(level <= MONGOC_LOG_LEVEL_CRITICAL ? WLOG_ERROR : WLOG_WARN, "mongoc",
         "domain=%s msg=\"%s\"", domain, message);
}

static int open_mongo(struct vote_writer *w, const struct vote_opts *o)
{
    char uri_buf[512];
    const char *uri = o->mongo_uri;
    if (uri == NULL) {
        snprintf(uri_buf, sizeof uri_buf,
                 "mongodb://%s:%ld/?serverSelectionTimeoutMS=3000&connectTimeoutMS=3000"
                 "&socketTimeoutMS=15000&appname=vote-sink",
                 o->mongo_host, o->mongo_port);
        uri = uri_buf;
    }
    bson_error_t berr;
    mongoc_uri_t *u = mongoc_uri_new_with_error(uri, &berr);
    if (u == NULL) {
        wlog_error("bad mongo uri", "err=\"%s\"", berr.message);
        return -1;
    }
    /* Bounded timeouts unless the URI sets its own: a dead server must fail the batch
     * quickly so the loop can pause and retry rather than hang. */
    if (!mongoc_uri_has_option(u, MONGOC_URI_SERVERSELECTIONTIMEOUTMS))
        mongoc_uri_set_option_as_int32(u, MONGOC_URI_SERVERSELECTIONTIMEOUTMS, 3000);
    if (!mongoc_uri_has_option(u, MONGOC_URI_CONNECTTIMEOUTMS))
        mongoc_uri_set_option_as_int32(u, MONGOC_URI_CONNECTTIMEOUTMS, 3000);
    if (!mongoc_uri_has_option(u, MONGOC_URI_SOCKETTIMEOUTMS))
        mongoc_uri_set_option_as_int32(u, MONGOC_URI_SOCKETTIMEOUTMS, 15000);
    w->mongo = mongoc_client_new_from_uri_with_error(u, &berr);
    mongoc_uri_destroy(u);
    if (w->mongo == NULL) {
        wlog_error("mongo client", "err=\"%s\"", berr.message);
        return -1;
    }
    mongoc_client_set_error_api(w->mongo, MONGOC_ERROR_API_VERSION_2);
    w->votes = mongoc_client_get_collection(w->mongo, o->mongo_db, o->mongo_collection);
    w->offsets = mongoc_client_get_collection(w->mongo, o->mongo_db, "sink_offsets");
    return 0;
}

static void register_vote_metrics(struct vote_sink *s)
{
    s->written = wmetrics_counter("sink_messages_written_total",
                                  "Valid votes durably written (Redis + MongoDB)");
    s->replayed =
        wmetrics_counter("sink_replayed_skipped_total",
                         "Votes whose offset was already applied (replays), skipped by Redis");
    s->dup_voters = wmetrics_counter("sink_duplicates_skipped_total",
                                     "Duplicate-voter votes stored but not tallied");
    s->mongo_dup_keys = wmetrics_counter("sink_mongo_duplicate_keys_total",
                                         "MongoDB duplicate-key errors treated as already stored");
}

static int setup(struct vote_sink *s)
{
    char err[512];
    if (poll_catalog_load(&s->catalog, s->o->catalog_path, err, sizeof err) != 0) {
        wlog_error("catalog load failed", "err=\"%s\"", err);
        return -1;
    }
    snprintf(s->offsets_key, sizeof s->offsets_key, "%s%s", s->o->redis_prefix, OFFSETS_KEY);
    mongoc_init();
    mongoc_log_set_handler(mongo_log, NULL);
    for (size_t i = 0; i < s->nwriters; i++) {
        struct vote_writer *w = &s->writers[i];
        redis_conn_init(&w->redis, s->o->redis_host, (int)s->o->redis_port,
                        (int)s->o->redis_timeout_ms);
        w->redis.on_connect = load_script;
        w->redis.on_connect_arg = w;
        if (open_mongo(w, s->o) != 0)
            return -1;
    }
    return 0;
}

static void teardown(struct vote_sink *s)
{
    for (size_t i = 0; i < s->nwriters; i++) {
        struct vote_writer *w = &s->writers[i];
        if (w->votes)
            mongoc_collection_destroy(w->votes);
        if (w->offsets)
            mongoc_collection_destroy(w->offsets);
        if (w->mongo)
            mongoc_client_destroy(w->mongo);
        redis_conn_close(&w->redis);
        free(w->dup_flags);
        free(w->chunks);
        free(w->eval_args.argv);
        free(w->eval_args.lens);
        free(w->eval_args.nums);
    }
    mongoc_cleanup();
    poll_catalog_free(&s->catalog);
}

int main(int argc, char **argv)
{
    enum wconfig_result cr = wconfig_parse(
        option_table, sizeof option_table / sizeof option_table[0], argc, argv,
        "vote-sink: consume votes from Kafka into Redis tallies and MongoDB, effectively once.");
    if (cr != WCONFIG_OK)
        return cr == WCONFIG_HELP ? 0 : 2;
    if (wconfig_check_range("recent-cap", opts.recent_cap, 1, LONG_MAX) < 0 ||
        wconfig_check_range("chunk-votes", opts.chunk_votes, 0, LONG_MAX) < 0 ||
        wconfig_check_range("writers", opts.writers, 1, SINK_MAX_WRITERS) < 0)
        return 2;
    int level = wlog_level_parse(opts.log_level);
    if (level < 0) {
        wconfig_error("--log-level must be debug, info, warn or error, not '%s'", opts.log_level);
        return 2;
    }
    opts.kafka.writers = opts.writers;
    wlog_init("vote-sink", (enum wlog_level)level);
    wmetrics_init("sink=\"vote-sink\"");
    struct vote_sink s = { .o = &opts,
                           .fault_exits_left = opts.fault_exit_after_redis,
                           .nwriters = (size_t)opts.writers };
    register_vote_metrics(&s);
    if (setup(&s) != 0) {
        teardown(&s);
        return 1;
    }
    sink_install_signals();
    if (wmetrics_serve(opts.metrics_addr, (int)opts.metrics_port) != 0) {
        teardown(&s);
        return 1;
    }
    struct sink_ops ops = { vote_decode, vote_free, vote_write_batch, vote_load_offsets };
    int rc = sink_run(&opts.kafka, &ops, &s);
    wmetrics_stop();
    teardown(&s);
    return rc == 0 ? 0 : 1;
}
