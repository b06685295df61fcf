# Browser callers through PostgREST (issue 22), without PostgREST itself:
# every request below is sent as PostgREST sends it, one transaction per
# request on a connection of its login role (authenticator):
#
#   BEGIN ISOLATION LEVEL READ COMMITTED READ WRITE      (READ ONLY for GET
#                                                          and STABLE functions)
#   select set_config('search_path', ..., true), set_config('role', ..., true),
#          set_config('request.jwt.claims', ..., true),
#          set_config('request.method', ..., true), set_config('request.path', ..., true),
#          set_config('request.headers', ..., true), set_config('request.cookies', ..., true)
#   WITH pgrst_source AS (SELECT pgrst_call.* FROM (SELECT <body> AS json_data) pgrst_payload,
#        LATERAL (SELECT "a", ... FROM json_to_record(pgrst_payload.json_data) AS _("a" type, ...) LIMIT 1)
#        pgrst_body , LATERAL "booking"."fn"("a" := pgrst_body."a", ...) pgrst_call) SELECT ...
#   COMMIT
#
# from PostgREST's source (github.com/PostgREST/postgrest, commit 4834678):
# src/library/PostgREST/Query/PreQuery.hs (txVarQuery: the settings, in this
# order, each set_config(name, value, true); claims always carry "role"),
# Query/QueryBuilder.hs (callPlanToQuery: the call with named arguments, the
# ones the request names), Query/SqlFragment.hs (fromJsonBodyF, asJsonF),
# Query/Statements.hs (mainCall), Plan.hs (callReadPlan: READ ONLY for GET and
# for STABLE functions) and src/hasql/Hasql/Transaction/Private/SQL.hs (the
# BEGIN). PostgREST binds the body and setting values as parameters; here they
# are literals. The SQLSTATE -> HTTP status table is Error.hs's mapSQLtoHTTP
# (docs/rpc.md).
#
# With booking.holder_claim = 'sub' (ALTER DATABASE, before the library is
# loaded in any session): two signed-in users, an anonymous caller and an
# attacker who tries every customer function on another user's bookings get
# PT403 or 42501 every time and change nothing; each user sees and changes
# only their own bookings; nobody but a superuser turns the setting off.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('postgrest');
$node->init;
$node->start;

# The roles of a PostgREST (Supabase) deployment, and the grants docs/rpc.md
# lists: the customer functions are PUBLIC's already.
$node->safe_psql('postgres', q{
	CREATE EXTENSION booking;
	CREATE ROLE authenticator LOGIN NOINHERIT;
	CREATE ROLE anon NOLOGIN;
	CREATE ROLE authenticated NOLOGIN;
	GRANT anon, authenticated TO authenticator;
	GRANT USAGE ON SCHEMA booking TO anon, authenticated;
	ALTER DATABASE postgres SET booking.holder_claim = 'sub';
});
# An organiser's fixtures (a session without request claims).
$node->safe_psql('postgres', q{
	SELECT booking.create_pool(10, 'concert');                        -- pool 1
	SELECT booking.create_pool(1, 'workshop');                        -- pool 2
	SELECT booking.create_show('play');                               -- show 1
	SELECT booking.add_seats(1, 'stalls', 'A', 1, 8);                 -- seats 1-8
	SELECT booking.create_resource('court', 1);                       -- resource 1
});

my %type = (pool_id => 'bigint', quantity => 'integer', spots => 'integer', holder => 'text',
	hold_for => 'interval', idempotency_key => 'text', show_id => 'bigint', seat_ids => 'bigint[]',
	section => 'text', resource_id => 'bigint', starts_at => 'timestamp with time zone',
	ends_at => 'timestamp with time zone', payment_ref => 'text', booking_id => 'bigint');
my %stable = (my_bookings => 1, seat_map => 1, availability => 1);
my %single = map { $_ => 1 } qw(decrement_ticket register reserve_seats reserve_best_available reserve_slot
	confirm release extend_hold availability);

sub lit
{
	my ($s) = @_;
	$s =~ s/'/''/g;
	return "'$s'";
}

