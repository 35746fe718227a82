# Self-test of TEST_NGINX_USE_VALGRIND=1: runs a stock-nginx block under valgrind in a
# subprocess and checks the extra "valgrind reports no memory errors" assertion is
# emitted and passes. Skipped when valgrind is not installed. Slow (~10 s).
use strict;
use warnings;
use Test::More;
use File::Temp ();
use FindBin;
use lib $FindBin::Bin;
use SelfTestPort;

my $vg = `command -v valgrind 2>/dev/null`;
plan skip_all => 'valgrind not installed' unless $vg;

my $dir = File::Temp::tempdir('tn-vg-XXXXXX', TMPDIR => 1, CLEANUP => 1);
open my $f, '>', "$dir/vg.t" or die;
print $f <<'_T_';
use Test::Nginx::Socket 'no_plan';
run_tests();
__DATA__

=== TEST 1: under valgrind
--- config
    location = /t { return 202 '{"ok":true}'; }
--- request
GET /t
--- error_code: 202
_T_
close $f;
local $ENV{TEST_NGINX_USE_VALGRIND} = 1;
local $ENV{TEST_NGINX_SERVER_PORT} = selftest_port(4);
local $ENV{TEST_NGINX_SERVROOT} = "$dir/servroot";
my $out = `$^X -I$FindBin::Bin/.. $dir/vg.t 2>&1`;
is($? >> 8, 0, 'valgrind run exits 0') or diag $out;
like($out, qr/^ok \d+ - \S+ TEST 1: under valgrind - status code ok/m, 'request answered under valgrind');
like($out, qr/^ok \d+ - \S+ TEST 1: under valgrind - valgrind reports no memory errors/m, 'valgrind check emitted');
ok(-s "$dir/servroot/logs/valgrind.log" || -e "$dir/servroot/logs/valgrind.log", 'valgrind log written');
done_testing();
