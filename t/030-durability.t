# 030-durability.t - the two durability modes and honest failures.
#   broker mode: 202 only after the broker acknowledged (read back at once);
#   unreachable broker: broker mode answers 503 + Retry-After after
#   vote_ack_timeout (never a false 202), local mode answers 202 and says so in
#   the log when the exit flush cannot deliver; a full producer queue is 503;
#   a client that disconnects while waiting for the ack leaves no dangling
#   request (the late delivery report, failed or successful, is handled; run
#   under valgrind to prove there is no use-after-free); when nothing was
#   delivered for vote_stall_timeout new messages are refused (503) instead of
#   piling up; a quit flushes messages still lingering in librdkafka's queue
#   (read back after nginx exited).
use Test::Nginx::Socket 'no_plan';
use FindBin; use lib "$FindBin::Bin";
use VoteT;

create_topics('votes', 'flush', 'late', 'split');
no_shuffle();

our $Real = <<'_EOC_';
    vote_kafka_brokers $TEST_NGINX_KAFKA_BROKERS;
    vote_poll_catalog $TEST_NGINX_POLLS;
_EOC_

# nothing listens on port 1: every connection attempt is refused at once
our $Down = <<'_EOC_';
    vote_kafka_brokers 127.0.0.1:1;
    vote_poll_catalog $TEST_NGINX_POLLS;
    vote_flush_timeout 500ms;
_EOC_

run_tests();

__DATA__

=== TEST 1: broker mode: 202 after the broker acknowledged, record already readable
--- http_config eval: $::Real
--- config
location = /api/votes { vote_enqueue vote; vote_durability broker; vote_topic $TEST_NGINX_TOPIC-votes; }
--- request
POST /api/votes
{"poll":"band-contest","choice":"marimba-electrica","voter":"acked-1"}
--- more_headers
Content-Type: application/json
--- error_code: 202
--- kafka_readback
topic: votes
key: acked-1

=== TEST 2: broker mode, broker unreachable: 503 + Retry-After after vote_ack_timeout
--- http_config eval: $::Down
--- config
location = /api/votes {
    vote_enqueue vote; vote_durability broker; vote_ack_timeout 700ms; vote_retry_after 3;
    vote_topic $TEST_NGINX_TOPIC-votes;
}
--- request
POST /api/votes
{"poll":"band-contest","choice":"ruta-sur"}
--- more_headers
Content-Type: application/json
--- error_code: 503
--- response_headers
Retry-After: 3
--- response_body
{"error":"ack_timeout","detail":"Kafka did not acknowledge the message in time"}
--- error_log
within vote_ack_timeout

=== TEST 3: local mode, broker unreachable: 202 (queued), and the lost message is reported at exit
--- http_config eval: $::Down
--- config
location = /api/votes { vote_enqueue vote; vote_topic $TEST_NGINX_TOPIC-votes; }
--- request
POST /api/votes
{"poll":"band-contest","choice":"ruta-sur"}
--- more_headers
Content-Type: application/json
--- error_code: 202
--- shutdown_error_log
queued kafka messages/requests (at most 500 ms)
kafka messages/requests not delivered within vote_flush_timeout 500 ms; they are lost

=== TEST 4: producer queue full: 503 queue_full, nothing polled or retried in the handler
--- http_config eval: $::Down . "    vote_kafka_property queue.buffering.max.messages 1;\n"
--- config
location = /api/votes { vote_enqueue vote; vote_topic $TEST_NGINX_TOPIC-votes; }
--- request eval
["POST /api/votes\n{\"poll\":\"band-contest\",\"choice\":\"ruta-sur\"}",
 "POST /api/votes\n{\"poll\":\"band-contest\",\"choice\":\"ruta-sur\"}"]
--- more_headers
Content-Type: application/json
--- error_code eval
[202, 503]
--- response_body_like eval
['^\{"id":"[0-9A-Z]{26}"\}$', '^\{"error":"queue_full","detail":"Local: Queue full"\}$']

=== TEST 5: client disconnects while waiting for the ack; the late delivery report finds no request
--- http_config eval: $::Down
--- config
location = /api/votes {
    vote_enqueue vote; vote_durability broker; vote_ack_timeout 5s;
    vote_topic $TEST_NGINX_TOPIC-votes;
}
--- request
POST /api/votes
{"poll":"band-contest","choice":"ruta-sur"}
--- more_headers
Content-Type: application/json
--- timeout: 1
--- abort
--- ignore_response
--- wait: 1.5
--- error_log
client prematurely closed connection
--- shutdown_error_log
failed: Local: Purged in queue (request already answered or gone)

