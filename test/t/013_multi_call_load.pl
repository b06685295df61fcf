# 64 clients whose transactions make two to four calls each (issue 18): a buy
# on a shard keeps that shard's row locked to the commit, and the same
# transaction goes on to a keyed buy, a hold, a child pool of a sharded
# root, registrations on a waitlisted pool and cancels. No call may wait in
# the lock manager for a shard row while holding a pool row, so nothing
# deadlocks and no transaction fails; the pools are never oversold and
# check() stays empty. Each transaction calls on its pools in ascending id
# order, as two rows of any table must be locked in one order.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('multi_call_load');
$node->init;
$node->append_conf('postgresql.conf', qq{
max_connections = 100
shared_preload_libraries = 'booking'
log_lock_waits = on
});
$node->start;
$node->safe_psql('postgres', q{
	CREATE EXTENSION booking;
	SELECT booking.create_pool(3000, 'hot', shards => 8);                   -- 1
	SELECT booking.create_pool(900, 'venue', shards => 4);                  -- 2
	SELECT booking.create_pool(300, 'vip', parent_id => 2);                 -- 3
	SELECT booking.create_pool(60, 'class', shards => 4);                   -- 4
});

my %scripts = (
	# the reported pattern: a shard take, then a keyed buy of the same pool
	'001_buy_then_key@4' => q{
		\set q random(1, 2)
		\set k random(1, 1000000000)
		BEGIN;
		SELECT status FROM booking.decrement_ticket(1, :q);
		SELECT status FROM booking.decrement_ticket(1, 1, idempotency_key => 'k' || :k);
		SELECT status FROM booking.decrement_ticket(2, 1);
		COMMIT;
	},
	'002_hold_child_register@2' => q{
		\set q random(1, 3)
		BEGIN;
		SELECT status FROM booking.decrement_ticket(1, 1, 'h' || :client_id, '1 hour');
		SELECT status FROM booking.decrement_ticket(3, 1);
		SELECT status FROM booking.register(4, :q, 'r' || :client_id);
		COMMIT;
	},
	'003_register_cancel_buy@2' => q{
		\set q random(1, 3)
		\set c random(1, 1000000000)
		BEGIN;
		SELECT status FROM booking.register(4, :q);
		SELECT (booking.cancel(b.booking_id)).released FROM (
		    SELECT booking_id FROM booking.booking
		     WHERE pool_id = 4 AND shard IS NULL AND status IN ('confirmed', 'waitlisted')
		     ORDER BY random() LIMIT 1) AS b;
		SELECT status FROM booking.decrement_ticket(4, 1);
		SELECT status FROM booking.decrement_ticket(4, 1, idempotency_key => 'c' || :c);
		COMMIT;
	},
	'004_key_hold_then_buys@2' => q{
		\set k random(1, 1000000000)
		BEGIN;
		SELECT status FROM booking.decrement_ticket(2, 1, 'v' || :client_id, '1 hour', 'v' || :k);
		SELECT status FROM booking.decrement_ticket(2, 1);
		SELECT status FROM booking.decrement_ticket(3, 1);
		COMMIT;
	});

$node->pgbench('--no-vacuum --client=64 --jobs=2 --transactions=30', 0,
	[qr{processed: 1920/1920}, qr{^number of failed transactions: 0 }m], [qr{^$}],
	'64 clients, 2 to 4 calls per transaction, on sharded pools, a hierarchy and a waitlist', \%scripts);

ok(!$node->log_contains(qr/deadlock detected/), 'no deadlock');
is($node->safe_psql('postgres', 'SELECT count(*) FROM booking.check()'), '0', 'check() is empty');
is($node->safe_psql('postgres', q{
	SELECT count(*) FROM booking.pool_status WHERE confirmed + held > capacity}),
	'0', 'no pool is oversold');
is($node->safe_psql('postgres', q{
	SELECT count(*) FROM (SELECT p.pool_id, p.capacity, sum(b.spots) AS taken
	                        FROM booking.pool p JOIN booking.booking b ON b.pool_id = ANY (
	                             SELECT c.pool_id FROM booking.pool c WHERE p.pool_id = ANY (c.path))
	                       WHERE b.status IN ('confirmed', 'held') GROUP BY p.pool_id, p.capacity) AS x
	 WHERE taken > capacity}),
	'0', 'nor do the booking rows oversell any pool');
cmp_ok($node->safe_psql('postgres', q{SELECT count(*) FROM booking.booking WHERE shard IS NOT NULL}), '>', 0,
	'shards were taken from');
cmp_ok($node->safe_psql('postgres', q{SELECT count(*) FROM booking.booking WHERE status = 'waitlisted'}), '>', 0,
	'groups waited');

$node->stop;
done_testing();
