# Self-test of block order, as in the real Test::Nginx: blocks are shuffled unless
# no_shuffle() or TEST_NGINX_NO_SHUFFLE=1; shuffled or not, every block runs once.
# Runs a generated 8-block file in subprocesses and reads the order from its TAP.
use strict;
use warnings;
use Test::More;
use File::Temp ();
use FindBin;
use lib $FindBin::Bin;
use SelfTestPort;

my $dir = File::Temp::tempdir('tn-shuffle-XXXXXX', TMPDIR => 1, CLEANUP => 1);
open my $f, '>', "$dir/order.t" or die "$dir/order.t: $!";
print $f "use Test::Nginx::Socket 'no_plan';\nrun_tests();\n__DATA__\n";
for my $n (1 .. 8) {
    print $f "\n=== TEST $n: block $n\n--- config\n    location = /t { return 200 \"$n\"; }\n"
           . "--- request\nGET /t\n--- response_body chomp\n$n\n";
}
close $f;
local $ENV{TEST_NGINX_SERVER_PORT} = selftest_port(8);
local $ENV{TEST_NGINX_SERVROOT} = "$dir/servroot";
delete $ENV{TEST_NGINX_USE_VALGRIND};

# the block numbers in the order their status checks ran
sub run_order {
    my $out = `$^X -I$FindBin::Bin/.. $dir/order.t 2>&1`;
    is($? >> 8, 0, 'the 8 blocks pass') or diag $out;
    return map { /TEST (\d+): .* - status code ok/ ? $1 : () } grep { /^ok / } split /\n/, $out;
}

{
    local $ENV{TEST_NGINX_NO_SHUFFLE} = 1;
    is_deeply([run_order()], [1 .. 8], 'TEST_NGINX_NO_SHUFFLE=1 keeps the file order');
}
delete $ENV{TEST_NGINX_NO_SHUFFLE};
# one shuffle keeps the file order with probability 1/8!; three in a row: 1/8!^3
my $shuffled = 0;
for (1 .. 3) {
    my @o = run_order();
    is_deeply([sort { $a <=> $b } @o], [1 .. 8], 'shuffled: every block ran once');
    if ("@o" ne "@{[1 .. 8]}") { $shuffled = 1; last }
}
ok($shuffled, 'without no_shuffle the order changes');

done_testing();
