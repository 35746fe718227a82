# 001-config.t - configuration errors of ngx_http_vote_module fail `nginx` start
# (and so `nginx -t`) with a message naming the problem; a complete
# configuration starts.  No Kafka traffic is needed: the producer connects lazily.
use Test::Nginx::Socket 'no_plan';
use FindBin; use lib "$FindBin::Bin";
use VoteT;

no_shuffle();
run_tests();

__DATA__

=== TEST 1: complete configuration starts and serves
--- http_config
vote_kafka_brokers $TEST_NGINX_KAFKA_BROKERS;
vote_poll_catalog $TEST_NGINX_POLLS;
vote_jwt_secrets $TEST_NGINX_JWT_SECRETS;
--- config
location = /api/votes { vote_enqueue vote; }
location = /api/chat/messages { vote_enqueue chat; }
location = /metrics { vote_metrics; }
--- request
GET /metrics
--- error_code: 200
--- response_body_like: vote_edge_requests_total\{kind="vote",status="202"\} 0

=== TEST 2: vote_enqueue without vote_kafka_brokers
--- http_config
vote_poll_catalog $TEST_NGINX_POLLS;
--- config
location = /api/votes { vote_enqueue vote; }
--- must_die
--- error_log
"vote_enqueue" requires "vote_kafka_brokers"

=== TEST 3: vote location without a poll catalog
--- http_config
vote_kafka_brokers $TEST_NGINX_KAFKA_BROKERS;
--- config
location = /api/votes { vote_enqueue vote; }
--- must_die
--- error_log
"vote_enqueue vote" requires "vote_poll_catalog"

=== TEST 4: chat location without JWT secrets
--- http_config
vote_kafka_brokers $TEST_NGINX_KAFKA_BROKERS;
--- config
location = /api/chat/messages { vote_enqueue chat; }
--- must_die
--- error_log
"vote_enqueue chat" requires "vote_jwt_secrets"

=== TEST 5: missing catalog file
--- http_config
vote_kafka_brokers $TEST_NGINX_KAFKA_BROKERS;
vote_poll_catalog /nonexistent/polls.json;
--- config
location = /api/votes { vote_enqueue vote; }
--- must_die
--- error_log
vote_poll_catalog: open("/nonexistent/polls.json"): No such file or directory

=== TEST 6: broken catalog (duplicate choice)
--- http_config
vote_kafka_brokers $TEST_NGINX_KAFKA_BROKERS;
vote_poll_catalog ../html/bad-polls.json;
--- config
location = /api/votes { vote_enqueue vote; }
--- user_files
>>> bad-polls.json
{"polls":[{"id":"p","title":"t","choices":["a","a"],"attrs":[]}]}
--- must_die
--- error_log
poll "p": duplicate choices "a"

=== TEST 7: JWT secret too short
--- http_config
vote_kafka_brokers $TEST_NGINX_KAFKA_BROKERS;
vote_jwt_secrets ../html/jwt;
--- config
location = /api/chat/messages { vote_enqueue chat; }
--- user_files
>>> jwt
k1 short
--- must_die
--- error_log
line 1: secret shorter than 16 bytes

=== TEST 8: unknown librdkafka property
--- http_config
vote_kafka_brokers $TEST_NGINX_KAFKA_BROKERS;
vote_kafka_property no.such.property 1;
--- config
location = /m { vote_metrics; }
--- must_die
--- error_log
invalid kafka property "no.such.property"

=== TEST 9: invalid librdkafka property value
--- http_config
vote_kafka_brokers $TEST_NGINX_KAFKA_BROKERS;
vote_kafka_property linger.ms forever;
--- config
location = /m { vote_metrics; }
--- must_die
--- error_log
invalid kafka property "linger.ms"

=== TEST 10: unknown message kind
--- http_config
vote_kafka_brokers $TEST_NGINX_KAFKA_BROKERS;
--- config
location = /x { vote_enqueue poll; }
--- must_die
--- error_log
invalid value "poll" in "vote_enqueue", expected "vote", "chat" or "order"

=== TEST 11: unknown durability
--- http_config
vote_kafka_brokers $TEST_NGINX_KAFKA_BROKERS;
vote_poll_catalog $TEST_NGINX_POLLS;
--- config
location = /x { vote_enqueue vote; vote_durability disk; }
--- must_die
--- error_log
invalid value "disk"

=== TEST 12: vote_enqueue twice in one location
--- http_config
vote_kafka_brokers $TEST_NGINX_KAFKA_BROKERS;
vote_poll_catalog $TEST_NGINX_POLLS;
--- config
location = /x { vote_enqueue vote; vote_enqueue vote; }
--- must_die
--- error_log
"vote_enqueue" directive is duplicate

=== TEST 13: JSON depth below what a vote needs
--- http_config
vote_kafka_brokers $TEST_NGINX_KAFKA_BROKERS;
vote_poll_catalog $TEST_NGINX_POLLS;
--- config
location = /x { vote_enqueue vote; vote_max_json_depth 1; }
--- must_die
--- error_log
"vote_max_json_depth" >= 2

=== TEST 14: a misspelt vote_kafka_local_property fails the start
--- http_config
vote_kafka_brokers $TEST_NGINX_KAFKA_BROKERS;
vote_poll_catalog $TEST_NGINX_POLLS;
vote_kafka_local_property linger.mss 20;
--- config
location = /api/votes { vote_enqueue vote; }
--- must_die
--- error_log
invalid kafka property "linger.mss"

=== TEST 15: a JWT leeway longer than revocations are kept fails the start
A revocation is kept until exp + 300 s; a longer leeway would let a logged-out
token pass again after its exp, so nginx refuses it.
--- http_config
vote_kafka_brokers $TEST_NGINX_KAFKA_BROKERS;
vote_jwt_secrets $TEST_NGINX_JWT_SECRETS;
--- config
location = /api/chat/messages { vote_enqueue chat; vote_jwt_leeway 301s; }
--- must_die
--- error_log
"vote_jwt_leeway" must be at most 300 seconds
