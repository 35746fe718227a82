# 050-tls-http2.t - the module's locations behind "listen ... ssl http2", written the
# way Test::Nginx users write it: a TLS server in --- http_config on
# 127.0.0.1:$TEST_NGINX_SERVER_PORT (more specific than the default server's *:PORT,
# so it gets the connections), --- http2 and --- curl_protocol: https (the runner
# sends through curl), the server certificate verified (t/cert/). Votes (local and
# broker durability) are read back from Kafka, chat authenticates an HS256 token,
# rejections keep their JSON errors, metrics count the HTTP/2 requests.
use Test::Nginx::Socket 'no_plan';
use FindBin; use lib "$FindBin::Bin";
use VoteT;

create_topics('votes', 'chat');
no_shuffle();

# the TLS server: the block's --- config (module locations) goes inside it; the
# default server keeps a location of its own so a request that missed TLS is seen
add_block_preprocessor(sub {
    my $block = shift;
    my $locations = $block->config // '';
    $block->set_value(http_config => <<"_EOC_");
    vote_kafka_brokers \$TEST_NGINX_KAFKA_BROKERS;
    vote_poll_catalog \$TEST_NGINX_POLLS;
    vote_jwt_secrets \$TEST_NGINX_JWT_SECRETS;

    server {
        listen 127.0.0.1:\$TEST_NGINX_SERVER_PORT ssl http2;
        server_name localhost;
        ssl_certificate     \$TEST_NGINX_CERT_DIR/test-server.crt;
        ssl_certificate_key \$TEST_NGINX_CERT_DIR/test-server.key;
$locations
    }
_EOC_
    $block->set_value(config => "location /api/ { return 421 'not over TLS'; }\n");
    $block->set_value(curl_options => "--cacert $ENV{TEST_NGINX_CERT_DIR}/test-server.crt");
});

sub hdr { "Content-Type: application/json\nAuthorization: Bearer " . jwt(@_) }

run_tests();

__DATA__

=== TEST 1: vote over TLS + HTTP/2: 202 with an id, the record is in Kafka
--- config
location = /api/votes { vote_enqueue vote; vote_topic $TEST_NGINX_TOPIC-votes; }
--- http2
--- curl_protocol: https
--- request
POST /api/votes
{"poll":"band-contest","choice":"quetzal-punk","voter":"h2-voter-1"}
--- more_headers
Content-Type: application/json
--- error_code: 202
--- response_body_like: ^\{"id":"[0-9A-Z]{26}"\}$
--- kafka_readback
topic: votes
key: h2-voter-1
value_like: "choice":"quetzal-punk"
--- no_error_log
[error]

=== TEST 2: broker durability over HTTP/2: the 202 waits for the broker's ack
--- config
location = /api/votes { vote_enqueue vote; vote_durability broker; vote_ack_timeout 10s; vote_topic $TEST_NGINX_TOPIC-votes; }
--- http2
--- curl_protocol: https
--- request
POST /api/votes
{"poll":"band-contest","choice":"ruta-sur","voter":"h2-acked"}
--- more_headers
Content-Type: application/json
--- error_code: 202
--- kafka_readback
topic: votes
key: h2-acked

=== TEST 3: an invalid vote over HTTP/2 keeps its JSON error
--- config
location = /api/votes { vote_enqueue vote; vote_topic $TEST_NGINX_TOPIC-votes; }
--- http2
--- curl_protocol: https
--- request
POST /api/votes
{"poll":"band-contest","choice":"not-a-band"}
--- more_headers
Content-Type: application/json
--- error_code: 422
--- response_body_like: ^\{"error":"unknown_choice",

=== TEST 4: a body over vote_max_body_size over HTTP/2: 413 JSON
--- config
location = /api/votes { vote_enqueue vote; vote_topic $TEST_NGINX_TOPIC-votes; vote_max_body_size 64; }
--- http2
--- curl_protocol: https
--- request eval
"POST /api/votes\n{\"poll\":\"band-contest\",\"choice\":\"ruta-sur\",\"voter\":\"" . ("x" x 100) . "\"}"
--- more_headers
Content-Type: application/json
--- error_code: 413
--- response_body
{"error":"body_too_large","detail":"request body is larger than vote_max_body_size"}

=== TEST 5: chat with a valid token over TLS + HTTP/2: 202, sender from the token
--- config
location = /api/chat/messages { vote_enqueue chat; vote_topic $TEST_NGINX_TOPIC-chat; }
--- http2
--- curl_protocol: https
--- request
POST /api/chat/messages
{"to":"bob","text":"over h2"}
--- more_headers eval
::hdr(sub => 'zoe')
--- error_code: 202
--- response_body_like: ^\{"id":"[0-9A-Z]{26}","conversation":"bob:zoe"\}$
--- kafka_readback
topic: chat
key: bob:zoe
value_like: "from":"zoe","to":"bob","text":"over h2"

=== TEST 6: chat without a token over HTTP/2: 401
--- config
location = /api/chat/messages { vote_enqueue chat; vote_topic $TEST_NGINX_TOPIC-chat; }
--- http2
--- curl_protocol: https
--- request
POST /api/chat/messages
{"to":"bob","text":"who am i"}
--- more_headers
Content-Type: application/json
--- error_code: 401
--- response_body_like: ^\{"error":"missing_token"

=== TEST 7: metrics over HTTP/2 count the HTTP/2 votes
--- config
location = /api/votes { vote_enqueue vote; vote_durability broker; vote_ack_timeout 10s; vote_topic $TEST_NGINX_TOPIC-votes; }
location = /metrics { vote_metrics; }
--- http2
--- curl_protocol: https
--- request eval
["POST /api/votes\n{\"poll\":\"band-contest\",\"choice\":\"ruta-sur\"}",
 "POST /api/votes\n{\"poll\":\"band-contest\",\"choice\":\"nope\"}",
 "GET /metrics"]
--- more_headers
Content-Type: application/json
--- error_code eval
[202, 422, 200]
--- response_headers eval
['', '', 'Content-Type: text/plain; version=0.0.4']
--- response_body_like eval
['^\{"id"', 'unknown_choice',
 '(?s)vote_edge_requests_total\{kind="vote",status="202"\} 1\n.*'
 . 'vote_edge_requests_total\{kind="vote",status="422"\} 1\n.*'
 . 'vote_edge_deliveries_total\{kind="vote",result="ok"\} 1\n']

=== TEST 8: the module's locations are only in the TLS server: another address gets the default one
A GET: the default server's `return` answers before a POST body is read, and
over HTTP/2 curl may then report the stream reset instead of the answer.
--- config
location = /api/votes { vote_enqueue vote; vote_topic $TEST_NGINX_TOPIC-votes; }
--- http2
--- server_addr_for_client: 127.0.0.2
--- request
GET /api/votes
--- error_code: 421
--- response_body chomp
not over TLS
