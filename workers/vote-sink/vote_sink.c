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
#include "kconsumer.h"
#include "metrics.h"
#include "msg.h"
#include "redis_conn.h"
#include "sink_options.h"
#include "wconfig.h"
#include "wclock.h"
#include "wlog.h"

#include <inttypes.h>
#include <limits.h>
#include <mongoc/mongoc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tally_lua.h" /* generated from tally.lua: static const char tally_lua[] */

#define OFFSETS_KEY "sink:votes:offsets"

struct vote_opts {
    struct sink_config kafka;      /* Kafka, batching, backoff and replay: sink_options.h */
    const char *redis_host, *redis_prefix;
    long redis_port, redis_timeout_ms, recent_cap;
    const char *mongo_uri, *mongo_host, *mongo_db, *mongo_collection;
    long mongo_port;
    const char *catalog_path, *metrics_addr, *log_level;
    long fault_exit_after_redis;
    long metrics_port;
    long chunk_votes;
    long writers;
};

/* One pipeline step: the valid votes of one partition among entries [begin, end); partition
 * ALL_PARTITIONS = every valid vote there (one MongoDB insert for a whole batch). */
#define ALL_PARTITIONS (-1)
struct vote_chunk {
    int32_t partition;
    size_t begin, end;
    size_t nvotes;
    int64_t next_offset;           /* Redis offset after this chunk */
};

/* Argument vector for one EVALSHA; grows as needed and is reused across batches. */
struct argv_buf {
    const char **argv;
    size_t *lens;
    size_t n, cap;
    char (*nums)[24];   /* storage for formatted integers */
    size_t nnums, numcap;
};

/* What one writer thread owns: its own store connections (hiredis contexts and mongoc
 * clients are not thread-safe) and its batch scratch space. */
struct vote_writer {
    struct redis_conn redis;
    char script_sha[48];
    mongoc_client_t *mongo;
    mongoc_collection_t *votes;
    mongoc_collection_t *offsets;  /* how far MongoDB got, per partition */
    unsigned char *dup_flags;      /* per batch entry, answered by Redis */
    size_t dup_cap;
    struct vote_chunk *chunks;     /* this batch's pipeline steps */
    size_t nchunks, chunk_cap;
    struct argv_buf eval_args;
};

struct vote_sink {
    struct vote_opts *o;
    struct poll_catalog catalog;
    char offsets_key[256];
    struct vote_writer writers[SINK_MAX_WRITERS];
    size_t nwriters;
    _Atomic long fault_exits_left; /* test hook: _exit after this many Redis steps (0 = off) */
    _Atomic uint64_t *written;
    _Atomic uint64_t *replayed;
    _Atomic uint64_t *dup_voters;
    _Atomic uint64_t *mongo_dup_keys;
};

/* ---------------- configuration ---------------- */

static struct vote_opts opts;

