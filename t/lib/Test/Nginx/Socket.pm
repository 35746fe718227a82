# Test::Nginx::Socket - a small, self-contained runner for nginx test suites written
# in the standard Test::Nginx::Socket block format (openresty/test-nginx).
#
# Why it exists: the real Test::Nginx is not installable from the package registries
# this project can reach, and it needs CPAN modules (Test::Base, LWP, Test::LongString)
# that are not in core Perl. This module implements the subset of the block format
# our suites use, with core Perl only, so that `prove -I t/lib t/*.t` works here and the
# same .t files also run unchanged under the real Test::Nginx. Test names follow the
# real module ("TEST 3: name - status code ok") and so does the number of assertions
# per block, so `plan tests => repeat_each() * N` counts stay valid for both.
#
# Every block: write <servroot>/conf/nginx.conf, start the real nginx binary, send the
# request(s) over a raw TCP socket, check status/headers/body, stop nginx (QUIT, wait
# until the pid is gone), then check the error log. No part of nginx is mocked.
#
# Documentation: t/README.md. Self-tests: t/lib/selftest/*.t.
package Test::Nginx::Socket;

use strict;
use warnings;

use Test::More ();
use Cwd qw(cwd abs_path);
use File::Path qw(make_path remove_tree);
use File::Spec;
use IO::Socket::INET;
use IO::Select;
use POSIX qw(WNOHANG :sys_wait_h);
use Time::HiRes qw(sleep time);
use List::Util qw(shuffle);
use Errno qw(EAGAIN EINTR EWOULDBLOCK);

our $VERSION = '0.10-local';

# ---------------------------------------------------------------- settings

our $Randomize     = $ENV{TEST_NGINX_RANDOMIZE};
our $ServerPort    = $ENV{TEST_NGINX_SERVER_PORT} || $ENV{TEST_NGINX_PORT} || 1984;
our $ServerPortForClient = $ENV{TEST_NGINX_CLIENT_PORT} || $ServerPort;
our $ServerAddr    = '127.0.0.1';
our $ServerName    = 'localhost';
our $NginxBinary   = $ENV{TEST_NGINX_BINARY} || '/usr/sbin/nginx';
our $Timeout       = $ENV{TEST_NGINX_TIMEOUT} || 3;
our $TestNginxSleep = $ENV{TEST_NGINX_SLEEP} || 0.015;
our $RepeatEach    = 1;
our $NoShuffle     = $ENV{TEST_NGINX_NO_SHUFFLE} // 0;
our $NoLongString  = 0;
our $LogLevel      = $ENV{TEST_NGINX_LOG_LEVEL} || 'debug';
our $MasterProcessEnabled = $ENV{TEST_NGINX_MASTER_PROCESS} // 'off';
our $Workers       = 1;
our $WorkerConnections = 64;
our $NoRootLocation = 0;
our $UseValgrind   = $ENV{TEST_NGINX_USE_VALGRIND};
our $UseHttp2      = $ENV{TEST_NGINX_USE_HTTP2};
our $CheckAccumErrLog = $ENV{TEST_NGINX_CHECK_ACCUM_ERR_LOG};
our $PostponeOutput = $ENV{TEST_NGINX_POSTPONE_OUTPUT};
our $EventType     = $ENV{TEST_NGINX_EVENT_TYPE};
our $Verbose       = $ENV{TEST_NGINX_VERBOSE};
our $ConfigPreamble = '';
our @EnvToNginx;
our @BlockPreprocessors;
our @ResponseBodyChecks;

# TEST_NGINX_RANDOMIZE: a free port and t/servroot_PORT, so suites can run in parallel
if ($Randomize) {
    for (1 .. 1000) {
        my $p = int(rand 63550) + 1985;
        my $s = IO::Socket::INET->new(LocalAddr => $ServerAddr, LocalPort => $p,
                                      Proto => 'tcp') or next;
        close $s;
        $ServerPort = $ServerPortForClient = $p;
        last;
    }
}

