# Statistics in shared memory: counted at commit only (an aborted call or
# subtransaction counts nothing), per database, reset by stats_reset(), and
# back to zero after a crash restart.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);

my $node = PostgreSQL::Test::Cluster->new('stats');
$node->init;
$node->append_conf('postgresql.conf', "shared_preload_libraries = 'booking'\nrestart_after_crash = on\n");
$node->start;
$node->safe_psql('postgres', 'CREATE DATABASE other');
for my $db ('postgres', 'other')
{
	$node->safe_psql($db, q{
		CREATE EXTENSION booking;
		SELECT booking.create_pool(2, 'p');
		SELECT booking.create_show('s');
		SELECT booking.add_seats(1, 'stalls', 'A', 1, 4);
	});
}

sub stats
{
	my ($db) = @_;
	return $node->safe_psql($db, q{
		SELECT format('confirmed=%s held=%s waitlisted=%s sold_out=%s conflict=%s limit_exceeded=%s promoted=%s released=%s expired=%s',
		              confirmed, held, waitlisted, sold_out, conflict, limit_exceeded, promoted, released, expired)
		  FROM booking.stats});
}

is(stats('postgres'),
	'confirmed=0 held=0 waitlisted=0 sold_out=0 conflict=0 limit_exceeded=0 promoted=0 released=0 expired=0',
	'counters start at zero');

$node->safe_psql('postgres', q{
	SELECT booking.decrement_ticket(1, 1);                      -- confirmed
	SELECT booking.register(1, 2, 'ann');                       -- waitlisted
	SELECT booking.decrement_ticket(1, 1);                      -- sold_out (ann waits)
	SELECT booking.reserve_seats(1, ARRAY[1, 2], 'bob');        -- held
	SELECT booking.reserve_seats(1, ARRAY[2, 3], 'cy');         -- conflict
	SELECT booking.release(1);                                  -- released; ann promoted
});
is(stats('postgres'),
	'confirmed=1 held=1 waitlisted=1 sold_out=1 conflict=1 limit_exceeded=0 promoted=1 released=1 expired=0',
	'committed calls are counted by outcome');

# Aborted transactions and subtransactions count nothing.
$node->safe_psql('postgres', q{
	BEGIN;
	SELECT booking.reserve_seats(1, ARRAY[3], 'dee');
	SELECT booking.release(2, 'ann');
	ROLLBACK;
	BEGIN;
	SAVEPOINT a;
	SELECT booking.reserve_seats(1, ARRAY[3], 'dee');
	ROLLBACK TO a;
	SAVEPOINT b;
	SELECT booking.reserve_seats(1, ARRAY[4], 'eve');
	RELEASE b;
	COMMIT;
});
is(stats('postgres'),
	'confirmed=1 held=2 waitlisted=1 sold_out=1 conflict=1 limit_exceeded=0 promoted=1 released=1 expired=0',
	'aborts and rolled-back savepoints count nothing; released savepoints count');

is(stats('other'),
	'confirmed=0 held=0 waitlisted=0 sold_out=0 conflict=0 limit_exceeded=0 promoted=0 released=0 expired=0',
	'each database has its own counters');

$node->safe_psql('postgres', 'SELECT booking.stats_reset()');
is(stats('postgres'),
	'confirmed=0 held=0 waitlisted=0 sold_out=0 conflict=0 limit_exceeded=0 promoted=0 released=0 expired=0',
	'stats_reset() zeroes the counters');
ok($node->safe_psql('postgres', q{SELECT stats_reset > now() - interval '1 minute' FROM booking.stats}) eq 't',
	'and records when');

# A crash restart rebuilds shared memory from nothing.
$node->safe_psql('postgres', q{SELECT booking.decrement_ticket(1, 1)});
isnt(stats('postgres'),
	'confirmed=0 held=0 waitlisted=0 sold_out=0 conflict=0 limit_exceeded=0 promoted=0 released=0 expired=0',
	'counting again before the crash');
my $victim = $node->background_psql('postgres', on_error_stop => 0);
my $vpid = $victim->query_safe('SELECT pg_backend_pid()');
chomp $vpid;
kill 'KILL', $vpid;
eval { $victim->quit; };
# A psql refused during recovery may exit before IPC::Run writes its query
# (EPIPE, "ack Broken pipe"): one more try, as test/t/009 does.
my $back = 0;
for (1 .. 20) {
	$back = eval { $node->poll_query_until('postgres', 'SELECT 1', '1') } and last;
	usleep(100_000);
}
ok($back, 'the server is back after the crash');
is(stats('postgres'),
	'confirmed=0 held=0 waitlisted=0 sold_out=0 conflict=0 limit_exceeded=0 promoted=0 released=0 expired=0',
	'counters are zero after a crash restart');
is($node->safe_psql('postgres', 'SELECT count(*) FROM booking.check()'), '0', 'and the data is intact');

$node->stop;
done_testing();