static const struct wopt option_table[] = {
    SINK_KAFKA_OPTIONS(opts.kafka, "VOTE_SINK", "vote-sink", "votes", "votes.dlq"),
    { "redis-host", "REDIS_HOST", WOPT_STR, &opts.redis_host, "127.0.0.1", "Redis host" },
    { "redis-port", "REDIS_PORT", WOPT_INT, &opts.redis_port, "6379", "Redis port" },
    { "redis-timeout-ms", "REDIS_TIMEOUT_MS", WOPT_INT, &opts.redis_timeout_ms, "3000", "Redis connect/command timeout" },
    { "redis-prefix", "VOTE_SINK_REDIS_PREFIX", WOPT_STR, &opts.redis_prefix, "", "prefix for every Redis key and channel (tests)" },
    { "chunk-votes", "VOTE_SINK_CHUNK_VOTES", WOPT_INT, &opts.chunk_votes, "250", "votes per Redis script call (0 = a partition's whole slice); the MongoDB insert of one chunk overlaps the script of the next" },
    { "writers", "VOTE_SINK_WRITERS", WOPT_INT, &opts.writers, "2", "batches written at once, each on its own Redis and MongoDB connection (1-4; 1 = the chunk pipeline alone)" },
    { "recent-cap", "VOTE_SINK_RECENT_CAP", WOPT_INT, &opts.recent_cap, "100", "length of poll:{p}:recent" },
    { "mongo-uri", "MONGO_URI", WOPT_STR, &opts.mongo_uri, NULL, "MongoDB URI (overrides --mongo-host/--mongo-port)" },
    { "mongo-host", "MONGO_HOST", WOPT_STR, &opts.mongo_host, "127.0.0.1", "MongoDB host" },
    { "mongo-port", "MONGO_PORT", WOPT_INT, &opts.mongo_port, "27017", "MongoDB port" },
    { "mongo-db", "VOTE_SINK_MONGO_DB", WOPT_STR, &opts.mongo_db, "vote", "MongoDB database" },
    { "mongo-collection", "VOTE_SINK_MONGO_COLLECTION", WOPT_STR, &opts.mongo_collection, "votes", "MongoDB collection" },
    { "catalog", "POLL_CATALOG", WOPT_STR, &opts.catalog_path, "stack/polls.json", "poll catalog JSON (poison check)" },
    { "metrics-addr", "SINK_METRICS_ADDR", WOPT_STR, &opts.metrics_addr, "127.0.0.1", "metrics listen address" },
    { "metrics-port", "VOTE_SINK_METRICS_PORT", WOPT_INT, &opts.metrics_port, "9101", "metrics port (0 = off)" },
    SINK_REPLAY_OPTION(opts.kafka),
    { "fault-exit-after-redis", "VOTE_SINK_FAULT_EXIT_AFTER_REDIS", WOPT_INT, &opts.fault_exit_after_redis, "0", "TESTS ONLY: die like kill -9 right after the Nth Redis step (the worst crash point)" },
    { "log-level", "LOG_LEVEL", WOPT_STR, &opts.log_level, "info", "debug|info|warn|error" },
};

/* ---------------- Redis ---------------- */

/* SCRIPT LOAD on every (re)connect: a restarted Redis has an empty script cache. */
static void load_script(struct redis_conn *rc, void *arg)
{
    struct vote_writer *w = arg;
    const char *argv[] = { "SCRIPT", "LOAD", tally_lua };
    redisReply *r = redisCommandArgv(rc->ctx, 3, argv, NULL);
    if (r == NULL) {
        redis_conn_drop(rc);
        return;
    }
    if (r->type == REDIS_REPLY_STRING && r->len < (int)sizeof w->script_sha)
        memcpy(w->script_sha, r->str, (size_t)r->len + 1);
    else
        wlog_error("redis script load failed", "reply_type=%d", r->type);
    freeReplyObject(r);
}

static int argv_reserve(struct argv_buf *a, size_t args, size_t nums)
{
    if (args > a->cap) {
        const char **v = realloc(a->argv, args * sizeof *v);
        size_t *l = v ? realloc(a->lens, args * sizeof *l) : NULL;
        if (v) a->argv = v;
        if (l == NULL)
            return -1;
        a->lens = l;
        a->cap = args;
    }
    if (nums > a->numcap) {
        char (*n)[24] = realloc(a->nums, nums * sizeof *n);
        if (n == NULL)
            return -1;
        a->nums = n;
        a->numcap = nums;
    }
    a->n = 0;
    a->nnums = 0;
    return 0;
}

static void argv_push(struct argv_buf *a, const char *s, size_t len)
{
    a->argv[a->n] = s;
    a->lens[a->n++] = len;
}

static void argv_push_str(struct argv_buf *a, const char *s)
{
    argv_push(a, s, strlen(s));
}

static void argv_push_int(struct argv_buf *a, int64_t v)
{
    char *slot = a->nums[a->nnums++];
    int len = snprintf(slot, 24, "%" PRId64, v);
    argv_push(a, slot, (size_t)len);
}

static int in_chunk(const struct sink_batch *b, const struct vote_chunk *c, size_t i)
{
    return b->entries[i].decoded != NULL &&
           (c->partition == ALL_PARTITIONS || b->entries[i].rkm->partition == c->partition);
}

