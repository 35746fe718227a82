/*
 * revoked.c - a chained hash set of revoked jti with expiry sweep (revoked.h).
 *
 * A read-write lock: every authenticated read checks the set, only logouts
 * and the Kafka consumer write.
 */
#include "revoked.h"

#include "revocation.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define NBUCKETS 16384
#define SWEEP_EVERY 1024 /* adds between two expiry sweeps */

typedef struct entry {
    struct entry *next;
    int64_t exp;
    char jti[]; /* NUL-terminated */
} entry;

struct revocations {
    pthread_rwlock_t lock;
    entry *buckets[NBUCKETS];
    long count;
    unsigned adds_since_sweep;
};

static unsigned hash_jti(const char *s)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h % NBUCKETS;
}

revocations *revocations_new(void)
{
    revocations *set = calloc(1, sizeof *set);
    if (set && pthread_rwlock_init(&set->lock, NULL) != 0) {
        free(set);
        return NULL;
    }
    return set;
}

static void free_chain(entry *e)
{
    while (e) {
        entry *next = e->next;
        free(e);
        e = next;
    }
}

void revocations_free(revocations *set)
{
    if (!set)
        return;
    for (int i = 0; i < NBUCKETS; i++)
        free_chain(set->buckets[i]);
    pthread_rwlock_destroy(&set->lock);
    free(set);
}

/* Drops entries whose revocation no longer matters (common/revocation.h's
 * rule); caller holds the write lock. */
static void sweep_expired(revocations *set)
{
    int64_t now = (int64_t)time(NULL);
    for (int i = 0; i < NBUCKETS; i++) {
        entry **pp = &set->buckets[i];
        while (*pp) {
            entry *e = *pp;
            if (!vc_revocation_live(e->exp, now)) {
                *pp = e->next;
                free(e);
                set->count--;
            } else {
                pp = &e->next;
            }
        }
    }
    set->adds_since_sweep = 0;
}

static entry *find(revocations *set, unsigned b, const char *jti)
{
    for (entry *e = set->buckets[b]; e; e = e->next)
        if (strcmp(e->jti, jti) == 0)
            return e;
    return NULL;
}

int revocations_add(revocations *set, const char *jti, int64_t exp)
{
    unsigned b = hash_jti(jti);
    pthread_rwlock_wrlock(&set->lock);
    int rc = 0;
    if (!find(set, b, jti)) {
        size_t len = strlen(jti);
        entry *e = malloc(sizeof *e + len + 1);
        if (e) {
            memcpy(e->jti, jti, len + 1);
            e->exp = exp;
            e->next = set->buckets[b];
            set->buckets[b] = e;
            set->count++;
        } else {
            rc = -1;
        }
    }
    if (++set->adds_since_sweep >= SWEEP_EVERY)
        sweep_expired(set);
    pthread_rwlock_unlock(&set->lock);
    return rc;
}

int revocations_contains(revocations *set, const char *jti)
{
    unsigned b = hash_jti(jti);
    pthread_rwlock_rdlock(&set->lock);
    int found = find(set, b, jti) != NULL;
    pthread_rwlock_unlock(&set->lock);
    return found;
}

long revocations_count(revocations *set)
{
    pthread_rwlock_rdlock(&set->lock);
    long n = set->count;
    pthread_rwlock_unlock(&set->lock);
    return n;
}
