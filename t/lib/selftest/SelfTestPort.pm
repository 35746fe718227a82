# SelfTestPort.pm - the self-tests' nginx ports, derived from TEST_NGINX_SERVER_PORT
# (default 1984) so that runs with different ports never collide.
package SelfTestPort;

use strict;
use warnings;
use Exporter 'import';

our @EXPORT = qw(selftest_port);

my $base = $ENV{TEST_NGINX_SERVER_PORT} || $ENV{TEST_NGINX_PORT} || 1984;

# selftest_port(N): base + N, one N per self-test file (1 basic, 2 master_repeat,
# 3 must_fail, 4 valgrind, 5 load_module, 6 per_request, 7 http2, 8 shuffle)
sub selftest_port { return $base + $_[0] }

1;
