/*
 * vote_mongo.c - steps 2 and 3 of a vote batch (vote_sink.c): every vote as a document in one
 * unordered bulk insert (duplicate keys are replays), then MongoDB's offset per partition,
 * which the sink reads back to know where MongoDB got.
 */
#include "vote_sink.h"

#include "wlog.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

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

int write_mongo(struct vote_sink *s, struct vote_writer *w, const struct sink_batch *b,
                const struct vote_chunk *c, char *err, size_t errcap)
{
    bson_t bulk_opts = BSON_INITIALIZER;
    BSON_APPEND_BOOL(&bulk_opts, "ordered", false);
    mongoc_bulk_operation_t *bulk =
        mongoc_collection_create_bulk_operation_with_opts(w->votes, &bulk_opts);
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
int write_mongo_offsets(struct vote_writer *w, const struct sink_batch *b, char *err, size_t errcap)
{
    for (size_t p = 0; p < b->nparts; p++) {
        char id[256];
        snprintf(id, sizeof id, "%s:%" PRId32, b->topic, b->parts[p].partition);
        bson_t *selector = BCON_NEW("_id", BCON_UTF8(id));
        bson_t *update =
            BCON_NEW("$max", "{", "next_offset", BCON_INT64(b->parts[p].next_offset), "}");
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
int64_t load_mongo_offset(struct vote_writer *w, const char *topic, int32_t partition, char *err,
                          size_t errcap)
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
