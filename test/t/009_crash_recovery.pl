# Crash under load. pgbench buyers keep a hot sharded pool, spread pools,
# seat holds and waitlisted registrations busy while recording clients make
# bookings whose acknowledgements they write down. A backend is killed with
# SIGKILL three times (the postmaster then resets every backend and replays
# WAL), the postmaster itself is killed with SIGKILL once, and the server is
# stopped once with -m immediate. Recorders and buyers also place orders of
# several items (issue 21). Afterwards:
#   - every booking a recorder saw acknowledged is there, in that state or a
#     later legal one (none lost);
#   - a recorder's booking that was never acknowledged exists only if its
#     statement was the one in flight when the connection died;
#   - every order a recorder saw acknowledged is whole: all its bookings
#     exist with its order id and the acknowledged state; an order never
#     acknowledged exists only if it was in flight, and then whole too; no
#     order anywhere is partial (test/t/orders_invariants.sql);
#   - check() is empty, nothing is sold twice, and the server takes a new
#     booking at once.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Cwd ();
use File::Basename qw(dirname);
use Time::HiRes qw(usleep);

my $recorders = 4;
my $node = PostgreSQL::Test::Cluster->new('crash');
$node->init;
$node->append_conf('postgresql.conf', qq{
restart_after_crash = on
shared_preload_libraries = 'booking'
booking.databases = 'postgres'
booking.expiry_interval = '1s'
max_connections = 60
synchronous_commit = on
fsync = on
log_min_messages = warning
});
$node->start;

$node->safe_psql('postgres', q{
	CREATE EXTENSION booking;
	SELECT booking.create_pool(1000000, 'hot', shards => 8);                           -- 1
	SELECT booking.create_pool(40, 'spread ' || i) FROM generate_series(2, 101) AS i;  -- 2..101
	SELECT booking.create_pool(4, 'class ' || i) FROM generate_series(102, 111) AS i;  -- 102..111
	SELECT booking.create_show('gala');
	SELECT booking.add_seats(1, 'stalls', 'R' || r, 1, 50) FROM generate_series(1, 100) AS r;  -- seats 1..5000
});

$node->safe_psql('postgres', slurp_file(dirname(__FILE__) . '/orders_invariants.sql'));

my $dir = $node->basedir;
my $connstr = $node->connstr('postgres');

# ------------------------------------------------------------ background load

my %pgbench = (
	'hot.sql' => q{SELECT booking.decrement_ticket(1, 1 + (random() * 2)::int, 'pg');},
	'spread.sql' => q{\set p random(2, 101)
SELECT booking.release(t.booking_id, 'pg') FROM booking.decrement_ticket(:p, 1, 'pg') AS t
 WHERE t.booking_id IS NOT NULL AND random() < 0.5;},
	'seats.sql' => q{\set r random(0, 99)
\set k random(1, 49)
SELECT booking.reserve_seats(1, ARRAY[:r * 50 + :k, :r * 50 + :k + 1]::bigint[], 'pg', '2 seconds');},
	'orders.sql' => q{\set p random(2, 101)
\set r random(0, 99)
\set k random(1, 48)
SELECT booking.reserve_order(jsonb_build_array(jsonb_build_object('show_id', 1, 'seat_ids', jsonb_build_array(:r * 50 + :k, :r * 50 + :k + 1)),
       jsonb_build_object('pool_id', :p), jsonb_build_object('pool_id', 1, 'quantity', 2)), 'pg', '2 seconds');},
	'classes.sql' => q{\set p random(102, 111)
SELECT booking.register(:p, 1, 'pg');
SELECT booking.release(b.booking_id, 'pg') FROM booking.booking AS b
 WHERE b.pool_id = :p AND b.holder = 'pg' AND b.status IN ('confirmed', 'waitlisted') AND random() < 0.7
 ORDER BY b.booking_id LIMIT 1;},
);
for my $f (keys %pgbench) {
	open my $fh, '>', "$dir/$f" or die $!;
	print $fh $pgbench{$f}, "\n";
	close $fh;
}
my $load = "$dir/load.sh";
open my $lfh, '>', $load or die $!;
print $lfh <<"EOS";
#!/bin/sh
# pgbench exits once a crash has aborted its clients: start it again (short
# runs, so that the stop file ends the load within seconds).
while [ ! -f $dir/stop ]; do
	pgbench -n -c 8 -j 2 -T 5 -d "$connstr" -f $dir/hot.sql\@3 -f $dir/spread.sql\@3 \\
		-f $dir/seats.sql\@2 -f $dir/classes.sql\@2 -f $dir/orders.sql\@2 >>$dir/pgbench.out 2>&1
	sleep 0.2