# servroot: $TEST_NGINX_SERVROOT, else $BUILD_DIR/t/servroot, else ./.build/t/servroot when
# ./.build exists (git-ignored), else ./t/servroot like the real module
our $ServRoot = $ENV{TEST_NGINX_SERVROOT}
    || ($ENV{BUILD_DIR} ? File::Spec->catdir(abs_path($ENV{BUILD_DIR}) // $ENV{BUILD_DIR}, 't', 'servroot')
        : -d File::Spec->catdir(cwd(), '.build') ? File::Spec->catdir(cwd(), '.build', 't', 'servroot')
        : File::Spec->catdir(cwd(), 't', 'servroot'));
$ServRoot .= "_$ServerPort" if $Randomize && !$ENV{TEST_NGINX_SERVROOT};
$ENV{TEST_NGINX_SERVER_ROOT} = $ServRoot;
our ($ConfDir, $LogDir, $HtmlDir, $ConfFile, $ErrLogFile, $AccLogFile, $PidFile, $StderrFile);

sub _set_paths {
    $ConfDir    = "$ServRoot/conf";
    $LogDir     = "$ServRoot/logs";
    $HtmlDir    = "$ServRoot/html";
    $ConfFile   = "$ConfDir/nginx.conf";
    $ErrLogFile = "$LogDir/error.log";
    $AccLogFile = "$LogDir/access.log";
    $PidFile    = "$LogDir/nginx.pid";
    $StderrFile = "$LogDir/stderr.log";
}
_set_paths();
# like the real module: usable as $TEST_NGINX_SERVER_PORT / $TEST_NGINX_HTML_DIR in configs
$ENV{TEST_NGINX_SERVER_PORT} = $ServerPort;
$ENV{TEST_NGINX_HTML_DIR} ||= $HtmlDir;

our $ValgrindPid;     # child pid when nginx runs in the foreground under valgrind

# ---------------------------------------------------------------- exports

my @OUR_EXPORTS = qw(
    plan run_tests run_test blocks repeat_each no_shuffle no_long_string
    log_level master_on master_off master_process_enabled workers
    worker_connections env_to_nginx add_block_preprocessor
    add_response_body_check no_root_location config_preamble
    server_port server_port_for_client server_addr server_root html_dir
    server_name timeout bail_out check_accum_error_log use_hup
    no_nginx_manager no_check_leak default_timeout is_str
    add_cleanup_handler
);
my @MORE_EXPORTS = qw(
    ok is isnt like unlike is_deeply cmp_ok pass fail diag note explain
    skip todo_skip done_testing can_ok isa_ok BAIL_OUT
);

sub import {
    my ($class, @args) = @_;
    my $caller = caller;
    no strict 'refs';
    for my $f (@OUR_EXPORTS) {
        *{"${caller}::$f"} = \&{"Test::Nginx::Socket::$f"};
    }
    for my $f (@MORE_EXPORTS) {
        next if $f eq 'plan';
        *{"${caller}::$f"} = \&{"Test::More::$f"};
    }
    # like Test::Base: the import list is a plan ('no_plan', tests => N, skip_all => why)
    if (@args) {
        plan(@args);
    }
}

# ---------------------------------------------------------------- small API

sub plan {
    my @args = @_;
    # Under valgrind every block adds one "valgrind" assertion, so counted plans
    # written for the normal mode cannot hold: switch to no_plan (documented).
    if ($UseValgrind && @args && $args[0] eq 'tests') {
        @args = ('no_plan');
    }
    if (@args == 1 && $args[0] eq 'no_plan') {
        # Test::More >= 1.3 prefers done_testing, but no_plan still works
        return Test::More->builder->no_plan;
    }
    return Test::More::plan(@args);
}

sub repeat_each (@) {
    if (@_) { $RepeatEach = shift; return }
    return $RepeatEach;
}
sub no_shuffle ()           { $NoShuffle = 1 }
sub no_long_string ()       { $NoLongString = 1 }
sub log_level (@)           { if (@_) { $LogLevel = shift } $LogLevel }
sub master_on ()            { $MasterProcessEnabled = 'on' }
sub master_off ()           { $MasterProcessEnabled = 'off' }
sub master_process_enabled (@) {
    if (@_) { $MasterProcessEnabled = $_[0] ? 'on' : 'off' }
    return $MasterProcessEnabled eq 'on';
}
sub workers (@)             { if (@_) { $Workers = shift } $Workers }
sub worker_connections (@)  { if (@_) { $WorkerConnections = shift } $WorkerConnections }
sub env_to_nginx (@)        { push @EnvToNginx, @_ }
sub add_block_preprocessor (&) { unshift @BlockPreprocessors, shift }
sub add_response_body_check (&) { push @ResponseBodyChecks, shift }
sub no_root_location ()     { $NoRootLocation = 1 }
sub config_preamble ($)     { $ConfigPreamble = shift }
sub server_port (@)         { if (@_) { $ServerPort = $ServerPortForClient = $ENV{TEST_NGINX_SERVER_PORT} = shift } $ServerPort }
sub server_port_for_client (@) { if (@_) { $ServerPortForClient = shift } $ServerPortForClient }
sub server_addr (@)         { if (@_) { $ServerAddr = shift } $ServerAddr }
sub server_name (@)         { if (@_) { $ServerName = shift } $ServerName }
sub server_root ()          { $ServRoot }
sub html_dir ()             { $HtmlDir }
sub timeout (@)             { if (@_) { $Timeout = shift } $Timeout }
sub default_timeout (@)     { timeout(@_) }
sub bail_out (@)            { _stop_nginx(); Test::More::BAIL_OUT(join '', @_) }
# Accepted for compatibility; this runner always restarts nginx per block.
sub check_accum_error_log () { $CheckAccumErrLog = 1 }
sub use_hup ()              { }
sub no_nginx_manager ()     { }
sub no_check_leak ()        { }
our @CleanupHandlers;
sub add_cleanup_handler ($) { unshift @CleanupHandlers, shift }
sub is_str (@) {
    my ($got, $exp, $desc) = @_;
    return Test::More::like($got, $exp, $desc) if ref $exp eq 'Regexp';
    return Test::More::is($got, $exp, $desc);
}

# ---------------------------------------------------------------- block parsing

package Test::Nginx::Socket::Block {
    our $AUTOLOAD;
    sub new { my ($c, %a) = @_; return bless { %a, _sections => {}, _order => [] }, $c }
    sub name        { $_[0]{name} }
    sub description { $_[0]{name} }
    sub seq_num     { $_[0]{seq_num} }
    sub has_section { exists $_[0]{_sections}{ $_[1] } }
    sub set_value {
        my ($self, $key, @vals) = @_;
        if ($key eq 'name') { $self->{name} = $vals[0]; return }
        push @{ $self->{_order} }, $key unless exists $self->{_sections}{$key};
        $self->{_sections}{$key} = @vals > 1 ? [@vals] : $vals[0];
        return;
    }
    sub AUTOLOAD {
        my $self = shift;
        (my $name = $AUTOLOAD) =~ s/.*:://;
        return if $name eq 'DESTROY';
        return $self->{_sections}{$name};
    }
}

package Test::Nginx::Socket;

our @Blocks;
our $BlocksParsed = 0;

my %FILTERS = (
    norm  => sub { my $v = shift; $v =~ s/\r\n/\n/g; $v },
    trim  => sub { my $v = shift; $v =~ s/\A([ \t]*\n)+//; $v =~ s/(?<=\n)\s*\z//; $v },
    chomp => sub { my $v = shift; chomp $v; $v },
    chop  => sub { my $v = shift; chop $v; $v },
    lines => sub { my $v = shift; [ split /^/m, $v ] },
    join  => sub { my $v = shift; ref $v eq 'ARRAY' ? join('', @$v) : $v },
    regexp => sub { my $v = shift; qr/$v/xms },
    base64_decode => sub { require MIME::Base64; MIME::Base64::decode_base64(shift) },
    eval  => \&_filter_eval,
);

sub _filter_eval {
    my ($code) = @_;
    my @r;
    {
        package main;
        no strict;
        no warnings;
        @r = eval $code;
    }
    if ($@) {
        Test::More::BAIL_OUT("eval filter failed: $@ in:\n$code");
    }
    return @r > 1 ? [@r] : $r[0];
}

sub _spec_text {
    my $file = $0;
    open my $in, '<:raw', $file or die "cannot open test file $file: $!\n";
    my $text = do { local $/; <$in> };
    close $in;
    if ($text =~ /^__(?:DATA|END)__\r?\n(.*)\z/ms) {
        return $1;
    }
    return '';
}

sub blocks () {
    _parse_blocks() unless $BlocksParsed;
    return @Blocks;
}

sub _parse_blocks {
    $BlocksParsed = 1;
    my $text = _spec_text();
    my @raw = split /^(?====\s)/m, $text;
    my @blocks;
    my ($only, $seq) = (undef, 0);
    for my $chunk (@raw) {
        next unless $chunk =~ s/\A===\s*(.*?)\s*\n//;
        my $name = $1;
        my $b = Test::Nginx::Socket::Block->new(name => $name, seq_num => ++$seq);
        # sections: --- name [filters][: inline value]
        my @parts = split /^(?=---\s+\w)/m, $chunk;
        for my $p (@parts) {
            next unless $p =~ s/\A---\s+(\w+)([^\n]*)\n?//;
            my ($sname, $rest) = ($1, $2);
            my ($filters, $inline) = ($rest, undef);
            if ($rest =~ /^([^:]*?):\s?(.*)$/) {
                ($filters, $inline) = ($1, $2);
            }
            my @filters = grep { length } split /\s+/, $filters;
            my $value;
            if (defined $inline) {
                ($value = $inline) =~ s/\s+\z//;       # inline: no trailing newline
            } else {
                $value = $FILTERS{trim}->($FILTERS{norm}->($p));
            }
            for my $f (@filters) {
                next if $f eq 'norm' || $f eq 'trim';
                my $code = $FILTERS{$f}
                    or Test::More::BAIL_OUT("$name - unknown filter '$f' in section '$sname'"
                                           . " (supported: " . join(' ', sort keys %FILTERS) . ")");
                $value = $code->($value);
            }
            $b->set_value($sname, $value);
        }
        next if $b->has_section('SKIP');
        push @blocks, $b;
        if ($b->has_section('ONLY')) {
            $only = $b;
            last;
        }
        last if $b->has_section('LAST');
    }
    if ($only) {
        Test::More::diag("I found ONLY: maybe you're debugging?");
        @blocks = ($only);
    }
    @Blocks = @blocks;
}

# ---------------------------------------------------------------- running

our $CurrentNginxRunning = 0;

sub run_tests () {
    my @blocks = blocks();
    unless (-x $NginxBinary) {
        Test::More::BAIL_OUT("nginx binary $NginxBinary not found (set TEST_NGINX_BINARY)");
    }
    if (!$NoShuffle && !grep { $_->has_section('ONLY') } @blocks) {
        @blocks = shuffle @blocks;
    }
    for my $block (@blocks) {
        $_->($block) for @BlockPreprocessors;
        # test names start with the file, as in the real module
        $block->set_value(name => "$0 " . $block->name);
        run_test($block);
    }
    _stop_nginx();
    $_->() for @CleanupHandlers;
}

sub _expand_env {
    my ($name, $text) = @_;
    return $text unless defined $text;
    $text =~ s{\$(TEST_NGINX_[_A-Z0-9]+)}{
        defined $ENV{$1} ? $ENV{$1}
                         : bail_out("$name - No environment $1 defined.\n")
    }ge;
    return $text;
}

sub _parse_time {
    my $t = shift;
    return undef unless defined $t;
    $t =~ s/^\s+|\s+$//g;
    return $1 / 1000 if $t =~ /^([\d.]+)\s*ms$/;
    return $1 if $t =~ /^([\d.]+)\s*s?$/;
    return $t;
}

sub _write_config {
    my ($block) = @_;
    my $name = $block->name;
    remove_tree($ServRoot) if -d $ServRoot;
    make_path($ConfDir, $LogDir, $HtmlDir, "$ServRoot/tmp");

    my $main_config = _expand_env($name, $block->main_config // '');
    my $post_main_config = _expand_env($name, $block->post_main_config // '');
    my $http_config = _expand_env($name, $block->http_config // '');
    my $config      = _expand_env($name, $block->config // '');

    my $load = '';
    for my $so (split ' ', $ENV{TEST_NGINX_LOAD_MODULES} // '') {
        my $abs = abs_path($so) // $so;
        $load .= "load_module $abs;\n";
    }
    my $env = join '', map { "env $_;\n" } @EnvToNginx;
    my ($daemon, $master) = ('on', $MasterProcessEnabled);
    my $log_level = $block->log_level || $LogLevel;
    my $server_name = $block->server_name // $ServerName;
    my $listen_opts = _use_http2($block) ? ' http2' : '';
    my $extra_http = '';
    if (defined $PostponeOutput && $http_config !~ /\bpostpone_output\b/) {
        $extra_http = "    postpone_output $PostponeOutput;\n";
    }
    my $events_use = $EventType ? "    use $EventType;\n" : '';
    my $user = $> == 0 ? "user root;\n" : '';
    if ($UseValgrind) {
        ($daemon, $master) = ('off', 'off');   # valgrind follows one foreground process
    }
    my $root_loc = $NoRootLocation ? '' : <<"_EOC_";
        location / {
            root $HtmlDir;
            index index.html index.htm;
        }
_EOC_

    my $conf = <<"_EOC_";
# Generated by t/lib/Test/Nginx/Socket.pm for block: $name
$load
worker_processes  $Workers;
daemon $daemon;
master_process $master;
error_log $ErrLogFile $log_level;
pid       $PidFile;
$env
$main_config

http {
    access_log $AccLogFile;
    default_type text/plain;
    keepalive_timeout  68;
    client_body_temp_path $ServRoot/tmp/client_body;
    proxy_temp_path       $ServRoot/tmp/proxy;
    fastcgi_temp_path     $ServRoot/tmp/fastcgi;
    uwsgi_temp_path       $ServRoot/tmp/uwsgi;
    scgi_temp_path        $ServRoot/tmp/scgi;

$http_config
$extra_http
    server {
        listen          $ServerPort$listen_opts;
        server_name     '$server_name';

        client_max_body_size 30M;

        # Begin preamble config...
$ConfigPreamble
        # End preamble config...

        # Begin test case config...
$config
        # End test case config.

$root_loc    }
}

$post_main_config

events {
    accept_mutex off;
    worker_connections  $WorkerConnections;
$events_use}
$user
_EOC_
    open my $out, '>:raw', $ConfFile or bail_out("cannot write $ConfFile: $!");
    print $out $conf;
    close $out;

    if (defined(my $files = $block->user_files)) {
        _write_user_files($name, $files);
    }
}

# --- user_files: ">>> path\ncontent" pieces written under html/ (real-format subset)
sub _write_user_files {
    my ($name, $files) = @_;
    my @items = ref $files eq 'ARRAY' ? @$files : ();
    if (!ref $files) {
        while ($files =~ /^>>> (\S+)\s*\n(.*?)(?=^>>> |\z)/msg) {
            push @items, [$1, $2];
        }
    }
    for my $it (@items) {
        my ($path, $content) = @$it;
        my $full = $path =~ m{^/} ? $path : "$HtmlDir/$path";
        (my $dir = $full) =~ s{/[^/]*$}{};
        make_path($dir);
        open my $o, '>:raw', $full or bail_out("$name - cannot write $full: $!");
        print $o $content;
        close $o;
    }
}

sub _nginx_cmd {
    return ($NginxBinary, '-p', "$ServRoot/", '-c', $ConfFile, '-e', $ErrLogFile);
}

sub _is_running {
    my $pid = shift;
    return 0 unless $pid && kill(0, $pid);
    if (open my $st, '<', "/proc/$pid/stat") {
        my $s = <$st>;
        close $st;
        return 0 if $s && $s =~ /^\d+ \(.*?\) Z/s;   # zombie: gone for our purposes
    }
    return 1;
}

sub _read_pid {
    return undef unless -f $PidFile;
    open my $in, '<', $PidFile or return undef;
    my $pid = <$in>;
    close $in;
    return undef unless defined $pid;
    $pid =~ s/\s+//g;
    return $pid =~ /^\d+$/ ? $pid : undef;
}

# Run nginx; returns (exit_status, stderr_text). In valgrind mode nginx stays in the
# foreground: fork + exec and report 0 once the port accepts.
sub _start_nginx {
    my ($name) = @_;
    my @cmd = _nginx_cmd();
    unlink $StderrFile;
    if ($UseValgrind) {
        my @vg = ('valgrind', '-q', '--tool=memcheck', '--leak-check=full',
                  '--show-possibly-lost=no', '--num-callers=50',
                  "--log-file=$LogDir/valgrind.log");
        my $supp = File::Spec->catfile(cwd(), 't', 'valgrind.suppress');
        push @vg, "--suppressions=$supp" if -f $supp;
        push @vg, split(' ', $UseValgrind) if $UseValgrind !~ /^\d+$/;
        my $pid = fork();
        bail_out("fork failed: $!") unless defined $pid;
        if ($pid == 0) {
            setpgrp(0, 0);
            open STDOUT, '>', '/dev/null';
            open STDERR, '>', $StderrFile;
            exec @vg, @cmd or POSIX::_exit(127);
        }
        $ValgrindPid = $pid;
        my $deadline = time + 60;
        while (time < $deadline) {
            if (waitpid($pid, WNOHANG) == $pid) {
                my $st = $?;
                undef $ValgrindPid;
                return ($st || 1, _slurp($StderrFile));
            }
            my $s = IO::Socket::INET->new(PeerAddr => $ServerAddr, PeerPort => $ServerPortForClient,
                                          Proto => 'tcp', Timeout => 1);
            if ($s) { close $s; return (0, _slurp($StderrFile)) }
            sleep 0.2;
        }
        return (255 << 8, "valgrind nginx did not open port $ServerPort within 60 s\n" . _slurp($StderrFile));
    }
    my $pid = fork();
    bail_out("fork failed: $!") unless defined $pid;
    if ($pid == 0) {
        open STDOUT, '>', '/dev/null';
        open STDERR, '>', $StderrFile;
        exec @cmd or POSIX::_exit(127);
    }
    waitpid($pid, 0);
    my $status = $?;
    if ($status == 0) {
        # the daemon forked and the foreground process exited: wait for the pid file
        my $deadline = time + 5;
        sleep 0.01 while !_read_pid() && time < $deadline;
        $CurrentNginxRunning = 1;
    }
    return ($status, _slurp($StderrFile));
}

sub _stop_nginx {
    my $pid = $ValgrindPid // _read_pid();
    if (!$pid) { $CurrentNginxRunning = 0; return }
    if (_is_running($pid)) {
        kill 'QUIT', $pid;
        my $deadline = time + ($UseValgrind ? 60 : 10);
        while (time < $deadline) {
            if ($ValgrindPid) {
                last if waitpid($ValgrindPid, WNOHANG) == $ValgrindPid;
            } else {
                last unless _is_running($pid);
            }
            sleep 0.02;
        }
        if (_is_running($pid)) {
            Test::More::diag("nginx (pid $pid) did not quit in time; killing it");
            kill 'KILL', $ValgrindPid ? -$pid : $pid;
            waitpid($ValgrindPid, 0) if $ValgrindPid;
        }
    }
    undef $ValgrindPid;
    unlink $PidFile if -f $PidFile;
    $CurrentNginxRunning = 0;
}

sub _slurp {
    my $f = shift;
    open my $in, '<:raw', $f or return '';
    local $/;
    my $d = <$in>;
    close $in;
    return $d // '';
}

# The error log window, as in the real module: each check reads the lines written
# since the previous check (the first check of a block reads from the start, nginx's
# startup and --- init included), unless check_accum_error_log() is in force.
our $ErrLogFilePos = 0;

sub _errlog_lines_all {
    my ($pos) = @_;
    open my $in, '<:raw', $ErrLogFile or return [];
    seek $in, $pos // 0, 0;
    my @lines = <$in>;
    close $in;
    return \@lines;
}

sub _error_log_data {
    # lines written in the log phase come after the client saw the response
    sleep $TestNginxSleep * 3;
    open my $in, '<:raw', $ErrLogFile or return [];
    seek $in, $ErrLogFilePos, 0 if !$CheckAccumErrLog && $ErrLogFilePos > 0;
    my @lines = <$in>;
    $ErrLogFilePos = tell($in) unless $CheckAccumErrLog;
    close $in;
    return \@lines;
}

sub _fmt_str {
    my $s = shift;
    chomp $s;
    $s =~ s/"/\\"/g;
    $s =~ s/\r/\\r/g;
    $s =~ s/\n/\\n/g;
    return $s;
}

sub _patterns {
    my ($pats) = @_;
    return undef unless defined $pats;
    if (!ref $pats) {
        chomp $pats;
        return [ split /\n+/, $pats ];
    }
    return [$pats] if ref $pats eq 'Regexp';
    return [@$pats];
}

sub _line_matches {
    my ($line, $pat) = @_;
    return (ref $pat && $line =~ /$pat/) || $line =~ /\Q$pat\E/;
}

# "pattern matches a line" for each of $pats; $suffix names the request (" (req N)")
sub _expect_lines {
    my ($name, $what, $lines, $pats, $suffix) = @_;
    for my $line (@$lines) {
        for my $pat (@$pats) {
            next unless defined $pat;
            if (_line_matches($line, $pat)) {
                Test::More::pass("$name - pattern \"$pat\" matches a line in $what$suffix");
                undef $pat;
            }
        }
    }
    for my $pat (grep { defined } @$pats) {
        Test::More::fail("$name - pattern \"$pat\" should match a line in $what$suffix");
    }
}

sub _refuse_lines {
    my ($name, $what, $lines, $pats, $suffix) = @_;
    my %found;
    for my $line (@$lines) {
        for my $pat (@$pats) {
            next unless defined $pat;
            next unless _line_matches($line, $pat);
            $found{$pat} = 1;
            Test::More::fail("$name - pattern \"" . _fmt_str($pat)
                . "\" should not match any line in $what but matches line \""
                . _fmt_str($line) . "\"$suffix");
        }
    }
    for my $pat (@$pats) {
        next if !defined $pat || $found{$pat};
        Test::More::pass("$name - pattern \"" . _fmt_str($pat)
            . "\" does not match a line in $what$suffix");
    }
}

# --- error_log / --- no_error_log against the current window; "(req N)" is the
# repetition (repeat_each) index, as in the real module
sub _check_error_log {
    my ($block, $rep_idx, $quiet_emerg, $extra) = @_;
    my $name = $block->name;
    my $lines = [ @{ $extra // [] }, @{ _error_log_data() } ];
    my $suffix = " (req $rep_idx)";
    if (my $pats = _patterns($block->error_log)) {
        _expect_lines($name, 'error.log', $lines, $pats, $suffix);
    }
    if (my $pats = _patterns($block->no_error_log)) {
        _refuse_lines($name, 'error.log', $lines, $pats, $suffix);
    }
    # like the real module: warn (do not fail) on alert/crit/emerg lines nobody asked for
    my @asked = map { @{ _patterns($block->$_) // [] } } qw(error_log no_error_log);
    for my $lvl (qw(alert crit emerg)) {
        next if grep { !ref $_ && index($_, "[$lvl") >= 0 } @asked;
        next if $quiet_emerg && $lvl eq 'emerg';   # must_die: emerg is the expected outcome
        for my $line (@$lines) {
            Test::More::diag("WARNING: $name - " . _fmt_str($line)) if $line =~ /\[$lvl\]/;
        }
    }
    _check_assertions($name, $lines);
}

# a failed C assert() in nginx or a module is a failure wherever it shows up
sub _check_assertions {
    my ($name, $lines) = @_;
    for my $line (@$lines) {
        next unless $line =~ /\bAssertion .*?failed\b/;
        chomp(my $l = $line);
        Test::More::fail("$name - $l");
    }
}

# --- shutdown_error_log (and --- no_shutdown_error_log with it, as in the real
# module, which ignores the latter alone): the lines written after the block's
# last check, through nginx's exit
sub _check_shutdown_error_log {
    my ($block) = @_;
    return unless defined $block->shutdown_error_log;
    my $name = $block->name;
    my $lines = _error_log_data();
    if (my $pats = _patterns($block->no_shutdown_error_log)) {
        _refuse_lines($name, 'error.log', $lines, $pats, '');
    }
    _expect_lines($name, 'error.log', $lines, _patterns($block->shutdown_error_log), '');
    _check_assertions($name, $lines);
}

sub _indexed {
    my ($name, $value, $idx, $need_array) = @_;
    if ($need_array) {
        return $value->[$idx] if ref $value eq 'ARRAY';
        bail_out("$name - You asked for many requests, the expected results should be arrays as well.");
    }
    return $value->[0] if ref $value eq 'ARRAY';
    return $value;
}

sub _parse_more_headers {
    my ($in) = @_;
    my ($out, $chunked) = ('', 0);
    for my $h (split /\n+/, $in // '') {
        next if $h =~ /^\s*#/ || $h !~ /\S/;
        my ($k, $v) = split /:\s*/, $h, 2;
        $v //= '';
        $chunked = 1 if lc($k) eq 'transfer-encoding' && lc($v) eq 'chunked';
        $out .= "$k: $v\r\n";
    }
    return ($out, $chunked);
}

# "METHOD [URI [HTTP/x.y]]\nbody..." -> the bytes to send
sub _build_request {
    my ($name, $req, $more_headers, $conn) = @_;
    1 while $req =~ s/^\s*#[^\n]*\n//s || $req =~ s/^\s+//s;
    my ($first, $body) = split /\n/, $req, 2;
    $first //= '';
    my ($meth, $uri, $ver) = split ' ', $first;
    bail_out("$name - Request line should be non-empty") unless defined $meth;
    $uri //= '/';
    $ver //= 'HTTP/1.1';
    my ($hdrs, $chunked) = _parse_more_headers($more_headers);
    my $len = '';
    if (defined $body) {
        $body =~ s/^\s+|\s+$//gs;
    } else {
        $body = '';
    }
    if (!$chunked && $body ne '' && $hdrs !~ /(?:^|\n)Content-Length:/i) {
        $len = "Content-Length: " . length($body) . "\r\n";
    }
    my $h = '';
    $h .= "Host: $ServerName\r\n" if $hdrs !~ /(?:^|\n)Host:/i;
    $h .= "Connection: " . ($conn // 'close') . "\r\n" if $hdrs !~ /(?:^|\n)Connection/i;
    return "$meth $uri $ver\r\n$h$hdrs$len\r\n$body";
}

sub _requests_for_block {
    my ($block) = @_;
    my $name = $block->name;
    if (defined(my $raw = $block->raw_request)) {
        return [ ref $raw eq 'ARRAY' ? $raw : [$raw] ];   # one request, maybe several packets
    }
    my $mh = $block->more_headers;
    if (defined(my $pl = $block->pipelined_requests)) {
        # one keep-alive connection; the last request closes it
        bail_out("$name - invalid entries in --- pipelined_requests") unless ref $pl eq 'ARRAY';
        my $all = '';
        for my $i (0 .. $#$pl) {
            my $h = ref $mh eq 'ARRAY' ? $mh->[$i] : $mh;
            $all .= _build_request($name, $pl->[$i], $h, $i == $#$pl ? 'close' : 'keep-alive');
        }
        return [ [$all] ];
    }
    my $req = $block->request;
    bail_out("$name - no --- request or --- raw_request section") unless defined $req;
    if (ref $req eq 'ARRAY') {
        my @list;
        my $i = 0;
        for my $r (@$req) {
            my $h = ref $mh eq 'ARRAY' ? $mh->[$i] : $mh;
            if (ref $r eq 'ARRAY') {          # packets: join the request, keep split points
                my $full = _build_request($name, join('', @$r), $h);
                push @list, [$full];
            } else {
                push @list, [ _build_request($name, $r, $h) ];
            }
            $i++;
        }
        return \@list;
    }
    return [ [ _build_request($name, $req, ref $mh eq 'ARRAY' ? $mh->[0] : $mh) ] ];
}

# send the packets, read until EOF or timeout. returns (raw_response, timed_out)
sub _send_request {
    my ($block, $packets, $timeout) = @_;
    my $name = $block->name;
    my $sock;
    my $deadline = time + 5;
    while (!$sock) {
        $sock = IO::Socket::INET->new(PeerAddr => $ServerAddr, PeerPort => $ServerPortForClient,
                                      Proto => 'tcp', Timeout => $timeout);
        last if $sock;
        if (time > $deadline) {
            Test::More::fail("$name - Can't connect to $ServerAddr:$ServerPortForClient: $! (aborted)");
            return (undef, 0);
        }
        sleep 0.05;
    }
    binmode $sock;
    $sock->blocking(0);
    my $sel = IO::Select->new($sock);
    my $resp = '';
    my $end = time + $timeout;
    my $delay = _parse_time($block->raw_request_middle_delay // $block->request_middle_delay) // 0;
    my $write_failed = 0;
    local $SIG{PIPE} = 'IGNORE';
  PACKET:
    for my $pi (0 .. $#$packets) {
        sleep $delay if $pi > 0 && $delay;
        my $buf = $packets->[$pi];
        my $off = 0;
        while ($off < length $buf) {
            my $left = $end - time;
            last PACKET if $left <= 0;
            my ($r, $w) = IO::Select->select($sel, $sel, undef, $left);
            if ($r && @$r) {   # server answered early (e.g. 413): collect, keep going
                my $n = sysread($sock, my $chunk, 65536);
                if (defined $n && $n > 0) { $resp .= $chunk }
                elsif (defined $n) { $write_failed = 1; last PACKET }
            }
            if ($w && @$w) {
                my $n = syswrite($sock, $buf, length($buf) - $off, $off);
                if (!defined $n) {
                    next if $! == EAGAIN || $! == EWOULDBLOCK || $! == EINTR;
                    $write_failed = 1;
                    last PACKET;
                }
                $off += $n;
                $end = time + $timeout;   # the timeout is per I/O event, as in the real one
            }
        }
    }
    if (defined(my $sd = $block->shutdown)) {
        shutdown($sock, $sd =~ /^\d$/ ? $sd : 1);
    }
    my $timed_out = 0;
    while (1) {
        my $left = $end - time;
        if ($left <= 0) { $timed_out = 1; last }
        my @r = $sel->can_read($left);
        if (!@r) { $timed_out = 1; last }
        my $n = sysread($sock, my $chunk, 65536);
        if (!defined $n) {
            next if $! == EAGAIN || $! == EWOULDBLOCK || $! == EINTR;
            last;      # ECONNRESET after an early answer: keep what we have
        }
        last if $n == 0;
        $resp .= $chunk;
        $end = time + $timeout;
    }
    close $sock;
    if ($timed_out) {
        if (defined $block->abort) {
            sleep 0.005;
        } else {
            Test::More::fail("ERROR: client socket timed out - $name");
        }
    }
    return ($resp, $timed_out);
}

# HTTP/2 as in the real module: a block with --- http2, or every block that can under
# TEST_NGINX_USE_HTTP2 (not raw_request or pipelined_requests, not an explicit HTTP/1.0
# request); the server then listens with "http2" and curl sends the requests
sub _use_http2 {
    my ($block) = @_;
    my $cached = $block->test_nginx_enabled_http2;
    return $cached if defined $cached;
    my $name = $block->name;
    my $on = 0;
    if (defined $block->http2) {
        bail_out("cannot use --- http2 with --- raw_request") if defined $block->raw_request;
        bail_out("cannot use --- http2 with --- pipelined_requests")
            if defined $block->pipelined_requests;
        $on = 1;
    } elsif ($UseHttp2) {
        my $req = $block->request;
        if (defined $block->raw_request) {
            Test::More::diag("WARNING: $name - using raw_request HTTP/2, will not use HTTP/2");
        } elsif (defined $block->pipelined_requests) {
            Test::More::diag("WARNING: $name - using pipelined_requests, will not use HTTP/2");
        } elsif (!defined $req) {
        } elsif (!ref $req && $req =~ m{HTTP/1\.0}s) {
            Test::More::diag("WARNING: $name - explicitly requires HTTP 1.0, so will not use HTTP/2");
        } else {
            $on = 1;
        }
    }
    $block->set_value(test_nginx_enabled_http2 => $on);
    return $on;
}

# the curl command line the real module builds for a request (gen_curl_cmd_from_req)
sub _curl_cmd {
    my ($block, $req, $timeout) = @_;
    my $name = $block->name;
    my ($meth, $uri, $ver);
    if ($req =~ m{^\s*(\w+)\s+(\S+)\s+HTTP/(\S+)\r?\n}smig) {
        ($meth, $uri, $ver) = ($1, $2, $3);
    } else {
        bail_out("$name - cannot parse the status line in the request: $req");
    }
    my @args = ('curl', '-i', '-H', 'User-Agent:', '-H', 'Accept:', '-H', 'Host:',
                $Verbose ? '-vv' : '-sS', '--http2', '--http2-prior-knowledge');
    push @args, $meth eq 'HEAD' ? ('-I') : ('-X', $meth);
    push @args, '-0' if $ver ne '1.1';
    my $found_ct;
    if ($req =~ m{\G(.*?)\r?\n\r?\n}gcs) {
        for my $h (grep { !/^Connection\s*:/i } split /\r\n/, $1) {
            $found_ct = 1 if $h =~ /^\s*Content-Type\s*:/i;
            push @args, '-H', $h;
        }
    }
    if ($req =~ m{\G(.+)}gcsm) {
        push @args, '-H', 'Content-Type: ' unless $found_ct;
        my $file = "$HtmlDir/curl.data.bin";
        open my $fh, '>:raw', $file or bail_out("$name - cannot write $file: $!");
        print $fh $1;
        close $fh;
        push @args, '--data-binary', "\@$file";
    }
    push @args, '--connect-timeout', $timeout, '--max-time', $timeout;
    push @args, split ' ', $block->curl_options if defined $block->curl_options;
    my $proto = $block->curl_protocol // 'http';
    my $addr = $block->server_addr_for_client // $ServerAddr;
    push @args, "$proto://$addr:$ServerPortForClient$uri";
    return \@args;
}

# -> the raw response curl printed (status line, headers, body), undef on failure
sub _send_request_by_curl {
    my ($block, $packets, $timeout) = @_;
    my $name = $block->name;
    my $cmd = _curl_cmd($block, join('', @$packets), $timeout);
    Test::More::diag("running @$cmd") if $Verbose;
    my ($out_f, $err_f) = ("$LogDir/curl.out", "$LogDir/curl.err");
    my $pid = fork();
    bail_out("fork failed: $!") unless defined $pid;
    if ($pid == 0) {
        open STDIN, '<', '/dev/null';
        open STDOUT, '>', $out_f;
        open STDERR, '>', $err_f;
        exec @$cmd or POSIX::_exit(127);
    }
    my $deadline = time + $timeout + 2;
    while (waitpid($pid, WNOHANG) == 0) {
        if (time > $deadline) { kill 'KILL', $pid; waitpid($pid, 0); last }
        sleep 0.01;
    }
    my ($out, $err) = (_slurp($out_f), _slurp($err_f));
    if (!length $out) {
        my $want = $block->curl_error;
        if (defined $want && length $err
            && (ref $want ? $err =~ /$want/ : index($err, $want) >= 0)) {
            return undef;
        }
        if (length $err) {
            Test::More::fail("$name - command \"@$cmd\" generates stderr output: $err");
        } else {
            Test::More::fail("$name - curl command \"@$cmd\" generates no stdout output");
        }
        return undef;
    }
    Test::More::diag("WARNING: $name - command \"@$cmd\" generates stderr output: $err")
        if length $err;
    return $out;
}

# -> ({ code, headers => { lc name => [values] }, raw_headers, body }, bytes left over
# after this response: the next pipelined response)
sub _parse_response {
    my ($name, $raw, $head_req) = @_;
    my $res = { code => '', headers => {}, raw_headers => '', body => '' };
    return ($res, undef) unless defined $raw && length $raw;
    my ($head, $body) = split /\r\n\r\n/, $raw, 2;
    $res->{raw_headers} = "$head\r\n";
    my @lines = split /\r\n/, $head;
    my $status = shift @lines // '';
    if ($status =~ m{^HTTP/[\d.]+\s+(\d{3})}) {       # HTTP/1.x, or HTTP/2 from curl
        $res->{code} = $1;
    }
    for my $l (@lines) {
        my ($k, $v) = split /:\s*/, $l, 2;
        next unless defined $k;
        push @{ $res->{headers}{ lc $k } }, $v // '';
    }
    $body //= '';
    return ($res, length $body ? $body : undef)
        if $head_req || $res->{code} eq '304' || $res->{code} eq '204';
    my $te = _header($res, 'Transfer-Encoding');
    my $cl = _header($res, 'Content-Length');
    my $left;
    if (defined $te && lc $te eq 'chunked') {
        my $decoded = '';
        my $pos = 0;
        while (1) {
            if (substr($body, $pos) !~ /\A[ \t]*([0-9A-Fa-f]+)[^\r\n]*\r\n/) {
                Test::More::fail("$name - invalid chunked body received");
                last;
            }
            my $size = hex $1;
            $pos += length $&;
            if ($size == 0) {
                $pos += 2 if substr($body, $pos, 2) eq "\r\n";
                $left = substr($body, $pos) if $pos < length $body;
                last;
            }
            if (length($body) < $pos + $size + 2) {
                Test::More::fail("$name - invalid chunked data received (not enough octets for the data section)");
                $decoded .= substr($body, $pos);
                last;
            }
            $decoded .= substr($body, $pos, $size);
            $pos += $size;
            if (substr($body, $pos, 2) ne "\r\n") {
                Test::More::fail("$name - invalid chunked data received (expected CRLF).");
                last;
            }
            $pos += 2;
        }
        $res->{body} = $decoded;
    } elsif (defined $cl && $cl =~ /^\d+$/) {
        if (length $body < $cl) {
            Test::More::diag("WARNING: $name - response body truncated: $cl expected, but got " . length $body);
            $res->{body} = $body;
        } else {
            $res->{body} = substr($body, 0, $cl);
            $left = substr($body, $cl) if length $body > $cl;
        }
    } else {
        $res->{body} = $body;
    }
    return ($res, $left);
}

sub _header {
    my ($res, $k) = @_;
    my $v = $res->{headers}{ lc $k };
    return undef unless $v;
    return join ', ', @$v;
}

sub _parse_header_spec {
    my ($s) = @_;
    my @pairs;
    for my $l (split /\n/, $s // '') {
        $l =~ s/^\s+|\s+$//g;
        next if $l eq '';
        if ($l =~ s/^!\s*//) {
            push @pairs, [$l, undef];
        } else {
            my ($k, $v) = split /\s*:\s*/, $l, 2;
            push @pairs, [$k, $v // ''];
        }
    }
    return @pairs;
}

sub _check_response {
    my ($block, $res, $req_idx, $rep_idx, $need_array) = @_;
    my $name = $block->name;

    # status
    if (defined $block->error_code_like) {
        my $v = _indexed($name, $block->error_code_like, $req_idx, $need_array);
        Test::More::like($res->{code}, qr/$v/sm, "$name - status code ok");
    } else {
        my $exp = defined $block->error_code
            ? _indexed($name, $block->error_code, $req_idx, $need_array) : 200;
        $exp =~ s/^\s+|\s+$//g if defined $exp;
        Test::More::is($res->{code}, $exp, "$name - status code ok");
    }

    # raw headers
    if (defined $block->raw_response_headers_like) {
        my $v = _indexed($name, $block->raw_response_headers_like, $req_idx, $need_array);
        Test::More::like($res->{raw_headers}, qr/$v/s, "$name - raw resp headers like");
    }
    if (defined $block->raw_response_headers_unlike) {
        my $v = _indexed($name, $block->raw_response_headers_unlike, $req_idx, $need_array);
        Test::More::unlike($res->{raw_headers}, qr/$v/s, "$name - raw resp headers unlike");
    }

    # headers
    if (defined $block->response_headers) {
        for my $p (_parse_header_spec(_indexed($name, $block->response_headers, $req_idx, $need_array))) {
            my ($k, $v) = @$p;
            if (!defined $v) {
                Test::More::unlike($res->{raw_headers}, qr/^\s*\Q$k\E\s*:/ms,
                                   "$name - header $k not present in the raw headers");
                next;
            }
            $v =~ s/\$ServerPort\b/$ServerPort/g;
            Test::More::is(_header($res, $k) // '', $v, "$name - header $k ok");
        }
    } elsif (defined $block->response_headers_like) {
        for my $p (_parse_header_spec(_indexed($name, $block->response_headers_like, $req_idx, $need_array))) {
            my ($k, $v) = @$p;
            $v //= '';
            Test::More::like(_header($res, $k) // '', qr/^$v$/, "$name - header $k like ok");
        }
    }

    # body
    my $content = $res->{body};
    if (defined $block->response_body) {
        my $exp = _indexed($name, $block->response_body, $req_idx, $need_array);
        if (ref $exp) {
            Test::More::like($content, $exp,
                "$name - response_body - like (repeated req $rep_idx, req $req_idx)");
        } else {
            $exp =~ s/\$ServerPort\b/$ServerPort/g;
            $exp =~ s/\$ServerPortForClient\b/$ServerPortForClient/g;
            Test::More::is($content, $exp,
                "$name - response_body - response is expected (repeated req $rep_idx, req $req_idx)");
        }
    } elsif (defined $block->response_body_like || defined $block->response_body_unlike) {
        my ($type, $pat) = defined $block->response_body_like
            ? ('like', $block->response_body_like) : ('unlike', $block->response_body_unlike);
        $pat = _indexed($name, $pat, $req_idx, $need_array);
        $pat =~ s/\$ServerPort\b/$ServerPort/g unless ref $pat;
        my $summary = $content // '';
        $summary =~ s/^\s+|\s+$//g;
        my $re = qr/$pat/s;
        if ($type eq 'like') {
            Test::More::like($content, $re, "$name - response_body_like - response is expected ($summary)");
        } else {
            Test::More::unlike($content, $re, "$name - response_body_unlike - response is expected ($summary)");
        }
    }
    for my $check (@ResponseBodyChecks) {
        $check->($block, $content, $req_idx, $rep_idx, 0);
    }
}

sub run_test ($) {
    my ($block) = @_;
    my $name = $block->name;

    # --- skip_eval: N: perl-expression   (skip the block's N tests when true)
    if (defined(my $se = $block->skip_eval)) {
        if ($se =~ /^\s*(\d+)\s*:\s*(.*)$/s) {
            my ($n, $code) = ($1, $2);
            my $r = _filter_eval($code);
            if ($r) {
                SKIP: { Test::More::skip("$name - skip_eval", $n * $RepeatEach) }
                return;
            }
        } else {
            bail_out("$name - bad --- skip_eval (want 'N: expr')");
        }
    }

    _stop_nginx();       # leftovers of a previous block or an aborted run
    _write_config($block);
    $ErrLogFilePos = 0;

    my $must_die = $block->must_die;
    if (defined $must_die) {
        for my $i (0 .. $RepeatEach - 1) {
            my ($status, $stderr) = _start_nginx($name);
            if ($must_die =~ /^\s*(\d+)\s*$/) {
                Test::More::is($status >> 8, $1, "$name - die with the expected exit code");
            } else {
                Test::More::isnt($status, 0, "$name - die as expected");
            }
            $ErrLogFilePos = 0;
            _check_error_log($block, $i, 1, [ split /^/m, $stderr ]);
            if ($status == 0) {
                Test::More::diag("WARNING: $name - nginx must die but it does not; killing it (req $i)");
                _stop_nginx();
            }
        }
        return;
    }

    my ($status, $stderr) = _start_nginx($name);
    if ($status != 0) {
        Test::More::fail("$name - nginx started (exit status " . ($status >> 8) . "): $stderr");
        Test::More::diag(_slurp($ErrLogFile)) if $Verbose;
        return;
    }
    if (my $init = $block->init) {
        _filter_eval($init);
    }

    # the real module's order: for each repetition, every request is sent and its
    # response checked; after each request but the last, --- wait is slept and the
    # error log checked; after the last, --- wait, then the final error log check
    $ErrLogFilePos = 0;
    my $reqs = _requests_for_block($block);
    my $pipelined = $block->pipelined_requests;
    my $need_array = $pipelined ? 1 : @$reqs > 1;
    my $timeout = _parse_time($block->timeout) // $Timeout;
    my $wait = _parse_time($block->wait);

    for my $rep (0 .. $RepeatEach - 1) {
        write_user_files_again($block) if $rep > 0;
        for my $ri (0 .. $#$reqs) {
            my $packets = $reqs->[$ri];
            my $head_req = join('', @$packets) =~ /^\s*HEAD\s/ ? 1 : 0;
            my ($raw) = _use_http2($block)
                ? _send_request_by_curl($block, $packets, $timeout)
                : _send_request($block, $packets, $timeout);
            if ($Verbose) { Test::More::diag("response: " . ($raw // '(none)')) }
            my $n = $pipelined ? scalar @$pipelined : 1;
            for my $k (0 .. $n - 1) {
                my $req_idx = $pipelined ? $k : $ri;
                my ($res, $left);
                if (!defined $block->ignore_response) {
                    ($res, $left) = _parse_response($name, $raw, $head_req);
                    _check_response($block, $res, $req_idx, $rep, $need_array);
                }
                $raw = $left;
                my $last = $k == $n - 1 && $ri == $#$reqs;
                next if $last;
                sleep $wait if $wait;
                _check_error_log($block, $rep);
            }
        }
        sleep $wait if $wait;
        _check_error_log($block, $rep);
    }

    my $pid = $ValgrindPid // _read_pid();
    if ($pid && !_is_running($pid)) {
        # with master_process off a crash leaves no "exited on signal" line: say it here
        Test::More::diag("WARNING: $name - nginx (pid $pid) is gone: it died during the block"
                         . " (crash or exit; see $ErrLogFile)");
    }
    _stop_nginx();
    _check_shutdown_error_log($block);
    if ($UseValgrind) {
        my $log = _slurp("$LogDir/valgrind.log");
        my $bad = $log =~ /ERROR SUMMARY: [1-9]|definitely lost: [1-9]|Invalid (?:read|write|free)|uninitialised/;
        Test::More::ok(!$bad, "$name - valgrind reports no memory errors")
            or Test::More::diag($log);
    }
}

sub write_user_files_again {
    my ($block) = @_;
    _write_user_files($block->name, $block->user_files) if defined $block->user_files;
}

END {
    _stop_nginx() if $CurrentNginxRunning || $ValgrindPid;
}

# an interrupted run (Ctrl-C, prove killed, output pipe closed) must not leave nginx behind
for my $sig (qw(INT TERM HUP PIPE)) {
    $SIG{$sig} = sub {
        $SIG{$sig} = 'DEFAULT';
        local $SIG{PIPE} = 'IGNORE';
        _stop_nginx();
        kill $sig, $$;
    };
}

1;
