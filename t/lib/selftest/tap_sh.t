# Self-test of t/lib/tap.sh: a passing script exits 0 with a valid plan; a script with
# a wrong expectation prints "not ok" and exits non-zero; a short count is caught.
use strict;
use warnings;
use Test::More;
use FindBin;
use File::Temp ();

my $tap = "$FindBin::Bin/../tap.sh";
my $dir = File::Temp::tempdir('tap-sh-XXXXXX', TMPDIR => 1, CLEANUP => 1);

sub run_sh {
    my ($body) = @_;
    open my $f, '>', "$dir/s.sh" or die;
    print $f "#!/bin/bash\n. '$tap'\n$body\n";
    close $f;
    my $out = `bash $dir/s.sh 2>&1`;
    return ($? >> 8, $out);
}

my ($rc, $out) = run_sh(<<'SH');
plan 5
ok "true" "true is ok"
is "a" "a" "strings equal"
isnt "a" "b" "strings differ"
like "id=01JD" 'id=[0-9A-Z]+' "regex"
skip "not here" 1
done_testing
SH
is($rc, 0, 'passing script exits 0') or diag $out;
like($out, qr/^1\.\.5$/m, 'plan printed');
like($out, qr/^ok 4 - regex$/m, 'like works');
like($out, qr/^ok 5 # skip not here$/m, 'skip works');

($rc, $out) = run_sh(<<'SH');
ok "false" "false is not ok"
is "1" "2" "one is not two"
ok "echo hi; exit 0" "passes"
done_testing
SH
is($rc, 2, 'two failures: exit status 2') or diag $out;
like($out, qr/^not ok 1 - false is not ok$/m, 'failed command reported');
like($out, qr/^not ok 2 - one is not two$/m, 'failed is reported');
like($out, qr/expected: '2'/, 'diagnostic shows expected value');
like($out, qr/^1\.\.3$/m, 'no_plan style prints plan at the end');

($rc, $out) = run_sh(<<'SH');
plan 3
ok "true" "only one"
SH
isnt($rc, 0, 'planned 3 but ran 1 without done_testing: non-zero exit') or diag $out;

done_testing();
