/*
 * kafka_conf.c - librdkafka property pass-through (see kafka_conf.h).
 */
#include "kafka_conf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KV_MAX 4096

int vc_kafka_conf_set(rd_kafka_conf_t *conf, const char *key, const char *value, char *err,
                      size_t errlen)
{
    char rderr[512];

    if (rd_kafka_conf_set(conf, key, value, rderr, sizeof(rderr)) != RD_KAFKA_CONF_OK) {
        snprintf(err, errlen, "kafka property \"%s\": %s", key, rderr);
        return -1;
    }
    return 0;
}

int vc_kafka_conf_set_table(rd_kafka_conf_t *conf, const char *const table[][2], size_t n,
                            char *err, size_t errlen)
{
    size_t i;

    for (i = 0; i < n; i++) {
        if (vc_kafka_conf_set(conf, table[i][0], table[i][1], err, errlen) < 0) {
            return -1;
        }
    }
    return 0;
}

static void trim(const char **s, const char **e)
{
    while (*s < *e && (**s == ' ' || **s == '\t' || **s == '\r' || **s == '\n'))
        (*s)++;
    while (*e > *s && ((*e)[-1] == ' ' || (*e)[-1] == '\t' || (*e)[-1] == '\r' || (*e)[-1] == '\n'))
        (*e)--;
}

int vc_kafka_conf_apply_kv(rd_kafka_conf_t *conf, const char *kv, size_t len, char *err,
                           size_t errlen)
{
    char key[256], value[KV_MAX];
    const char *eq = memchr(kv, '=', len);
    const char *ks = kv, *ke, *vs, *ve = kv + len;

    if (eq == NULL) {
        snprintf(err, errlen, "kafka property \"%.*s\": expected key=value",
                 (int)(len > 200 ? 200 : len), kv);
        return -1;
    }
    ke = eq;
    vs = eq + 1;
    trim(&ks, &ke);
    trim(&vs, &ve);
    if (ks == ke || (size_t)(ke - ks) >= sizeof(key) || (size_t)(ve - vs) >= sizeof(value)) {
        snprintf(err, errlen, "kafka property \"%.*s\": empty or too long key/value",
                 (int)(len > 200 ? 200 : len), kv);
        return -1;
    }
    memcpy(key, ks, (size_t)(ke - ks));
    key[ke - ks] = '\0';
    memcpy(value, vs, (size_t)(ve - vs));
    value[ve - vs] = '\0';
    return vc_kafka_conf_set(conf, key, value, err, errlen);
}

int vc_kafka_conf_apply_list(rd_kafka_conf_t *conf, const char *list, char *err, size_t errlen)
{
    const char *p = list;

    if (p == NULL) {
        return 0;
    }
    while (*p) {
        size_t n = strcspn(p, ",\n");
        const char *s = p, *e = p + n;
        trim(&s, &e);
        if (s < e && *s != '#') {
            if (vc_kafka_conf_apply_kv(conf, s, (size_t)(e - s), err, errlen) < 0) {
                return -1;
            }
        }
        p += n;
        if (*p)
            p++;
    }
    return 0;
}
