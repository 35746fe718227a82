# Pins the real Test::Nginx's per-request semantics: runs fixtures/per_request.fixture
# (repeat_each(2)) in a subprocess and checks that --- error_log / --- no_error_log are
# checked after EACH request against the lines written since the previous check, named
# "(req N)" by repetition; response checks are named "(repeated req N, req M)";
# pipelined responses are checked one by one; --- init output is in the first window;
# --- shutdown_error_log only sees the lines after the last check. Removing the
# per-request check (checking once per block) makes the "not ok" expectations below
# fail. Plain Test::More (does not trust the runner under test).
use strict;
use warnings;
use Test::More;
use File::Temp ();
use FindBin;
use lib $FindBin::Bin;
use SelfTestPort;

my $lib = "$FindBin::Bin/..";
my $fixture = "$FindBin::Bin/fixtures/per_request.fixture";
local $ENV{TEST_NGINX_SERVER_PORT} = selftest_port(6);
local $ENV{TEST_NGINX_SERVROOT} = File::Temp::tempdir('tn-perreq-XXXXXX', TMPDIR => 1, CLEANUP => 1);
delete $ENV{$_} for qw(TEST_NGINX_USE_VALGRIND TEST_NGINX_CHECK_ACCUM_ERR_LOG TEST_NGINX_USE_HTTP2);

my $out = `$^X -I$lib $fixture 2>&1`;
isnt($? >> 8, 0, 'the fixture has failing assertions') or diag $out;
my @not_ok = grep { /^not ok / } split /\n/, $out;
my @ok     = grep { /^ok / } split /\n/, $out;
# the patterns as TAP prints them (Test::Builder escapes the backslashes fmt_str adds)
my $miss_a = qr{pattern "open\(\) \S*/nonexistent-per-request/missing/a\.html\S* failed"};
my $miss_b = qr{pattern "open\(\) \S*/nonexistent-per-request/missing/b\.html\S* failed"};

# expected failures, each exactly once
my @expect_not_ok = (
    # TEST 1, each repetition: after GET /ok the line is not there yet
    qr/TEST 1: .* - $miss_a should match a line in error.log \(req 0\)$/,
    qr/TEST 1: .* - $miss_a should match a line in error.log \(req 1\)$/,
    # TEST 2, each repetition: after the 404 the line is there
    qr/TEST 2: .* - $miss_b should not match any line in error.log but matches line .*\(req 0\)$/,
    qr/TEST 2: .* - $miss_b should not match any line in error.log but matches line .*\(req 1\)$/,
    # TEST 4: --- init ran once, before repetition 0: repetition 1's window lacks it
    qr/TEST 4: .* - pattern "per-request init marker" should match a line in error.log \(req 1\)$/,
    # TEST 5: the 404's line was logged before the last check, not while quitting
    qr{TEST 5: .* - pattern "open\(\) "/nonexistent-per-request/missing/c.html" failed" should match a line in error.log$},
);
# expected passes, each exactly once
my @expect_ok = (
    qr/TEST 1: .* - $miss_a matches a line in error.log \(req 0\)$/,
    qr/TEST 1: .* - $miss_a matches a line in error.log \(req 1\)$/,
    qr/TEST 2: .* - $miss_b does not match a line in error.log \(req 0\)$/,
    qr/TEST 2: .* - $miss_b does not match a line in error.log \(req 1\)$/,
    qr/TEST 3: .* - response_body - response is expected \(repeated req 1, req 0\)$/,
    qr/TEST 3: .* - response_body - response is expected \(repeated req 1, req 1\)$/,
    qr/TEST 4: .* - pattern "per-request init marker" matches a line in error.log \(req 0\)$/,
    qr/TEST 5: .* - pattern "\(SIGQUIT\) received" matches a line in error.log$/,
);
for my $re (@expect_not_ok) {
    is(scalar(grep { $_ =~ $re } @not_ok), 1, "reported once as not ok: $re") or diag $out;
}
for my $re (@expect_ok) {
    is(scalar(grep { $_ =~ $re } @ok), 1, "reported once as ok: $re") or diag $out;
}
is(scalar @not_ok, scalar @expect_not_ok, 'no other assertion failed') or diag join "\n", @not_ok;

# counts, as the real module makes them, times repeat_each(2):
#   TEST 1: 2 status + 2 error_log checks (after request 0, after the last)
#   TEST 2: 2 status + 2 no_error_log checks
#   TEST 3: 2 x (status + body) + 2 no_error_log checks (after response 0, after the last)
#   TEST 4: 1 status + 1 error_log check
#   TEST 5: 1 status; then 2 shutdown_error_log patterns, once (the block runs nginx once)
my $plan = 2 * ((2 + 2) + (2 + 2) + (4 + 2) + (1 + 1) + 1) + 2;
like($out, qr/^1\.\.$plan$/m, "the fixture made $plan assertions");

done_testing();
