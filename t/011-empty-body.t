# 011-empty-body.t - an empty request body (Content-Length: 0, or a chunked body
# whose only chunk is the last one) on the vote and chat endpoints is the
# contract's 400 malformed_json with a valid status line, not "HTTP/1.1 000"
# {"error":"internal"}; nothing is produced for any of them.
use Test::Nginx::Socket 'no_plan';
use FindBin; use lib "$FindBin::Bin";
use VoteT;

create_topics('rejects');
no_shuffle();

our $HttpConfig = <<'_EOC_';
    vote_kafka_brokers $TEST_NGINX_KAFKA_BROKERS;
    vote_poll_catalog $TEST_NGINX_POLLS;
    vote_jwt_secrets $TEST_NGINX_JWT_SECRETS;
_EOC_

our $Conf = "location = /api/votes { vote_enqueue vote; vote_topic $ENV{TEST_NGINX_TOPIC}-rejects; }\n"
          . "location = /api/chat/messages { vote_enqueue chat; vote_topic $ENV{TEST_NGINX_TOPIC}-rejects; }";

sub raw { my ($path, $framing, $body, $auth) = @_;
    "POST $path HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nContent-Type: application/json\r\n"
    . ($auth ? "Authorization: Bearer " . jwt(sub => 'zoe') . "\r\n" : '') . "$framing\r\n\r\n$body" }

run_tests();

__DATA__

=== TEST 1: vote, Content-Length: 0 -> 400 with a valid status line
--- http_config eval: $::HttpConfig
--- config eval: $::Conf
--- raw_request eval
::raw('/api/votes', 'Content-Length: 0', '')
--- error_code: 400
--- raw_response_headers_like: ^HTTP/1\.1 400 Bad Request\r\n
--- response_body
{"error":"malformed_json","detail":"empty body"}

=== TEST 2: vote, zero-length chunked body -> 400 with a valid status line
--- http_config eval: $::HttpConfig
--- config eval: $::Conf
--- raw_request eval
::raw('/api/votes', 'Transfer-Encoding: chunked', "0\r\n\r\n")
--- error_code: 400
--- raw_response_headers_like: ^HTTP/1\.1 400 Bad Request\r\n
--- response_body
{"error":"malformed_json","detail":"empty body"}

=== TEST 3: chat with a valid token, Content-Length: 0 -> 400
--- http_config eval: $::HttpConfig
--- config eval: $::Conf
--- raw_request eval
::raw('/api/chat/messages', 'Content-Length: 0', '', 1)
--- error_code: 400
--- raw_response_headers_like: ^HTTP/1\.1 400 Bad Request\r\n
--- response_body
{"error":"malformed_json","detail":"empty body"}

=== TEST 4: chat with a valid token, zero-length chunked body -> 400
--- http_config eval: $::HttpConfig
--- config eval: $::Conf
--- raw_request eval
::raw('/api/chat/messages', 'Transfer-Encoding: chunked', "0\r\n\r\n", 1)
--- error_code: 400
--- raw_response_headers_like: ^HTTP/1\.1 400 Bad Request\r\n
--- response_body
{"error":"malformed_json","detail":"empty body"}

=== TEST 5: nothing was produced for the empty bodies above
--- http_config eval: $::HttpConfig
--- config eval: $::Conf
--- request
GET /api/votes
--- error_code: 405
--- kafka_count: rejects 0
