/*
 * kafka_conf.h - apply "key=value" librdkafka properties to an
 * rd_kafka_conf_t, with readable error text.
 *
 * The edge module passes nginx.conf `vote_kafka_property` lines through this,
 * the sinks (workers/lib/sink_kafka.c) their environment/CLI properties, so
 * every component accepts exactly librdkafka's property names (TLS, SASL,
 * linger, compression, ...).
 */
#ifndef VC_KAFKA_CONF_H
#define VC_KAFKA_CONF_H

#include <stddef.h>

#include <librdkafka/rdkafka.h>

/* Set one property.  Returns 0, or -1 with a message in err. */
int vc_kafka_conf_set(rd_kafka_conf_t *conf, const char *key, const char *value, char *err,
                      size_t errlen);

/* Set each {key, value} of a table (a component's defaults) in order.
 * Returns 0, or -1 with a message naming the first property that failed. */
int vc_kafka_conf_set_table(rd_kafka_conf_t *conf, const char *const table[][2], size_t n,
                            char *err, size_t errlen);

/* Apply one "key=value" string (whitespace around key and value trimmed).
 * Returns 0, or -1 with a message in err (no '=', empty key, unknown property,
 * invalid value). */
int vc_kafka_conf_apply_kv(rd_kafka_conf_t *conf, const char *kv, size_t len, char *err,
                           size_t errlen);

/* Apply a list of "key=value" items separated by newlines or ',' ('#' starts a
 * comment line), e.g. from an environment variable; NULL is an empty list.
 * Stops at the first error. */
int vc_kafka_conf_apply_list(rd_kafka_conf_t *conf, const char *list, char *err, size_t errlen);

#endif
