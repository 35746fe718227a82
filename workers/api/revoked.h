/*
 * revoked.h - the set of logged-out token ids (jti) that have not expired.
 *
 * Fed by our own logouts (immediately) and by the auth.revocations Kafka topic
 * (logouts served by other api replicas).  Entries are dropped once the token
 * would have expired anyway, so the set stays as small as the live tokens.
 */
#ifndef API_REVOKED_H
#define API_REVOKED_H

#include <stdint.h>

typedef struct revocations revocations;

revocations *revocations_new(void);
void revocations_free(revocations *set);
/* 0, or -1 out of memory.  Adding a jti twice is harmless. */
int revocations_add(revocations *set, const char *jti, int64_t exp);
int revocations_contains(revocations *set, const char *jti);
long revocations_count(revocations *set);

#endif
