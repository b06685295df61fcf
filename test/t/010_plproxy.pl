# Past one machine: a proxy database (booking_proxy, PL/Proxy) in front of two
# booking nodes, each its own cluster on loopback. The proxy offers the same
# SQL as one node; pools, shows and resources are created through it (a child
# pool lands on its parent's node), pgbench buyers run against it, and after
# the run every node keeps its invariants, every id of node k is k mod 2, and
# the proxy's totals are the sum of the nodes'. Errors keep their SQLSTATE.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $nodes = 2;
my @node;
for my $k (0 .. $nodes - 1)
{
	my $n = PostgreSQL::Test::Cluster->new("node$k");
	$n->init;
	$n->append_conf('postgresql.conf', qq{
listen_addresses = '127.0.0.1'
max_connections = 100
shared_preload_libraries = 'booking'
});
	$n->start;
	$n->safe_psql('postgres', "CREATE EXTENSION booking; SELECT booking.set_node($k, $nodes);");
	# The proxy's account on the node: no superuser, exactly the grants
	# docs/cluster.md lists.
	$n->safe_psql('postgres', q{
		CREATE ROLE booking_proxy LOGIN;
		GRANT EXECUTE ON FUNCTION
		    booking.create_pool(integer, text, bigint, integer, integer, boolean),
		    booking.set_capacity(bigint, integer),
		    booking.promote_waitlist(bigint, integer, bigint, boolean),
		    booking.create_show(text, boolean),
		    booking.add_seats(bigint, text, text, integer, integer),
		    booking.create_resource(text, integer),
		    booking.confirm_payment(text),
		    booking.cancel(bigint),
		    booking.cancel_order(bigint),
		    booking.expire_holds(integer),
		    booking.reconcile(bigint),
		    booking.check(),
		    booking.stats_read(),
		    booking.stats_reset(),
		    booking.set_node(integer, integer)
		  TO booking_proxy;
		GRANT SELECT ON booking.pool_status, booking.bookings, booking.seats, booking.stats, booking.node_info,
		                booking.orders
		  TO booking_proxy;
	});
	push @node, $n;
}

my $proxy = PostgreSQL::Test::Cluster->new('proxy');
$proxy->init;
$proxy->append_conf('postgresql.conf', "max_connections = 100\n");
$proxy->start;
my $partitions = join(', ',
	map { "p$_ 'host=127.0.0.1 port=" . $node[$_]->port . " dbname=postgres'" } 0 .. $nodes - 1);
# A DBA's default privileges, made before the extension (review of issue 22;
# checked under "default privileges" below).
$proxy->safe_psql('postgres', q{
	CREATE ROLE regress_anon;
	ALTER DEFAULT PRIVILEGES GRANT EXECUTE ON FUNCTIONS TO regress_anon;
	ALTER DEFAULT PRIVILEGES GRANT SELECT ON TABLES TO regress_anon;
	ALTER DEFAULT PRIVILEGES GRANT USAGE ON SEQUENCES TO regress_anon;
});
$proxy->safe_psql('postgres', qq{
	CREATE EXTENSION plproxy;
	CREATE EXTENSION booking_proxy;
	CREATE SERVER booking FOREIGN DATA WRAPPER plproxy OPTIONS ($partitions);
	CREATE USER MAPPING FOR PUBLIC SERVER booking OPTIONS (user 'booking_proxy');
});

# ------------------------------------------------------------ the same SQL

