# 060-orders.t - POST /api/orders, the bookstore's third message kind (issue
# 14): the buyer comes from an HS256 token verified at the edge, the body is
# {"book": <id>, "copies": <n>} by common/shop.c's rules, the record's key is
# the book (one book's orders in one partition, in order) and the answer is
# 202 {"id","status":"pending"}.  No token, a forged or a logged-out token is a
# 401; every bad body (hostile strings, wrong types, negative and huge numbers,
# duplicate keys, unknown fields, oversized) is a precise 4xx; nothing is
# produced for any of them.  Tokens are built in Perl, not by the module.
use Test::Nginx::Socket 'no_plan';
use FindBin; use lib "$FindBin::Bin";
use VoteT;

create_topics('orders', 'rejects', 'revocations');
our $REVOKED = 'jti-revoked-' . $$;
kafka_produce(topic('revocations'), $REVOKED, qq({"jti":"$REVOKED","exp":) . (time() + 3600) . '}');

no_shuffle();

our $HttpConfig = <<'_EOC_';
    vote_kafka_brokers $TEST_NGINX_KAFKA_BROKERS;
    vote_jwt_secrets $TEST_NGINX_JWT_SECRETS;
_EOC_
our $HttpConfigRev = $HttpConfig . "    vote_revocations \$TEST_NGINX_TOPIC-revocations;\n";

# A valid token gets 503 until the revocation list is loaded, then 422 for
# the empty body.
sub wait_revocations_loaded {
    my $tok = jwt(jti => 'jti-readiness-probe');
    for (1 .. 50) {
        my $code = `curl -s -o /dev/null -w '%{http_code}' -XPOST -H 'Content-Type: application/json' -H 'Authorization: Bearer $tok' -d '{}' http://127.0.0.1:$Test::Nginx::Socket::ServerPort/api/orders`;
        return if $code eq '422';
        select(undef, undef, undef, 0.1);
    }
    die "revocation list never loaded\n";
}

our $Ok = "location = /api/orders { vote_enqueue order; vote_topic $ENV{TEST_NGINX_TOPIC}-orders; }";
our $Rej = "location = /api/orders { vote_enqueue order; vote_topic $ENV{TEST_NGINX_TOPIC}-rejects; vote_max_body_size 1k; }";

sub hdr { "Content-Type: application/json\nAuthorization: Bearer " . jwt(@_) }

run_tests();

__DATA__

=== TEST 1: valid order: 202 pending, keyed by the book, buyer from the token
--- http_config eval: $::HttpConfig
--- config eval: $::Ok
--- request
POST /api/orders
{"book": 42, "copies": 3}
--- more_headers eval
::hdr(sub => 'zoe')
--- error_code: 202
--- response_body_like: ^\{"id":"[0-9A-Z]{26}","status":"pending"\}$
--- kafka_readback
topic: orders
key: 42
value_like: ^\{"v":1,"kind":"order","id":"[0-9A-Z]{26}","book":42,"copies":3,"buyer":"zoe","received_at":\d{13}\}$

=== TEST 2: the largest book id and copies
--- http_config eval: $::HttpConfig
--- config eval: $::Ok
--- request
POST /api/orders
{"copies":10,"book":9007199254740991}
--- more_headers eval
::hdr(sub => 'ann')
--- error_code: 202
--- kafka_readback
topic: orders
key: 9007199254740991
value_like: "book":9007199254740991,"copies":10,"buyer":"ann"

=== TEST 3: missing token -> 401
--- http_config eval: $::HttpConfig
--- config eval: $::Rej
--- request
POST /api/orders
{"book":1,"copies":1}
--- more_headers
Content-Type: application/json
--- error_code: 401
--- response_body
{"error":"missing_token","detail":"Authorization: Bearer <token> is required"}

=== TEST 4: token signed with an unknown secret -> 401
--- http_config eval: $::HttpConfig
--- config eval: $::Rej
--- request
POST /api/orders
{"book":1,"copies":1}
--- more_headers eval
::hdr(secret => 'not-the-secret-0123456789abcdef')
--- error_code: 401
--- response_body
{"error":"invalid_token","detail":"token signature does not match"}

=== TEST 5: logged-out token -> 401, as for chat
--- http_config eval: $::HttpConfigRev
--- config eval: $::Rej
--- init
::wait_revocations_loaded();
--- request
POST /api/orders
{"book":1,"copies":1}
--- more_headers eval
::hdr(jti => $::REVOKED)
--- error_code: 401
--- response_body
{"error":"invalid_token","detail":"token was revoked (logged out)"}

=== TEST 6: a buyer in the body is refused, never used
--- http_config eval: $::HttpConfig
--- config eval: $::Rej
--- request
POST /api/orders
{"book":1,"copies":1,"buyer":"mallory"}
--- more_headers eval
::hdr()
--- error_code: 422
--- response_body
{"error":"unknown_field","detail":"unknown field","field":"buyer"}

=== TEST 7: hostile string as the book -> 422 wrong_type
--- http_config eval: $::HttpConfig
--- config eval: $::Rej
--- request
POST /api/orders
{"book":"1; DROP TABLE books; --","copies":1}
--- more_headers eval
::hdr()
--- error_code: 422
--- response_body
{"error":"wrong_type","detail":"must be an integer","field":"book"}

=== TEST 8: a fraction -> 422 wrong_type
--- http_config eval: $::HttpConfig
--- config eval: $::Rej
--- request
POST /api/orders
{"book":1,"copies":1.5}
--- more_headers eval
::hdr()
--- error_code: 422
--- response_body
{"error":"wrong_type","detail":"must be an integer","field":"copies"}

=== TEST 9: book 0 -> 422
--- http_config eval: $::HttpConfig
--- config eval: $::Rej
--- request
POST /api/orders
{"book":0,"copies":1}
--- more_headers eval
::hdr()
--- error_code: 422
--- response_body
{"error":"bad_value","detail":"must be an integer from 1 to 9007199254740991","field":"book"}

=== TEST 10: negative copies -> 422
--- http_config eval: $::HttpConfig
--- config eval: $::Rej
--- request
POST /api/orders
{"book":1,"copies":-2}
--- more_headers eval
::hdr()
--- error_code: 422
--- response_body
{"error":"bad_value","detail":"must be an integer from 1 to 10","field":"copies"}

=== TEST 11: more than 10 copies -> 422
--- http_config eval: $::HttpConfig
--- config eval: $::Rej
--- request
POST /api/orders
{"book":1,"copies":11}
--- more_headers eval
::hdr()
--- error_code: 422
--- response_body
{"error":"bad_value","detail":"must be an integer from 1 to 10","field":"copies"}

=== TEST 12: a book id past 2^53 -> 422
--- http_config eval: $::HttpConfig
--- config eval: $::Rej
--- request
POST /api/orders
{"book":9007199254740992,"copies":1}
--- more_headers eval
::hdr()
--- error_code: 422
--- response_body_like: "error":"bad_value".*"field":"book"

=== TEST 13: a number past any integer -> 400
--- http_config eval: $::HttpConfig
--- config eval: $::Rej
--- request
POST /api/orders
{"book":99999999999999999999999999,"copies":1}
--- more_headers eval
::hdr()
--- error_code: 400
--- response_body_like: ^\{"error":"malformed_json","detail":"invalid JSON at byte \d+: too big integer

=== TEST 14: duplicate keys -> 400
--- http_config eval: $::HttpConfig
--- config eval: $::Rej
--- request
POST /api/orders
{"book":1,"book":2,"copies":1}
--- more_headers eval
::hdr()
--- error_code: 400
--- response_body_like: ^\{"error":"malformed_json","detail":"invalid JSON at byte \d+: duplicate object key

=== TEST 15: missing copies -> 422
--- http_config eval: $::HttpConfig
--- config eval: $::Rej
--- request
POST /api/orders
{"book":1}
--- more_headers eval
::hdr()
--- error_code: 422
--- response_body
{"error":"missing_field","detail":"required field is missing","field":"copies"}

=== TEST 16: body over vote_max_body_size -> 413
--- http_config eval: $::HttpConfig
--- config eval: $::Rej
--- request eval
"POST /api/orders\n{\"book\":1,\"copies\":1,\"pad\":\"" . ("x" x 2000) . "\"}"
--- more_headers eval
::hdr()
--- error_code: 413
--- response_body_like: "error":"body_too_large"

=== TEST 17: not JSON -> 415
--- http_config eval: $::HttpConfig
--- config eval: $::Rej
--- request
POST /api/orders
book=1&copies=1
--- more_headers eval
"Content-Type: application/x-www-form-urlencoded\nAuthorization: Bearer " . ::jwt()
--- error_code: 415

=== TEST 18: nothing was produced for any 4xx above
--- http_config eval: $::HttpConfig
--- config eval: $::Rej
--- request
GET /api/orders
--- error_code: 405
--- kafka_count: rejects 0

=== TEST 19: vote_enqueue order needs vote_jwt_secrets
--- http_config
vote_kafka_brokers $TEST_NGINX_KAFKA_BROKERS;
--- config
location = /api/orders { vote_enqueue order; }
--- must_die
--- error_log
"vote_enqueue order" requires "vote_jwt_secrets"
