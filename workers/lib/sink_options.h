/*
 * sink_options.h - the command-line/environment options every sink shares, as rows of a
 * wconfig table that write straight into the sink's struct sink_config (kconsumer.h).
 *
 * Each sink embeds one struct sink_config in its options and starts its option table with
 * SINK_KAFKA_OPTIONS(...), so the Kafka, batching and backoff flags are spelled once and
 * sink_run() gets the parsed values without a copy.
 */
#ifndef WORKERS_SINK_OPTIONS_H
#define WORKERS_SINK_OPTIONS_H

#include "kconsumer.h"
#include "wconfig.h"

/* cfg: the sink's struct sink_config; ENV: its environment prefix ("VOTE_SINK"); NAME: its
 * name (default group and client.id); TOPIC, DLQ: default topics. */
#define SINK_KAFKA_OPTIONS(cfg, ENV, NAME, TOPIC, DLQ)                                             \
    { "brokers",      "KAFKA_BROKERS",  WOPT_STR,                                                  \
      &(cfg).brokers, "127.0.0.1:9092", "Kafka bootstrap servers" },                               \
        { "topic", ENV "_TOPIC", WOPT_STR, &(cfg).topic, TOPIC, "topic to consume" },              \
        { "group", ENV "_GROUP", WOPT_STR, &(cfg).group, NAME, "consumer group id" },              \
        { "dlq-topic", ENV "_DLQ_TOPIC",                                                           \
          WOPT_STR,    &(cfg).dlq_topic,                                                           \
          DLQ,         "dead-letter topic for poison messages" },                                  \
        { "client-id", ENV "_CLIENT_ID", WOPT_STR, &(cfg).client_id, NAME, "Kafka client.id" },    \
        { "kafka-props", ENV "_KAFKA_PROPS",                                                       \
          WOPT_STR,      &(cfg).kafka_props,                                                       \
          NULL,          "extra librdkafka properties key=value,key=value" },                      \
        { "batch-max",      "SINK_BATCH_MAX", WOPT_INT,                                            \
          &(cfg).batch_max, "1000",           "max messages per batch" },                          \
        { "batch-ms", "SINK_BATCH_MS",                                                             \
          WOPT_INT,   &(cfg).batch_ms,                                                             \
          "50",       "max milliseconds to fill a batch" },                                        \
        { "commit-interval-ms",                                                                    \
          "SINK_COMMIT_INTERVAL_MS",                                                               \
          WOPT_INT,                                                                                \
          &(cfg).commit_interval_ms,                                                               \
          "1000",                                                                                  \
          "commit Kafka offsets at most this often (0 = after every batch; always on revoke and "  \
          "stop)" },                                                                               \
        { "backoff-base-ms",                                                                       \
          "SINK_BACKOFF_BASE_MS",                                                                  \
          WOPT_INT,                                                                                \
          &(cfg).backoff_base_ms,                                                                  \
          "100",                                                                                   \
          "first retry delay after a store failure" },                                             \
    {                                                                                              \
        "backoff-cap-ms", "SINK_BACKOFF_CAP_MS", WOPT_INT, &(cfg).backoff_cap_ms, "5000",          \
            "longest retry delay"                                                                  \
    }

#define SINK_REPLAY_OPTION(cfg)                                                                    \
    {                                                                                              \
        "replay-from-start", "SINK_REPLAY_FROM_START", WOPT_INT, &(cfg).replay_from_start, "0",    \
            "1 = re-read every partition from offset 0 (idempotent replay)"                        \
    }

#endif
