# 64 clients buy, hold, confirm and cancel on a pool of 8 shards and on an
# unsharded twin, then sell both out, free some spots, and sell out again.
# A sharded pool must sell exactly its capacity (never oversold, never stuck
# with spots nobody can take) and keep its counters equal to its rows.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('sharded_pools');
$node->init;
$node->append_conf('postgresql.conf', "max_connections = 100\n");
$node->start;
$node->safe_psql('postgres', q{
	CREATE EXTENSION booking;
	SELECT booking.create_pool(2000, 'sharded', shards => 8);   -- 1
	SELECT booking.create_pool(2000, 'plain');                  -- 2
	CREATE FUNCTION try_confirm(b bigint, h text) RETURNS text LANGUAGE plpgsql AS $$
	BEGIN
		RETURN (booking.confirm(b, h)).status;
	EXCEPTION WHEN SQLSTATE 'PT409' THEN
		RETURN NULL;
	END $$;
});

my %scripts = (
	'001_buy@7' => q{
		\set pool random(1, 2)
		\set q random(1, 4)
		SELECT status FROM booking.decrement_ticket(:pool, :q);
	},
	'002_hold@1' => q{
		\set pool random(1, 2)
		\set q random(1, 4)
		SELECT status FROM booking.decrement_ticket(:pool, :q, 'h' || :client_id, '1 hour');
	},
	'003_confirm@1' => q{
		\set pool random(1, 2)
		SELECT try_confirm(b.booking_id, b.holder) FROM (
		    SELECT booking_id, holder FROM booking.booking
		     WHERE pool_id = :pool AND status = 'held' ORDER BY random() LIMIT 1) AS b;
	},
	'004_cancel@1' => q{
		\set pool random(1, 2)
		SELECT (booking.cancel(b.booking_id)).released FROM (
		    SELECT booking_id FROM booking.booking
		     WHERE pool_id = :pool AND status IN ('held', 'confirmed') ORDER BY random() LIMIT 1) AS b;
	});

sub sell_out
{
	my ($name) = @_;
	$node->pgbench('--no-vacuum --client=64 --jobs=2 --transactions=40', 0,
		[qr{processed: 2560/2560}], [qr{^$}], "$name: 64 clients sell out",
		{ "005_sellout_$name" => q{
			\set pool random(1, 2)
			SELECT status FROM booking.decrement_ticket(:pool, 1);
		} });
}

$node->pgbench('--no-vacuum --client=64 --jobs=2 --transactions=50', 0,
	[qr{processed: 3200/3200}], [qr{^$}], '64 clients buy, hold, confirm and cancel', \%scripts);
is($node->safe_psql('postgres', 'SELECT count(*) FROM booking.check()'), '0', 'check() is empty after churn');

sell_out('first');
is($node->safe_psql('postgres', q{
	SELECT string_agg(format('%s:%s/%s', pool_id, confirmed + held, capacity), ' ' ORDER BY pool_id)
	  FROM booking.pool_status}),
	'1:2000/2000 2:2000/2000', 'both pools sold exactly their capacity');
is($node->safe_psql('postgres', 'SELECT count(*) FROM booking.check()'), '0', 'check() is empty after the sell-out');

# Free 100 spots of each, then sell out again: the shards get them back.
$node->safe_psql('postgres', q{
	SELECT booking.cancel(booking_id) FROM (
	    SELECT booking_id FROM booking.booking WHERE status = 'confirmed' AND pool_id = 1 AND spots = 1
	     ORDER BY booking_id LIMIT 100) AS b;
	SELECT booking.cancel(booking_id) FROM (
	    SELECT booking_id FROM booking.booking WHERE status = 'confirmed' AND pool_id = 2 AND spots = 1
	     ORDER BY booking_id LIMIT 100) AS b;
});
is($node->safe_psql('postgres', 'SELECT available FROM booking.availability(1)'), '100', '100 spots free again');
sell_out('second');
is($node->safe_psql('postgres', q{SELECT confirmed + held FROM booking.pool_status WHERE pool_id = 1}),
	'2000', 'the sharded pool sold out exactly again');
is($node->safe_psql('postgres', 'SELECT count(*) FROM booking.check()'), '0', 'check() is empty');
is($node->safe_psql('postgres', 'SELECT booking.reconcile()'), '0', 'reconcile() finds nothing to correct');
is($node->safe_psql('postgres', 'SELECT count(*) FROM booking.booking WHERE shard IS NOT NULL AND pool_id = 1') > 0
	? 'shards used' : 'no shard used', 'no shard used', 'reconcile() folded the shards into the pool');

$node->stop;
done_testing();
