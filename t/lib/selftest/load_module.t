# Self-test: every path in TEST_NGINX_LOAD_MODULES becomes a load_module line. A
# missing .so must make nginx die with dlopen() in the log (proves the line is there).
use strict;
use warnings;
use File::Temp ();
use FindBin;
use lib $FindBin::Bin;
use SelfTestPort;
BEGIN {
    $ENV{TEST_NGINX_SERVER_PORT} = selftest_port(5);
    $ENV{TEST_NGINX_SERVROOT} = File::Temp::tempdir('tn-load-XXXXXX', TMPDIR => 1, CLEANUP => 1);
    $ENV{TEST_NGINX_LOAD_MODULES} = '/nonexistent/ngx_selftest_missing_module.so';
}
use Test::Nginx::Socket 'no_plan';
run_tests();

__DATA__

=== TEST 1: a missing module in TEST_NGINX_LOAD_MODULES fails startup
--- config
    location = /t { return 200; }
--- must_die
--- error_log
dlopen()
ngx_selftest_missing_module.so
