# The upgrade path: install 1.0, fill it with bookings of every kind, update
# to the current version, and compare the whole schema (every member object
# of the extension with its definition, owner-visible privileges and
# settings) with a fresh install of that version. Both must be identical and
# the data intact; the updated database keeps taking bookings and holds
# its invariants.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('upgrade');
$node->init;
$node->start;

my $default = $node->safe_psql('postgres',
	q{SELECT default_version FROM pg_available_extensions WHERE name = 'booking'});
my @versions = split /\n/, $node->safe_psql('postgres',
	q{SELECT version FROM pg_available_extension_versions WHERE name = 'booking' ORDER BY version});
ok(scalar(@versions) >= 2, "versions available: @versions (default $default)");
is($versions[0], '1.0', 'the first released version is still installable');

# Everything the extension owns, one line per object, in a stable order.
# Functions with their full definition (security definer, pinned
# search_path, volatility, strictness), tables with columns, defaults,
# constraints, indexes, triggers, options and ACLs, views with their query,
# sequences with their parameters, types with their ACLs, the initial
# privileges pg_dump compares ACLs with, and the tables and sequences
# pg_dump keeps.
my $describe = q{
	WITH members AS (
		SELECT d.classid, d.objid
		  FROM pg_depend d JOIN pg_extension e ON e.oid = d.refobjid
		 WHERE d.refclassid = 'pg_extension'::regclass AND e.extname = 'booking' AND d.deptype = 'e'
	)
	SELECT line FROM (
		SELECT pg_describe_object(m.classid, m.objid, 0) AS line FROM members m
		UNION ALL
		SELECT format('function %s: %s acl=%s', p.oid::regprocedure, pg_get_functiondef(p.oid), p.proacl)
		  FROM members m JOIN pg_proc p ON m.classid = 'pg_proc'::regclass AND p.oid = m.objid
		UNION ALL
		SELECT format('relation %s: kind=%s options=%s acl=%s', c.oid::regclass, c.relkind, c.reloptions, c.relacl)
		  FROM members m JOIN pg_class c ON m.classid = 'pg_class'::regclass AND c.oid = m.objid
		UNION ALL
		SELECT format('column %s.%s: %s notnull=%s default=%s', c.oid::regclass, a.attname,
		              format_type(a.atttypid, a.atttypmod), a.attnotnull, pg_get_expr(ad.adbin, ad.adrelid))
		  FROM members m JOIN pg_class c ON m.classid = 'pg_class'::regclass AND c.oid = m.objid
		  JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
		  LEFT JOIN pg_attrdef ad ON ad.adrelid = c.oid AND ad.adnum = a.attnum
		UNION ALL
		SELECT format('constraint %s on %s: %s', co.conname, co.conrelid::regclass, pg_get_constraintdef(co.oid))
		  FROM members m JOIN pg_constraint co ON m.classid = 'pg_class'::regclass AND co.conrelid = m.objid
		UNION ALL
		SELECT format('index %s', pg_get_indexdef(i.indexrelid))
		  FROM members m JOIN pg_index i ON m.classid = 'pg_class'::regclass AND i.indrelid = m.objid
		UNION ALL
		SELECT format('trigger %s', pg_get_triggerdef(t.oid))
		  FROM members m JOIN pg_trigger t ON m.classid = 'pg_class'::regclass AND t.tgrelid = m.objid
		 WHERE NOT t.tgisinternal
		UNION ALL
		SELECT format('view %s: %s', c.oid::regclass, pg_get_viewdef(c.oid))
		  FROM members m JOIN pg_class c ON m.classid = 'pg_class'::regclass AND c.oid = m.objid AND c.relkind = 'v'
		UNION ALL
		SELECT format('sequence %s: %s %s %s %s %s', s.seqrelid::regclass, s.seqtypid::regtype, s.seqstart,
		              s.seqincrement, s.seqmin, s.seqmax)
		  FROM members m JOIN pg_sequence s ON m.classid = 'pg_class'::regclass AND s.seqrelid = m.objid
		UNION ALL
		SELECT format('type %s acl=%s', t.oid::regtype, t.typacl)
		  FROM members m JOIN pg_type t ON m.classid = 'pg_type'::regclass AND t.oid = m.objid
		UNION ALL
		SELECT format('schema %s owner-acl=%s', n.nspname, n.nspacl)
		  FROM pg_namespace n WHERE n.nspname = 'booking'
		UNION ALL
		SELECT format('initial privileges of %s: %s', pg_describe_object(i.classoid, i.objoid, i.objsubid), i.initprivs)
		  FROM pg_init_privs i
		 WHERE i.privtype = 'e'
		   AND ((i.classoid, i.objoid) IN (SELECT classid, objid FROM members)
		        OR (i.classoid = 'pg_namespace'::regclass AND i.objoid = 'booking'::regnamespace))
		UNION ALL
		SELECT format('dumped %s where %L', cfg.oid::regclass, cond)
		  FROM pg_extension e, unnest(e.extconfig, e.extcondition) AS x(cfg, cond)
		  JOIN pg_class cfg ON cfg.oid = x.cfg
		 WHERE e.extname = 'booking'
		UNION ALL
		SELECT format('extension %s %s schema=%s relocatable=%s', e.extname, e.extversion,
		              e.extnamespace::regnamespace, e.extrelocatable)
		  FROM pg_extension e WHERE e.extname = 'booking'
	) AS all_lines
	ORDER BY line COLLATE "C"
};

