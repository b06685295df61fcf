# PgBouncer in transaction pooling mode in front of one node: every contract
# function works through it (the API keeps no session state, takes no
# session advisory lock and needs no LISTEN), and 1,000 pgbench clients
# sharing a pool of 16 server connections buy tickets, hold and release
# seats, hold and confirm tickets; the invariants hold after.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $pool_size = 16;
my $clients = 1000;

my $node = PostgreSQL::Test::Cluster->new('bounced');
$node->init;
$node->append_conf('postgresql.conf', qq{
listen_addresses = '127.0.0.1'
max_connections = 60
shared_preload_libraries = 'booking'
});
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION booking');

# ------------------------------------------------------------ PgBouncer

my $user = getpwuid($>);
my $dir = $node->basedir . '/pgbouncer';
mkdir $dir or die "mkdir $dir: $!";
my $port = PostgreSQL::Test::Cluster::get_free_port();
my $ini = "$dir/pgbouncer.ini";
open(my $fh, '>', $ini) or die "$ini: $!";
print $fh qq{[databases]
postgres = host=127.0.0.1 port=@{[ $node->port ]} dbname=postgres user=$user

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $port
unix_socket_dir =
auth_type = any
pool_mode = transaction
default_pool_size = $pool_size
max_db_connections = $pool_size
max_client_conn = @{[ $clients + 100 ]}
logfile = $dir/pgbouncer.log
pidfile = $dir/pgbouncer.pid
log_connections = 0
log_disconnections = 0
};
close($fh);

# Stopped however the script ends (a signal of prove or timeout included).
sub stop_pgbouncer
{
	my $pidfile = "$dir/pgbouncer.pid";
	return unless -f $pidfile;
	open(my $p, '<', $pidfile) or return;
	my $pid = <$p>;
	close($p);
	chomp $pid;
	kill 'TERM', $pid if $pid =~ /^\d+$/;
	for (1 .. 50)
	{
		last unless -f $pidfile && kill(0, $pid);
		select(undef, undef, undef, 0.1);
	}
}
END { stop_pgbouncer(); }
$SIG{$_} = sub { die "caught signal\n" } for qw(INT TERM HUP);

# Debian installs it in /usr/sbin, which a plain user's PATH may lack.
my ($pgbouncer) = grep { -x $_ } (map { "$_/pgbouncer" } split(/:/, $ENV{PATH}), '/usr/sbin'), '/usr/sbin/pgbouncer';
BAIL_OUT('pgbouncer is not installed (Debian package pgbouncer)') unless $pgbouncer;
# 1,000 clients need more descriptors than the default 1,024, on both sides.
system('sh', '-c', 'ulimit -n 8192 && exec "$1" -d "$2"', 'sh', $pgbouncer, $ini) == 0
	or BAIL_OUT('pgbouncer did not start: ' . (-f "$dir/pgbouncer.log" ? slurp_file("$dir/pgbouncer.log") : ''));
my $bouncer = "host=127.0.0.1 port=$port dbname=postgres user=$user";
my $up = '';
for (1 .. 50)
{
	$up = bounced('SELECT 1');
	last if $up eq '1';
	select(undef, undef, undef, 0.1);
}
is($up, '1', 'pgbouncer answers');

# One statement through PgBouncer, each in its own transaction.
sub bounced
{
	my ($sql) = @_;
	my ($stdout, $stderr);
	my $ok = IPC::Run::run([ 'psql', '-X', '-A', '-t', '-q', '-v', 'ON_ERROR_STOP=1', '-d', $bouncer, '-c', $sql ],
		'>', \$stdout, '2>', \$stderr);
	chomp $stdout;
	return $ok ? $stdout : "ERROR: $stderr";
}

# ------------------------------------------------------------ every function

