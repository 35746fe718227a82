# 010-votes.t - POST /api/votes: happy paths read back from a real Kafka topic
# with kcat (value, key, headers), and every rejection of the contract with its
# JSON body; after all the 4xx blocks the rejects topic must still be empty.
use Test::Nginx::Socket 'no_plan';
use FindBin; use lib "$FindBin::Bin";
use VoteT;

create_topics('votes', 'rejects');
no_shuffle();

our $HttpConfig = <<'_EOC_';
    vote_kafka_brokers $TEST_NGINX_KAFKA_BROKERS;
    vote_poll_catalog $TEST_NGINX_POLLS;
    log_format vote '$status $vote_msg_id $vote_msg_key';
_EOC_

run_tests();

__DATA__

=== TEST 1: band contest vote without voter: 202, keyed by id
--- http_config eval: $::HttpConfig
--- config
location = /api/votes { vote_enqueue vote; vote_topic $TEST_NGINX_TOPIC-votes; }
--- request
POST /api/votes
{"poll":"band-contest","choice":"quetzal-punk"}
--- more_headers
Content-Type: application/json
--- error_code: 202
--- response_headers
Content-Type: application/json
--- response_body_like: ^\{"id":"[0-9A-HJKMNP-TV-Z]{26}"\}$
--- kafka_readback
topic: votes
key: $id
value_like: ^\{"v":1,"kind":"vote","id":"[0-9A-Z]{26}","poll":"band-contest","choice":"quetzal-punk","attrs":\{\},"received_at":\d{13}\}$

=== TEST 2: election vote with voter and attributes: keyed by voter, attrs kept
--- http_config eval: $::HttpConfig
--- config
location = /api/votes { vote_enqueue vote; vote_topic $TEST_NGINX_TOPIC-votes; }
--- request
POST /api/votes
{"poll":"guatemala-2027","choice":"SEMILLA","voter":"dpi-2547","attrs":{"department":"Quetzaltenango","municipality":"Almolonga","station":"0902-004"}}
--- more_headers
Content-Type: application/json; charset=utf-8
--- error_code: 202
--- kafka_readback
topic: votes
key: dpi-2547
value_like: "poll":"guatemala-2027","choice":"SEMILLA","voter":"dpi-2547","attrs":\{"department":"Quetzaltenango","municipality":"Almolonga","station":"0902-004"\}

=== TEST 3: vote_key from a complex value, $vote_msg_id in the access log
--- http_config eval: $::HttpConfig
--- config
location = /api/votes {
    vote_enqueue vote;
    vote_topic $TEST_NGINX_TOPIC-votes;
    vote_key "$http_x_region:$vote_msg_key";
    access_log logs/vote.log vote;
}
--- request
POST /api/votes
{"poll":"band-contest","choice":"ruta-sur","voter":"fan-1"}
--- more_headers
Content-Type: application/json
X-Region: west
--- error_code: 202
--- kafka_readback
topic: votes
key: west:fan-1

=== TEST 3a: vote_request_id $request_id: the record carries nginx's request id
--- http_config eval: $::HttpConfig
--- config
location = /api/votes {
    vote_enqueue vote;
    vote_topic $TEST_NGINX_TOPIC-votes;
    vote_request_id $request_id;
}
--- request
POST /api/votes
{"poll":"band-contest","choice":"ruta-sur"}
--- more_headers
Content-Type: application/json
--- error_code: 202
--- kafka_readback
topic: votes
request_id: /^[0-9a-f]{32}$/

=== TEST 3b: vote_request_id from a load balancer's header is taken as it is
--- http_config eval: $::HttpConfig
--- config
location = /api/votes {
    vote_enqueue vote;
    vote_topic $TEST_NGINX_TOPIC-votes;
    vote_request_id $http_x_request_id;
}
--- request
POST /api/votes
{"poll":"band-contest","choice":"ruta-sur"}
--- more_headers
Content-Type: application/json
X-Request-Id: lb-7f3a:0001/edge.2
--- error_code: 202
--- kafka_readback
topic: votes
request_id: lb-7f3a:0001/edge.2