# ------------------------------------------------------------ 1.0 with data

$node->safe_psql('postgres', 'CREATE DATABASE updated');
$node->safe_psql('updated', q{
	CREATE EXTENSION booking VERSION '1.0';
	SELECT booking.create_pool(10, 'venue');                                  -- 1
	SELECT booking.create_pool(4, 'vip', parent_id => 1);                     -- 2
	SELECT booking.create_pool(100, 'hot', shards => 4);                      -- 3
	SELECT booking.decrement_ticket(2, 3, 'ann');
	SELECT booking.register(2, 2, 'bob');                                     -- waits
	SELECT booking.decrement_ticket(1, 2, 'cy', '1 hour');
	SELECT booking.decrement_ticket(3, q) FROM generate_series(1, 4) AS q;
	SELECT booking.create_show('play', notify => true);
	SELECT booking.add_seats(1, 'stalls', 'A', 1, 6);
	SELECT booking.reserve_seats(1, ARRAY[1, 2], 'dee');
	SELECT booking.reserve_seats(1, ARRAY[4], 'eve', '1 hour');
	SELECT booking.create_resource('room', 2);
	SELECT booking.reserve_slot(1, '2026-12-01 09:00', '2026-12-01 10:00', 'fay', payment_ref => 'cs_1');
	SELECT booking.confirm_payment('cs_1');
});
is($node->safe_psql('updated', q{SELECT extversion FROM pg_extension WHERE extname = 'booking'}),
	'1.0', 'installed version 1.0');

my $summary = q{
	SELECT string_agg(format('%s:%s:%s:%s:%s:%s', booking_id, kind, status, spots, coalesce(holder, '-'),
	                         coalesce(held_until::text, '-')), ' ' ORDER BY booking_id) FROM booking.booking;
	SELECT string_agg(format('%s=%s/%s/%s/%s/%s/%s', pool_id, capacity, confirmed, held, waitlisted, sharded, path),
	                  ' ' ORDER BY pool_id) FROM booking.pool;
	SELECT string_agg(format('%s/%s=%s/%s/%s', pool_id, shard, budget, confirmed, held), ' '
	                  ORDER BY pool_id, shard) FROM booking.pool_shard;
	SELECT string_agg(format('%s:%s:%s', seat_id, booking_id, held_until), ' ' ORDER BY seat_id) FROM booking.seat;
	SELECT string_agg(format('%s:%s', seq, pg_sequence_last_value(seq)), ' ' ORDER BY seq::text)
	  FROM unnest('{booking.pool_id_seq,booking.booking_id_seq,booking.show_id_seq,booking.seat_id_seq,booking.resource_id_seq}'::regclass[]) AS seq;
};
my $before = $node->safe_psql('updated', $summary);
my $max_id = $node->safe_psql('updated', 'SELECT max(booking_id) FROM booking.booking');

# ------------------------------------------------------------ update

$node->safe_psql('updated', 'ALTER EXTENSION booking UPDATE');
is($node->safe_psql('updated', q{SELECT extversion FROM pg_extension WHERE extname = 'booking'}),
	$default, "ALTER EXTENSION UPDATE reaches $default");
is($node->safe_psql('updated', $summary), $before, 'every booking, counter, shard, seat and sequence is intact');
is($node->safe_psql('updated', 'SELECT count(*) FROM booking.check()'), '0', 'check() is empty after the update');

$node->safe_psql('postgres', 'CREATE DATABASE fresh');
$node->safe_psql('fresh', 'CREATE EXTENSION booking');

