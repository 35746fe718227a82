# Self-test of t/lib/Test/Nginx/Socket.pm against the stock nginx binary: every block
# here must pass. Uses only nginx built-ins (return, sub_filter, static files, limits),
# so it does not need our module. Run: prove -I t/lib t/lib/selftest/
use strict;
use warnings;
use File::Temp ();
use FindBin;
use lib $FindBin::Bin;
use SelfTestPort;
BEGIN {
    $ENV{TEST_NGINX_SERVER_PORT} = selftest_port(1);
    $ENV{TEST_NGINX_SERVROOT} = File::Temp::tempdir('tn-selftest-XXXXXX', TMPDIR => 1, CLEANUP => 1);
    $ENV{TEST_NGINX_SELFTEST_WORD} = 'quetzal';
}
use Test::Nginx::Socket 'no_plan';

our $HttpConfig = <<'_EOC_';
    map $http_x_kind $kind_answer { default "none"; vote "ballot"; }
_EOC_

no_shuffle();
run_tests();

__DATA__

=== TEST 1: return 202 with a JSON body
--- config
    location = /t {
        default_type application/json;
        return 202 '{"ok":true}';
    }
--- request
GET /t
--- error_code: 202
--- response_headers
Content-Type: application/json
!X-Not-There
--- response_body chomp
{"ok":true}
--- no_error_log
[error]
[alert]



=== TEST 2: POST body is sent with an exact Content-Length (body is trimmed like the real runner)
--- config
    location = /len {
        return 200 "len=$http_content_length ct=$content_type";
    }
--- request
POST /len
{"poll":"band-contest","choice":"ruta-sur"}
--- more_headers
Content-Type: application/json
--- response_body chomp
len=43 ct=application/json



=== TEST 3: response_body_like and response_headers_like
--- config
    location = /id {
        add_header X-Id "id-$msec" always;
        return 202 '{"id":"$request_id"}';
    }
--- request
POST /id
{}
--- error_code: 202
--- response_headers_like
X-Id: id-\d+\.\d+
--- response_body_like: ^\{"id":"[0-9a-f]{32}"\}$



=== TEST 4: an error_log line is found (missing static file)
--- config
    location /missing/ {
        root /nonexistent-dir-for-selftest;
    }
--- request
GET /missing/x.html
--- error_code: 404
--- response_body_like: 404 Not Found
--- error_log
open() "/nonexistent-dir-for-selftest/missing/x.html" failed
No such file or directory



=== TEST 5: must_die on an unknown directive, message checked on stderr/error log
--- config
    location = /t {
        vote_this_directive_does_not_exist on;
    }
--- must_die
--- error_log
unknown directive "vote_this_directive_does_not_exist"



=== TEST 6: must_die from main_config
--- main_config
worker_rlimit_nofile not-a-number;
--- config
--- must_die
--- error_log eval
qr/invalid number|invalid value|is invalid/



=== TEST 7: chunked response is decoded (sub_filter drops Content-Length)
--- config
    location /static/ {
        root html;
        sub_filter 'hello' 'hola';
        sub_filter_once off;
        sub_filter_types *;
    }
--- user_files
>>> static/a.txt
hello world, hello nginx
--- request
GET /static/a.txt
--- response_headers
Transfer-Encoding: chunked
--- response_body
hola world, hola nginx



=== TEST 8: raw_request is sent byte for byte (HTTP/1.0, no Host)
--- config
    location = /raw {
        return 200 "proto=$server_protocol host=$host";
    }
--- raw_request eval
"GET /raw HTTP/1.0\r\n\r\n"
--- response_body chomp
proto=HTTP/1.0 host=localhost



=== TEST 9: $TEST_NGINX_* variables are expanded in config sections; http_config via eval
--- http_config eval: $::HttpConfig
--- config
    location = /env {
        return 200 "word=$TEST_NGINX_SELFTEST_WORD kind=$kind_answer";
    }
--- request
GET /env
--- more_headers
X-Kind: vote
--- response_body chomp
word=quetzal kind=ballot



=== TEST 10: several requests in one block (request eval returning an array)
--- config
    location = /a { return 200 "A"; }
    location = /b { return 201 "B"; }
--- request eval
["GET /a", "GET /b"]
--- error_code eval
[200, 201]
--- response_body eval
["A", "B"]



=== TEST 11: body larger than client_max_body_size gives 413
--- config
    location = /small {
        client_max_body_size 10;
        return 202;
    }
--- request eval
"POST /small\n" . ("x" x 5000)
--- error_code: 413
--- error_log
client intended to send too large body



=== TEST 12: abort: the client gives up after --- timeout and that is not a failure
--- config
    location /slow/ {
        root html;
        limit_rate 1;
    }
--- user_files
>>> slow/big.txt
0123456789012345678901234567890123456789
--- request
GET /slow/big.txt
--- timeout: 0.3
--- abort
--- ignore_response
--- no_error_log
[alert]



=== TEST 13: HEAD request has no body to read
--- config
    location = /h { return 200 "some body"; }
--- request
HEAD /h
--- response_headers
Content-Length: 9
--- response_body chomp



=== TEST 14: SKIP blocks are not run
--- SKIP
--- config
    location = /t { return 500; }
--- request
GET /t
--- error_code: 200



=== TEST 15: $TEST_NGINX_SERVER_PORT is set for configs (proxy to ourselves)
--- config
    location = /inner { return 200 "inner on $server_port"; }
    location = /outer { proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/inner; }
--- request
GET /outer
--- response_body chomp
inner on $ServerPort