# Each call its own transaction, so each may run on another server
# connection: nothing may depend on the session.
my @calls = (
	[ q{SELECT booking.create_pool(2000, 'hall')}, '1' ],
	[ q{SELECT booking.create_pool(100, 'balcony', parent_id => 1, max_per_holder => 10)}, '2' ],
	[ q{SELECT booking.create_pool(3000, 'arena', shards => 4)}, '3' ],
	[ q{SELECT booking.set_capacity(1, 2100)}, '' ],
	[ q{SELECT status FROM booking.decrement_ticket(2, 2, 'ann', '1 hour', 'k1')}, 'held' ],
	[ q{SELECT booking_id FROM booking.decrement_ticket(2, 2, 'ann', '1 hour', 'k1')}, '1' ],
	[ q{SELECT status FROM booking.extend_hold(1, 'ann', '2 hours')}, 'held' ],
	[ q{SELECT status FROM booking.confirm(1, 'ann')}, 'confirmed' ],
	[ q{SELECT status FROM booking.register(2, 8, 'bob')}, 'confirmed' ],
	[ q{SELECT booking.set_capacity(2, 10)}, '' ],
	[ q{SELECT status || ':' || waitlist_position FROM booking.register(2, 1, 'cy')}, 'waitlisted:1' ],
	[ q{SELECT count(*) FROM booking.promote_waitlist(2)}, '0' ],
	[ q{SELECT released || ':' || promoted::text FROM booking.release(2, 'bob')}, '8:{3}' ],
	[ q{SELECT status FROM booking.cancel(3)}, 'released' ],
	[ q{SELECT booking.create_show('play', notify => true)}, '1' ],
	[ q{SELECT cardinality(booking.add_seats(1, 'stalls', 'A', 1, 50))}, '50' ],
	[ q{SELECT status FROM booking.reserve_seats(1, ARRAY[4, 5], 'dee')}, 'held' ],
	[ q{SELECT seat_ids::text FROM booking.reserve_best_available(1, 2, 'eve')}, '{25,26}' ],
	[ q{SELECT booking.create_resource('court', 2)}, '1' ],
	[ q{SELECT status FROM booking.reserve_slot(1, '2026-12-01 09:00', '2026-12-01 10:00', 'fay', payment_ref => 'cs_1')}, 'held' ],
	[ q{SELECT status FROM booking.confirm_payment('cs_1')}, 'confirmed' ],
	[ q{SELECT booking.expire_holds()}, '0' ],
	[ q{SELECT available FROM booking.availability(1)}, '2098' ],
	[ q{SELECT booking.reconcile()}, '0' ],
	[ q{SELECT count(*) FROM booking.check()}, '0' ],
	[ q{SELECT count(*) FROM booking.pool_status}, '3' ],
	[ q{SELECT count(*) FROM booking.bookings}, '6' ],
	[ q{SELECT count(*) FROM booking.seats WHERE status = 'held'}, '4' ],
	[ q{SELECT booking.stats_reset()}, '' ],
	[ q{SELECT confirmed FROM booking.stats}, '0' ],
	[ q{SELECT node || '/' || nodes FROM booking.node_info}, '0/1' ]);
for my $c (@calls)
{
	is(bounced($c->[0]), $c->[1], "through PgBouncer: $c->[0]");
}

# ------------------------------------------------------------ 1,000 clients

# Seats 51 .. 550: 10 rows of 50.
$node->safe_psql('postgres', q{
	SELECT booking.create_show('concert');
	SELECT booking.add_seats(2, 'floor', r, 1, 50) FROM unnest(ARRAY['A','B','C','D','E','F','G','H','I','J']) AS r;
});

