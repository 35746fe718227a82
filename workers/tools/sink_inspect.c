/*
 * sink_inspect.c - tiny MongoDB client for the sink tests and benchmarks (no mongosh on the
 * machine). Talks to the real server through mongo-c-driver, like the vote sink does.
 *
 *   sink-inspect URI DB COLL count        -> "total=N duplicate=M"
 *   sink-inspect URI DB COLL drop         -> drops the database DB
 *   sink-inspect URI DB COLL bench N B [C] -> unordered bulk inserts of N vote documents in
 *                                            batches of B over C connections (default 1, one
 *                                            thread each); prints "docs_per_sec=X" (independent
 *                                            client baseline for stack/bench/sinks/sinks.sh)
 */
#include <mongoc/mongoc.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int count_docs(mongoc_collection_t *coll)
{
    bson_error_t err;
    bson_t all = BSON_INITIALIZER, dup = BSON_INITIALIZER;
    BSON_APPEND_BOOL(&dup, "duplicate", true);
    int64_t total = mongoc_collection_count_documents(coll, &all, NULL, NULL, NULL, &err);
    int64_t dups =
        total < 0 ? -1 : mongoc_collection_count_documents(coll, &dup, NULL, NULL, NULL, &err);
    bson_destroy(&all);
    bson_destroy(&dup);
    if (total < 0 || dups < 0) {
        fprintf(stderr, "count failed: %s\n", err.message);
        return 1;
    }
    printf("total=%lld duplicate=%lld\n", (long long)total, (long long)dups);
    return 0;
}

static int drop_db(mongoc_client_t *client, const char *db_name)
{
    bson_error_t err;
    mongoc_database_t *db = mongoc_client_get_database(client, db_name);
    bool ok = mongoc_database_drop(db, &err);
    mongoc_database_destroy(db);
    if (!ok && strstr(err.message, "not found") == NULL) {
        fprintf(stderr, "drop failed: %s\n", err.message);
        return 1;
    }
    return 0;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Same document shape and batch size as the sink writes: ids [first, first + n). */
static int insert_range(mongoc_collection_t *coll, long first, long n, long batch)
{
    for (long done = 0; done < n;) {
        bson_t opts = BSON_INITIALIZER;
        BSON_APPEND_BOOL(&opts, "ordered", false);
        mongoc_bulk_operation_t *bulk =
            mongoc_collection_create_bulk_operation_with_opts(coll, &opts);
        bson_destroy(&opts);
        for (long i = 0; i < batch && done < n; i++, done++) {
            char id[32];
            snprintf(id, sizeof id, "01BENCH%019ld", first + done);
            bson_t *doc =
                BCON_NEW("_id", BCON_UTF8(id), "v", BCON_INT32(1), "kind", BCON_UTF8("vote"),
                         "poll", BCON_UTF8("guatemala-2027"), "choice", BCON_UTF8("UNE"), "voter",
                         BCON_UTF8(id), "attrs", "{", "department", BCON_UTF8("Guatemala"),
                         "municipality", BCON_UTF8("Mixco"), "station", BCON_UTF8("0101-001"), "}",
                         "received_at", BCON_INT64(1763786400123));
            mongoc_bulk_operation_insert(bulk, doc);
            bson_destroy(doc);
        }
        bson_t reply;
        bson_error_t err;
        bool ok = mongoc_bulk_operation_execute(bulk, &reply, &err);
        bson_destroy(&reply);
        mongoc_bulk_operation_destroy(bulk);
        if (!ok) {
            fprintf(stderr, "bulk failed: %s\n", err.message);
            return 1;
        }
    }
    return 0;
}

/* One connection of a multi-connection run: its own client (clients are not thread-safe). */
struct bench_conn {
    pthread_t thread;
    const mongoc_uri_t *uri;
    const char *db, *coll;
    long first, n, batch;
    int rc;
};

static void *bench_conn_main(void *arg)
{
    struct bench_conn *c = arg;
    mongoc_client_t *client = mongoc_client_new_from_uri(c->uri);
    mongoc_collection_t *coll =
        client ? mongoc_client_get_collection(client, c->db, c->coll) : NULL;
    c->rc = coll ? insert_range(coll, c->first, c->n, c->batch) : 1;
    if (coll)
        mongoc_collection_destroy(coll);
    if (client)
        mongoc_client_destroy(client);
    return NULL;
}

/* N documents over `conns` connections, each inserting its share in batches of `batch`. */
static int bench_insert(const mongoc_uri_t *uri, const char *db, const char *coll, long n,
                        long batch, long conns)
{
    struct bench_conn c[8];
    if (conns < 1 || conns > 8 || n < 1 || batch < 1) {
        fprintf(stderr, "bench: N and BATCH >= 1, 1 <= connections <= 8\n");
        return 2;
    }
    double t0 = now_s();
    long started = 0;
    for (long i = 0; i < conns; i++) {
        long first = n / conns * i;
        c[i] = (struct bench_conn){ .uri = uri,
                                    .db = db,
                                    .coll = coll,
                                    .first = first,
                                    .batch = batch,
                                    .n = i + 1 == conns ? n - first : n / conns };
        if (pthread_create(&c[i].thread, NULL, bench_conn_main, &c[i]) != 0)
            break;
        started++;
    }
    int rc = started == conns ? 0 : 1;
    for (long i = 0; i < started; i++) {
        pthread_join(c[i].thread, NULL);
        rc |= c[i].rc;
    }
    double dt = now_s() - t0;
    if (rc == 0)
        printf("docs=%ld connections=%ld seconds=%.3f docs_per_sec=%.0f\n", n, conns, dt,
               (double)n / dt);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc < 5) {
        fprintf(stderr, "usage: %s URI DB COLL count|drop|bench N BATCH [CONNECTIONS]\n", argv[0]);
        return 2;
    }
    mongoc_init();
    mongoc_log_set_handler(NULL, NULL); /* driver chatter would pollute the one-line answers */
    bson_error_t err;
    mongoc_uri_t *uri = mongoc_uri_new_with_error(argv[1], &err);
    if (uri == NULL) {
        fprintf(stderr, "bad uri: %s\n", err.message);
        return 2;
    }
    mongoc_client_t *client = mongoc_client_new_from_uri(uri);
    mongoc_collection_t *coll = mongoc_client_get_collection(client, argv[2], argv[3]);
    int rc = 2;
    if (strcmp(argv[4], "count") == 0)
        rc = count_docs(coll);
    else if (strcmp(argv[4], "drop") == 0)
        rc = drop_db(client, argv[2]);
    else if (strcmp(argv[4], "bench") == 0 && argc >= 7)
        rc = bench_insert(uri, argv[2], argv[3], atol(argv[5]), atol(argv[6]),
                          argc >= 8 ? atol(argv[7]) : 1);
    else
        fprintf(stderr, "unknown command %s\n", argv[4]);
    mongoc_collection_destroy(coll);
    mongoc_client_destroy(client);
    mongoc_uri_destroy(uri);
    mongoc_cleanup();
    return rc;
}