# One request: (user => 'u1' | 'anon', method => 'POST' | 'GET', fn, args =>
# [name => JSON value, ...]). Returns the body, or the SQLSTATE of the error.
sub request
{
	my (%r) = @_;
	my $method = $r{method} // 'POST';
	my $role = $r{user} eq 'anon' ? 'anon' : 'authenticated';
	my $claims = $r{user} eq 'anon' ? '{"role":"anon"}' : qq({"sub":"$r{user}","role":"authenticated"});
	my @args = @{ $r{args} // [] };
	my (@names, @json);
	while (my ($k, $v) = splice(@args, 0, 2))
	{
		push @names, $k;
		push @json, qq("$k":$v);
	}
	my $mode = ($method eq 'GET' || $stable{ $r{fn} }) ? 'READ ONLY' : 'READ WRITE';
	my $body = $single{ $r{fn} }
	  ? q{coalesce((json_agg(_postgrest_t)->0)::text, 'null')}
	  : q{coalesce(json_agg(_postgrest_t), '[]')::text};
	my $call;
	if ($method eq 'GET')
	{
		# query string arguments: "a" := $1::type (QueryBuilder.hs fmtArgs)
		my @a;
		while (my ($k, $v) = splice(@{ $r{args} }, 0, 2))
		{
			$v =~ s/^"(.*)"$/$1/;
			push @a, qq("$k" := ) . lit($v) . "::$type{$k}";
		}
		$call = qq{FROM "booking"."$r{fn}"(} . join(', ', @a) . ') pgrst_call';
	}
	elsif (!@names)
	{
		$call = qq{FROM "booking"."$r{fn}"() pgrst_call};
	}
	else
	{
		$call = 'FROM (SELECT ' . lit('{' . join(',', @json) . '}') . '::json AS json_data) pgrst_payload, '
		  . 'LATERAL (SELECT ' . join(', ', map { qq("$_") } @names)
		  . ' FROM json_to_record(pgrst_payload.json_data) AS _('
		  . join(', ', map { qq("$_" $type{$_}) } @names) . ') LIMIT 1) pgrst_body , '
		  . qq{LATERAL "booking"."$r{fn}"(} . join(', ', map { qq("$_" := pgrst_body."$_") } @names) . ') pgrst_call';
	}
	my $sql = "BEGIN ISOLATION LEVEL READ COMMITTED $mode;\n"
	  . q{select set_config('search_path', '"booking", "public"', true), }
	  . q{set_config('role', } . lit($role) . q{, true), }
	  . q{set_config('request.jwt.claims', } . lit($claims) . q{, true), }
	  . q{set_config('request.method', } . lit($method) . q{, true), }
	  . q{set_config('request.path', } . lit("/rpc/$r{fn}") . q{, true), }
	  . q{set_config('request.headers', '{"accept":"application/json"}', true), }
	  . q{set_config('request.cookies', '{}', true);} . "\n"
	  . "WITH pgrst_source AS (SELECT pgrst_call.* $call) "
	  . "SELECT null::bigint AS total_result_set, pg_catalog.count(_postgrest_t) AS page_total, $body AS body, "
	  . q{nullif(current_setting('response.headers', true), '') AS response_headers, }
	  . q{nullif(current_setting('response.status', true), '') AS response_status, '' AS response_inserted }
	  . q{FROM (SELECT "pgrst_source".* FROM "pgrst_source") _postgrest_t;} . "\nCOMMIT;\n";
	my ($ret, $out, $err) = $node->psql('postgres', $sql,
		extra_params => [ '-U', 'authenticator', '-v', 'VERBOSITY=verbose', '-v', 'ON_ERROR_STOP=1' ]);
	return $err =~ /ERROR:\s+([0-9A-Z]{5}):/ ? $1 : "no SQLSTATE in: $err" if $ret != 0;
	# set_config's row, then the response row (json_agg's body spans lines)
	my (undef, $response) = split /\n/, $out, 2;
	return (split /\|/, $response, 4)[2];
}

sub field
{
	my ($json, $name) = @_;
	return $json =~ /"$name":\s*("[^"]*"|[^,}]*)/ ? $1 =~ s/^"|"$//gr : undef;
}

# ------------------------------------------------------------ signed-in users

my $t1 = request(user => 'u1', fn => 'decrement_ticket', args => [ pool_id => 1, quantity => 2, hold_for => '"1 hour"' ]);
is(field($t1, 'status'), 'held', 'u1 holds 2 tickets without naming a holder');
my $b1 = field($t1, 'booking_id');
my $r1 = request(user => 'u1', fn => 'register', args => [ pool_id => 2, spots => 1 ]);
is(field($r1, 'status'), 'confirmed', 'u1 registers');
my $s1 = request(user => 'u1', fn => 'reserve_seats', args => [ show_id => 1, seat_ids => '[1,2]', holder => 'null' ]);
is(field($s1, 'status'), 'held', 'u1 holds seats 1 and 2 (holder: null, the argument has no default)');
my $sb1 = field($s1, 'booking_id');
my $l1 = request(user => 'u1', fn => 'reserve_slot',
	args => [ resource_id => 1, starts_at => '"2030-01-01T09:00:00Z"', ends_at => '"2030-01-01T10:00:00Z"',
		holder => '"u1"' ]);
is(field($l1, 'status'), 'held', 'u1 holds a slot, naming herself');
my $lb1 = field($l1, 'booking_id');
my $w2 = request(user => 'u2', fn => 'register', args => [ pool_id => 2, spots => 1 ]);
is(field($w2, 'status'), 'waitlisted', 'u2 waits for the workshop');
my $wb2 = field($w2, 'booking_id');
my $t2 = request(user => 'u2', fn => 'reserve_best_available', args => [ show_id => 1, quantity => 2, holder => 'null' ]);
is(field($t2, 'status'), 'held', 'u2 holds two seats');

is($node->safe_psql('postgres', 'SELECT string_agg(holder, \',\' ORDER BY booking_id) FROM booking.booking'),
	'u1,u1,u1,u1,u2,u2', 'every booking carries the holder of its request\'s claim');

my $mine = request(user => 'u1', method => 'GET', fn => 'my_bookings');
my @ids = $mine =~ /"booking_id":(\d+)/g;
is("@ids", "$b1 2 $sb1 $lb1", 'u1 reads her own four bookings over GET (a READ ONLY transaction)');
like($mine, qr/"kind":"seats".*"seat_ids":\[1,2\]/, 'with seats');
my $mine2 = request(user => 'u2', fn => 'my_bookings');
like($mine2, qr/"booking_id":$wb2,.*"waitlist_position":1/, 'u2 reads hers, with the waitlist position (POST: READ ONLY too)');
unlike($mine2, qr/"booking_id":$b1,/, 'and none of u1\'s');
my $map = request(user => 'u2', fn => 'seat_map', args => [ show_id => 1 ]);
like($map, qr/"seat_id":1,[^}]*"mine":false,"held_until":null,"booking_id":null/,
	'u2\'s seat map shows u1\'s seats as taken, not whose');

# ------------------------------------------------------------ the attacker

my $rows = q{SELECT string_agg(format('%s', b), E'\n' ORDER BY b.booking_id) FROM booking.booking b};
my $before = $node->safe_psql('postgres', $rows);
my @attacks = (
	[ confirm => [ booking_id => $b1 ] ],
	[ confirm => [ booking_id => $b1, holder => '"u1"' ] ],
	[ confirm => [ booking_id => $sb1, holder => 'null', payment_ref => '"cs_x"' ] ],
	[ release => [ booking_id => $b1 ] ],
	[ release => [ booking_id => $b1, holder => '"u1"' ] ],
	[ release => [ booking_id => $sb1, holder => 'null' ] ],
	[ release => [ booking_id => $lb1, holder => '"u1"' ] ],
	[ extend_hold => [ booking_id => $b1 ] ],
	[ extend_hold => [ booking_id => $sb1, holder => '"u1"', hold_for => '"1 day"' ] ],
	[ extend_hold => [ booking_id => $lb1 ] ],
	[ decrement_ticket => [ pool_id => 1, holder => '"u1"' ] ],
	[ register => [ pool_id => 1, spots => 1, holder => '"u1"' ] ],
	[ reserve_seats => [ show_id => 1, seat_ids => '[5]', holder => '"u1"' ] ],
	[ reserve_best_available => [ show_id => 1, quantity => 1, holder => '"u1"' ] ],
	[ reserve_slot => [ resource_id => 1, starts_at => '"2030-01-02T09:00:00Z"',
		ends_at => '"2030-01-02T10:00:00Z"', holder => '"u1"' ] ],
	[ seat_map => [ show_id => 1, holder => '"u1"' ] ],
	[ my_bookings => [ holder => '"u1"' ] ],
);
for my $a (@attacks)
{
	my ($fn, $args) = @$a;
	my $desc = "$fn(" . join(', ', @$args) . ')';
	is(request(user => 'u2', fn => $fn, args => [@$args]), 'PT403', "u2 on u1's bookings: $desc is PT403");
	is(request(user => 'anon', fn => $fn, args => [@$args]), '42501', "anonymous: $desc is 42501");
}
is(request(user => 'u2', method => 'GET', fn => 'my_bookings', args => [ holder => '"u1"' ]), 'PT403',
	'GET my_bookings?holder=u1 as u2 is PT403');
for my $fn (qw(decrement_ticket register))
{
	is(request(user => 'anon', fn => $fn, args => [ pool_id => 1 ]), '42501',
		"anonymous $fn without a holder is 42501 (it would make a booking nobody can change)");
}
is(request(user => 'anon', fn => 'my_bookings'), '42501', 'anonymous my_bookings is 42501');
like(request(user => 'anon', fn => 'seat_map', args => [ show_id => 1 ]), qr/^\[\{"seat_id":1,/,
	'anonymous seat_map without a holder draws the map');
like(request(user => 'anon', fn => 'availability', args => [ pool_id => 1 ]), qr/"available":8/,
	'anonymous availability answers');
is($node->safe_psql('postgres', $rows), $before, 'after every attack, every booking row is as it was');

# ------------------------------------------------------------ the owner acts

is(field(request(user => 'u1', fn => 'confirm', args => [ booking_id => $b1 ]), 'status'), 'confirmed',
	'u1 confirms her hold without naming herself');
is(field(request(user => 'u1', fn => 'extend_hold', args => [ booking_id => $sb1, holder => '"u1"' ]), 'status'),
	'held', 'u1 extends her seats, naming herself');
my $rel = request(user => 'u1', fn => 'release', args => [ booking_id => 2 ]);
is(field($rel, 'status') . '/' . field($rel, 'released') . '/' . ($rel =~ /"promoted":\[(\d+)\]/ ? $1 : '-'),
	"released/1/$wb2", 'u1 gives up the workshop and u2 is promoted');
is(request(user => 'u1', fn => 'decrement_ticket', args => [ pool_id => 1 ]) =~ /"status":"confirmed"/ ? 'ok' : 'no',
	'ok', 'u1 buys again');
is(request(user => 'u1', method => 'GET', fn => 'decrement_ticket', args => [ pool_id => 1 ]), '25006',
	'a VOLATILE call over GET fails in its READ ONLY transaction (PostgREST: 405)');

# ------------------------------------------------------------ the setting

# A customer cannot turn the claim off: not with set_config in his request
# (SUSET), and not before the library is loaded in a fresh session (the
# placeholder's value is dropped when booking.holder_claim is defined).
my ($ret, $out, $err) = $node->psql('postgres', q{
	BEGIN;
	SELECT set_config('role', 'authenticated', true);
	SELECT (booking.availability(1)).available;   -- loads the library
	SELECT set_config('booking.holder_claim', '', true);
}, extra_params => [ '-U', 'authenticator' ]);
like($err, qr/permission denied to set parameter "booking.holder_claim"/,
	'set_config(booking.holder_claim) as authenticated is refused');
($ret, $out, $err) = $node->psql('postgres', qq{
	BEGIN;
	SELECT set_config('booking.holder_claim', '', true), set_config('role', 'authenticated', true),
	       set_config('request.jwt.claims', '{"sub":"u2","role":"authenticated"}', true);
	SELECT status FROM booking.release($lb1, 'u1');
}, extra_params => [ '-U', 'authenticator', '-v', 'VERBOSITY=verbose' ]);
like($err, qr/ERROR:\s+PT403/, 'set before the library loads, the empty setting is ignored: still PT403');
like($err, qr/permission denied to set parameter "booking.holder_claim"/, 'with a warning saying why');
is($node->safe_psql('postgres', 'SHOW booking.holder_claim', extra_params => [ '-U', 'authenticator' ]), 'sub',
	'ALTER DATABASE ... SET applies to every session of the database');

# Without request claims (a trusted backend on the same database), today's
# behaviour: the holder is the argument.
is($node->safe_psql('postgres', qq{SET ROLE authenticated; SELECT status FROM booking.extend_hold($lb1, 'u1')},
		extra_params => [ '-U', 'authenticator' ]),
	'held', 'a session without request claims passes the holder itself');
# An organiser's calls take no holder: claims change nothing for them.
is($node->safe_psql('postgres', qq{
	SET request.jwt.claims = '{"sub":"boss","role":"service_role"}';
	SELECT status FROM booking.cancel($lb1)}), 'released', 'an organiser cancels with claims present');
is($node->safe_psql('postgres', 'SELECT count(*) FROM booking.check()'), '0', 'check() is empty');

$node->stop;
done_testing();