# Every contract function (name, arguments with defaults, result, volatility,
# pinned search_path, PUBLIC's EXECUTE), every view and result type (columns
# and types) and who may read the views: identical on a node and the proxy.
my $signature = q{
	SELECT p.proname, pg_get_function_arguments(p.oid), pg_get_function_result(p.oid), p.provolatile,
	       -- search_path pinned: with SET, or (a node's C functions) in the code
	       p.proconfig = '{"search_path=pg_catalog, pg_temp"}' OR (p.proconfig IS NULL AND p.prolang = (SELECT oid FROM pg_language WHERE lanname = 'c')),
	       has_function_privilege('public', p.oid, 'EXECUTE')
	  FROM pg_proc p
	 WHERE p.pronamespace = 'booking'::regnamespace
	   AND p.proname IN ('create_pool', 'set_capacity', 'decrement_ticket', 'register', 'promote_waitlist',
	                     'confirm', 'release', 'cancel', 'extend_hold', 'expire_holds', 'create_show', 'add_seats',
	                     'reserve_seats', 'reserve_best_available', 'create_resource', 'reserve_slot',
	                     'confirm_payment', 'availability', 'seat_map', 'check', 'reconcile', 'stats_reset',
	                     'set_node', 'my_bookings', 'reserve_order', 'confirm_order', 'release_order',
	                     'extend_order', 'cancel_order')
	 ORDER BY 1;
	SELECT c.relname, a.attnum, a.attname, format_type(a.atttypid, a.atttypmod)
	  FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
	 WHERE c.relnamespace = 'booking'::regnamespace
	   AND c.relname IN ('pool_status', 'bookings', 'seats', 'stats', 'node_info', 'ticket_result',
	                     'confirm_result', 'release_result', 'hold_result', 'register_result', 'promotion',
	                     'seats_result', 'slot_result', 'pool_availability', 'my_booking', 'order_result')
	 ORDER BY 1, 2;
	SELECT c.relname, has_table_privilege('public', c.oid, 'SELECT')
	  FROM pg_class c
	 WHERE c.relnamespace = 'booking'::regnamespace AND c.relkind = 'v'
	   AND c.relname IN ('pool_status', 'bookings', 'seats', 'stats', 'node_info')
	 ORDER BY 1;
};
my $node_signature = $node[0]->safe_psql('postgres', $signature);
like($node_signature, qr/^decrement_ticket\|.*^stats\|.*^bookings\|f$/ms, 'the node lists the contract');
is($proxy->safe_psql('postgres', $signature), $node_signature,
	'the proxy has the same functions, arguments, defaults, results, views and privileges');
is($proxy->safe_psql('postgres', q{
	SELECT count(*) FROM pg_proc WHERE pronamespace = 'booking'::regnamespace AND NOT prosecdef
	   AND proname NOT IN ('node_of', 'placement', 'partitions', 'nodes_for', 'claimed_holder', 'order_node')}),
	'0', 'every proxy function runs as the extension owner (one user mapping, callers need no node account)');

# ------------------------------------------------------------ nodes

is($proxy->safe_psql('postgres', 'SELECT node, nodes FROM booking.node_info ORDER BY node'),
	"0|2\n1|2", 'the proxy sees node 0 and node 1 of 2');
is($proxy->safe_psql('postgres',
		'SELECT string_agg(format(\'%s/%s\', (s).node, (s).nodes), \' \' ORDER BY k)
		   FROM (SELECT k, booking.set_node(k, 2) AS s FROM generate_series(0, 1) AS k) AS x'),
	'0/2 1/2', 'set_node through the proxy reaches the node it names (the same again: a no-op)');

sub sqlstate
{
	my ($db, $sql) = @_;
	my ($ret, $out, $err) = $db->psql('postgres', $sql, extra_params => [ '-v', 'VERBOSITY=verbose' ]);
	return $ret == 0 ? 'ok' : ($err =~ /ERROR:\s+([0-9A-Z]{5}):/ ? $1 : "no SQLSTATE in: $err");
}

is(sqlstate($proxy, 'SELECT booking.set_node(0, 4)'), '22023', 'set_node refuses a node count other than the partitions');

# The customer calls that change something forward in C (src/proxy.cpp): a
# SQL body would be planned again in every query before PostgreSQL 18. The
# forwarder serves nothing else.
is($proxy->safe_psql('postgres', q{
	SELECT string_agg(proname, ',' ORDER BY proname) FROM pg_proc
	 WHERE pronamespace = 'booking'::regnamespace AND prosrc = 'booking_proxy_forward'}),
	'confirm,confirm_order,decrement_ticket,extend_hold,extend_order,register,release,release_order,'
	  . 'reserve_best_available,reserve_order,reserve_seats,reserve_slot',
	'the customer calls that change something forward in C');
$proxy->safe_psql('postgres', q{
	CREATE FUNCTION public.no_holder(pool_id bigint) RETURNS booking.ticket_result
	  LANGUAGE C AS '$libdir/booking', 'booking_proxy_forward';
	CREATE FUNCTION public.no_target(pool_id bigint, holder text) RETURNS booking.ticket_result
	  LANGUAGE C AS '$libdir/booking', 'booking_proxy_forward';
	CREATE FUNCTION public.other_result(pool_id bigint, holder text) RETURNS booking.ticket_result
	  LANGUAGE C AS '$libdir/booking', 'booking_proxy_forward';
	CREATE FUNCTION public.other_result_on(pool_id bigint, holder text) RETURNS integer
	  LANGUAGE sql AS 'SELECT 1';});
is(sqlstate($proxy, 'SELECT public.no_holder(1)'), '0A000', 'the forwarder refuses a function without a holder');
is(sqlstate($proxy, q{SELECT public.no_target(1, 'h')}), '42883', 'and one without a function_on to call');
is(sqlstate($proxy, q{SELECT public.other_result(1, 'h')}), '0A000', 'and one whose function_on returns another type');
$proxy->safe_psql('postgres', 'DROP FUNCTION public.no_holder(bigint), public.no_target(bigint, text), '
	  . 'public.other_result(bigint, text), public.other_result_on(bigint, text)');
is($proxy->safe_psql('postgres', q{SELECT DISTINCT procost FROM pg_proc WHERE prosrc = 'booking_proxy_forward'}),
	'100', 'the forwarding calls keep the planner cost of the SQL functions they replace');

# ------------------------------------------------------------ creating through the proxy

# Roots go round robin (the proxy's placement sequence 1, 2, ... modulo 2:
# node 1, node 0, ...); a child goes to its parent's node.
$proxy->safe_psql('postgres', q{
	SELECT booking.create_pool(300, 'venue ' || n) FROM generate_series(1, 4) AS n;           -- 1 .. 4
	SELECT booking.create_pool(60, 'vip of ' || p, parent_id => p) FROM generate_series(1, 4) AS p;  -- 5 .. 8
	SELECT booking.create_show('show ' || n) FROM generate_series(1, 2) AS n;                -- 1, 2
	SELECT booking.add_seats(s, 'stalls', 'A', 1, 20), booking.add_seats(s, 'stalls', 'B', 1, 20)
	  FROM generate_series(1, 2) AS s;
	SELECT booking.create_resource('court ' || n, capacity => 2) FROM generate_series(1, 2) AS n;  -- 1, 2
});
is($proxy->safe_psql('postgres', 'SELECT string_agg(format(\'%s:%s\', pool_id, parent_id), \' \' ORDER BY pool_id) FROM booking.pool_status'),
	'1: 2: 3: 4: 5:1 6:2 7:3 8:4', 'pools 1-4 created round robin, 5-8 their children');
for my $k (0 .. $nodes - 1)
{
	is($node[$k]->safe_psql('postgres', q{
		SELECT string_agg(pool_id::text, ' ' ORDER BY pool_id) FROM booking.pool;
		SELECT string_agg(show_id::text, ' ' ORDER BY show_id) FROM booking.show;
		SELECT count(*) FILTER (WHERE seat_id % 2 = show_id % 2) || '/' || count(*) FROM booking.seat;
		SELECT string_agg(resource_id::text, ' ' ORDER BY resource_id) FROM booking.resource;
		SELECT count(*) FROM booking.pool c JOIN booking.pool p ON p.pool_id = c.parent_id}),
		($k == 0 ? "2 4 6 8\n2\n40/40\n2\n2" : "1 3 5 7\n1\n40/40\n1\n2"),
		"node $k holds its pools, each child beside its parent, its show with 40 seats, its resource");
}

# ------------------------------------------------------------ errors keep their SQLSTATE

is(sqlstate($proxy, 'SELECT booking.decrement_ticket(999, 1)'), 'PT404', 'PT404 through the proxy (unknown pool)');
is(sqlstate($proxy, 'SELECT booking.decrement_ticket(1, 0)'), '22023', '22023 through the proxy (quantity 0)');
is(sqlstate($proxy, 'SELECT booking.decrement_ticket(NULL, 1)'), '22004', '22004 through the proxy (NULL pool)');
is(sqlstate($proxy, 'SELECT booking.set_capacity(1, -1)'), '22023', '22023 through the proxy (negative capacity)');
is(sqlstate($proxy, 'SELECT booking.create_pool(5, parent_id => 1001)'), 'PT404', 'PT404 for a child of an unknown parent');
is(sqlstate($proxy, q{SELECT booking.reserve_seats(1, ARRAY[1, 1], 'ann')}), '22023',
	'22023 through the proxy (a duplicate seat)');
# Seat 2 is show 2's, on node 0; show 1's node does not know it: PT404 where
# one node would answer 22023 (docs/cluster.md).
is(sqlstate($proxy, q{SELECT booking.reserve_seats(1, ARRAY[1, 2], 'ann')}), 'PT404',
	'PT404 for a seat of a show on another node');
is(sqlstate($proxy, q{SELECT booking.reserve_seats(1, ARRAY[2], 'ann')}), 'PT404',
	'PT404 for a single seat of a show on another node');
my $bid = $proxy->safe_psql('postgres', q{SELECT booking_id FROM booking.decrement_ticket(2, 1, 'ann', '1 hour')});
is(sqlstate($proxy, "SELECT booking.release($bid, 'mallory')"), 'PT403', 'PT403 through the proxy (wrong holder)');
$proxy->safe_psql('postgres', "SELECT booking.release($bid, 'ann')");
is(sqlstate($proxy, "SELECT booking.confirm($bid, 'ann')"), 'PT409', 'PT409 through the proxy (confirm a released booking)');
is(sqlstate($proxy, q{SELECT booking.confirm_payment('nobody-paid')}), 'PT404', 'PT404 for an unknown payment_ref');
is(sqlstate($proxy, 'SELECT booking.confirm_payment(NULL)'), '22004', '22004 for a NULL payment_ref');
is(sqlstate($proxy, 'SELECT booking.reconcile(1001)'), 'PT404', 'PT404 from reconcile of an unknown pool');

# A webhook finds its hold on whichever node: resource 1 is on node 1,
# resource 2 on node 0.
$proxy->safe_psql('postgres', q{
	SELECT booking.reserve_slot(r, '2026-11-30 09:00', '2026-11-30 10:00', 'pat', payment_ref => 'cs_' || r)
	  FROM generate_series(1, 2) AS r});
is($proxy->safe_psql('postgres', q{
	SELECT string_agg(format('%s:%s', booking_id % 2, status), ' ' ORDER BY r)
	  FROM generate_series(1, 2) AS r, booking.confirm_payment('cs_' || r)}),
	'1:confirmed 0:confirmed', 'confirm_payment confirms the hold carrying the reference on either node');

# Privileges as on a node: customers buy, organiser calls and views are closed.
$proxy->safe_psql('postgres', 'CREATE ROLE buyer');
is(sqlstate($proxy, q{SET ROLE buyer; SELECT booking.decrement_ticket(4, 1, 'bea')}), 'ok',
	'a customer buys through the proxy without any node account');
is(sqlstate($proxy, q{SET ROLE buyer; SELECT count(*) FROM booking.seat_map(1, 'bea')}), 'ok',
	'and reads a seat map');
my $map = q{SELECT string_agg(format('%s:%s:%s', seat_id, status, mine), ' ' ORDER BY seat_id)
              FROM booking.seat_map(1, 'ann')};
is($proxy->safe_psql('postgres', $map), $node[1]->safe_psql('postgres', $map),
	"seat_map through the proxy is show 1's node's own");
is(sqlstate($proxy, 'SELECT booking.seat_map(999)'), 'PT404', 'PT404 for the seat map of an unknown show');
is(sqlstate($proxy, 'SET ROLE buyer; SELECT booking.create_pool(5)'), '42501', 'but may not create a pool');
is(sqlstate($proxy, 'SET ROLE buyer; SELECT * FROM booking.bookings'), '42501', 'nor read the bookings');
is(sqlstate($proxy, 'SET ROLE buyer; SELECT * FROM booking.bookings_all()'), '42501', 'nor through their function');

# Browser callers (docs/rpc.md): with booking.holder_claim set on the proxy,
# a request's claim is its holder, settled on the proxy (the node's
# connection carries no claims). PostgREST's settings, as in 018_postgrest.pl.
$proxy->safe_psql('postgres', q{
	CREATE ROLE authenticated; CREATE ROLE anon;
	ALTER DATABASE postgres SET booking.holder_claim = 'sub';
});
sub as_user
{
	my ($user, $sql) = @_;
	my $claims = $user eq 'anon' ? '{"role":"anon"}' : qq({"sub":"$user","role":"authenticated"});
	my $role = $user eq 'anon' ? 'anon' : 'authenticated';
	return sqlstate($proxy, qq{BEGIN; SELECT set_config('role', '$role', true), set_config('request.jwt.claims', '$claims', true) \\gset
		$sql; COMMIT;});
}
my $u1 = $proxy->safe_psql('postgres', q{
	BEGIN; SELECT set_config('role', 'authenticated', true), set_config('request.jwt.claims', '{"sub":"u1","role":"authenticated"}', true) \\gset
	SELECT booking_id FROM booking.decrement_ticket(1, 1, hold_for => '1 hour'); COMMIT;});
$u1 = (split /\n/, $u1)[-1];
is($node[1]->safe_psql('postgres', "SELECT holder FROM booking.booking WHERE booking_id = $u1"), 'u1',
	'through the proxy, a request\'s booking carries its claim as holder');
for my $call ("booking.release($u1)", "booking.release($u1, 'u1')", "booking.confirm($u1)",
	"booking.extend_hold($u1, 'u1')", q{booking.decrement_ticket(1, 1, 'u1')}, q{booking.register(1, 1, 'u1')},
	q{booking.reserve_seats(1, ARRAY[39], 'u1')}, q{booking.reserve_best_available(1, 1, 'u1')},
	q{booking.reserve_slot(1, '2031-01-01 09:00', '2031-01-01 10:00', 'u1')}, q{booking.seat_map(1, 'u1')},
	q{booking.my_bookings('u1')}, q{booking.reserve_order('[{"pool_id": 1}]', 'u1')},
	q{booking.confirm_order(1, 'u1')}, q{booking.release_order(1, 'u1')}, q{booking.extend_order(1, 'u1')})
{
	is(as_user('u2', "SELECT FROM $call"), 'PT403', "u2 through the proxy: $call is PT403");
	is(as_user('anon', "SELECT FROM $call"), '42501', "anonymous through the proxy: $call is 42501");
}
is(as_user('anon', 'SELECT FROM booking.decrement_ticket(1, 1)'), '42501', 'anonymous decrement_ticket is 42501');
is(as_user('u1', "SELECT FROM booking.extend_hold($u1)"), 'ok', 'u1 extends her own hold through the proxy');
is($proxy->safe_psql('postgres', q{
	BEGIN READ ONLY; SELECT set_config('role', 'authenticated', true), set_config('request.jwt.claims', '{"sub":"u1","role":"authenticated"}', true) \\gset
	SELECT string_agg(booking_id || ':' || status, ' ') FROM booking.my_bookings(); COMMIT;}), "$u1:held",
	'and reads her bookings from every node in a READ ONLY transaction');
is($proxy->safe_psql('postgres', "SELECT count(*) FROM booking.my_bookings('ann')"), '1',
	'without request claims the proxy passes the holder as given');

# ------------------------------------------------------------ orders through the proxy

# An order goes to the node that holds all its items (pool 3, show 1 and
# resource 1 are node 1's; pool 4, show 2 and resource 2 node 0's).
sub node_state
{
	my ($n) = @_;
	return $n->safe_psql('postgres', q{
		SELECT (SELECT count(*) FROM booking.orders), (SELECT count(*) FROM booking.booking),
		       (SELECT string_agg(format('%s=%s/%s', pool_id, confirmed, held), ' ' ORDER BY pool_id) FROM booking.pool_status),
		       (SELECT count(*) FROM booking.seat WHERE booking_id IS NOT NULL)});
}
my $order = $proxy->safe_psql('postgres', q{
	SELECT format('%s %s %s %s', order_id, status, array_to_string(booking_ids, ','), unavailable)
	  FROM booking.reserve_order('[{"pool_id": 3, "quantity": 2}, {"show_id": 1, "seat_ids": [35, 37]},
	                              {"resource_id": 1, "starts_at": "2031-02-01 09:00+00", "ends_at": "2031-02-01 10:00+00"}]',
	                             'olga', '1 hour')});
my ($oid, $ostatus, $obids, $ounav) = split / /, $order;
my $ob1 = (split /,/, $obids)[0];
is("$ostatus $ounav", 'held []', 'an order of a pool, seats and a slot of node 1 is held through the proxy');
is(join(' ', map { $_ % 2 } $oid, split(/,/, $obids)), '1 1 1 1', 'the order and its three bookings are node 1\'s ids');
is($node[1]->safe_psql('postgres', qq{
	SELECT string_agg(format('%s:%s:%s', kind, status, held_until = (SELECT held_until FROM booking.booking WHERE booking_id = $ob1)), ' ' ORDER BY booking_id)
	  FROM booking.booking WHERE order_id = $oid}),
	'ticket:held:t seats:held:t slot:held:t', 'node 1 holds every item, all until the same time');
is($node[0]->safe_psql('postgres', "SELECT count(*) FROM booking.booking WHERE order_id = $oid"), '0',
	'node 0 has none of it');
is($proxy->safe_psql('postgres', q{
	SELECT string_agg(format('%s:%s:%s', seat_id, status, order_id), ' ' ORDER BY seat_id)
	  FROM booking.seat_map(1, 'olga') WHERE seat_id IN (33, 35, 37)}),
	"33:available: 35:held:$oid 37:held:$oid", 'seat_map through the proxy shows the order of the holder\'s seats');
my $map_orders = q{SELECT string_agg(format('%s:%s:%s:%s:%s', seat_id, status, mine, booking_id, order_id), ' ' ORDER BY seat_id)
                     FROM booking.seat_map(1, 'olga')};
is($proxy->safe_psql('postgres', $map_orders), $node[1]->safe_psql('postgres', $map_orders),
	'and is the node\'s own seat map, order_id included');
is($proxy->safe_psql('postgres', q{SELECT string_agg(format('%s:%s', kind, order_id), ' ' ORDER BY booking_id) FROM booking.my_bookings('olga')}),
	"ticket:$oid seats:$oid slot:$oid", 'my_bookings through the proxy shows the order of each booking');
is($proxy->safe_psql('postgres', "SELECT count(*) FROM booking.bookings WHERE order_id = $oid"), '3',
	'and so do the proxy\'s bookings view');

# Items of two nodes: refused before any node is called, nothing changes.
my @state = map { node_state($_) } @node;
for my $items ('[{"pool_id": 3}, {"pool_id": 4}]', '[{"show_id": 2, "seat_ids": [2]}, {"pool_id": 1, "quantity": 1}]',
	'[{"resource_id": 1, "starts_at": "2031-03-01 09:00+00", "ends_at": "2031-03-01 10:00+00"}, {"show_id": 2, "best_available": 1}]')
{
	is(sqlstate($proxy, qq{SELECT booking.reserve_order('$items', 'olga')}), '22023', "an order of two nodes is 22023: $items");
}
my (undef, undef, $cross) = $proxy->psql('postgres', q{SELECT booking.reserve_order('[{"pool_id": 3}, {"pool_id": 4}]', 'olga')});
like($cross, qr/the items of an order must be on one node: item 0 \(pool_id 3\) is on node 1, item 1 \(pool_id 4\) on node 0/,
	'the error names the items and their nodes');
like($cross, qr/DETAIL:  An order is all or nothing only inside one database/, 'and says why (one node, one transaction)');
is_deeply([ map { node_state($_) } @node ], \@state, 'nothing changed on either node');

# The node's answers pass through: bad input, and an order that does not fit.
is(sqlstate($proxy, q{SELECT booking.reserve_order('[]')}), '22023', 'an empty order is 22023 through the proxy');
is(sqlstate($proxy, q{SELECT booking.reserve_order(NULL)}), '22004', 'NULL items are 22004 through the proxy');
is(sqlstate($proxy, q{SELECT booking.reserve_order('[{"pool_id": "3"}]')}), '22023', 'a string id is 22023 through the proxy');
is(sqlstate($proxy, q{SELECT booking.reserve_order('[{"show_id": 1, "seat_ids": [35]}]')}), '22004',
	'a seat order without a holder is 22004 through the proxy');
is($proxy->safe_psql('postgres', q{
	SELECT format('%s %s %s', order_id IS NULL, status, unavailable)
	  FROM booking.reserve_order('[{"pool_id": 4}, {"show_id": 2, "seat_ids": [36]}, {"pool_id": 6, "quantity": 1000}]', 'olga')}),
	't sold_out [{"item": 2, "status": "sold_out"}]', 'an order that does not fit is sold_out, naming the item');
is_deeply([ map { node_state($_) } @node ], \@state, 'and takes nothing');

# confirm, release, extend and cancel, routed by the order id.
is(sqlstate($proxy, "SELECT booking.confirm_order($oid, 'mallory')"), 'PT403', 'confirm_order of another holder is PT403');
is(sqlstate($proxy, "SELECT booking.release($ob1, 'olga')"), 'PT409', 'an order\'s booking alone is PT409');
is($proxy->safe_psql('postgres', "SELECT format('%s %s', booking_id, status) FROM booking.confirm_order($oid, 'olga')"),
	"$oid confirmed", 'confirm_order through the proxy confirms the order');
is($node[1]->safe_psql('postgres', "SELECT string_agg(DISTINCT status, ',') FROM booking.booking WHERE order_id = $oid"),
	'confirmed', 'every item is confirmed on node 1');
my $o0 = $proxy->safe_psql('postgres', q{
	SELECT order_id FROM booking.reserve_order('[{"pool_id": 4, "quantity": 3}, {"show_id": 2, "seat_ids": [36, 38]}]',
	                                           'olga', '1 hour', payment_ref => 'cs_order0')});
is($o0 % 2, 0, 'an order of node 0\'s items is node 0\'s');
is($proxy->safe_psql('postgres', "SELECT status FROM booking.extend_order($o0, 'olga', '2 hours')"), 'held',
	'extend_order through the proxy');
is($proxy->safe_psql('postgres', "SELECT format('%s %s %s', booking_id, status, released) FROM booking.release_order($o0, 'olga')"),
	"$o0 released 5", 'release_order through the proxy gives back 3 spots and 2 seats');
is($node[0]->safe_psql('postgres', "SELECT string_agg(DISTINCT status, ',') || ' ' || count(*) FROM booking.booking WHERE order_id = $o0"),
	'released 2', 'every item is released on node 0');
my $o2 = $proxy->safe_psql('postgres', q{
	SELECT order_id FROM booking.reserve_order('[{"pool_id": 2}, {"pool_id": 8, "quantity": 2}]', 'olga', '1 hour',
	                                           payment_ref => 'cs_order2')});
is($proxy->safe_psql('postgres', q{SELECT format('%s %s', booking_id, status) FROM booking.confirm_payment('cs_order2')}),
	"$o2 confirmed", 'confirm_payment through the proxy confirms the order carrying the reference');
is($node[0]->safe_psql('postgres', "SELECT string_agg(DISTINCT status, ',') FROM booking.booking WHERE order_id = $o2"),
	'confirmed', 'all its items');

# Privileges: customers order, organisers cancel.
is(sqlstate($proxy, q{SET ROLE buyer; SELECT booking.reserve_order('[{"pool_id": 4}]', 'bea', NULL)}), 'ok',
	'a customer orders through the proxy');
my $ob = $proxy->safe_psql('postgres', q{SET ROLE buyer; SELECT order_id FROM booking.reserve_order('[{"pool_id": 4}]', 'bea')});
$ob = (split /\n/, $ob)[-1];
for my $call ("booking.extend_order($ob, 'bea')", "booking.confirm_order($ob, 'bea')")
{
	is(sqlstate($proxy, "SET ROLE buyer; SELECT $call"), 'ok', "a customer may $call");
}
is(sqlstate($proxy, "SET ROLE buyer; SELECT booking.cancel_order($ob)"), '42501', 'but may not cancel_order');
for my $helper (q{booking.order_node('[]')}, q{booking.reserve_order_on('[]', NULL, NULL, NULL, NULL)},
	"booking.release_order_on($ob, NULL)", "booking.confirm_order_on($ob, NULL, NULL)",
	"booking.extend_order_on($ob, NULL, NULL)")
{
	is(sqlstate($proxy, "SET ROLE buyer; SELECT $helper"), '42501', "nor call $helper");
}
is($proxy->safe_psql('postgres', "SELECT format('%s %s %s', booking_id, status, released) FROM booking.cancel_order($oid)"),
	"$oid released 5", 'an organiser cancels a confirmed order through the proxy');
is($node[1]->safe_psql('postgres', "SELECT count(*) FROM booking.booking WHERE order_id = $oid AND status IN ('held', 'confirmed')"),
	'0', 'none of its items is left active');

# A proxy call commits on its node when it returns: the caller's ROLLBACK
# cannot undo it (docs/cluster.md).
my $before = $node[1]->safe_psql('postgres', 'SELECT count(*) FROM booking.booking');
$proxy->safe_psql('postgres', q{BEGIN; SELECT booking.decrement_ticket(3, 1, 'rollback'); ROLLBACK;});
is($node[1]->safe_psql('postgres', 'SELECT count(*) FROM booking.booking'), $before + 1,
	'a ROLLBACK on the proxy does not undo a call already committed on its node');

# ------------------------------------------------------------ buyers through the proxy

# Seat i of show s is s + 2 i: show 1 (node 1) has the odd ids, show 2 the even.
my %scripts = (
	'001_buy@4' => q{
		\set pool random(1, 8)
		\set q random(1, 3)
		SELECT status FROM booking.decrement_ticket(pool_id => :pool, quantity => :q);
	},
	'002_hold@3' => q{
		\set pool random(1, 8)
		\set q random(1, 2)
		\set act random(0, 1)
		SELECT coalesce(booking_id, 0) AS bid FROM booking.decrement_ticket(:pool, :q, 'c' || :client_id, '1 hour') \gset
		\if :bid > 0
		\if :act = 1
		SELECT status FROM booking.confirm(:bid, 'c' || :client_id);
		\else
		SELECT status FROM booking.release(:bid, 'c' || :client_id);
		\endif
		\endif
	},
	'003_seats@3' => q{
		\set show random(1, 2)
		\set first :show + 2 * random(0, 38)
		\set act random(0, 2)
		SELECT coalesce(booking_id, 0) AS bid
		  FROM booking.reserve_seats(:show, ARRAY[:first, :first + 2]::bigint[], 'c' || :client_id) \gset
		\if :bid > 0
		\if :act = 0
		SELECT status FROM booking.release(:bid, 'c' || :client_id);
		\elif :act = 1
		SELECT status FROM booking.confirm(:bid, 'c' || :client_id);
		\endif
		\endif
	},
	'004_best@1' => q{
		\set show random(1, 2)
		SELECT coalesce(booking_id, 0) AS bid FROM booking.reserve_best_available(:show, 2, 'c' || :client_id) \gset
		\if :bid > 0
		SELECT status FROM booking.release(:bid, 'c' || :client_id);
		\endif
	},
	'005_slot@1' => q{
		\set res random(1, 2)
		\set h random(0, 47)
		\set pay random(1, 9000000000000000000)
		SELECT coalesce(booking_id, 0) AS bid
		  FROM booking.reserve_slot(:res, timestamptz '2026-12-01 00:00+00' + :h * interval '30 minutes',
		                            timestamptz '2026-12-01 00:30+00' + :h * interval '30 minutes',
		                            'c' || :client_id, payment_ref => 'pay-' || :pay) \gset
		\if :bid > 0
		SELECT status FROM booking.confirm_payment('pay-' || :pay);
		\endif
	},
	'006_register@1' => q{
		\set pool random(1, 8)
		\set spots random(1, 2)
		SELECT status FROM booking.register(:pool, :spots, 'c' || :client_id);
	},
	'007_availability@1' => q{
		\set pool random(1, 8)
		SELECT available FROM booking.availability(:pool);
	});

$proxy->pgbench('--no-vacuum --client=16 --jobs=2 --time=6', 0,
	[ qr{number of failed transactions: 0 }, qr{processed: [1-9]} ], [qr{^$}],
	'16 pgbench clients buy, hold, confirm, release, reserve seats and slots through the proxy', \%scripts);

# ------------------------------------------------------------ invariants after

for my $k (0 .. $nodes - 1)
{
	is($node[$k]->safe_psql('postgres', 'SELECT count(*) FROM booking.check()'), '0', "node $k: check() is empty");
	is($node[$k]->safe_psql('postgres', q{
		SELECT count(*) FROM booking.pool p
		 CROSS JOIN LATERAL (
		       SELECT coalesce(sum(b.spots), 0) AS taken
		         FROM booking.booking b JOIN booking.pool c ON c.pool_id = b.pool_id
		        WHERE c.path @> ARRAY[p.pool_id]
		          AND (b.status = 'confirmed' OR (b.status = 'held' AND b.held_until > now()))) AS t
		 WHERE t.taken > p.capacity}),
		'0', "node $k: no pool sold above its capacity (from the rows)");
	is($node[$k]->safe_psql('postgres', qq{
		SELECT count(*) FROM (
		    SELECT pool_id AS id FROM booking.pool UNION ALL SELECT booking_id FROM booking.booking
		    UNION ALL SELECT show_id FROM booking.show UNION ALL SELECT seat_id FROM booking.seat
		    UNION ALL SELECT resource_id FROM booking.resource) AS ids
		 WHERE id % $nodes <> $k}),
		'0', "node $k: every id is $k mod $nodes");
}
is($proxy->safe_psql('postgres', 'SELECT count(*) FROM booking.check()'), '0',
	'the proxy\'s check() (every node, and each partition is the node of its number) is empty');
cmp_ok($proxy->safe_psql('postgres', q{SELECT count(*) FROM booking.bookings WHERE status = 'confirmed'}), '>', 50,
	'the buyers bought');
cmp_ok($proxy->safe_psql('postgres', q{SELECT count(*) FROM booking.pool_status WHERE available = 0}), '>', 0,
	'and sold some pools out');

# The proxy's totals are the sum of the nodes'.
my %totals = (
	'pools' => q{SELECT string_agg(format('%s=%s/%s/%s/%s', pool_id, capacity, confirmed, held, waitlisted), ' ' ORDER BY pool_id) FROM booking.pool_status},
	'bookings' => q{SELECT string_agg(format('%s:%s', booking_id, status), ' ' ORDER BY booking_id) FROM booking.bookings},
	'seats' => q{SELECT string_agg(format('%s:%s', seat_id, status), ' ' ORDER BY seat_id) FROM booking.seats});
for my $what (sort keys %totals)
{
	my @parts = map { split / /, $_->safe_psql('postgres', $totals{$what}) } @node;
	my $id = sub { (split /[=:]/, $_[0])[0] };
	my $sum = join(' ', sort { $id->($a) <=> $id->($b) } @parts);
	is($proxy->safe_psql('postgres', $totals{$what}), $sum, "the proxy's $what are the union of the nodes'");
}
my $stats = q{SELECT confirmed, held, waitlisted, sold_out, conflict, promoted, released FROM booking.stats};
my @sum = (0) x 7;
for my $n (@node)
{
	my @v = split /\|/, $n->safe_psql('postgres', $stats);
	$sum[$_] += $v[$_] for 0 .. $#v;
}
is($proxy->safe_psql('postgres', $stats), join('|', @sum), 'the proxy\'s stats are the sum of the nodes\'');
is($proxy->safe_psql('postgres', 'SELECT booking.reconcile()'), '0', 'reconcile() on every node corrects nothing');
is($proxy->safe_psql('postgres', 'SELECT booking.expire_holds()'), '0', 'expire_holds() on every node: nothing lapsed');

# ------------------------------------------------------------ default privileges

# The install script leaves exactly the documented privileges whatever
# ALTER DEFAULT PRIVILEGES exist, as a node's does (test/sql/privileges.sql):
# else a role the DBA's default privileges name could execute every helper,
# decrement_ticket_on(.., holder, ..) and release_on(id, NULL) included,
# which run on the node as booking_proxy, an organiser, past holder_claim.
is($proxy->safe_psql('postgres', q{
	SELECT coalesce(string_agg(p.proname, ',' ORDER BY p.proname), '')
	  FROM pg_proc p
	 WHERE p.pronamespace = 'booking'::regnamespace
	   AND has_function_privilege('regress_anon', p.oid, 'EXECUTE')
	   AND NOT has_function_privilege('public', p.oid, 'EXECUTE')}), '',
	'no default privilege reaches a helper or organiser function of the proxy');
is($proxy->safe_psql('postgres', q{
	SELECT coalesce(string_agg(c.relname, ',' ORDER BY c.relname), '')
	  FROM pg_class c
	 WHERE c.relnamespace = 'booking'::regnamespace AND c.relkind IN ('r', 'v', 'S')
	   AND (has_table_privilege('regress_anon', c.oid, 'SELECT') OR has_any_column_privilege('regress_anon', c.oid, 'SELECT')
	        OR (c.relkind = 'S' AND has_sequence_privilege('regress_anon', c.oid, 'USAGE')))}), '',
	'nor a view, table or sequence of the proxy');
is($proxy->safe_psql('postgres', q{
	SELECT string_agg(p.proname, ',' ORDER BY p.proname)
	  FROM pg_proc p
	 WHERE p.pronamespace = 'booking'::regnamespace AND has_function_privilege('public', p.oid, 'EXECUTE')}),
	'availability,confirm,confirm_order,decrement_ticket,extend_hold,extend_order,my_bookings,node_of,register,release,release_order,reserve_best_available,reserve_order,reserve_seats,reserve_slot,seat_map',
	'PUBLIC executes the customer functions and node_of, nothing else');
my ($rc, $out, $err) = $proxy->psql('postgres', q{SET ROLE regress_anon; SELECT * FROM booking.release_on(1, NULL)});
like($err, qr/permission denied for function release_on/, 'regress_anon is refused release_on(id, NULL)');

# A node that does not answer as the node of its partition shows in check().
$proxy->safe_psql('postgres', q{ALTER SERVER booking OPTIONS (SET p0 'host=127.0.0.1 port=} . $node[1]->port . q{ dbname=postgres')});
like($proxy->safe_psql('postgres', q{SELECT problem FROM booking.check() WHERE object = 'node'}),
	qr/^partition 0 of 2 is node 1 of 2$/, 'a partition pointing at the wrong node is reported');

$proxy->stop;
$_->stop for @node;
done_testing();
