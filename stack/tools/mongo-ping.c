/* mongo-ping: asks a MongoDB-wire server for {ping: 1} through mongo-c-driver.
 *
 * build.sh uses it to know when the stack's MongoDB-wire server is ready, and as
 * proof that the C driver the vote sink uses talks to it unchanged.
 * Usage: mongo-ping [URI]   (default mongodb://127.0.0.1:27017/)
 * Exit 0 and prints the server's answer on success, 1 with the error otherwise. */
#include <mongoc/mongoc.h>
#include <stdio.h>

int main(int argc, char **argv)
{
    const char *uri_str = argc > 1 ? argv[1] : "mongodb://127.0.0.1:27017/";
    bson_error_t error;
    bson_t reply;
    int rc = 1;

    mongoc_init();
    /* FerretDB lacks endSessions; the driver would warn about it on every exit. */
    mongoc_log_set_handler(NULL, NULL);
    mongoc_uri_t *uri = mongoc_uri_new_with_error(uri_str, &error);
    if (uri == NULL) {
        fprintf(stderr, "mongo-ping: bad URI %s: %s\n", uri_str, error.message);
        goto out;
    }
    mongoc_uri_set_option_as_int32(uri, MONGOC_URI_SERVERSELECTIONTIMEOUTMS, 2000);
    mongoc_client_t *client = mongoc_client_new_from_uri(uri);
    if (client == NULL) {
        fprintf(stderr, "mongo-ping: cannot create a client for %s\n", uri_str);
        mongoc_uri_destroy(uri);
        goto out;
    }
    bson_t *cmd = BCON_NEW("ping", BCON_INT32(1));
    if (mongoc_client_command_simple(client, "admin", cmd, NULL, &reply, &error)) {
        char *json = bson_as_relaxed_extended_json(&reply, NULL);
        printf("%s\n", json);
        bson_free(json);
        rc = 0;
    } else {
        fprintf(stderr, "mongo-ping: %s: %s\n", uri_str, error.message);
    }
    bson_destroy(&reply);
    bson_destroy(cmd);
    mongoc_client_destroy(client);
    mongoc_uri_destroy(uri);
out:
    mongoc_cleanup();
    return rc;
}