done
EOS
close $lfh;
chmod 0755, $load;

# ------------------------------------------------------------ recorders
#
# Each recorder runs batches of steps through psql with ON_ERROR_STOP, one
# statement per step in autocommit, and echoes "ACK <step> ..." only after
# the result (hence the commit) arrived. The plan file lists every step of a
# batch before it runs, so after the run the first step of a batch without
# an ACK is the one that was in flight when the batch died; every later step
# of that batch was never sent.
my $recorder = "$dir/recorder.pl";
open my $rfh, '>', $recorder or die $!;
print $rfh <<'EOS';
use strict;
use warnings;
my ($id, $dir, $connstr) = @ARGV;
my $n = 0;
my $batch = 0;
srand($id * 7919);
while (!-e "$dir/stop") {
	$batch++;
	my (@plan, @sql);
	for (1 .. 25) {
		$n++;
		my $key = "r$id-$n";
		my $holder = "rec$id";
		my $kind = $n % 5;
		if ($kind == 0) {
			push @plan, "$key:take";
			push @sql, "SELECT booking_id AS bid, status AS st FROM booking.decrement_ticket(1, 1, '$holder', idempotency_key => '$key') \\gset",
				"\\echo ACK $key:take :bid :st";
		} elsif ($kind == 1) {
			my $p = 2 + int(rand(100));
			push @plan, "$key:take";
			push @sql, "SELECT booking_id AS bid, status AS st FROM booking.decrement_ticket($p, 1, '$holder', idempotency_key => '$key') \\gset",
				"\\echo ACK $key:take :bid :st";
		} elsif ($kind == 2) {
			my $s = int(rand(100)) * 50 + 1 + int(rand(49));
			my $t = $s + 1;
			push @plan, "$key:take", "$key:confirm";
			push @sql, "SELECT coalesce(booking_id, 0) AS bid, status AS st, status = 'held' AS ok FROM booking.reserve_seats(1, ARRAY[$s, $t]::bigint[], '$holder', '1 hour', '$key') \\gset",
				"\\echo ACK $key:take :bid :st",
				"\\if :ok",
				"SELECT status AS cst FROM booking.confirm(:bid, '$holder') \\gset",
				"\\echo ACK $key:confirm :bid :cst",
				"\\else",
				"\\echo ACK $key:confirm - skipped",
				"\\endif";
		} elsif ($kind == 4) {
			# an order: a spread pool, the hot pool, two seats; held or bought
			my $p = 2 + int(rand(100));
			my $s = int(rand(100)) * 50 + 1 + int(rand(49));
			my $t = $s + 1;
			my $hold = $n % 2 ? "'1 hour'" : 'NULL';
			push @plan, "$key:order";
			push @sql, "SELECT coalesce(order_id, 0) AS oid, status AS st, coalesce(array_to_string(booking_ids, ','), '-') AS ids"
				. " FROM booking.reserve_order(jsonb_build_array(jsonb_build_object('show_id', 1, 'seat_ids', jsonb_build_array($t, $s)),"
				. " jsonb_build_object('pool_id', $p), jsonb_build_object('pool_id', 1, 'quantity', 2)), '$holder', $hold,"
				. " idempotency_key => '$key') \\gset",
				"\\echo ACK $key:order :oid :st :ids";
		} else {
			my $p = 102 + int(rand(10));
			push @plan, "$key:take";
			push @sql, "SELECT booking_id AS bid, status AS st FROM booking.register($p, 1, '$holder', idempotency_key => '$key') \\gset",
				"\\echo ACK $key:take :bid :st";
		}
	}
	open my $pf, '>>', "$dir/plan.$id" or die $!;
	print $pf "BATCH $id-$batch @plan\n";
	close $pf;
	open my $sf, '>', "$dir/batch.$id.sql" or die $!;
	print $sf join("\n", @sql), "\n";
	close $sf;
	system("psql -X -q -v ON_ERROR_STOP=1 -d '$connstr' -f $dir/batch.$id.sql >>$dir/ack.$id 2>>$dir/err.$id");
	select(undef, undef, undef, 0.05) if $? != 0;   # the server is restarting
}
EOS
close $rfh;

