# 64 concurrent clients buy, hold, confirm and cancel on a handful of pools
# (a hierarchy, a per-holder cap, a small and a large pool), then sell every
# pool out. Afterwards no pool is oversold, every sold-out pool sold exactly
# its capacity, and every counter equals its rows (check() is empty).
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('pool_stress');
$node->init;
$node->append_conf('postgresql.conf', "max_connections = 100\n");
$node->start;

$node->safe_psql('postgres', q{
	CREATE EXTENSION booking;
	SELECT booking.create_pool(300, 'venue');                    -- 1
	SELECT booking.create_pool(200, 'vip', parent_id => 1);      -- 2
	SELECT booking.create_pool(200, 'floor', parent_id => 1);    -- 3
	SELECT booking.create_pool(97, 'small');                     -- 4
	SELECT booking.create_pool(1000, 'large');                   -- 5
	SELECT booking.create_pool(100, 'capped', max_per_holder => 3);  -- 6

	-- Organiser actions that may legitimately lose a race (the booking
	-- changed after it was picked) answer NULL instead of failing the client.
	CREATE FUNCTION try_confirm(b bigint, h text) RETURNS text LANGUAGE plpgsql AS $$
	BEGIN
		RETURN (booking.confirm(b, h)).status;
	EXCEPTION WHEN SQLSTATE 'PT409' THEN
		RETURN NULL;
	END $$;
});

# Phase 1: churn. Buys (some held), confirms of held bookings, cancels.
$node->pgbench(
	'--no-vacuum --client=64 --jobs=2 --transactions=60',
	0,
	[qr{processed: 3840/3840}],
	[qr{^$}],
	'64 clients buy, hold, confirm and cancel',
	{
		'001_buy@6' => q{
			\set pool random(2, 6)
			\set q random(1, 4)
			\set hold random(0, 2)
			SELECT status FROM booking.decrement_ticket(:pool, :q, 'h' || :client_id,
			       CASE WHEN :hold = 0 THEN interval '1 hour' END);
		},
		'002_confirm@2' => q{
			\set pool random(2, 6)
			SELECT try_confirm(b.booking_id, b.holder) FROM (
			    SELECT booking_id, holder FROM booking.bookings
			     WHERE pool_id = :pool AND status = 'held' ORDER BY random() LIMIT 1) AS b;
		},
		'003_cancel@2' => q{
			\set pool random(2, 6)
			SELECT (booking.cancel(b.booking_id)).released FROM (
			    SELECT booking_id FROM booking.bookings
			     WHERE pool_id = :pool AND status IN ('held', 'confirmed') ORDER BY random() LIMIT 1) AS b;
		},
	});

is($node->safe_psql('postgres', 'SELECT count(*) FROM booking.check()'), '0', 'check() is empty after churn');

# Phase 2: sell every pool out, one spot at a time, with fresh holders.
$node->pgbench(
	'--no-vacuum --client=64 --jobs=2 --transactions=50',
	0,
	[qr{processed: 3200/3200}],
	[qr{^$}],
	'64 clients sell the pools out',
	{
		'004_sellout' => q{
			\set pool random(2, 6)
			SELECT status FROM booking.decrement_ticket(:pool, 1, 'p' || :client_id || '-' || random());
		},
	});

# Everything reachable is sold: every pool, or an ancestor, has nothing left.
is($node->safe_psql('postgres', q{
	SELECT count(*) FROM booking.pool_status s
	 WHERE available > 0
	   AND NOT EXISTS (SELECT 1 FROM booking.pool_status a
	                    WHERE a.pool_id = s.parent_id AND a.available = 0)}),
	'0', 'every pool is sold out');

is($node->safe_psql('postgres', q{
	SELECT string_agg(format('%s:%s/%s', pool_id, confirmed + held, capacity), ' ' ORDER BY pool_id)
	  FROM booking.pool_status WHERE pool_id IN (1, 4, 5, 6)}),
	'1:300/300 4:97/97 5:1000/1000 6:100/100', 'sold out pools sold exactly their capacity');

is($node->safe_psql('postgres', q{
	SELECT count(*) FROM booking.pool_status WHERE confirmed + held > capacity OR available < 0}),
	'0', 'no pool is oversold');

is($node->safe_psql('postgres', q{
	SELECT count(*) FROM (
	    SELECT holder FROM booking.bookings WHERE pool_id = 6 AND status IN ('held', 'confirmed')
	     GROUP BY holder HAVING sum(spots) > 3) AS over}),
	'0', 'nobody holds more than max_per_holder');

is($node->safe_psql('postgres', 'SELECT count(*) FROM booking.check()'), '0', 'check() is empty after the sell-out');
is($node->safe_psql('postgres', 'SELECT booking.reconcile()'), '0', 'reconcile() finds nothing to correct');

# Plain root pools (4, 5) take through direct heap and index writes
# (src/pg/write.hpp): every index of the tables they write holds exactly
# the rows' entries, partial ones included (amcheck: every heap tuple that
# belongs in an index is found there, and the btrees are well formed).
$node->safe_psql('postgres', 'CREATE EXTENSION amcheck');
is($node->safe_psql('postgres', q{
	SELECT count(*) FROM (
	    SELECT bt_index_check(i.indexrelid, true) FROM pg_index i
	     WHERE i.indrelid IN ('booking.pool'::regclass, 'booking.booking'::regclass)) AS checked}),
	'14', 'amcheck finds every index of booking.pool and booking.booking whole');

$node->stop;
done_testing();
