# 021-revocations-workers.t - the logout revocation list as the edge runs it:
# two workers (each reads the whole topic) and producer-only librdkafka
# properties, whose CONFWARN log lines reach the consumer's main queue before
# any record.  That case once left the list "not loaded" for ever (chat 503):
# the queue wake-up fired once and was never re-armed.  Proves: the list loads,
# a logout published after it loaded is refused within 1 s, and a forged token
# is a 401, not a 503, whatever the list's state.
use Test::Nginx::Socket 'no_plan';
use FindBin; use lib "$FindBin::Bin";
use VoteT;

create_topics('chat', 'revocations');
master_on();
workers(2);
no_shuffle();

our $LATE = 'jti-late-' . $$;
our $HttpConfig = <<'_EOC_';
    vote_kafka_brokers $TEST_NGINX_KAFKA_BROKERS;
    vote_jwt_secrets $TEST_NGINX_JWT_SECRETS;
    vote_revocations $TEST_NGINX_TOPIC-revocations;
    vote_kafka_property acks all;
    vote_kafka_property linger.ms 2;
    vote_kafka_property compression.codec lz4;
_EOC_
our $Chat = "location = /api/chat/messages { vote_enqueue chat; vote_topic $ENV{TEST_NGINX_TOPIC}-chat; }";

sub hdr { "Content-Type: application/json\nAuthorization: Bearer " . jwt(@_) }

# A valid token gets 503 until the list is loaded, then 422 for the empty body.
# Both workers must be loaded, so the probe asks several times in a row.
sub wait_loaded {
    my $tok = jwt(jti => 'jti-readiness-probe');
    my $ok = 0;
    for (1 .. 100) {
        my $code = `curl -s -o /dev/null -w '%{http_code}' -XPOST -H 'Content-Type: application/json' -H 'Authorization: Bearer $tok' -d '{}' http://127.0.0.1:$Test::Nginx::Socket::ServerPort/api/chat/messages`;
        $ok = $code eq '422' ? $ok + 1 : 0;
        return if $ok >= 10;
        select(undef, undef, undef, 0.1);
    }
    die "revocation list never loaded in both workers\n";
}

run_tests();

__DATA__

=== TEST 1: a logout published after the list loaded is refused within 1 s
--- http_config eval: $::HttpConfig
--- config eval: $::Chat
--- init
::wait_loaded();
::kafka_produce(::topic('revocations'), $::LATE, qq({"jti":"$::LATE","exp":) . (time() + 3600) . '}');
select(undef, undef, undef, 1.0);
--- request
POST /api/chat/messages
{"to":"bob","text":"hi"}
--- more_headers eval
::hdr(jti => $::LATE)
--- error_code: 401
--- response_body
{"error":"invalid_token","detail":"token was revoked (logged out)"}

=== TEST 2: a token that is not revoked is accepted by the loaded list
--- http_config eval: $::HttpConfig
--- config eval: $::Chat
--- init
::wait_loaded();
--- request
POST /api/chat/messages
{"to":"bob","text":"still here"}
--- more_headers eval
::hdr(jti => 'jti-still-logged-in')
--- error_code: 202
--- response_body_like: ^\{"id":"[0-9A-Z]{26}","conversation":"[a-z0-9_.-]+:[a-z0-9_.-]+"\}$

=== TEST 3: a forged token is 401 at once, before the list is even loaded
--- http_config eval: $::HttpConfig
--- config eval: $::Chat
--- request
POST /api/chat/messages
{"to":"bob","text":"hi"}
--- more_headers
Content-Type: application/json
Authorization: Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJtYWxsb3J5In0.
--- error_code: 401
--- response_body_like: ^\{"error":"invalid_token"