/* Build EVALSHA sha 1 offsets_key prefix field next nvotes cap [vote args...] for one chunk. */
static int build_eval_args(struct vote_sink *s, struct argv_buf *eval_args,
                           const struct sink_batch *b, const struct vote_chunk *c, const char *field)
{
    size_t args = 10, nums = 4;
    for (size_t i = c->begin; i < c->end; i++) {
        const struct vote_msg *v = b->entries[i].decoded;
        if (in_chunk(b, c, i)) {
            args += 7 + 2 * v->nattrs;
            nums += 2;
        }
    }
    if (argv_reserve(eval_args, args, nums) != 0)
        return -1;
    argv_push_str(eval_args, "EVALSHA");
    argv_push_str(eval_args, ""); /* the script's sha, filled in by send_chunk() */
    argv_push_str(eval_args, "1");
    argv_push_str(eval_args, s->offsets_key);
    argv_push_str(eval_args, s->o->redis_prefix);
    argv_push_str(eval_args, field);
    argv_push_int(eval_args, c->next_offset);
    argv_push_int(eval_args, (int64_t)c->nvotes);
    argv_push_int(eval_args, s->o->recent_cap);
    for (size_t i = c->begin; i < c->end; i++) {
        const struct vote_msg *v = b->entries[i].decoded;
        if (!in_chunk(b, c, i))
            continue;
        argv_push_int(eval_args, b->entries[i].rkm->offset);
        argv_push_str(eval_args, v->id);
        argv_push_str(eval_args, v->poll);
        argv_push_str(eval_args, v->choice);
        argv_push_str(eval_args, v->voter ? v->voter : "");
        argv_push(eval_args, b->entries[i].rkm->payload, b->entries[i].rkm->len);
        argv_push_int(eval_args, (int64_t)v->nattrs);
        for (size_t a = 0; a < v->nattrs; a++) {
            argv_push_str(eval_args, v->attr_names[a]);
            argv_push_str(eval_args, v->attr_values[a]);
        }
    }
    return 0;
}

/* Build and send the script call for one chunk; read_chunk() reads its reply. */
static int send_chunk(struct vote_sink *s, struct vote_writer *w, const struct sink_batch *b,
                      const struct vote_chunk *c, char *err, size_t errcap)
{
    char field[256];
    struct argv_buf *a = &w->eval_args;
    snprintf(field, sizeof field, "%s:%" PRId32, b->topic, c->partition);
    if (build_eval_args(s, a, b, c, field) != 0) {
        snprintf(err, errcap, "out of memory");
        return -1;
    }
    if (redis_conn_get(&w->redis) == NULL || w->script_sha[0] == '\0') {
        snprintf(err, errcap, "redis: %s", w->redis.last_error[0] ? w->redis.last_error : "script not loaded");
        redis_conn_drop(&w->redis);
        return -1;
    }
    a->argv[1] = w->script_sha;
    a->lens[1] = strlen(w->script_sha);
    if (redis_conn_send(&w->redis, (int)a->n, a->argv, a->lens) != 0) {
        snprintf(err, errcap, "redis: %s", w->redis.last_error);
        return -1;
    }
    return 0;
}

/* Read the reply of the chunk sent last (nothing else is in flight). On NOSCRIPT (Redis
 * restarted or flushed) reload the script and send the chunk once more. */
static redisReply *read_chunk(struct vote_sink *s, struct vote_writer *w, const struct sink_batch *b,
                              const struct vote_chunk *c, char *err, size_t errcap)
{
    for (int attempt = 0; attempt < 2; attempt++) {
        redisReply *r = redis_conn_read(&w->redis);
        if (r == NULL) {
            snprintf(err, errcap, "redis: %s", w->redis.last_error);
            return NULL;
        }
        if (r->type != REDIS_REPLY_ERROR || strncmp(r->str, "NOSCRIPT", 8) != 0)
            return r;
        freeReplyObject(r);
        load_script(&w->redis, w);
        if (send_chunk(s, w, b, c, err, errcap) != 0)
            return NULL;
    }
    snprintf(err, errcap, "redis: script keeps disappearing");
    redis_conn_drop(&w->redis); /* the last resend's reply is still in flight */
    return NULL;
}

