# VoteT.pm - helpers for the module's Test::Nginx suites (t/0*.t):
#   - environment for the nginx.conf blocks: $TEST_NGINX_KAFKA_BROKERS,
#     $TEST_NGINX_POLLS, $TEST_NGINX_JWT_SECRETS, $TEST_NGINX_CERT_DIR (the
#     test certificate of t/cert/), $TEST_NGINX_TOPIC (a unique
#     per-run prefix, so suites never see each other's messages);
#   - real Kafka topics created for the run (KAFKA_TOPICS_CMD from build.sh, or
#     Kafka's TopicCommand), read back with kcat, deleted when the suite ends;
#   - HS256 tokens built independently of the module (Digest::SHA), including
#     deliberately broken ones;
#   - http_request(): one plain HTTP/1.1 request to the block's nginx, for
#     --- init code that must put nginx in a state before the checked request;
#   - two extra block sections, checked after the response:
#       --- kafka_readback      topic/key/value_like/header lines: the message the
#                               response's id names must be in the topic
#       --- kafka_count         "SUFFIX N": the topic holds exactly N messages
#                               (e.g. 0 after every 4xx: nothing is produced)
# Used as: use FindBin; use lib "$FindBin::Bin"; use VoteT; (after Test::Nginx::Socket).
package VoteT;

use strict;
use warnings;
use Cwd qw(abs_path);
use Digest::SHA qw(hmac_sha256);
use File::Basename qw(dirname);
use File::Temp qw(tempdir);
use IO::Socket::INET;
use JSON::PP;
use MIME::Base64 qw(encode_base64);
use Time::HiRes qw(sleep);
use Exporter 'import';

our @EXPORT = qw(jwt topic kafka_messages kafka_produce create_topics http_request);

my $root = abs_path(dirname(__FILE__) . '/..');
my $brokers = $ENV{TEST_NGINX_KAFKA_BROKERS} || $ENV{KAFKA_BROKERS} || '127.0.0.1:9092';
my $prefix = "t-vote-$$-" . time();
my @created;
my $dir = tempdir('vote-t-XXXXXX', TMPDIR => 1, CLEANUP => 1);

our $SECRET     = 'test-secret-0123456789abcdef-1';
our $OLD_SECRET = 'test-secret-0123456789abcdef-0';

$ENV{TEST_NGINX_KAFKA_BROKERS} = $brokers;
$ENV{TEST_NGINX_POLLS} = "$root/stack/polls.json";
# the committed test-only certificate (t/cert/README.md) for "listen ... ssl" servers
$ENV{TEST_NGINX_CERT_DIR} ||= "$root/t/cert";
$ENV{TEST_NGINX_TOPIC} = $prefix;
$ENV{TEST_NGINX_JWT_SECRETS} = "$dir/jwt-secrets";
$ENV{TEST_NGINX_TMP} = $dir;
{
    open my $fh, '>', "$dir/jwt-secrets" or die "$dir/jwt-secrets: $!";
    print $fh "# test keys: first signs, both verify\nk1 $SECRET\nk0 $OLD_SECRET\n";
    close $fh;
}

sub topic { return "$prefix-$_[0]" }

# build.sh exports KAFKA_TOPICS_CMD; by hand, the stack's own wrapper does the same
our $topics_cmd = $ENV{KAFKA_TOPICS_CMD}
    || do { my $d = __FILE__; $d =~ s{t/VoteT\.pm$}{}; ($d || './') . 'stack/bin/kafka-topics' };

# create "$prefix-$suffix" for each suffix, with 2 partitions
sub create_topics {
    my @names = map { topic($_) } @_;
    for my $t (@names) {
        my $rc = system("$topics_cmd create $t 2 >/dev/null 2>&1");
        die "VoteT: cannot create topic $t\n" if $rc != 0;
        push @created, $t;
    }
    # wait until the broker serves metadata for them
    for my $t (@names) {
        for (1 .. 50) {
            last if `kcat -b $brokers -L -t $t -q 2>/dev/null` =~ /partitions?: ?2|2 partitions/;
            sleep 0.2;
        }
    }
}

# the run's topics are removed when the suite ends (set VOTE_T_KEEP_TOPICS=1 to keep them)
END {
    return if $ENV{VOTE_T_KEEP_TOPICS} || !@created || $$ != $VoteT::PID;
    my $rc = $?;
    system("$topics_cmd delete $_ >/dev/null 2>&1") for @created;
    $? = $rc;
}
our $PID = $$;

# http_request(METHOD, URI, BODY, HEADER => VALUE...): sends one request to the block's
# nginx ($TEST_NGINX_SERVER_PORT, which both Test::Nginx runners set) and returns its
# status code; dies when there is no answer. For --- init sections: what init sends is
# not checked by the runner, so the caller states the status it needs.
sub http_request {
    my ($method, $uri, $body, %hdr) = @_;
    $body //= '';
    my $port = $ENV{TEST_NGINX_SERVER_PORT} || 1984;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port,
                                  Proto => 'tcp', Timeout => 5)
        or die "VoteT::http_request: cannot connect to 127.0.0.1:$port: $!\n";
    my $h = join '', map { "$_: $hdr{$_}\r\n" } sort keys %hdr;
    print $s "$method $uri HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n$h"
           . "Content-Length: " . length($body) . "\r\n\r\n$body";
    local $/;
    my $resp = <$s> // '';
    close $s;
    $resp =~ m{^HTTP/1\.\d (\d{3})} or die "VoteT::http_request: no HTTP answer to $method $uri\n";
    return $1;
}

