# The expiry worker, with booking in shared_preload_libraries: it marks lapsed
# holds of pools, seats and slots expired and promotes the waitlist; it never
# waits for a buyer (SKIP LOCKED); it survives a SIGHUP, comes back after
# being killed, leaves databases without the extension alone, and logs
# nothing per row.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('expiry_worker');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'booking'
booking.databases = 'postgres'
booking.expiry_interval = '200ms'
});
$node->start;
# A second database, without the extension, joins by a configuration reload.
$node->safe_psql('postgres', 'CREATE DATABASE plain');
$node->append_conf('postgresql.conf', "booking.databases = 'postgres, plain'\n");
$node->reload;
$node->safe_psql('postgres', q{
	CREATE EXTENSION booking;
	SELECT booking.create_pool(1, 'class');                              -- 1
	SELECT booking.create_show('show');                                  -- 1
	SELECT booking.add_seats(1, 'stalls', 'A', 1, 4);
	SELECT booking.create_resource('room');                              -- 1
});

sub worker_pid
{
	return $node->safe_psql('postgres',
		q{SELECT pid FROM pg_stat_activity WHERE backend_type = 'booking expiry' AND datname = 'postgres'});
}

ok($node->poll_query_until('postgres',
		q{SELECT count(*) = 2 FROM pg_stat_activity WHERE backend_type = 'booking expiry'}),
	'one worker per database of booking.databases');

# A hold lapses; nobody calls anything; the worker expires it and promotes.
$node->safe_psql('postgres', q{
	SELECT booking.decrement_ticket(1, 1, 'ann', '300 milliseconds');
	SELECT booking.register(1, 1, 'bob');
	SELECT booking.reserve_seats(1, ARRAY[1, 2], 'cy', '300 milliseconds');
	SELECT booking.reserve_slot(1, '2026-12-01 09:00', '2026-12-01 10:00', 'dee', '300 milliseconds');
});
ok($node->poll_query_until('postgres',
		q{SELECT count(*) = 3 FROM booking.booking WHERE status = 'expired'}),
	'the worker marks lapsed ticket, seat and slot holds expired');
is($node->safe_psql('postgres', q{SELECT status FROM booking.booking WHERE holder = 'bob'}),
	'confirmed', 'and promotes the waitlist into the freed spot');
is($node->safe_psql('postgres', q{SELECT count(*) FROM booking.seat WHERE booking_id IS NOT NULL}),
	'0', 'the seats of the expired hold are free');
is($node->safe_psql('postgres', 'SELECT count(*) FROM booking.check()'), '0', 'check() is empty');

# A buyer holds the pool's lock; the worker must not wait for it. The
# buyer's session is opened first and the hold lasts a second, so that it
# cannot lapse (and be expired) before the buyer has the lock.
my $buyer = $node->background_psql('postgres');
$node->safe_psql('postgres', q{
	SELECT booking.create_pool(5, 'busy');                               -- 2
	SELECT booking.decrement_ticket(2, 1, 'eve', '1 second');
});
$buyer->query_safe(q{BEGIN; SELECT 1 FROM booking.pool WHERE pool_id = 2 FOR NO KEY UPDATE;});
sleep(2);
is($node->safe_psql('postgres', q{
	SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'booking expiry' AND wait_event_type = 'Lock'}),
	'0', 'the worker does not wait for a buyer\'s lock');
is($node->safe_psql('postgres', q{SELECT status FROM booking.booking WHERE holder = 'eve'}),
	'held', 'the locked tree is left for a later round');
$buyer->query_safe('COMMIT');
$buyer->quit;
ok($node->poll_query_until('postgres', q{SELECT status = 'expired' FROM booking.booking WHERE holder = 'eve'}),
	'and expired once the buyer is gone');

# A buyer holds shard rows of a sharded pool (a take in an open transaction,
# here every shard row of it): the worker locks that pool's row, which the
# buyer does not hold, and must not wait for the shards either (issue 18).
# It goes on to the next tree in the same round, and expires the held
# shards' holds once the buyer is gone.
$buyer = $node->background_psql('postgres');
$node->safe_psql('postgres', q{
	SELECT booking.create_pool(4, 'sharded', shards => 2);               -- 3
	SELECT booking.create_pool(5, 'next tree');                          -- 4
	SELECT booking.decrement_ticket(3, 1, 'hal', '1 second');
	SELECT booking.decrement_ticket(3, 1, 'hal', '1 second');
	SELECT booking.decrement_ticket(4, 1, 'ivy', '1 second');
});
$buyer->query_safe(q{
	BEGIN;
	SELECT status FROM booking.decrement_ticket(3, 1);
	SELECT 1 FROM booking.pool_shard WHERE pool_id = 3 FOR NO KEY UPDATE;
});
ok($node->poll_query_until('postgres', q{SELECT status = 'expired' FROM booking.booking WHERE holder = 'ivy'}),
	'a buyer holding shard rows does not stop the round');
is($node->safe_psql('postgres', q{
	SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'booking expiry' AND wait_event_type = 'Lock'}),
	'0', 'the worker does not wait for the shard rows');
is($node->safe_psql('postgres', q{SELECT string_agg(status, ',') FROM booking.booking WHERE holder = 'hal'}),
	'held,held', 'the holds on the held shards are left for a later round');
$buyer->query_safe('COMMIT');
$buyer->quit;
ok($node->poll_query_until('postgres',
		q{SELECT bool_and(status = 'expired') FROM booking.booking WHERE holder = 'hal'}),
	'and expired once the buyer is gone');
is($node->safe_psql('postgres', 'SELECT count(*) FROM booking.check()'), '0', 'check() is empty');

# SIGHUP: the same worker goes on, with the new interval.
my $pid = worker_pid();
$node->append_conf('postgresql.conf', "booking.expiry_interval = '100ms'\n");
$node->reload;
$node->safe_psql('postgres', q{SELECT booking.decrement_ticket(2, 1, 'fay', '200 milliseconds')});
ok($node->poll_query_until('postgres', q{SELECT status = 'expired' FROM booking.booking WHERE holder = 'fay'}),
	'after a SIGHUP the worker still expires holds');
is(worker_pid(), $pid, 'the worker survived the SIGHUP');

# Killed, it comes back and goes on.
$node->safe_psql('postgres', "SELECT pg_terminate_backend($pid)");
ok($node->poll_query_until('postgres',
		qq{SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'booking expiry' AND datname = 'postgres' AND pid <> $pid}),
	'a killed worker is restarted');
$node->safe_psql('postgres', q{SELECT booking.decrement_ticket(2, 1, 'gus', '200 milliseconds')});
ok($node->poll_query_until('postgres', q{SELECT status = 'expired' FROM booking.booking WHERE holder = 'gus'}),
	'the restarted worker expires holds');

# A database without the extension is left alone, quietly.
is($node->safe_psql('plain', q{SELECT count(*) FROM pg_extension WHERE extname = 'booking'}), '0',
	'the worker created nothing in a database without the extension');
ok(!$node->log_contains(qr/ERROR|FATAL:  (?!terminating background worker)/), 'no errors in the server log');
ok(!$node->log_contains(qr/expired hold|booking \d+/i), 'nothing logged per row');

$node->stop;
done_testing();
