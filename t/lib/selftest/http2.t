# Self-test of HTTP/2 as the real Test::Nginx does it: TEST_NGINX_USE_HTTP2=1 (set here)
# makes the default server listen with "http2" and curl send every request that can go
# over HTTP/2 (prior knowledge on cleartext); an explicit HTTP/1.0 request stays on the
# socket client; --- curl_protocol: https with --- curl_options reaches a
# "listen 127.0.0.1:PORT ssl http2" server of --- http_config (the more specific address
# wins over the default server's *:PORT). Stock nginx and curl only.
use strict;
use warnings;
use File::Temp ();
use FindBin;
use lib $FindBin::Bin;
use SelfTestPort;
BEGIN {
    $ENV{TEST_NGINX_SERVER_PORT} = selftest_port(7);
    $ENV{TEST_NGINX_SERVROOT} = File::Temp::tempdir('tn-h2-XXXXXX', TMPDIR => 1, CLEANUP => 1);
    $ENV{TEST_NGINX_USE_HTTP2} = 1;
    $ENV{TEST_NGINX_CERT_DIR} = "$FindBin::Bin/../../cert";
}
use Test::Nginx::Socket 'no_plan';

our $Tls = <<'_EOC_';
    server {
        listen 127.0.0.1:$TEST_NGINX_SERVER_PORT ssl http2;
        ssl_certificate     $TEST_NGINX_CERT_DIR/test-server.crt;
        ssl_certificate_key $TEST_NGINX_CERT_DIR/test-server.key;
        location = /t { return 200 "tls $server_protocol https=$https"; }
    }
_EOC_

add_block_preprocessor(sub {
    my $block = shift;
    if (($block->curl_protocol // '') eq 'https') {
        $block->set_value(curl_options => "--cacert $ENV{TEST_NGINX_CERT_DIR}/test-server.crt");
    }
});

no_shuffle();
run_tests();

__DATA__

=== TEST 1: TEST_NGINX_USE_HTTP2: a plain request goes over HTTP/2 (cleartext, prior knowledge)
--- config
    location = /t { return 200 "proto=$server_protocol"; }
--- request
GET /t
--- response_body chomp
proto=HTTP/2.0
--- no_error_log
[error]



=== TEST 2: an explicit HTTP/1.0 request stays on HTTP/1.0
--- config
    location = /t { return 200 "proto=$server_protocol"; }
--- request
GET /t HTTP/1.0
--- response_body chomp
proto=HTTP/1.0



=== TEST 3: a POST body, more_headers and response headers over HTTP/2
--- config
    location = /p {
        add_header X-Seen "$http_x_kind" always;
        return 202 "len=$http_content_length ct=$content_type";
    }
--- request
POST /p
{"poll":"band-contest"}
--- more_headers
Content-Type: application/json
X-Kind: vote
--- error_code: 202
--- response_headers
X-Seen: vote
--- response_body chomp
len=23 ct=application/json



=== TEST 4: several requests, each over its own HTTP/2 connection, checked one by one
--- config
    location = /a { return 200 "A $server_protocol"; }
    location = /b { return 201 "B $server_protocol"; }
--- request eval
["GET /a", "GET /b"]
--- error_code eval
[200, 201]
--- response_body eval
["A HTTP/2.0", "B HTTP/2.0"]



=== TEST 5: TLS + HTTP/2: curl_protocol https reaches the "listen ... ssl http2" server, certificate verified
--- http_config eval: $::Tls
--- config
    location = /t { return 200 "cleartext"; }
--- curl_protocol: https
--- request
GET /t
--- response_body chomp
tls HTTP/2.0 https=on
