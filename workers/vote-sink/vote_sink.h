/*
 * vote_sink.h - the vote sink's state, shared by its parts: vote_sink.c (options, the
 * loop's callbacks, startup), vote_redis.c (step 1: the tally script in chunks) and
 * vote_mongo.c (steps 2 and 3: the documents and MongoDB's offsets). vote_sink.c says how a
 * batch is written.
 */
#ifndef WORKERS_VOTE_SINK_H
#define WORKERS_VOTE_SINK_H

#include "kconsumer.h"
#include "msg.h"
#include "redis_conn.h"

#include <hiredis.h>
#include <mongoc/mongoc.h>
#include <stdatomic.h>
#include <stdint.h>

#define OFFSETS_KEY "sink:votes:offsets"

struct vote_opts {
    struct sink_config kafka; /* Kafka, batching, backoff and replay: sink_options.h */
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
    int64_t next_offset; /* Redis offset after this chunk */
};

/* Argument vector for one EVALSHA; grows as needed and is reused across batches. */
struct argv_buf {
    const char **argv;
    size_t *lens;
    size_t n, cap;
    char (*nums)[24]; /* storage for formatted integers */
    size_t nnums, numcap;
};

/* What one writer thread owns: its own store connections (hiredis contexts and mongoc
 * clients are not thread-safe) and its batch scratch space. */
struct vote_writer {
    struct redis_conn redis;
    char script_sha[48];
    mongoc_client_t *mongo;
    mongoc_collection_t *votes;
    mongoc_collection_t *offsets; /* how far MongoDB got, per partition */
    unsigned char *dup_flags;     /* per batch entry, answered by Redis */
    size_t dup_cap;
    struct vote_chunk *chunks; /* this batch's pipeline steps */
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

/* vote_redis.c */
void load_script(struct redis_conn *rc, void *arg);
int in_chunk(const struct sink_batch *b, const struct vote_chunk *c, size_t i);
int send_chunk(struct vote_sink *s, struct vote_writer *w, const struct sink_batch *b,
               const struct vote_chunk *c, char *err, size_t errcap);
int redis_step(struct vote_sink *s, struct vote_writer *w, const struct sink_batch *b,
               const struct vote_chunk *c, int first, char *err, size_t errcap);
int plan_chunks(struct vote_writer *w, long chunk_votes, const struct sink_batch *b);

/* vote_mongo.c */
int write_mongo(struct vote_sink *s, struct vote_writer *w, const struct sink_batch *b,
                const struct vote_chunk *c, char *err, size_t errcap);
int write_mongo_offsets(struct vote_writer *w, const struct sink_batch *b, char *err,
                        size_t errcap);
int64_t load_mongo_offset(struct vote_writer *w, const char *topic, int32_t partition, char *err,
                          size_t errcap);

#endif