sub b64url {
    my $s = encode_base64($_[0], '');
    $s =~ tr{+/}{-_};
    $s =~ s/=+$//;
    return $s;
}

# jwt(sub => 'alice', exp => ..., nbf => ..., alg => ..., kid => ..., secret => ...,
#     jti => ..., tamper => 1, no_sig => 1)
sub jwt {
    my %o = @_;
    my $now = time();
    my %hdr = (alg => $o{alg} // 'HS256', typ => 'JWT');
    $hdr{kid} = $o{kid} // 'k1' unless $o{no_kid};
    my %pl = (sub => $o{sub} // 'alice', jti => $o{jti} // "jti-$$-" . int(rand(1e9)),
              iat => $now, exp => $o{exp} // $now + 600);
    $pl{nbf} = $o{nbf} if defined $o{nbf};
    my $js = JSON::PP->new->canonical;
    my $si = b64url($js->encode(\%hdr)) . '.' . b64url($js->encode(\%pl));
    my $sig = b64url(hmac_sha256($si, $o{secret} // $SECRET));
    return "$si." if $o{no_sig};
    if ($o{tamper}) {
        $pl{sub} = $o{tamper};
        $si = b64url($js->encode(\%hdr)) . '.' . b64url($js->encode(\%pl));
    }
    return "$si.$sig";
}

# every message of a topic: [{key, payload, headers => {..}, partition, offset}]
sub kafka_messages {
    my ($t) = @_;
    my @out;
    my $js = JSON::PP->new;
    open my $fh, '-|', 'kcat', '-C', '-b', $brokers, '-t', $t, '-o', 'beginning', '-e', '-q', '-J'
        or die "kcat: $!";
    while (my $line = <$fh>) {
        my $m = eval { $js->decode($line) } or next;
        my %h = @{ $m->{headers} // [] };
        push @out, { key => $m->{key}, payload => $m->{payload}, headers => \%h,
                     partition => $m->{partition}, offset => $m->{offset} };
    }
    close $fh;
    return @out;
}

sub kafka_produce {
    my ($t, $key, $value) = @_;
    open my $fh, '|-', 'kcat', '-P', '-b', $brokers, '-t', $t, '-k', $key or die "kcat: $!";
    print $fh $value;
    close $fh or die "kcat -P failed\n";
}

sub _readback {
    my ($block, $body) = @_;
    my $spec = $block->kafka_readback;
    my %want;
    for my $l (split /\n/, $spec) {
        next unless $l =~ /^\s*(\w[\w-]*)\s*:\s*(.*?)\s*$/;
        push @{ $want{$1} }, $2;
    }
    my $name = $block->name;
    my ($id) = ($body // '') =~ /"id":"([0-9A-Z]{26})"/;
    Test::More::ok(defined $id, "$name - kafka_readback - response carries an id");
    return unless defined $id;
    my $t = topic($want{topic}[0]);
    my @hit;
    for (1 .. 25) {              # delivery may still be under way in local mode
        @hit = grep { ($_->{headers}{'msg-id'} // '') eq $id } kafka_messages($t);
        last if @hit;
        sleep 0.2;
    }
    Test::More::is(scalar @hit, 1, "$name - kafka_readback - exactly one record with msg-id $id in $t");
    return unless @hit;
    my $m = $hit[0];
    Test::More::is($m->{headers}{schema}, '1', "$name - kafka_readback - schema header");
    # request-id: the message id unless the block says otherwise
    # ("request_id: /regex/" or "request_id: exact value")
    my $rid = ($want{request_id} // ['$id'])->[0];
    if ($rid =~ m{^/(.*)/$}) {
        Test::More::like($m->{headers}{'request-id'} // '', qr/$1/,
                         "$name - kafka_readback - request-id header like $rid");
    } else {
        $rid = $id if $rid eq '$id';
        Test::More::is($m->{headers}{'request-id'}, $rid, "$name - kafka_readback - request-id header");
    }
    my $v = eval { JSON::PP->new->decode($m->{payload}) };
    Test::More::is(ref $v eq 'HASH' ? $v->{id} : undef, $id, "$name - kafka_readback - value id");
    for my $k (@{ $want{key} // [] }) {
        $k = $id if $k eq '$id';
        Test::More::is($m->{key}, $k, "$name - kafka_readback - key");
    }
    for my $re (@{ $want{value_like} // [] }) {
        Test::More::like($m->{payload}, qr/$re/, "$name - kafka_readback - value like $re");
    }
}

sub _count {
    my ($block) = @_;
    my ($suffix, $n) = split ' ', $block->kafka_count;
    sleep 0.5;                   # give a wrongly produced message time to show up
    my @m = kafka_messages(topic($suffix));
    Test::More::is(scalar @m, $n, $block->name . " - kafka_count - $n messages in " . topic($suffix));
}

Test::Nginx::Socket::add_response_body_check(sub {
    my ($block, $body, $req_idx, $rep_idx, $dry) = @_;
    return if $dry;
    _readback($block, $body) if defined $block->kafka_readback && !$req_idx;
    _count($block) if defined $block->kafka_count;
});

1;
