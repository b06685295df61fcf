# pg_dump keeps the data: dump a database with pools (sharded, nested, with a
# waitlist), seats and slots in every state, restore it into an empty
# database, and find every booking, counter and sequence there; invariants
# hold and new bookings get fresh ids.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('dump_restore');
$node->init;
$node->start;
$node->safe_psql('postgres', q{
	CREATE EXTENSION booking;
	SELECT booking.create_pool(10, 'venue');                                  -- 1
	SELECT booking.create_pool(4, 'vip', parent_id => 1);                     -- 2
	SELECT booking.create_pool(100, 'hot', shards => 4);                      -- 3
	SELECT booking.decrement_ticket(2, 3, 'ann');
	SELECT booking.register(2, 2, 'bob');                                     -- waits
	SELECT booking.decrement_ticket(1, 2, 'cy', '1 hour');
	SELECT booking.decrement_ticket(3, q) FROM generate_series(1, 4) AS q;    -- from shards
	SELECT booking.release(booking_id, 'ann') FROM booking.bookings WHERE holder = 'ann';  -- promotes bob
	SELECT booking.create_show('play');
	SELECT booking.add_seats(1, 'stalls', 'A', 1, 6);
	SELECT booking.reserve_seats(1, ARRAY[1, 2], 'dee');
	SELECT booking.confirm(booking_id, 'dee') FROM booking.bookings WHERE holder = 'dee';
	SELECT booking.reserve_seats(1, ARRAY[4], 'eve', '1 hour');
	SELECT booking.create_resource('room', 2);
	SELECT booking.reserve_slot(1, '2026-12-01 09:00', '2026-12-01 10:00', 'fay', payment_ref => 'cs_1');
	SELECT booking.confirm_payment('cs_1');
});

my $summary = q{
	SELECT string_agg(format('%s:%s:%s:%s:%s', booking_id, kind, status, spots, coalesce(holder, '-')), ' '
	                  ORDER BY booking_id) FROM booking.bookings;
	SELECT string_agg(format('%s=%s/%s/%s/%s', pool_id, capacity, confirmed, held, waitlisted), ' '
	                  ORDER BY pool_id) FROM booking.pool_status;
	SELECT string_agg(format('%s:%s', seat_id, status), ' ' ORDER BY seat_id) FROM booking.seats;
	SELECT count(*) FROM booking.check();
};
my $before = $node->safe_psql('postgres', $summary);
like($before, qr/0$/, 'the source database holds its invariants');

my $dump = $node->basedir . '/booking.dump';
$node->command_ok(['pg_dump', '-Fc', '-f', $dump, '-d', $node->connstr('postgres')], 'pg_dump');
$node->safe_psql('postgres', 'CREATE DATABASE restored');
$node->command_ok(['pg_restore', '-d', $node->connstr('restored'), $dump], 'pg_restore into an empty database');

is($node->safe_psql('restored', $summary), $before, 'every booking, counter and seat survived');
is($node->safe_psql('restored', 'SELECT booking.reconcile()'), '0', 'the counters equal the rows');

my $max = $node->safe_psql('restored', 'SELECT max(booking_id) FROM booking.booking');
my $new = $node->safe_psql('restored', q{SELECT booking_id FROM booking.decrement_ticket(3, 1)});
cmp_ok($new, '>', $max, 'a new booking gets a fresh id');
is($node->safe_psql('restored', q{SELECT booking.create_pool(1)}), '4', 'so does a new pool');
is($node->safe_psql('restored', q{SELECT status FROM booking.reserve_seats(1, ARRAY[2, 3], 'gus')}),
	'conflict', 'a sold seat is still sold');
is($node->safe_psql('restored', 'SELECT count(*) FROM booking.check()'), '0', 'check() is empty after restore');

# A node of a cluster (set_node) keeps allocating its own ids after a
# restore: the dump restores the sequences' values, and restoring the node
# row re-applies the increment.
$node->safe_psql('postgres', 'CREATE DATABASE node1');
$node->safe_psql('node1', q{
	CREATE EXTENSION booking;
	SELECT booking.set_node(1, 4);
	SELECT booking.create_pool(10);
	SELECT booking.decrement_ticket(1, 2, 'ann');
	SELECT booking.create_show('play');
	SELECT booking.add_seats(1, 'stalls', 'A', 1, 3);
});
my $node_dump = $node->basedir . '/node1.dump';
$node->command_ok(['pg_dump', '-Fc', '-f', $node_dump, '-d', $node->connstr('node1')], 'pg_dump of node 1 of 4');
$node->safe_psql('postgres', 'CREATE DATABASE node1_restored');
$node->command_ok(['pg_restore', '-d', $node->connstr('node1_restored'), $node_dump], 'pg_restore of node 1 of 4');
is($node->safe_psql('node1_restored', 'SELECT node, nodes FROM booking.node_info'), '1|4', 'the node setting survived');
is($node->safe_psql('node1_restored', q{
	SELECT booking.create_pool(5), (booking.decrement_ticket(1, 1)).booking_id, booking.create_show('b'),
	       booking.add_seats(5, 's', 'A', 1, 1), booking.create_resource('r')}),
	'5|5|5|{13}|1', 'new pools, bookings, shows, seats and resources continue at 1 mod 4');
is($node->safe_psql('node1_restored', q{SELECT seqincrement FROM pg_sequence
                                         WHERE seqrelid = 'booking.booking_id_seq'::regclass}),
	'4', 'the sequences step by 4 again');
is($node->safe_psql('node1_restored', 'SELECT count(*) FROM booking.check()'), '0',
	'check() is empty on the restored node');

$node->stop;
done_testing();
