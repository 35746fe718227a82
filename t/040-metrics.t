# 040-metrics.t - the Prometheus location: requests by kind and status,
# validation and auth failures by reason, produce errors, delivery latency
# histogram (bounds printed as the daemons print theirs), in-flight and queue
# gauges; counted once per answer and summed
# over two workers through the shared memory zone.
use Test::Nginx::Socket 'no_plan';
use FindBin; use lib "$FindBin::Bin";
use VoteT;

create_topics('votes');
no_shuffle();
master_on();
workers(2);

our $HttpConfig = <<'_EOC_';
    vote_kafka_brokers $TEST_NGINX_KAFKA_BROKERS;
    vote_poll_catalog $TEST_NGINX_POLLS;
    vote_jwt_secrets $TEST_NGINX_JWT_SECRETS;
_EOC_

our $Config = <<"_EOC_";
    location = /api/votes { vote_enqueue vote; vote_durability broker; vote_topic $ENV{TEST_NGINX_TOPIC}-votes; }
    location = /api/chat/messages { vote_enqueue chat; vote_topic $ENV{TEST_NGINX_TOPIC}-votes; }
    location = /metrics { vote_metrics; }
_EOC_

my $vote = "POST /api/votes\n{\"poll\":\"band-contest\",\"choice\":\"ruta-sur\"}";
our @Reqs = (($vote) x 5,
             "POST /api/votes\n{\"poll\":\"band-contest\",\"choice\":\"nope\"}",
             "POST /api/votes\n{\"poll\":",
             "POST /api/chat/messages\n{\"to\":\"bob\",\"text\":\"x\"}",
             "GET /metrics");

run_tests();

__DATA__

=== TEST 1: counters after 5 accepted votes, 2 invalid votes and one unauthenticated chat
--- http_config eval: $::HttpConfig
--- config eval: $::Config
--- request eval
[@::Reqs]
--- more_headers
Content-Type: application/json
--- error_code eval
[202, 202, 202, 202, 202, 422, 400, 401, 200]
--- response_body_like eval
[('^\{"id"') x 5, 'unknown_choice', 'malformed_json', 'missing_token',
 '(?s)vote_edge_requests_total\{kind="vote",status="202"\} 5\n.*'
 . 'vote_edge_requests_total\{kind="vote",status="400"\} 1\n.*'
 . 'vote_edge_requests_total\{kind="vote",status="422"\} 1\n.*'
 . 'vote_edge_requests_total\{kind="chat",status="401"\} 1\n.*'
 . 'vote_edge_validation_failures_total\{reason="malformed_json"\} 1\n.*'
 . 'vote_edge_validation_failures_total\{reason="unknown_choice"\} 1\n.*'
 . 'vote_edge_auth_failures_total\{reason="missing"\} 1\n.*'
 . 'vote_edge_produce_errors_total\{reason="queue_full"\} 0\n.*'
 . 'vote_edge_deliveries_total\{kind="vote",result="ok"\} 5\n.*'
 . 'vote_edge_delivery_latency_seconds_bucket\{kind="vote",le="0\.0005"\} \d+\n'
 . 'vote_edge_delivery_latency_seconds_bucket\{kind="vote",le="0\.001"\} \d+\n.*'
 . 'vote_edge_delivery_latency_seconds_bucket\{kind="vote",le="1"\} \d+\n'
 . 'vote_edge_delivery_latency_seconds_bucket\{kind="vote",le="2\.5"\} \d+\n.*'
 . 'vote_edge_delivery_latency_seconds_bucket\{kind="vote",le="\+Inf"\} 5\n.*'
 . 'vote_edge_delivery_latency_seconds_count\{kind="vote"\} 5\n.*'
 . 'vote_edge_inflight_messages 0\n.*vote_edge_queue_messages \d+\n$']
--- response_headers eval
[('Content-Type: application/json') x 8, 'Content-Type: text/plain; version=0.0.4']

=== TEST 2: metrics location answers GET only
--- http_config eval: $::HttpConfig
--- config eval: $::Config
--- request
POST /metrics
--- error_code: 405
