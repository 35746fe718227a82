# Proves the runner fails when it should: runs fixtures/wrong.fixture (deliberately
# wrong expectations against the real nginx) in a subprocess and checks that each
# wrong expectation is reported as "not ok", the right ones as "ok", and that the
# subprocess exits non-zero. Plain Test::More (does not trust the runner under test).
use strict;
use warnings;
use Test::More;
use File::Temp ();
use FindBin;
use IO::Socket::INET;
use lib $FindBin::Bin;
use SelfTestPort;

my $lib = "$FindBin::Bin/../";      # t/lib
my $fixture = "$FindBin::Bin/fixtures/wrong.fixture";
my $port = selftest_port(3);
local $ENV{TEST_NGINX_SERVER_PORT} = $port;
local $ENV{TEST_NGINX_SERVROOT} = File::Temp::tempdir('tn-wrong-XXXXXX', TMPDIR => 1, CLEANUP => 1);
delete $ENV{TEST_NGINX_USE_VALGRIND};

my $out = `$^X -I$lib $fixture 2>&1`;
my $status = $? >> 8;
isnt($status, 0, 'runner exits non-zero when expectations are wrong') or diag $out;

my @expect_not_ok = (
    qr/TEST 1: wrong status - status code ok/,
    qr/TEST 2: wrong body - response_body - response is expected/,
    qr/TEST 3: .* - header X-Here ok/,
    qr/TEST 3: .* - header X-Here not present in the raw headers/,
    qr/TEST 4: .* - pattern "this text is never logged by nginx" should match a line in error.log \(req 0\)/,
    qr/TEST 5: .* - pattern "\[error\]" should not match any line in error.log but matches line/,
    qr/TEST 6: must_die but the config is fine - die as expected/,
    qr/TEST 7: .* - nginx started/,
    qr/ERROR: client socket timed out - .*TEST 8/,
    qr/TEST 9: .* - response_body_like - response is expected/,
    qr/TEST 10: .* - response_body - response is expected/,
    qr/TEST 11: .* - command "curl .*" generates stderr output/,
    qr/TEST 11: .* - status code ok/,      # no response, as in the real module
);
my @expect_ok = (
    qr/TEST 1: wrong status - response_body - response is expected/,
    qr/TEST 2: wrong body - status code ok/,
    qr/TEST 3: .* - status code ok/,
    qr/TEST 5: .* - status code ok/,
    qr/TEST 10: .* - status code ok/,
);
my @not_ok = grep { /^not ok / } split /\n/, $out;
my @ok     = grep { /^ok / } split /\n/, $out;
for my $re (@expect_not_ok) {
    ok((grep { $_ =~ $re } @not_ok), "reported as not ok: $re") or diag $out;
}
for my $re (@expect_ok) {
    ok((grep { $_ =~ $re } @ok), "reported as ok: $re");
}
is(scalar @not_ok, scalar @expect_not_ok, 'no other assertion failed')
    or diag join "\n", @not_ok;
unlike($out, qr/^Bail out!/m, 'no bail out');

# leftover nginx from the fixture? (it must have stopped every server it started)
my $busy = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port, Proto => 'tcp', Timeout => 1);
ok(!$busy, 'no nginx left listening on the fixture port');

done_testing();
