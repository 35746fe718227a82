/*
 * handlers_auth.c - POST /api/auth/register, /login, /logout; GET /api/auth/me.
 */
#include "handlers.h"

#include <jansson.h>
#include <string.h>

#include "db.h"
#include "log.h"
#include "api_metrics.h"
#include "password.h"
#include "respond.h"
#include "revoked.h"
#include "revoker.h"
#include "token.h"
#include "validate.h"

/* Inserts the account; 201, 409 when taken, 503 when PostgreSQL fails. */
static enum MHD_Result create_account(api_request *r, const credentials *c)
{
    char hash[PASSWORD_HASH_LEN];
    if (password_hash(c->password, c->password_len, hash) < 0)
        return respond_error(r, 500, "internal", "cannot hash the password", NULL);
    const char *params[2] = { c->username, hash };
    int taken = 0;
    PGresult *res =
        db_exec("INSERT INTO users (username, password_hash) VALUES ($1, $2)", 2, params, &taken);
    sodium_memzero(hash, sizeof hash);
    if (!res && taken) {
        metrics_inc(M_REGISTER_CONFLICT);
        return respond_error(r, 409, "username_taken", "this username is already registered",
                             "username");
    }
    if (!res)
        return respond_unavailable(r, "account store unavailable");
    PQclear(res);
    metrics_inc(M_REGISTER_OK);
    return respond_json(r, 201, json_pack("{s:s}", "username", c->username));
}

enum MHD_Result handle_register(api_request *r)
{
    json_t *root;
    credentials c;
    api_problem p;
    enum MHD_Result ret;
    if (parse_credentials(r->body, r->body_len, &root, &c, &p) < 0 || check_new_account(&c, &p) < 0)
        ret = respond_problem(r, &p);
    else
        ret = create_account(r, &c);
    json_decref(root);
    return ret;
}

/* The stored hash (malloc'd) or NULL if there is no such user; -1 on a
 * database failure. */
static int lookup_hash(const char *username, char **hash)
{
    *hash = NULL;
    if (!vc_username_valid(username, strlen(username)))
        return 0;
    const char *params[1] = { username };
    PGresult *res = db_exec("SELECT password_hash FROM users WHERE username = $1", 1, params, NULL);
    if (!res)
        return -1;
    if (PQntuples(res) == 1)
        *hash = strdup(PQgetvalue(res, 0, 0));
    PQclear(res);
    return 0;
}

enum MHD_Result handle_login(api_request *r)
{
    json_t *root;
    credentials c;
    api_problem p;
    if (parse_credentials(r->body, r->body_len, &root, &c, &p) < 0) {
        json_decref(root);
        return respond_problem(r, &p);
    }
    char *hash;
    enum MHD_Result ret;
    if (lookup_hash(c.username, &hash) < 0) {
        ret = respond_unavailable(r, "account store unavailable");
    } else if (c.password_len > PASSWORD_MAX_BYTES ||
               !password_verify(hash, c.password, c.password_len)) {
        /* Unknown user, wrong password: one answer, one cost (dummy verify). */
        metrics_inc(M_LOGIN_FAILED);
        ret = respond_unauthorized(r, "wrong username or password");
    } else {
        char *token = NULL;
        int64_t exp;
        if (token_issue(r->app, c.username, &token, &exp) < 0) {
            ret = respond_error(r, 500, "internal", "cannot sign a token", NULL);
        } else {
            metrics_inc(M_LOGIN_OK);
            ret = respond_json(r, 200,
                               json_pack("{s:s, s:I, s:s}", "token", token, "expires_at",
                                         (json_int_t)exp, "username", c.username));
        }
        free(token);
    }
    free(hash);
    json_decref(root);
    return ret;
}

enum MHD_Result handle_logout(api_request *r)
{
    const char *why;
    if (token_check(r, &why) < 0) {
        /* Logging out twice is not an error: the token is dead either way. */
        if (strcmp(why, "revoked") == 0)
            return respond_empty(r, 204);
        return respond_unauthorized(r, why);
    }
    /* Durable in Kafka before we say so: the edge learns it from there. */
    if (revoker_publish(r->app->revoker, r->claims.jti, r->claims.exp) < 0)
        return respond_unavailable(r, "cannot record the logout; retry");
    if (revocations_add(r->app->revoked, r->claims.jti, r->claims.exp) < 0)
        log_error("revocation_oom", "local revocation set: out of memory");
    metrics_inc(M_LOGOUT);
    return respond_empty(r, 204);
}

enum MHD_Result handle_me(api_request *r)
{
    const char *why;
    if (token_check(r, &why) < 0)
        return respond_unauthorized(r, why);
    return respond_json(r, 200,
                        json_pack("{s:s, s:I}", "username", r->claims.sub, "expires_at",
                                  (json_int_t)r->claims.exp));
}