/* Copy the chunk's per-vote flags out of the script's reply. */
static int take_flags(struct vote_sink *s, struct vote_writer *w, const struct sink_batch *b,
                      const struct vote_chunk *c, const redisReply *r, char *err, size_t errcap)
{
    if (r->type == REDIS_REPLY_ERROR) {
        snprintf(err, errcap, "redis script error: %s", r->str);
        return -1;
    }
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
        r->element[1]->type != REDIS_REPLY_ARRAY || r->element[1]->elements != c->nvotes) {
        snprintf(err, errcap, "redis script: unexpected reply shape");
        return -1;
    }
    size_t k = 0;
    for (size_t i = c->begin; i < c->end; i++)
        if (in_chunk(b, c, i))
            w->dup_flags[i] = r->element[1]->element[k++]->integer != 0;
    long long applied = r->element[0]->integer;
    atomic_fetch_add(s->replayed, (uint64_t)((long long)c->nvotes - applied));
    return 0;
}

/* Read one chunk's reply and take its flags. A connection that broke while this writer was
 * idle (Redis restarted; the other writer already found out) only shows on its first use:
 * the batch's first chunk gets one resend on a new connection before the batch fails (a
 * resend is a replay if the script had run: it skips what it applied). */
static int redis_step(struct vote_sink *s, struct vote_writer *w, const struct sink_batch *b,
                      const struct vote_chunk *c, int first, char *err, size_t errcap)
{
    redisReply *reply = read_chunk(s, w, b, c, err, errcap);
    if (reply == NULL && first) {
        wlog_debug("redis connection lost on first use, resending once", "err=\"%s\"", err);
        if (send_chunk(s, w, b, c, err, errcap) == 0)
            reply = read_chunk(s, w, b, c, err, errcap);
    }
    if (reply == NULL)
        return -1;
    int rc = take_flags(s, w, b, c, reply, err, errcap);
    freeReplyObject(reply);
    return rc;
}

static struct vote_chunk *new_chunk(struct vote_writer *w, int32_t partition, size_t begin)
{
    if (w->nchunks == w->chunk_cap) {
        size_t cap = w->chunk_cap ? w->chunk_cap * 2 : 16;
        struct vote_chunk *c = realloc(w->chunks, cap * sizeof *c);
        if (c == NULL)
            return NULL;
        w->chunks = c;
        w->chunk_cap = cap;
    }
    struct vote_chunk *c = &w->chunks[w->nchunks++];
    *c = (struct vote_chunk){ .partition = partition, .begin = begin, .end = begin };
    return c;
}

/* Split one partition's slice into chunks of at most --chunk-votes valid votes, in offset
 * order. The last chunk raises the offset to the slice's end (poison included); a slice
 * of poison only still gets one (empty) chunk so its offset moves. */
static int plan_partition(struct vote_writer *w, size_t per, const struct sink_batch *b,
                          const struct sink_part_range *r)
{
    struct vote_chunk *c = NULL;
    for (size_t i = 0; i < b->n; i++) {
        if (b->entries[i].decoded == NULL || b->entries[i].rkm->partition != r->partition)
            continue;
        if ((c == NULL || c->nvotes >= per) && (c = new_chunk(w, r->partition, i)) == NULL)
            return -1;
        c->nvotes++;
        c->end = i + 1;
        c->next_offset = b->entries[i].rkm->offset + 1;
    }
    if (c == NULL && (c = new_chunk(w, r->partition, 0)) == NULL)
        return -1;
    c->next_offset = r->next_offset;
    return 0;
}

static int plan_chunks(struct vote_writer *w, long chunk_votes, const struct sink_batch *b)
{
    size_t per = chunk_votes > 0 ? (size_t)chunk_votes : SIZE_MAX;
    w->nchunks = 0;
    for (size_t p = 0; p < b->nparts; p++)
        if (plan_partition(w, per, b, &b->parts[p]) != 0)
            return -1;
    return 0;
}

/* ---------------- MongoDB ---------------- */