=== TEST 6: a client disconnects while waiting; the real ack arrives later and is handled
--- http_config eval: $::Real . "    vote_kafka_property linger.ms 2500;\n"
--- config
location = /api/votes {
    vote_enqueue vote; vote_durability broker; vote_ack_timeout 10s;
    vote_topic $TEST_NGINX_TOPIC-late;
}
--- request
POST /api/votes
{"poll":"band-contest","choice":"ruta-sur","voter":"gone-before-ack"}
--- more_headers
Content-Type: application/json
--- timeout: 1
--- abort
--- ignore_response
--- wait: 6
--- error_log
client prematurely closed connection
vote: delivered, the request was already answered or gone

=== TEST 7: ... and that message is in Kafka exactly once
--- http_config eval: $::Real
--- config
location = /x { return 204; }
--- request
GET /x
--- error_code: 204
--- kafka_count: late 1

=== TEST 8: no delivery for vote_stall_timeout: new messages are refused with 503, not queued
# the local 202 leaves a message waiting; the broker-mode request waits out its ack
# timeout (past vote_stall_timeout); from then on both kinds of location answer 503.
# The stall's log line is checked in TEST 9: it is written once, during the third
# request, and Test::Nginx checks --- error_log after each request.
--- http_config eval: $::Down
--- config
vote_stall_timeout 1s;
location = /l { vote_enqueue vote; vote_topic $TEST_NGINX_TOPIC-votes; }
location = /b { vote_enqueue vote; vote_topic $TEST_NGINX_TOPIC-votes; vote_durability broker; vote_ack_timeout 1500ms; }
--- request eval
["POST /l\n{\"poll\":\"band-contest\",\"choice\":\"ruta-sur\"}",
 "POST /b\n{\"poll\":\"band-contest\",\"choice\":\"ruta-sur\"}",
 "POST /l\n{\"poll\":\"band-contest\",\"choice\":\"ruta-sur\"}",
 "POST /b\n{\"poll\":\"band-contest\",\"choice\":\"ruta-sur\"}"]
--- more_headers
Content-Type: application/json
--- error_code eval
[202, 503, 503, 503]
--- response_body_like eval
['^\{"id"', '"error":"ack_timeout"', '"error":"kafka_unavailable"', '"error":"kafka_unavailable"']

=== TEST 9: the stall is logged once, by the first request it refuses
# --- init queues one message (202) and waits past vote_stall_timeout; the one checked
# request is then refused and logs the stall, so the line is in that request's window
--- http_config eval: $::Down
--- config
vote_stall_timeout 1s;
location = /l { vote_enqueue vote; vote_topic $TEST_NGINX_TOPIC-votes; }
--- init
my $st = VoteT::http_request('POST', '/l', '{"poll":"band-contest","choice":"ruta-sur"}',
                             'Content-Type' => 'application/json');
die "the message to stall on was answered $st, not 202\n" unless $st == 202;
select(undef, undef, undef, 1.3);
--- request
POST /l
{"poll":"band-contest","choice":"ruta-sur"}
--- more_headers
Content-Type: application/json
--- error_code: 503
--- response_body_like: "error":"kafka_unavailable"
--- error_log
vote: kafka stalled: 1 messages waiting, none delivered for 1000 ms; refusing new messages with 503

=== TEST 10: local mode with a long linger: 202 at once, the quit flushes it to Kafka
--- http_config eval: $::Real . "    vote_kafka_property linger.ms 30000;\n"
--- config
location = /api/votes { vote_enqueue vote; vote_topic $TEST_NGINX_TOPIC-flush; }
--- request
POST /api/votes
{"poll":"band-contest","choice":"ruta-sur","voter":"flushed-at-exit"}
--- more_headers
Content-Type: application/json
--- error_code: 202
--- shutdown_error_log
vote: flushing 1 queued kafka messages

=== TEST 11: ... and the flushed message is in the topic (checked after that nginx exited)
--- http_config eval: $::Real
--- config
location = /x { return 204; }
--- request
GET /x
--- error_code: 204
--- kafka_count: flush 1

=== TEST 12: vote_kafka_local_property: local locations get their own producer (30 s linger here), broker ones keep the short one
--- http_config eval: $::Real . "    vote_kafka_local_property linger.ms 30000;\n"
--- config
location = /l { vote_enqueue vote; vote_topic $TEST_NGINX_TOPIC-split; }
location = /b { vote_enqueue vote; vote_topic $TEST_NGINX_TOPIC-split; vote_durability broker; vote_ack_timeout 5s; }
--- request eval
["POST /l\n{\"poll\":\"band-contest\",\"choice\":\"ruta-sur\"}",
 "POST /b\n{\"poll\":\"band-contest\",\"choice\":\"ruta-sur\"}"]
--- more_headers
Content-Type: application/json
--- error_code eval
[202, 202]
--- timeout: 4
--- shutdown_error_log eval
qr/vote: flushing 1 queued kafka messages\S* \(at most \d+ ms\), producer vote-edge-\d+-local/

=== TEST 13: ... both messages are in the topic (checked after that nginx exited)
--- http_config eval: $::Real
--- config
location = /x { return 204; }
--- request
GET /x
--- error_code: 204
--- kafka_count: split 2
