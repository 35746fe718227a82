/*
 * vote_redis.c - step 1 of a vote batch (vote_sink.c): tally.lua, one EVALSHA per chunk of
 * one partition, its arguments built in a reused vector, sent ahead and read back in order.
 */
#include "vote_sink.h"

#include "wlog.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tally_lua.h" /* generated from tally.lua: static const char tally_lua[] */

/* SCRIPT LOAD on every (re)connect: a restarted Redis has an empty script cache. */
void load_script(struct redis_conn *rc, void *arg)
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
        if (v)
            a->argv = v;
        if (l == NULL)
            return -1;
        a->lens = l;
        a->cap = args;
    }
    if (nums > a->numcap) {
        char(*n)[24] = realloc(a->nums, nums * sizeof *n);
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

static void argv_push_str(struct argv_buf *a, const char *s) { argv_push(a, s, strlen(s)); }

static void argv_push_int(struct argv_buf *a, int64_t v)
{
    char *slot = a->nums[a->nnums++];
    int len = snprintf(slot, 24, "%" PRId64, v);
    argv_push(a, slot, (size_t)len);
}

int in_chunk(const struct sink_batch *b, const struct vote_chunk *c, size_t i)
{
    return b->entries[i].decoded != NULL &&
           (c->partition == ALL_PARTITIONS || b->entries[i].rkm->partition == c->partition);
}

/* Build EVALSHA sha 1 offsets_key prefix field next nvotes cap [vote args...] for one chunk. */
static int build_eval_args(struct vote_sink *s, struct argv_buf *eval_args,
                           const struct sink_batch *b, const struct vote_chunk *c,
                           const char *field)
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
int send_chunk(struct vote_sink *s, struct vote_writer *w, const struct sink_batch *b,
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
        snprintf(err, errcap, "redis: %s",
                 w->redis.last_error[0] ? w->redis.last_error : "script not loaded");
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
static redisReply *read_chunk(struct vote_sink *s, struct vote_writer *w,
                              const struct sink_batch *b, const struct vote_chunk *c, char *err,
                              size_t errcap)
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
int redis_step(struct vote_sink *s, struct vote_writer *w, const struct sink_batch *b,
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

int plan_chunks(struct vote_writer *w, long chunk_votes, const struct sink_batch *b)
{
    size_t per = chunk_votes > 0 ? (size_t)chunk_votes : SIZE_MAX;
    w->nchunks = 0;
    for (size_t p = 0; p < b->nparts; p++)
        if (plan_partition(w, per, b, &b->parts[p]) != 0)
            return -1;
    return 0;
}
