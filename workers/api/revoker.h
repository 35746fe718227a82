/*
 * revoker.h - logout revocations over Kafka (topic auth.revocations).
 *
 * Chosen mechanism (docs/CONTRACT.md): on logout the api produces
 * {"jti","exp"} keyed by jti with acks=all and answers 204 only after the
 * broker acknowledged it.  The edge module reads the topic (all partitions,
 * no group) into memory and refuses the token; this daemon reads it too, so
 * a logout served by any api replica is honoured by every replica.
 */
#ifndef API_REVOKER_H
#define API_REVOKER_H

#include <stdint.h>

#include "config.h"
#include "revoked.h"

typedef struct revoker revoker;

/* Creates the producer and starts the consumer thread, which replays the
 * last token_ttl seconds of the topic into set.  NULL on failure. */
revoker *revoker_start(const api_config *cfg, revocations *set);

/* Produces the revocation and blocks until the broker acked it (or the
 * delivery timeout, 5 s, passed).  0 on ack, -1 otherwise. */
int revoker_publish(revoker *rv, const char *jti, int64_t exp);

/* 1 once the consumer has caught up with the topic's backlog at start. */
int revoker_ready(revoker *rv);

void revoker_stop(revoker *rv);

#endif