/* The stored document: the message fields, `_id` = id, duplicate flag when set. */
static bson_t *vote_document(const struct vote_msg *v, int duplicate)
{
    bson_t *doc = bson_new();
    bson_t attrs;
    BSON_APPEND_UTF8(doc, "_id", v->id);
    BSON_APPEND_INT32(doc, "v", 1);
    BSON_APPEND_UTF8(doc, "kind", "vote");
    BSON_APPEND_UTF8(doc, "poll", v->poll);
    BSON_APPEND_UTF8(doc, "choice", v->choice);
    if (v->voter != NULL)
        BSON_APPEND_UTF8(doc, "voter", v->voter);
    BSON_APPEND_DOCUMENT_BEGIN(doc, "attrs", &attrs);
    for (size_t a = 0; a < v->nattrs; a++)
        BSON_APPEND_UTF8(&attrs, v->attr_names[a], v->attr_values[a]);
    bson_append_document_end(doc, &attrs);
    BSON_APPEND_INT64(doc, "received_at", v->received_at);
    if (duplicate)
        BSON_APPEND_BOOL(doc, "duplicate", true);
    return doc;
}

/* 1 when the only problems in a failed bulk reply are duplicate keys (already stored). */
static int only_duplicate_key_errors(const bson_t *reply, uint64_t *dups)
{
    bson_iter_t it, child;
    if (bson_iter_init_find(&it, reply, "writeConcernErrors") && BSON_ITER_HOLDS_ARRAY(&it)) {
        uint32_t len = 0;
        const uint8_t *data = NULL;
        bson_iter_array(&it, &len, &data);
        if (len > 5) /* an empty BSON array is 5 bytes */
            return 0;
    }
    if (!bson_iter_init_find(&it, reply, "writeErrors") || !BSON_ITER_HOLDS_ARRAY(&it) ||
        !bson_iter_recurse(&it, &child))
        return 0;
    uint64_t n = 0;
    while (bson_iter_next(&child)) {
        bson_iter_t code;
        if (!BSON_ITER_HOLDS_DOCUMENT(&child) || !bson_iter_recurse(&child, &code) ||
            !bson_iter_find(&code, "code") || bson_iter_as_int64(&code) != 11000)
            return 0;
        n++;
    }
    *dups = n;
    return n > 0;
}

static int write_mongo(struct vote_sink *s, struct vote_writer *w, const struct sink_batch *b,
                       const struct vote_chunk *c, char *err, size_t errcap)
{
    bson_t bulk_opts = BSON_INITIALIZER;
    BSON_APPEND_BOOL(&bulk_opts, "ordered", false);
    mongoc_bulk_operation_t *bulk = mongoc_collection_create_bulk_operation_with_opts(w->votes, &bulk_opts);
    bson_destroy(&bulk_opts);
    size_t ndocs = 0;
    for (size_t i = c->begin; i < c->end; i++) {
        if (!in_chunk(b, c, i))
            continue;
        bson_t *doc = vote_document(b->entries[i].decoded, w->dup_flags[i]);
        bson_error_t berr;
        bool ok = mongoc_bulk_operation_insert_with_opts(bulk, doc, NULL, &berr);
        bson_destroy(doc);
        if (!ok) {
            snprintf(err, errcap, "mongo: %s", berr.message);
            mongoc_bulk_operation_destroy(bulk);
            return -1;
        }
        ndocs++;
    }
    int rc = 0;
    if (ndocs > 0) {
        bson_t reply;
        bson_error_t berr;
        uint64_t dups = 0;
        if (!mongoc_bulk_operation_execute(bulk, &reply, &berr)) {
            if (only_duplicate_key_errors(&reply, &dups)) {
                atomic_fetch_add(s->mongo_dup_keys, dups);
            } else {
                snprintf(err, errcap, "mongo: %s (domain %u code %u)", berr.message, berr.domain,
                         berr.code);
                rc = -1;
            }
        }
        bson_destroy(&reply);
    }
    mongoc_bulk_operation_destroy(bulk);
    return rc;
}

/* Record how far MongoDB got: $max so a late or replayed batch never moves it back. */
static int write_mongo_offsets(struct vote_writer *w, const struct sink_batch *b, char *err,
                               size_t errcap)
{
    for (size_t p = 0; p < b->nparts; p++) {
        char id[256];
        snprintf(id, sizeof id, "%s:%" PRId32, b->topic, b->parts[p].partition);
        bson_t *selector = BCON_NEW("_id", BCON_UTF8(id));
        bson_t *update = BCON_NEW("$max", "{", "next_offset", BCON_INT64(b->parts[p].next_offset), "}");
        bson_t *uopts = BCON_NEW("upsert", BCON_BOOL(true));
        bson_error_t berr;
        bool ok = mongoc_collection_update_one(w->offsets, selector, update, uopts, NULL, &berr);
        bson_destroy(selector);
        bson_destroy(update);
        bson_destroy(uopts);
        if (!ok) {
            snprintf(err, errcap, "mongo offsets: %s", berr.message);
            return -1;
        }
    }
    return 0;
}