my $updated = $node->safe_psql('updated', $describe);
my $fresh = $node->safe_psql('fresh', $describe);
cmp_ok(scalar(split /\n/, $fresh), '>', 100, 'the schema description covers the extension');
is($updated, $fresh, 'the updated schema equals a fresh install, object for object');
if ($updated ne $fresh) {
	# Show what differs, line by line, to make a failure readable.
	my %u = map { $_ => 1 } split /\n/, $updated;
	my %f = map { $_ => 1 } split /\n/, $fresh;
	diag("only after update: $_") for grep { !$f{$_} } sort keys %u;
	diag("only in fresh install: $_") for grep { !$u{$_} } sort keys %f;
}

# ------------------------------------------------------------ after the update

my $new = $node->safe_psql('updated', q{SELECT booking_id, status FROM booking.decrement_ticket(1, 1, 'gus')});
like($new, qr/\|confirmed$/, 'the updated database takes new bookings');
cmp_ok((split /\|/, $new)[0], '>', $max_id, 'with fresh ids');
is($node->safe_psql('updated', q{SELECT status FROM booking.reserve_seats(1, ARRAY[2, 3], 'hal')}),
	'conflict', 'a held seat is still held');
is($node->safe_psql('updated', q{SELECT (booking.release(booking_id, 'ann')).released FROM booking.booking
                                 WHERE holder = 'ann'}),
	'3', 'a 1.0 booking can be released');
is($node->safe_psql('updated', q{SELECT status FROM booking.booking WHERE holder = 'bob'}),
	'confirmed', 'and the 1.0 waitlist is promoted');
my ($rc, $out, $err) = $node->psql('updated', 'SELECT booking.set_node(1, 2)');
like($err, qr/already holds data/, 'a node with 1.0 data cannot become another node');
is($node->safe_psql('updated', 'SELECT count(*) FROM booking.check()'), '0', 'check() is still empty');

# An empty 1.0 database updated and then made a node allocates node ids.
$node->safe_psql('postgres', 'CREATE DATABASE empty');
$node->safe_psql('empty', q{CREATE EXTENSION booking VERSION '1.0'; ALTER EXTENSION booking UPDATE;
                            SELECT booking.set_node(1, 2)});
is($node->safe_psql('empty', q{SELECT booking.create_pool(5), booking.create_pool(5)}), '1|3',
	'an updated empty database becomes node 1 of 2');

# A database still on 1.1 (the library serves it until ALTER EXTENSION
# UPDATE): there a hold of a shard that lapsed is only seen by summing the
# shard rows, so a backend that took on a shard before still settles it
# before its next buy (a backend's later buys may go to its shard first
# only from 1.2 on).
$node->safe_psql('postgres', 'CREATE DATABASE at11');
$node->safe_psql('at11', q{CREATE EXTENSION booking VERSION '1.1'; SELECT booking.create_pool(8, 'hot', shards => 2)});
is( $node->safe_psql(
		'at11', q{
	SELECT status FROM booking.decrement_ticket(1, 1);
	SELECT status FROM booking.decrement_ticket(1, 2, 'ivy', '100 milliseconds');
	SELECT pg_sleep(0.3);
	SELECT status, remaining FROM booking.decrement_ticket(1, 1);
	SELECT status FROM booking.booking WHERE holder = 'ivy';
}),
	"confirmed\nheld\n\nconfirmed|6\nexpired",
	'on 1.1 a lapsed shard hold is settled before the same backend buys again');
is($node->safe_psql('at11', 'SELECT count(*) FROM booking.check()'), '0', 'check() is empty on 1.1');

# Default privileges made before an old version was installed gave its
# objects privileges nobody documented (a role that reads every holder,
# or cancels). The update takes away what the scripts granted that way and
# keeps what the DBA granted or revoked since; pg_dump still sees the
# DBA's grants (they differ from the initial privileges).
$node->safe_psql('postgres', q{
	CREATE ROLE regress_analyst;
	CREATE ROLE regress_reporter;
	CREATE ROLE regress_organiser;
	CREATE DATABASE leaky;
});
$node->safe_psql('leaky', q{
	ALTER DEFAULT PRIVILEGES GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO regress_analyst;
	ALTER DEFAULT PRIVILEGES GRANT EXECUTE ON FUNCTIONS TO regress_analyst;
	ALTER DEFAULT PRIVILEGES GRANT USAGE, SELECT, UPDATE ON SEQUENCES TO regress_analyst;
	ALTER DEFAULT PRIVILEGES GRANT USAGE ON SCHEMAS TO regress_analyst;
	CREATE EXTENSION booking VERSION '1.0';
	GRANT SELECT ON booking.pool_status TO regress_reporter;
	GRANT EXECUTE ON FUNCTION booking.create_pool(integer, text, bigint, integer, integer, boolean),
	                          booking.cancel(bigint) TO regress_organiser;
	REVOKE EXECUTE ON FUNCTION booking.availability(bigint) FROM PUBLIC;
});
my $analyst_may = q{
	SELECT string_agg(x, ' ' ORDER BY x) FROM (
		SELECT 'select:' || c.relname AS x FROM pg_class c
		 WHERE c.relnamespace = 'booking'::regnamespace
		   AND CASE WHEN c.relkind IN ('r', 'v') THEN has_table_privilege('regress_analyst', c.oid, 'SELECT') END
		UNION ALL
		SELECT 'usage:' || c.relname FROM pg_class c
		 WHERE c.relnamespace = 'booking'::regnamespace
		   AND CASE WHEN c.relkind = 'S' THEN has_sequence_privilege('regress_analyst', c.oid, 'USAGE') END
		UNION ALL
		SELECT 'execute:' || p.proname FROM pg_proc p
		 WHERE p.pronamespace = 'booking'::regnamespace AND has_function_privilege('regress_analyst', p.oid, 'EXECUTE')
		   AND NOT has_function_privilege('public', p.oid, 'EXECUTE')) AS may};