=== TEST 3c: a hostile vote_request_id value (spaces, quotes) falls back to the message id
--- http_config eval: $::HttpConfig
--- config
location = /api/votes {
    vote_enqueue vote;
    vote_topic $TEST_NGINX_TOPIC-votes;
    vote_request_id $http_x_request_id;
}
--- request
POST /api/votes
{"poll":"band-contest","choice":"ruta-sur"}
--- more_headers
Content-Type: application/json
X-Request-Id: a" OR 1=1; <script>
--- error_code: 202
--- kafka_readback
topic: votes
request_id: $id

=== TEST 4: malformed JSON -> 400
--- http_config eval: $::HttpConfig
--- config
location = /api/votes { vote_enqueue vote; vote_topic $TEST_NGINX_TOPIC-rejects; }
--- request
POST /api/votes
{"poll":"band-contest",
--- more_headers
Content-Type: application/json
--- error_code: 400
--- response_body_like: ^\{"error":"malformed_json","detail":"invalid JSON at byte \d+: [^"]+"\}$

=== TEST 5: invalid UTF-8 -> 400
--- http_config eval: $::HttpConfig
--- config
location = /api/votes { vote_enqueue vote; vote_topic $TEST_NGINX_TOPIC-rejects; }
--- request eval
"POST /api/votes\n{\"poll\":\"band-contest\",\"choice\":\"ruta-sur\",\"voter\":\"\xc3\x28\"}"
--- more_headers
Content-Type: application/json
--- error_code: 400
--- response_body
{"error":"invalid_utf8","detail":"body is not valid UTF-8"}

=== TEST 6: nesting deeper than vote_max_json_depth -> 400
--- http_config eval: $::HttpConfig
--- config
location = /api/votes { vote_enqueue vote; vote_topic $TEST_NGINX_TOPIC-rejects; }
--- request
POST /api/votes
{"poll":"band-contest","choice":"ruta-sur","attrs":{"a":[[[[1]]]]}}
--- more_headers
Content-Type: application/json
--- error_code: 400
--- response_body
{"error":"too_deep","detail":"JSON nested deeper than 4 levels"}

=== TEST 7: GET -> 405 with Allow
--- http_config eval: $::HttpConfig
--- config
location = /api/votes { vote_enqueue vote; vote_topic $TEST_NGINX_TOPIC-rejects; }
--- request
GET /api/votes
--- error_code: 405
--- response_headers
Allow: POST
--- response_body
{"error":"method_not_allowed","detail":"only POST is allowed here"}

=== TEST 8: body larger than vote_max_body_size -> 413 JSON
--- http_config eval: $::HttpConfig
--- config
location = /api/votes { vote_enqueue vote; vote_topic $TEST_NGINX_TOPIC-rejects; vote_max_body_size 64; }
--- request eval
"POST /api/votes\n{\"poll\":\"band-contest\",\"choice\":\"ruta-sur\",\"voter\":\"" . ("x" x 100) . "\"}"
--- more_headers
Content-Type: application/json
--- error_code: 413
--- response_body
{"error":"body_too_large","detail":"request body is larger than vote_max_body_size"}

=== TEST 9: chunked body larger than vote_max_body_size -> 413 JSON
--- http_config eval: $::HttpConfig
--- config
location = /api/votes { vote_enqueue vote; vote_topic $TEST_NGINX_TOPIC-rejects; vote_max_body_size 16; }
--- raw_request eval
"POST /api/votes HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n14\r\n{\"poll\":\"band-contes\r\n14\r\nt\",\"choice\":\"ruta-su\r\n2\r\nr}\r\n0\r\n\r\n"
--- error_code: 413
--- response_body_like: "error":"body_too_large"

=== TEST 10: body buffered to a temporary file is still validated and produced
--- http_config eval: $::HttpConfig
--- config
client_body_in_file_only on;
location = /api/votes { vote_enqueue vote; vote_topic $TEST_NGINX_TOPIC-votes; }
--- request
POST /api/votes
{"poll":"band-contest","choice":"lago-atitlan-trio","voter":"from-a-file"}
--- more_headers
Content-Type: application/json
--- error_code: 202
--- error_log
hashed path: 
--- kafka_readback
topic: votes
key: from-a-file

=== TEST 11: not application/json -> 415
--- http_config eval: $::HttpConfig
--- config
location = /api/votes { vote_enqueue vote; vote_topic $TEST_NGINX_TOPIC-rejects; }
--- request
POST /api/votes
{"poll":"band-contest","choice":"ruta-sur"}
--- more_headers
Content-Type: application/jsonx
--- error_code: 415
--- response_body
{"error":"unsupported_media_type","detail":"Content-Type must be application/json"}

=== TEST 12: unknown poll -> 422 with field
--- http_config eval: $::HttpConfig
--- config
location = /api/votes { vote_enqueue vote; vote_topic $TEST_NGINX_TOPIC-rejects; }
--- request
POST /api/votes
{"poll":"eurovision","choice":"ruta-sur"}
--- more_headers
Content-Type: application/json
--- error_code: 422
--- response_body
{"error":"unknown_poll","detail":"no such poll","field":"poll"}

=== TEST 13: unknown choice -> 422
--- http_config eval: $::HttpConfig
--- config
location = /api/votes { vote_enqueue vote; vote_topic $TEST_NGINX_TOPIC-rejects; }
--- request
POST /api/votes
{"poll":"guatemala-2027","choice":"ruta-sur","attrs":{"department":"Peten","municipality":"Flores","station":"1"}}
--- more_headers
Content-Type: application/json
--- error_code: 422
--- response_body
{"error":"unknown_choice","detail":"not a choice of poll guatemala-2027","field":"choice"}

=== TEST 14: extra field -> 422
--- http_config eval: $::HttpConfig
--- config
location = /api/votes { vote_enqueue vote; vote_topic $TEST_NGINX_TOPIC-rejects; }
--- request
POST /api/votes
{"poll":"band-contest","choice":"ruta-sur","weight":10}
--- more_headers
Content-Type: application/json
--- error_code: 422
--- response_body
{"error":"unknown_field","detail":"unknown field","field":"weight"}

=== TEST 15: missing required attribute -> 422
--- http_config eval: $::HttpConfig
--- config
location = /api/votes { vote_enqueue vote; vote_topic $TEST_NGINX_TOPIC-rejects; }
--- request
POST /api/votes
{"poll":"guatemala-2027","choice":"UNE","attrs":{"department":"Peten","municipality":"Flores"}}
--- more_headers
Content-Type: application/json
--- error_code: 422
--- response_body
{"error":"missing_field","detail":"required attribute is missing","field":"attrs.station"}

=== TEST 16: wrong type -> 422
--- http_config eval: $::HttpConfig
--- config
location = /api/votes { vote_enqueue vote; vote_topic $TEST_NGINX_TOPIC-rejects; }
--- request
POST /api/votes
{"poll":"band-contest","choice":["ruta-sur"]}
--- more_headers
Content-Type: application/json
--- error_code: 422
--- response_body
{"error":"wrong_type","detail":"must be a string","field":"choice"}

=== TEST 17: empty body -> 400
--- http_config eval: $::HttpConfig
--- config
location = /api/votes { vote_enqueue vote; vote_topic $TEST_NGINX_TOPIC-rejects; }
--- request
POST /api/votes
--- more_headers
Content-Type: application/json
--- error_code: 400
--- response_body
{"error":"malformed_json","detail":"empty body"}

=== TEST 18: nothing was produced for any 4xx above
--- http_config eval: $::HttpConfig
--- config
location = /api/votes { vote_enqueue vote; vote_topic $TEST_NGINX_TOPIC-rejects; }
--- request
GET /api/votes
--- error_code: 405
--- kafka_count: rejects 0
