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
# Default privileges made before CREATE EXTENSION (they must give nobody
# anything), and the DBA's own grants and revokes made after it (pg_dump
# must keep exactly those).
$node->safe_psql('postgres', q{
	CREATE ROLE regress_analyst;
	CREATE ROLE regress_reporter;
	CREATE ROLE regress_organiser;
	ALTER DEFAULT PRIVILEGES GRANT SELECT ON TABLES TO regress_analyst;
	ALTER DEFAULT PRIVILEGES GRANT EXECUTE ON FUNCTIONS TO regress_analyst;
	ALTER DEFAULT PRIVILEGES GRANT USAGE ON SEQUENCES TO regress_analyst;
	ALTER DEFAULT PRIVILEGES GRANT USAGE ON TYPES TO regress_analyst;
	ALTER DEFAULT PRIVILEGES GRANT USAGE ON SCHEMAS TO regress_analyst;
});
$node->safe_psql('postgres', q{
	CREATE EXTENSION booking;
	GRANT SELECT ON booking.pool_status, booking.bookings TO regress_reporter;
	GRANT EXECUTE ON FUNCTION booking.create_pool(integer, text, bigint, integer, integer, boolean),
	                          booking.cancel(bigint) TO regress_organiser;
	REVOKE EXECUTE ON FUNCTION booking.seat_map(bigint, text) FROM PUBLIC;
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

# The privileges of every member of the extension and of its schema, as
# sets (a restored ACL may list the same entries in another order).
my $grants = q{
	WITH members AS (
		SELECT d.classid, d.objid FROM pg_depend d JOIN pg_extension e ON e.oid = d.refobjid
		 WHERE d.refclassid = 'pg_extension'::regclass AND e.extname = 'booking' AND d.deptype = 'e'
		UNION ALL
		SELECT 'pg_namespace'::regclass, e.extnamespace FROM pg_extension e WHERE e.extname = 'booking'
	)
	SELECT format('%s: %s', pg_describe_object(m.classid, m.objid, 0),
	              (SELECT string_agg(x, ', ' ORDER BY x)
	                 FROM aclexplode(o.acl) AS a,
	                      format('%s %s%s', CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE a.grantee::regrole::text END,
	                             a.privilege_type, CASE WHEN a.is_grantable THEN '*' ELSE '' END) AS x))
	  FROM members m CROSS JOIN LATERAL (
	       SELECT coalesce(c.relacl, acldefault(CASE c.relkind WHEN 'S' THEN 's' ELSE 'r' END::"char", c.relowner))
	         FROM pg_class c WHERE m.classid = 'pg_class'::regclass AND c.oid = m.objid
	       UNION ALL
	       SELECT coalesce(p.proacl, acldefault('f', p.proowner))
	         FROM pg_proc p WHERE m.classid = 'pg_proc'::regclass AND p.oid = m.objid
	       UNION ALL
	       SELECT coalesce(t.typacl, acldefault('T', t.typowner))
	         FROM pg_type t WHERE m.classid = 'pg_type'::regclass AND t.oid = m.objid
	       UNION ALL
	       SELECT coalesce(n.nspacl, acldefault('n', n.nspowner))
	         FROM pg_namespace n WHERE m.classid = 'pg_namespace'::regclass AND n.oid = m.objid) AS o(acl)
	 ORDER BY 1
};
my $source_grants = $node->safe_psql('postgres', $grants);
unlike($source_grants, qr/regress_analyst/, 'default privileges gave the analyst nothing');
like($source_grants, qr/view booking\.pool_status: .*, regress_reporter SELECT$/m,
	"the DBA's grant is there");
is($node->safe_psql('restored', $grants), $source_grants,
	'the restored database has exactly the same privileges on every object of the extension');
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