like($node->safe_psql('leaky', $analyst_may), qr/execute:cancel .*select:booking /,
	'1.0 installed under default privileges: the analyst reads the holders and cancels');
$node->safe_psql('leaky', 'ALTER EXTENSION booking UPDATE');
# What a customer function got that way stays: no script of the extension
# granted or revoked on it, so nothing tells it from a DBA's grant (and
# PUBLIC may call it anyway, unless the DBA revoked that, as here).
is($node->safe_psql('leaky', $analyst_may), 'execute:availability',
	'after the update the analyst reads nothing and cancels nothing');
is( $node->safe_psql(
		'leaky', q{
	SELECT has_table_privilege('regress_reporter', 'booking.pool_status', 'SELECT'),
	       has_function_privilege('regress_organiser', 'booking.cancel(bigint)', 'EXECUTE'),
	       has_function_privilege('public', 'booking.availability(bigint)', 'EXECUTE'),
	       (SELECT count(*) FROM pg_namespace n, aclexplode(n.nspacl) AS a
	         WHERE n.nspname = 'booking' AND a.grantee = 'regress_analyst'::regrole),
	       has_function_privilege('public', 'booking.decrement_ticket(bigint, integer, text, interval, text)', 'EXECUTE')}),
	't|t|f|0|t', "the DBA's own grants and revokes stay, the scripts' undocumented grant on the schema goes");
is( $node->safe_psql(
		'leaky', q{
	SELECT count(*) FROM pg_init_privs i, aclexplode(i.initprivs) AS a
	 WHERE a.grantee IN ('regress_analyst'::regrole, 'regress_reporter'::regrole, 'regress_organiser'::regrole)}),
	'0', 'the initial privileges are the documented ones');
my ($leaky_dump) = run_command(['pg_dump', '--schema-only', '-d', $node->connstr('leaky')]);
like($leaky_dump, qr/GRANT SELECT ON TABLE booking\.pool_status TO regress_reporter;/,
	"pg_dump keeps the DBA's grant on a view");
like($leaky_dump, qr/GRANT ALL ON FUNCTION booking\.cancel\(booking_id bigint\) TO regress_organiser;/,
	"and on an organiser function");
unlike($leaky_dump, qr/ON (TABLE|SEQUENCE|SCHEMA) booking\S* TO regress_analyst/, 'and gives the analyst nothing back');
# The DBA's grantee goes away as any role does once its grants are revoked:
# since PostgreSQL 17 a role the initial privileges once named has a
# pg_shdepend entry (kind 'i') that the update must not leave behind.
$node->safe_psql('leaky', q{
	REVOKE EXECUTE ON FUNCTION booking.create_pool(integer, text, bigint, integer, integer, boolean),
	                           booking.cancel(bigint) FROM regress_organiser;
});
($rc, $out, $err) = $node->psql('postgres', 'DROP ROLE regress_organiser');
is($rc, 0, 'after the update, DROP ROLE of a revoked grantee succeeds') or diag($err);

# A schema where another role may create objects is refused, and nothing
# changes.
$node->safe_psql('postgres', 'CREATE DATABASE opened');
$node->safe_psql('opened', q{CREATE EXTENSION booking VERSION '1.3'; GRANT CREATE ON SCHEMA booking TO regress_analyst});
($rc, $out, $err) = $node->psql('opened', 'ALTER EXTENSION booking UPDATE');
like($err, qr/schema booking lets a role that is not a superuser create objects in it/,
	'an update into a schema that another role may create objects in is refused');
is($node->safe_psql('opened', q{SELECT extversion FROM pg_extension WHERE extname = 'booking'}), '1.3',
	'and the extension stays as it was');

$node->stop;
done_testing();
