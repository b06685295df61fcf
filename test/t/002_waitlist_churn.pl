# 64 clients register groups, leave and promote on eight small pools whose
# waitlists never empty (bench/waitlist). Afterwards check() is empty, the
# counters equal the rows, and the audit of every status change shows strict
# FIFO: nobody was confirmed while an older entry of the pool kept waiting.
use strict;
use warnings;

use File::Basename qw(dirname);
use File::Spec;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

# The workload lives in bench/waitlist, shared with bench/run.
my $workload = File::Spec->rel2abs(dirname(__FILE__) . '/../../bench/waitlist');
sub slurp_workload { return PostgreSQL::Test::Utils::slurp_file("$workload/$_[0]"); }

my $node = PostgreSQL::Test::Cluster->new('waitlist_churn');
$node->init;
$node->append_conf('postgresql.conf', "max_connections = 100\n");
$node->start;
$node->safe_psql('postgres', slurp_workload('setup.sql'));

$node->pgbench(
	'--no-vacuum --client=64 --jobs=2 --transactions=50',
	0,
	[qr{processed: 3200/3200}],
	[qr{^$}],
	'64 clients register, release and promote',
	{
		'001_register@5' => slurp_workload('register.sql'),
		'002_release@4'  => slurp_workload('release.sql'),
		'003_promote@1'  => slurp_workload('promote.sql'),
	});

my %result;
for my $line (split /\n/, $node->safe_psql('postgres', slurp_workload('verify.sql'), extra_params => ['-x']))
{
	$result{$1} = $2 if $line =~ /^(\w+)\s*\|\s*(\d+)$/;
}
is($result{check_problems},      0, 'check() is empty');
is($result{pools_over_capacity}, 0, 'no pool over capacity');
is($result{counters_off},        0, 'counters equal the rows');
is($result{fifo_violations},     0, 'strict FIFO: nobody overtook an older waiting entry');
cmp_ok($result{promoted},   '>', 0, 'waitlisted groups were promoted');
cmp_ok($result{waitlisted}, '>', 0, 'groups waited');
note("audit: " . join(', ', map { "$_=$result{$_}" } sort keys %result));

$node->stop;
done_testing();