unlink "$dir/stop";
# Background processes must not outlive a test that dies half-way.
my @procs;
END {
	if (@procs) {
		if (open my $fh, '>', "$dir/stop") { close $fh; }
		$_->kill_kill(grace => 5) for @procs;
	}
}
push @procs, IPC::Run::start(['sh', $load]);
for my $id (1 .. $recorders) {
	push @procs, IPC::Run::start(['perl', $recorder, $id, $dir, $connstr]);
}

sub acked_so_far {
	my $total = 0;
	for my $id (1 .. $recorders) {
		next unless -e "$dir/ack.$id";
		$total += () = slurp_file("$dir/ack.$id") =~ /^ACK /mg;
	}
	return $total;
}

# Wait until work is flowing, then crash it.
sub wait_for_progress {
	my $start = acked_so_far();
	for (1 .. 300) {
		return 1 if acked_so_far() >= $start + 40;
		usleep(100_000);
	}
	return 0;
}

# Until the server answers again after a crash. poll_query_until gives
# psql its query on stdin: a psql refused during recovery may exit before
# IPC::Run has written it, and the write then dies with EPIPE ("ack Broken
# pipe", seen once in CI), so that death is one more try.
sub server_back {
	for (1 .. 20) {
		my $back = eval { $node->poll_query_until('postgres', 'SELECT true') };
		return 1 if $back;
		note("poll_query_until: $@") if $@;
		usleep(100_000);
	}
	return 0;
}

ok(wait_for_progress(), 'recorders are booking under load');
my $kills = 0;
for my $round (1 .. 3) {
	my $pid = $node->safe_psql('postgres', q{
		SELECT pid FROM pg_stat_activity
		 WHERE backend_type = 'client backend' AND pid <> pg_backend_pid() AND query LIKE '%booking.%'
		 ORDER BY state = 'active' DESC, random() LIMIT 1});
	if ($pid =~ /^\d+$/) {
		kill 'KILL', $pid;
		$kills++;
	}
	# The postmaster resets every backend and replays WAL; wait until it
	# accepts connections again, and until work flows again.
	server_back() or die 'server did not come back';
	wait_for_progress();
}
is($kills, 3, 'killed a booking backend with SIGKILL three times');

