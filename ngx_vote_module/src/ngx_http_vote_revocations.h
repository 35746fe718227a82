/*
 * ngx_http_vote_revocations.h - the logout revocation list each worker
 * consumes from Kafka (vote_revocations) and the look-up the chat check uses.
 */
#ifndef NGX_HTTP_VOTE_REVOCATIONS_H
#define NGX_HTTP_VOTE_REVOCATIONS_H

#include "ngx_http_vote.h"

ngx_int_t ngx_http_vote_revocations_init(ngx_cycle_t               *cycle,
                                         ngx_http_vote_main_conf_t *vmcf);
void      ngx_http_vote_revocations_exit(ngx_cycle_t *cycle);

/* 1 once every partition of the topic was read to its end */
ngx_uint_t ngx_http_vote_revocations_loaded(void);
ngx_uint_t ngx_http_vote_is_revoked(const char *jti);

#endif
