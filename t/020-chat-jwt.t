# 020-chat-jwt.t - POST /api/chat/messages: the sender comes from an HS256
# token verified at the edge.  Valid tokens (current and rotated-out key) are
# produced and read back; every broken token (missing, wrong key, alg=none,
# expired, not yet valid, tampered payload, bad subject, revoked by logout) is
# a 401 and produces nothing.  Tokens are built in Perl (Digest::SHA), not by
# the module's own code.
use Test::Nginx::Socket 'no_plan';
use FindBin; use lib "$FindBin::Bin";
use VoteT;

create_topics('chat', 'rejects', 'revocations');
# a logout published before nginx starts: every worker reads the topic from the beginning
our $REVOKED = 'jti-revoked-' . $$;
kafka_produce(topic('revocations'), $REVOKED, qq({"jti":"$REVOKED","exp":) . (time() + 3600) . '}');

no_shuffle();

our $HttpConfig = <<'_EOC_';
    vote_kafka_brokers $TEST_NGINX_KAFKA_BROKERS;
    vote_jwt_secrets $TEST_NGINX_JWT_SECRETS;
_EOC_
our $HttpConfigRev = $HttpConfig . "    vote_revocations \$TEST_NGINX_TOPIC-revocations;\n";

# until the revocation list is loaded chat answers 503; wait for that to end
# A valid token gets 503 until the list is loaded, then 422 for the empty body
# (a forged or expired token is 401 either way, so it cannot tell).
sub wait_revocations_loaded {
    my $tok = jwt(jti => 'jti-readiness-probe');
    for (1 .. 50) {
        my $code = `curl -s -o /dev/null -w '%{http_code}' -XPOST -H 'Content-Type: application/json' -H 'Authorization: Bearer $tok' -d '{}' http://127.0.0.1:$Test::Nginx::Socket::ServerPort/api/chat/messages`;
        return if $code eq '422';
        select(undef, undef, undef, 0.1);
    }
    die "revocation list never loaded\n";
}

our $Ok = "location = /api/chat/messages { vote_enqueue chat; vote_topic $ENV{TEST_NGINX_TOPIC}-chat; }";
our $Rej = "location = /api/chat/messages { vote_enqueue chat; vote_topic $ENV{TEST_NGINX_TOPIC}-rejects; vote_max_text_length 10; }";

sub hdr { "Content-Type: application/json\nAuthorization: Bearer " . jwt(@_) }

run_tests();

__DATA__

=== TEST 1: valid token: 202, conversation key, sender from the token
--- http_config eval: $::HttpConfig
--- config eval: $::Ok
--- request
POST /api/chat/messages
{"to":"bob","text":"hola, ¿cómo estás?"}
--- more_headers eval
::hdr(sub => 'zoe')
--- error_code: 202
--- response_body_like: ^\{"id":"[0-9A-Z]{26}","conversation":"bob:zoe"\}$
--- kafka_readback
topic: chat
key: bob:zoe
value_like: ^\{"v":1,"kind":"chat","id":"[0-9A-Z]{26}","conversation":"bob:zoe","from":"zoe","to":"bob","text":"hola, ¿cómo estás\?","received_at":\d{13}\}$

=== TEST 2: token signed with the older (rotated) key still verifies
--- http_config eval: $::HttpConfig
--- config eval: $::Ok
--- request
POST /api/chat/messages
{"to":"carol","text":"rotated"}
--- more_headers eval
::hdr(sub => 'alice', kid => 'k0', secret => $VoteT::OLD_SECRET)
--- error_code: 202
--- kafka_readback
topic: chat
key: alice:carol
value_like: "from":"alice","to":"carol"

=== TEST 3: missing token -> 401
--- http_config eval: $::HttpConfig
--- config eval: $::Rej
--- request
POST /api/chat/messages
{"to":"bob","text":"hi"}
--- more_headers
Content-Type: application/json
--- error_code: 401
--- response_headers
WWW-Authenticate: Bearer
--- response_body
{"error":"missing_token","detail":"Authorization: Bearer <token> is required"}

=== TEST 4: wrong key -> 401
--- http_config eval: $::HttpConfig
--- config eval: $::Rej
--- request
POST /api/chat/messages
{"to":"bob","text":"hi"}
--- more_headers eval
::hdr(secret => 'not-the-secret-0123456789abcdef')
--- error_code: 401
--- response_headers
WWW-Authenticate: Bearer error="invalid_token"
--- response_body
{"error":"invalid_token","detail":"token signature does not match"}

=== TEST 5: alg=none (unsigned) -> 401
--- http_config eval: $::HttpConfig
--- config eval: $::Rej
--- request
POST /api/chat/messages
{"to":"bob","text":"hi"}
--- more_headers eval
::hdr(alg => 'none', no_sig => 1)
--- error_code: 401
--- response_body_like: "error":"invalid_token"

=== TEST 6: alg=HS512 -> 401
--- http_config eval: $::HttpConfig
--- config eval: $::Rej
--- request
POST /api/chat/messages
{"to":"bob","text":"hi"}
--- more_headers eval
::hdr(alg => 'HS512')
--- error_code: 401
--- response_body
{"error":"invalid_token","detail":"token algorithm must be HS256"}

=== TEST 7: expired -> 401
--- http_config eval: $::HttpConfig
--- config eval: $::Rej
--- request
POST /api/chat/messages
{"to":"bob","text":"hi"}
--- more_headers eval
::hdr(exp => time() - 60)
--- error_code: 401
--- response_body
{"error":"invalid_token","detail":"token expired"}

=== TEST 8: not yet valid -> 401
--- http_config eval: $::HttpConfig
--- config eval: $::Rej
--- request
POST /api/chat/messages
{"to":"bob","text":"hi"}
--- more_headers eval
::hdr(nbf => time() + 120)
--- error_code: 401
--- response_body
{"error":"invalid_token","detail":"token not yet valid"}

=== TEST 9: tampered payload (sub changed after signing) -> 401
--- http_config eval: $::HttpConfig
--- config eval: $::Rej
--- request
POST /api/chat/messages
{"to":"bob","text":"hi"}
--- more_headers eval
::hdr(sub => 'alice', tamper => 'mallory')
--- error_code: 401
--- response_body
{"error":"invalid_token","detail":"token signature does not match"}

=== TEST 10: unknown kid -> 401
--- http_config eval: $::HttpConfig
--- config eval: $::Rej
--- request
POST /api/chat/messages
{"to":"bob","text":"hi"}
--- more_headers eval
::hdr(kid => 'k9')
--- error_code: 401
--- response_body
{"error":"invalid_token","detail":"token signed with an unknown key"}

=== TEST 11: subject is not a username -> 401
--- http_config eval: $::HttpConfig
--- config eval: $::Rej
--- request
POST /api/chat/messages
{"to":"bob","text":"hi"}
--- more_headers eval
::hdr(sub => 'Mallory:x')
--- error_code: 401
--- response_body
{"error":"invalid_token","detail":"token subject is not a username"}

=== TEST 12: revoked (logged-out) token -> 401; the consumer read the topic from the beginning
--- http_config eval: $::HttpConfigRev
--- config eval: $::Rej
--- init
::wait_revocations_loaded();
--- request
POST /api/chat/messages
{"to":"bob","text":"hi"}
--- more_headers eval
::hdr(jti => $::REVOKED)
--- error_code: 401
--- response_body
{"error":"invalid_token","detail":"token was revoked (logged out)"}

=== TEST 13: a token that is not revoked passes with revocations on
--- http_config eval: $::HttpConfigRev
--- config eval: $::Ok
--- init
::wait_revocations_loaded();
--- request
POST /api/chat/messages
{"to":"dave","text":"still logged in"}
--- more_headers eval
::hdr(sub => 'erin', jti => 'jti-not-revoked')
--- error_code: 202
--- kafka_readback
topic: chat
key: dave:erin

=== TEST 14: to == sender -> 422
--- http_config eval: $::HttpConfig
--- config eval: $::Rej
--- request
POST /api/chat/messages
{"to":"alice","text":"me"}
--- more_headers eval
::hdr(sub => 'alice')
--- error_code: 422
--- response_body
{"error":"self_message","detail":"cannot send a message to yourself","field":"to"}

=== TEST 15: recipient not a username -> 422
--- http_config eval: $::HttpConfig
--- config eval: $::Rej
--- request
POST /api/chat/messages
{"to":"Bob Smith","text":"hi"}
--- more_headers eval
::hdr()
--- error_code: 422
--- response_body
{"error":"invalid_recipient","detail":"must be a username: 3-32 characters of [a-z0-9_.-]","field":"to"}

=== TEST 16: text longer than vote_max_text_length characters -> 422 (counted in characters)
--- http_config eval: $::HttpConfig
--- config eval: $::Rej
--- request
POST /api/chat/messages
{"to":"bob","text":"ñññññññññññ"}
--- more_headers eval
::hdr()
--- error_code: 422
--- response_body
{"error":"text_too_long","detail":"longer than 10 characters","field":"text"}

=== TEST 17: from in the body is not accepted -> 422
--- http_config eval: $::HttpConfig
--- config eval: $::Rej
--- request
POST /api/chat/messages
{"to":"bob","text":"hi","from":"eve"}
--- more_headers eval
::hdr()
--- error_code: 422
--- response_body
{"error":"unknown_field","detail":"unknown field","field":"from"}

=== TEST 18: revocation topic unreadable: chat is 503 (not accepted unchecked) and the log says why
--- http_config eval: $::HttpConfig . "    vote_revocations $ENV{TEST_NGINX_TOPIC}-no-such-topic;\n"
--- config eval: $::Rej
--- request
POST /api/chat/messages
{"to":"bob","text":"hi"}
--- more_headers eval
::hdr()
--- error_code: 503
--- response_headers
Retry-After: 1
--- response_body
{"error":"auth_unavailable","detail":"the logout revocation list is not loaded yet"}
--- wait: 5.5
--- error_log
not loaded yet (0 partitions found, 0 read to the end, 0 start errors); chat answers 503 meanwhile

=== TEST 19: nothing was produced for any 4xx above
--- http_config eval: $::HttpConfig
--- config eval: $::Rej
--- request
GET /api/chat/messages
--- error_code: 405
--- kafka_count: rejects 0