my %scripts = (
	'001_buy@6' => q{
		\set pool random(1, 3)
		\set q random(1, 4)
		SELECT status FROM booking.decrement_ticket(pool_id => :pool, quantity => :q, holder => 'b' || :client_id);
	},
	'002_hold_seats@3' => q{
		\set first random(51, 549)
		\set act random(0, 1)
		SELECT coalesce(booking_id, 0) AS bid
		  FROM booking.reserve_seats(2, ARRAY[:first, :first + 1]::bigint[], 'c' || :client_id) \gset
		\if :bid > 0
		\if :act = 0
		SELECT status FROM booking.release(:bid, 'c' || :client_id);
		\else
		SELECT status FROM booking.confirm(:bid, 'c' || :client_id);
		\endif
		\endif
	},
	'003_hold_tickets@3' => q{
		\set pool random(1, 3)
		\set act random(0, 1)
		SELECT coalesce(booking_id, 0) AS bid FROM booking.decrement_ticket(:pool, 1, 'h' || :client_id, '1 hour') \gset
		\if :bid > 0
		\if :act = 0
		SELECT status FROM booking.release(:bid, 'h' || :client_id);
		\else
		SELECT status FROM booking.confirm(:bid, 'h' || :client_id);
		\endif
		\endif
	},
	'004_register@1' => q{
		\set pool random(1, 2)
		SELECT status FROM booking.register(:pool, 1, 'r' || :client_id);
	});

my @files = map {
	my ($name, $weight) = split /@/;
	my $file = "$dir/$name.sql";
	open(my $s, '>', $file) or die "$file: $!";
	print $s $scripts{$_};
	close($s);
	('-f', "$file\@$weight");
} sort keys %scripts;

# -M extended: PgBouncer 1.18 keeps no protocol-level prepared statements
# across transactions in this mode.
my ($out, $err) = ('', '');
my $started = time();
IPC::Run::run([ 'sh', '-c', 'ulimit -n 8192 && exec "$@"', 'sh',
		'pgbench', '--no-vacuum', '-M', 'extended', "--client=$clients", '--jobs=2', '--time=10',
		@files, $bouncer ], '>', \$out, '2>', \$err);
note("pgbench through PgBouncer:\n$out");
like($out, qr/number of clients: $clients\b/, "pgbench ran $clients clients");
like($out, qr/number of failed transactions: 0 /, 'no transaction failed');
like($out, qr/number of transactions actually processed: [1-9]/, 'and they bought');
is($err, '', 'no client aborted and no error was reported');
cmp_ok(time() - $started, '<', 40, 'within 40 s');
my $servers = $node->safe_psql('postgres',
	q{SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()});
cmp_ok($servers, '<=', $pool_size, "over at most $pool_size server connections");

# ------------------------------------------------------------ invariants after

is($node->safe_psql('postgres', 'SELECT count(*) FROM booking.check()'), '0', 'check() is empty');
is($node->safe_psql('postgres', q{
	SELECT count(*) FROM booking.pool p
	 CROSS JOIN LATERAL (
	       SELECT coalesce(sum(b.spots), 0) AS taken
	         FROM booking.booking b JOIN booking.pool c ON c.pool_id = b.pool_id
	        WHERE c.path @> ARRAY[p.pool_id]
	          AND (b.status = 'confirmed' OR (b.status = 'held' AND b.held_until > now()))) AS t
	 WHERE t.taken > p.capacity}),
	'0', 'no pool sold above its capacity (from the rows)');
is($node->safe_psql('postgres', q{
	SELECT count(*) FROM (
	    SELECT u.seat FROM booking.booking b CROSS JOIN LATERAL unnest(b.seat_ids) AS u(seat)
	     WHERE b.kind = 'seats' AND (b.status = 'confirmed' OR (b.status = 'held' AND b.held_until > now()))
	     GROUP BY u.seat HAVING count(*) > 1) AS x}),
	'0', 'no seat in two active bookings');
is($node->safe_psql('postgres', 'SELECT booking.reconcile()'), '0', 'the counters equal the rows');
cmp_ok($node->safe_psql('postgres', q{SELECT count(*) FROM booking.booking WHERE status = 'confirmed'}), '>', 100,
	'the clients bought');

stop_pgbouncer();
ok(!-f "$dir/pgbouncer.pid", 'pgbouncer stopped');
$node->stop;
done_testing();
