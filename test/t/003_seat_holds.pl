# 64 clients hold random sets of 2-6 adjacent seats of a 10,000-seat show,
# releasing and confirming some (bench/seats). Afterwards no seat is in two
# active bookings, every active booking owns its seats, check() is empty.
use strict;
use warnings;

use File::Basename qw(dirname);
use File::Spec;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $workload = File::Spec->rel2abs(dirname(__FILE__) . '/../../bench/seats');
sub slurp_workload { return PostgreSQL::Test::Utils::slurp_file("$workload/$_[0]"); }

my $node = PostgreSQL::Test::Cluster->new('seat_holds');
$node->init;
$node->append_conf('postgresql.conf', "max_connections = 100\n");
$node->start;
$node->safe_psql('postgres', slurp_workload('setup.sql'));

$node->pgbench(
	'--no-vacuum --client=64 --jobs=2 --transactions=60',
	0,
	[qr{processed: 3840/3840}],
	[qr{^$}],
	'64 clients hold, release and confirm seats',
	{ '001_hold' => slurp_workload('hold.sql') });

my %result;
for my $line (split /\n/, $node->safe_psql('postgres', slurp_workload('verify.sql'), extra_params => ['-x']))
{
	$result{$1} = $2 if $line =~ /^(\w+)\s*\|\s*(\d+)$/;
}
is($result{check_problems},        0, 'check() is empty');
is($result{seats_in_two_bookings}, 0, 'no seat is in two active bookings');
is($result{seats_not_owned},       0, 'every active booking owns its seats');
cmp_ok($result{held} + $result{confirmed}, '>', 0, 'seats were held and sold');
cmp_ok($result{released}, '>', 0, 'holds were released');
is($result{seats_available} + $result{seats_held} + $result{seats_sold}, 10000, 'the map still has 10,000 seats');
note("seats: " . join(', ', map { "$_=$result{$_}" } sort keys %result));

$node->stop;
done_testing();
