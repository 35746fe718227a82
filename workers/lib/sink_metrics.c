/* sink_metrics.c - the consumer loop's metrics, registered once per sink_run(). */
#include "sink_loop.h"

void sink_metrics_register(struct sink_loop_metrics *m)
{
    m->consumed = wmetrics_counter("sink_messages_consumed_total", "Kafka messages consumed");
    m->batches = wmetrics_counter("sink_batches_total", "Batches written and committed");
    m->batch_failures = wmetrics_counter("sink_batch_failures_total",
                                         "Batch write attempts that failed and were retried");
    m->dlq = wmetrics_counter("sink_dlq_total", "Poison messages sent to the dead-letter topic");
    m->lag = wmetrics_gauge("sink_lag_messages",
                            "Messages behind the high watermark, summed over assigned partitions");
    m->paused = wmetrics_gauge("sink_paused", "1 while consumption is paused by a store failure");
    m->batch_seconds =
        wmetrics_histogram("sink_batch_seconds", "Batch latency from first attempt to commit");
}
