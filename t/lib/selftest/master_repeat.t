# Self-test: counted plan with repeat_each(), master_on() + workers(2), log_level(),
# env_to_nginx(), add_block_preprocessor() and TEST_NGINX_LOAD_MODULES (a missing .so
# must make nginx fail to start with a dlopen() error). Stock nginx only.
use strict;
use warnings;
use File::Temp ();
use FindBin;
use lib $FindBin::Bin;
use SelfTestPort;
BEGIN {
    $ENV{TEST_NGINX_SERVER_PORT} = selftest_port(2);
    $ENV{TEST_NGINX_SERVROOT} = File::Temp::tempdir('tn-master-XXXXXX', TMPDIR => 1, CLEANUP => 1);
    $ENV{SELFTEST_PASSED_ENV} = 'from-test-process';
}
use Test::Nginx::Socket;

repeat_each(2);
master_on();
workers(2);
log_level('warn');
env_to_nginx('SELFTEST_PASSED_ENV');

# preprocessor: default request for blocks that have none
add_block_preprocessor(sub {
    my $block = shift;
    $block->set_value('request', 'GET /t') unless defined $block->request;
});

# block 1: status + body + no_error_log = 3; block 2: status + body = 2 (x repeat_each)
plan tests => repeat_each() * 5;

no_shuffle();
run_tests();

__DATA__

=== TEST 1: master + 2 workers answer, repeated twice
--- config
    location = /t { return 200 "pid-any"; }
--- response_body chomp
pid-any
--- no_error_log
[error]



=== TEST 2: env_to_nginx passes a variable (perl module absent: check via main config)
--- main_config
env SELFTEST_SECOND=1;
--- config
    location = /t { return 200 "ok"; }
--- request
GET /t
--- response_body chomp
ok