/* Next offset MongoDB reached for one partition; -1 when none is stored, -2 on error. */
static int64_t load_mongo_offset(struct vote_writer *w, const char *topic, int32_t partition,
                                 char *err, size_t errcap)
{
    char id[256];
    snprintf(id, sizeof id, "%s:%" PRId32, topic, partition);
    bson_t *filter = BCON_NEW("_id", BCON_UTF8(id));
    mongoc_cursor_t *cur = mongoc_collection_find_with_opts(w->offsets, filter, NULL, NULL);
    bson_destroy(filter);
    const bson_t *doc;
    int64_t next = -1;
    bson_iter_t it;
    if (mongoc_cursor_next(cur, &doc) && bson_iter_init_find(&it, doc, "next_offset"))
        next = bson_iter_as_int64(&it);
    bson_error_t berr;
    if (mongoc_cursor_error(cur, &berr)) {
        snprintf(err, errcap, "mongo offsets: %s", berr.message);
        next = -2;
    }
    mongoc_cursor_destroy(cur);
    return next;
}

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
                redis_conn_drop(&w->redis); /* chunk k+1's reply is in flight; its retry is a replay */
            return -1;
        }
        t->mongo_ms += wclock_ms() - t0;
    }
    return 0;
}

/* More than one writer (see the top of this file): the Redis step in batch order, every
 * chunk's script sent and answered in turn, then the turn passes to the next batch. */
static int write_redis_in_turn(struct vote_sink *s, struct vote_writer *w, const struct sink_batch *b,
                               struct batch_timing *t, char *err, size_t errcap)
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
static int write_concurrently(struct vote_sink *s, struct vote_writer *w, const struct sink_batch *b,
                              struct batch_timing *t, char *err, size_t errcap)
{
    if (write_redis_in_turn(s, w, b, t, err, errcap) != 0)
        return -1;
    struct vote_chunk all = { .partition = ALL_PARTITIONS, .begin = 0, .end = b->n,
                              .nvotes = b->n - b->npoison };
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
    wlog_debug("batch stored", "votes=%zu chunks=%zu redis_wait_ms=%.2f mongo_insert_ms=%.2f "
               "mongo_offsets_ms=%.2f total_ms=%.2f", b->n - b->npoison, w->nchunks, t.redis_wait_ms,
               t.mongo_ms, wclock_ms() - t1, wclock_ms() - t0);
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
        snprintf(field, sizeof field, "%s:%" PRId32, parts->elems[i].topic, parts->elems[i].partition);
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
        int64_t mongo_next = load_mongo_offset(w, parts->elems[i].topic, parts->elems[i].partition, err, errcap);
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
    wlog(level <= MONGOC_LOG_LEVEL_CRITICAL ? WLOG_ERROR : WLOG_WARN, "mongoc", "domain=%s msg=\"%s\"",
         domain, message);
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
    s->written = wmetrics_counter("sink_messages_written_total", "Valid votes durably written (Redis + MongoDB)");
    s->replayed = wmetrics_counter("sink_replayed_skipped_total", "Votes whose offset was already applied (replays), skipped by Redis");
    s->dup_voters = wmetrics_counter("sink_duplicates_skipped_total", "Duplicate-voter votes stored but not tallied");
    s->mongo_dup_keys = wmetrics_counter("sink_mongo_duplicate_keys_total", "MongoDB duplicate-key errors treated as already stored");
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
        redis_conn_init(&w->redis, s->o->redis_host, (int)s->o->redis_port, (int)s->o->redis_timeout_ms);
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
    enum wconfig_result cr = wconfig_parse(option_table, sizeof option_table / sizeof option_table[0], argc, argv,
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
    struct vote_sink s = { .o = &opts, .fault_exits_left = opts.fault_exit_after_redis,
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