# The postmaster itself killed with SIGKILL. Its backends notice and exit;
# only then may a new postmaster start. Where nothing reaps the dead
# postmaster (a container whose init does not), it stays a zombie whose pid
# in postmaster.pid and in its socket's lock file still answers kill 0, so
# those lock files are removed by hand, once no process of the old server
# is left (a process of the server works in the data directory; a zombie
# has no working directory).
my $pgdata = Cwd::realpath($node->data_dir);
$node->kill9;
my $gone = 0;
for (1 .. 300) {
	my @left = grep { (readlink("/proc/$_/cwd") // '') eq $pgdata } map { m{(\d+)$} } glob('/proc/[0-9]*');
	if (!@left) {
		$gone = 1;
		last;
	}
	usleep(100_000);
}
ok($gone, 'every process of the server exits after its postmaster was killed with SIGKILL');
unlink "$pgdata/postmaster.pid", $node->host . '/.s.PGSQL.' . $node->port . '.lock' if $gone;
$node->start;
ok(wait_for_progress(), 'after the postmaster was killed, booking goes on');

$node->stop('immediate');
$node->start;
ok(wait_for_progress(), 'after -m immediate and a restart, booking goes on');
usleep(1_000_000);

open my $sfh, '>', "$dir/stop" or die $!;
close $sfh;
$_->finish for @procs;
@procs = ();

# ------------------------------------------------------------ verification

my $pgbench_out = slurp_file("$dir/pgbench.out");
my @aborts = $pgbench_out =~ /(terminating connection|server closed the connection|connection to server)/g;
cmp_ok(scalar(@aborts), '>', 0, 'the pgbench buyers saw their connections die');

# step => [booking_id, status] for every acknowledged step; in-flight steps
my (%ack, %inflight, %sent);
my $batches_died = 0;
for my $id (1 .. $recorders) {
	my $acks = -e "$dir/ack.$id" ? slurp_file("$dir/ack.$id") : '';
	while ($acks =~ /^ACK (\S+) (\S*) ?(\S*) ?(\S*)$/mg) {
		$ack{$1} = [$2, $3, $4];
	}
	for my $line (split /\n/, slurp_file("$dir/plan.$id")) {
		my (undef, undef, @steps) = split / /, $line;
		my $died = 0;
		for my $step (@steps) {
			next if exists $ack{$step};
			$inflight{$step} = 1 unless $died;   # the first unacknowledged step
			$died = 1;
		}
		$batches_died += $died;
	}
}
cmp_ok(scalar(keys %ack), '>', 100, scalar(keys %ack) . " steps acknowledged, $batches_died batches cut by a crash");

my $errors = join '', map { -e "$dir/err.$_" ? slurp_file("$dir/err.$_") : '' } 1 .. $recorders;
# SQL errors (psql prints "ERROR:"); lost connections show up as FATAL or
# client-side messages instead.
my @unexpected = grep { /ERROR:/ } split /\n/, $errors;
is(join("\n", @unexpected), '', 'recorders saw no SQL error, only lost connections');

my %row;   # idempotency key => [booking_id, status, kind]
for my $line (split /\n/, $node->safe_psql('postgres', q{
		SELECT idempotency_key, booking_id, status, kind FROM booking.booking
		 WHERE holder LIKE 'rec%' AND order_id IS NULL})) {
	my ($key, $bid, $status, $kind) = split /\|/, $line;
	$row{$key} = [$bid, $status, $kind];
}

# A seat hold is released without a release call when its holder asks again
# for all of its seats (they move to the new hold). A recorder does that when
# a batch died between a hold and its confirm and a later step drew the same
# seats. Such holds: the released seat booking has a later booking of the
# same holder that took one of its seats.
my %moved = map { $_ => 1 } split /\n/, $node->safe_psql('postgres', q{
	SELECT old.booking_id FROM booking.booking AS old
	 WHERE old.kind = 'seats' AND old.status = 'released' AND old.holder LIKE 'rec%'
	   AND EXISTS (SELECT FROM booking.booking AS new
	                WHERE new.kind = 'seats' AND new.holder = old.holder
	                  AND new.booking_id > old.booking_id AND new.seat_ids && old.seat_ids)});

my (@lost, @phantom, @wrong);
for my $step (sort keys %ack) {
	my ($key, $what) = split /:/, $step;
	my ($bid, $st) = @{ $ack{$step} };
	next if $st eq 'skipped' || $what eq 'order';
	if ($what eq 'take') {
		if ($bid eq '' || $bid eq '0') {   # sold_out / conflict: nothing booked
			push @phantom, "$step answered $st but a booking exists" if $row{$key};
			next;
		}
		if (!$row{$key} || $row{$key}[0] ne $bid) {
			push @lost, "$step ($bid $st)";
			next;
		}
		my $now = $row{$key}[1];
		my %later = (confirmed => ['confirmed'], held => ['held', 'confirmed'],
		             waitlisted => ['waitlisted', 'confirmed']);
		next if $st eq 'held' && $now eq 'released' && $moved{$bid} && !exists $ack{"$key:confirm"};
		push @wrong, "$step acknowledged $st, now $now" unless grep { $_ eq $now } @{ $later{$st} || [$st] };
	} else {   # confirm
		push @lost, "$step (confirmed)" unless $row{$key} && $row{$key}[1] eq 'confirmed';
	}
}
is(join(', ', @lost), '', 'no acknowledged booking or confirmation was lost');
is(join(', ', @wrong), '', 'every acknowledged booking is in its state or a later legal one');

# A booking whose creating step was never acknowledged exists only when
# that step was in flight; likewise a confirmation.
for my $key (sort keys %row) {
	my ($bid, $status, $kind) = @{ $row{$key} };
	if (!exists $ack{"$key:take"}) {
		push @phantom, "$key exists ($status) but was neither acknowledged nor in flight"
			unless $inflight{"$key:take"};
	}
	if ($kind eq 'seats' && $status eq 'confirmed' && !exists $ack{"$key:confirm"}) {
		push @phantom, "$key confirmed but its confirm was neither acknowledged nor in flight"
			unless $inflight{"$key:confirm"};
	}
}
is(join(', ', @phantom), '', 'nothing unacknowledged exists unless its commit was in flight');

# Orders: an acknowledged one is whole, in its acknowledged state; one never
# acknowledged exists only if it was in flight (and is then whole as well,
# which partial_orders() checks with every other order).
my %order;   # idempotency key => [order id, booking ids]
for my $line (split /\n/, $node->safe_psql('postgres', q{
		SELECT idempotency_key, order_id, array_to_string(booking_ids, ',') FROM booking.orders WHERE holder LIKE 'rec%'})) {
	my ($key, $oid, $ids) = split /\|/, $line;
	$order{$key} = [$oid, $ids];
}
my %items;   # order id => its bookings as "id:status,..."
for my $line (split /\n/, $node->safe_psql('postgres', q{
		SELECT order_id, string_agg(booking_id || ':' || status, ',' ORDER BY booking_id) FROM booking.booking
		 WHERE holder LIKE 'rec%' AND order_id IS NOT NULL GROUP BY order_id})) {
	my ($oid, $list) = split /\|/, $line;
	$items{$oid} = $list;
}
my (@order_lost, @order_partial, @order_phantom);
my $orders_acked = 0;
for my $step (sort grep { /:order$/ } keys %ack) {
	my ($key) = split /:/, $step;
	my ($oid, $st, $ids) = @{ $ack{$step} };
	if ($oid eq '0') {   # refused (sold_out, conflict): nothing of it exists
		push @order_phantom, "$step answered $st but order $order{$key}[0] exists" if $order{$key};
		next;
	}
	$orders_acked++;
	if (!$order{$key} || $order{$key}[0] ne $oid || $order{$key}[1] ne $ids) {
		push @order_lost, "$step (order $oid $st $ids)";
		next;
	}
	my $whole = join ',', map { "$_:$st" } sort { $a <=> $b } split /,/, $ids;
	push @order_partial, "$step acknowledged $st with bookings $ids, now " . ($items{$oid} // 'none')
		unless ($items{$oid} // '') eq $whole;
}
for my $key (sort keys %order) {
	push @order_phantom, "$key: order $order{$key}[0] exists but was neither acknowledged nor in flight"
		unless exists $ack{"$key:order"} || $inflight{"$key:order"};
}
cmp_ok($orders_acked, '>', 10, "$orders_acked orders acknowledged");
is(join(', ', @order_lost), '', 'no acknowledged order was lost');
is(join(', ', @order_partial), '', 'every acknowledged order is whole: all its bookings, in its acknowledged state');
is(join(', ', @order_phantom), '', 'no order exists unless acknowledged or in flight');
is($node->safe_psql('postgres', 'SELECT * FROM partial_orders()'), '', 'no order is partial, the load\'s included');
is($node->safe_psql('postgres', 'SELECT * FROM oversold()'), '', 'nothing is sold twice: pools, seats, slots');

is($node->safe_psql('postgres', 'SELECT count(*) FROM booking.check()'), '0', 'check() is empty after the crashes');
is($node->safe_psql('postgres', q{
	SELECT count(*) FROM booking.pool_status WHERE confirmed + held > capacity}), '0', 'no pool is sold above capacity');
is($node->safe_psql('postgres', q{SELECT booking.reconcile()}), '0', 'every counter equals its rows');
is($node->safe_psql('postgres', q{SELECT status FROM booking.decrement_ticket(1, 1, 'after')}), 'confirmed',
	'the server takes a new booking at once');
ok($node->poll_query_until('postgres', q{
	SELECT count(*) > 0 FROM pg_stat_activity WHERE backend_type LIKE 'booking expiry%'}),
	'the expiry worker is back');

$node->stop;
done_testing();
