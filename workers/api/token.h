/*
 * token.h - issuing login tokens and checking Bearer tokens on requests.
 *
 * Tokens are HS256 JWTs from common/jwt (claims sub, iat, exp, jti; header
 * kid).  A token is accepted when its signature and expiry verify and its
 * jti is not in the revocation set.
 */
#ifndef API_TOKEN_H
#define API_TOKEN_H

#include <stdint.h>

#include "api.h"

/* *token is malloc'd.  0 or -1. */
int token_issue(api_app *app, const char *username, char **token, int64_t *exp);

/* 0 when the request carries a valid, unrevoked token (r->claims filled);
 * otherwise -1 and *why names the reason (for the 401 detail). */
int token_check(api_request *r, const char **why);

/* Answers 401 with WWW-Authenticate. */
enum MHD_Result respond_unauthorized(api_request *r, const char *why);

#endif
