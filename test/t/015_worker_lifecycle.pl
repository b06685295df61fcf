# The expiry worker's lifecycle, with booking preloaded (src/worker.cpp):
#   - a round that fails (lock_timeout, a cancel, a user's trigger) has its
#     batch rolled back and is logged with the error's detail, hint and
#     context, at most once in 5 minutes for its SQLSTATE even when rounds
#     work in between, and the same worker goes on with the next rounds;
#   - a database of booking.databases, with or without the extension, can
#     be dropped with a plain DROP DATABASE, also by an owner that is not a
#     superuser, who can use WITH (FORCE) only as a member of
#     pg_signal_backend (the worker has no role); one that does not exist (never
#     did, dropped, dropped WITH (FORCE)) is said once, not a FATAL every
#     10 seconds (at most one from a worker that was starting as it was
#     dropped), and gets its worker once it is created;
#   - the launcher and a database worker, terminated with SIGTERM, come back
#     and go on expiring holds;
#   - a booking.databases that is not a list of at most 64 names is refused
#     when set, and a reload that brings one logs it once and keeps the
#     last good value.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);

my $node = PostgreSQL::Test::Cluster->new('worker_lifecycle');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'booking'
booking.databases = 'postgres'
booking.expiry_interval = '200ms'
});
$node->start;
# shop: the extension, and a lock_timeout that its worker's rounds take on.
# plain: no extension. forced: dropped WITH (FORCE) below. gone: never made.
# owned and signalled: owned by a role that is not a superuser.
$node->safe_psql('postgres', $_) for (
	'CREATE DATABASE shop', 'CREATE DATABASE plain', 'CREATE DATABASE forced',
	q{ALTER DATABASE shop SET lock_timeout = '100ms'},
	'CREATE ROLE owner LOGIN', 'CREATE DATABASE owned OWNER owner', 'CREATE DATABASE signalled OWNER owner');
for my $db ('postgres', 'shop', 'forced') {
	$node->safe_psql($db, q{
		CREATE EXTENSION booking;
		SELECT booking.create_pool(1000, 'class');
	});
}
$node->append_conf('postgresql.conf',
	"booking.databases = 'postgres, shop, plain, forced, owned, signalled, gone'\n");
$node->reload;

# Wait up to $seconds for $sql in postgres to answer 't'.
sub within
{
	my ($seconds, $sql) = @_;
	for (1 .. $seconds * 10) {
		return 1 if $node->safe_psql('postgres', $sql) eq 't';
		usleep(100_000);
	}
	return 0;
}

sub worker_pid
{
	my ($db) = @_;
	return $node->safe_psql('postgres',
		qq{SELECT pid FROM pg_stat_activity WHERE backend_type = 'booking expiry' AND datname = '$db'}) || 0;
}

my $all_workers = q{SELECT count(DISTINCT datname) = 6 FROM pg_stat_activity
	WHERE backend_type = 'booking expiry' AND datname IN ('postgres', 'shop', 'plain', 'forced', 'owned', 'signalled')};
# After the drops below.
my $last_workers = q{SELECT count(DISTINCT datname) = 2 FROM pg_stat_activity
	WHERE backend_type = 'booking expiry' AND datname IN ('postgres', 'gone')};

# The launcher's pid, from the processes of the postmaster (the launcher of
# 72fa703 is not in pg_stat_activity).
sub launcher_pid
{
	my $postmaster = (split /\n/, slurp_file($node->data_dir . '/postmaster.pid'))[0];
	for my $dir (glob '/proc/[0-9]*') {
		my ($cmdline, $stat);
		next unless open my $fh, '<', "$dir/cmdline";
		{ local $/; $cmdline = <$fh> // ''; }
		close $fh;
		next unless $cmdline =~ /booking launcher/;
		next unless open $fh, '<', "$dir/stat";
		$stat = <$fh> // '';
		close $fh;
		my ($ppid) = $stat =~ /^\d+ \(.*\) \S (\d+)/;
		return ($dir =~ m{(\d+)$})[0] if defined $ppid && $ppid == $postmaster;
	}
	return '';
}

# A hold in $db that lapses at once; the worker must mark it expired.
my $holds = 0;
sub expires
{
	my ($db, $what) = @_;
	$holds++;
	$node->safe_psql($db, "SELECT booking.decrement_ticket(1, 1, 'h$holds', '100 milliseconds')");
	my $ok = 0;
	for (1 .. 150) {
		$ok = $node->safe_psql($db, "SELECT status = 'expired' FROM booking.booking WHERE holder = 'h$holds'") eq 't';
		last if $ok;
		usleep(100_000);
	}
	ok($ok, $what);
}

sub log_since
{
	my ($offset) = @_;
	return slurp_file($node->logfile, $offset);
}

ok(within(30, $all_workers), 'a worker in every database of booking.databases that exists');
expires('postgres', 'the worker expires holds');
expires('shop', 'in every database with the extension');

# ---------------------------------------------------------------- failing rounds

# lock_timeout: shop's worker cannot lock booking.booking while a session
# holds it; each round fails after 100 ms.
my $offset = -s $node->logfile;
my $shop_worker = worker_pid('shop');
my $locker = $node->background_psql('shop');
$locker->query_safe(q{SET lock_timeout = 0; BEGIN; LOCK TABLE booking.booking IN ACCESS EXCLUSIVE MODE});
ok(within(10, qq{SELECT count(*) > 0 FROM pg_stat_activity WHERE pid = $shop_worker AND wait_event_type = 'Lock'}),
	'shop\'s worker waits for the lock');
sleep(3);	# about ten rounds, every one failing
$locker->query_safe('COMMIT');
$locker->quit;
expires('shop', 'after rounds failed on lock_timeout the worker expires holds');
is(worker_pid('shop'), $shop_worker, 'the same worker');
my $log = log_since($offset);
my @failed = $log =~ /(booking expiry round in database "shop" failed: canceling statement due to lock timeout)/g;
is(scalar @failed, 1, 'the failure is logged once') or diag($log);
like($log, qr/booking expiry rounds in database "shop" work again/, 'and its end once');
unlike($log, qr/FATAL/, 'no FATAL');

# A cancel: postgres's worker waits for a lock (no lock_timeout there) and
# is cancelled.
$offset = -s $node->logfile;
my $worker = worker_pid('postgres');
$locker = $node->background_psql('postgres');
$locker->query_safe(q{BEGIN; LOCK TABLE booking.booking IN ACCESS EXCLUSIVE MODE});
ok(within(10, qq{SELECT count(*) > 0 FROM pg_stat_activity WHERE pid = $worker AND wait_event_type = 'Lock'}),
	'postgres\'s worker waits for the lock');
# The waiting round's start, to tell the next round from it.
my $waiting_since = $node->safe_psql('postgres', "SELECT xact_start FROM pg_stat_activity WHERE pid = $worker");
is($node->safe_psql('shop', "SELECT pg_cancel_backend($worker)"), 't', 'cancelled');
ok($node->wait_for_log(qr/booking expiry round in database "postgres" failed: canceling statement due to user request/,
		$offset), 'the cancelled round is logged');
ok(within(10, qq{SELECT count(*) > 0 FROM pg_stat_activity
		WHERE pid = $worker AND wait_event_type = 'Lock' AND xact_start > '$waiting_since'}),
	'the next round, in a new transaction, waits again');
$locker->query_safe('COMMIT');
$locker->quit;
expires('postgres', 'after a cancelled round the worker expires holds');
is(worker_pid('postgres'), $worker, 'the same worker');
$log = log_since($offset);
@failed = $log =~ /(booking expiry round in database "postgres" failed: canceling statement due to user request)/g;
is(scalar @failed, 1, 'the cancel is logged once') or diag($log);
unlike($log, qr/FATAL/, 'no FATAL');

# A user's trigger on booking.booking fails every other expiry, with a
# detail and a hint; a round that works comes between two failures.
$offset = -s $node->logfile;
$node->safe_psql('postgres', q{
	CREATE SEQUENCE public.flip;
	CREATE FUNCTION public.every_other() RETURNS trigger LANGUAGE plpgsql AS $$
	BEGIN
		IF NEW.status = 'expired' AND nextval('public.flip') % 2 = 1 THEN
			RAISE EXCEPTION 'every other expiry fails'
				USING DETAIL = 'The detail of the trigger.', HINT = 'The hint of the trigger.';
		END IF;
		RETURN NEW;
	END $$;
	CREATE TRIGGER every_other BEFORE UPDATE ON booking.booking
		FOR EACH ROW EXECUTE FUNCTION public.every_other();
});
expires('postgres', "a round fails on the trigger, the next one expires the hold ($_)") for 1 .. 3;
$node->safe_psql('postgres', 'DROP TRIGGER every_other ON booking.booking');
$log = log_since($offset);
like($log, qr/failed: every other expiry fails\n[^\n]*DETAIL:  The detail of the trigger\.\n\tIts batch was rolled back[^\n]*\n[^\n]*HINT:  The hint of the trigger\.\n[^\n]*CONTEXT:  PL\/pgSQL function public\.every_other\(\)/,
	'the failure is logged with the error\'s detail, hint and context') or diag($log);
my @every_other = $log =~ /(failed: every other expiry fails)/g;
is(scalar @every_other, 1, 'once: rounds that work in between do not make it log again within 5 minutes')
  or diag($log);
unlike($log, qr/work again/, 'a round that works right after the one failure logged says nothing');

# ---------------------------------------------------------------- DROP DATABASE

$offset = -s $node->logfile;
my ($rc, $out, $err) = $node->psql('postgres', 'DROP DATABASE plain');
is($rc, 0, 'a listed database without the extension can be dropped') or diag($err);
($rc, $out, $err) = $node->psql('postgres', 'DROP DATABASE shop');
is($rc, 0, 'so can one with the extension') or diag($err);
($rc, $out, $err) = $node->psql('postgres', 'DROP DATABASE forced WITH (FORCE)');
is($rc, 0, 'and one WITH (FORCE)') or diag($err);
# WITH (FORCE) checks that its user may terminate every session in the
# database: the worker has no role, so only a superuser or a member of
# pg_signal_backend may. A plain DROP needs nothing more than ownership.
ok(within(10, q{SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'booking expiry' AND datname = 'owned'}),
	'owned has its worker');
($rc, $out, $err) = $node->psql('postgres', 'DROP DATABASE owned WITH (FORCE)', extra_params => [ '-U', 'owner' ]);
isnt($rc, 0, 'its owner, not a superuser, cannot drop it WITH (FORCE) while the worker is connected');
# The wording is 15's; 16 on say "permission denied to terminate process".
my $refused = qr/must be a member of the role whose process is being terminated or member of pg_signal_backend|permission denied to terminate process/;
like($err, $refused, 'for want of the right to terminate the worker');
($rc, $out, $err) = $node->psql('postgres', 'DROP DATABASE owned', extra_params => [ '-U', 'owner' ]);
is($rc, 0, 'a plain DROP DATABASE by its owner is enough') or diag($err);
$node->safe_psql('postgres', 'GRANT pg_signal_backend TO owner');
($rc, $out, $err) = $node->psql('postgres', 'DROP DATABASE signalled WITH (FORCE)', extra_params => [ '-U', 'owner' ]);
is($rc, 0, 'and WITH (FORCE) works for an owner that is a member of pg_signal_backend') or diag($err);
expires('postgres', 'the other databases keep their worker');
sleep(5);
$log = log_since($offset);
for my $db ('plain', 'shop', 'forced', 'owned', 'signalled') {
	my @said = $log =~ /(booking.databases names database "$db", which does not exist)/g;
	is(scalar @said, 1, "in 5 s after the drop of $db the log says once that it is gone");
}
unlike($log, qr/which does not allow connections|which is invalid/, 'nothing else is said of them');
# A worker the launcher started just before a DROP took its lock waits for
# the lock as it connects, and then finds the database gone: at most once.
my @fatal = grep { !/^terminating background worker "booking expiry" due to administrator command$/ }
  $log =~ /FATAL:  ([^\n]*)/g;
for my $db ('plain', 'shop', 'forced', 'owned', 'signalled') {
	my $n = grep { $_ eq qq{database "$db" does not exist} } @fatal;
	ok($n <= 1, "at most one worker that was starting logs that $db does not exist") or diag($log);
}
is(scalar(grep { !/^database "(?:plain|shop|forced|owned|signalled)" does not exist$/ } @fatal),
	0, 'and no other FATAL but the terminate of WITH (FORCE)') or diag($log);
my @gone = slurp_file($node->logfile) =~ /(database "gone")/g;
is(scalar @gone, 1, 'a database that never existed is named once since the start');

# Made later, a database gets its worker.
$node->safe_psql('postgres', 'CREATE DATABASE gone');
$node->safe_psql('gone', q{CREATE EXTENSION booking; SELECT booking.create_pool(10, 'late')});
ok(within(30, q{SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'booking expiry' AND datname = 'gone'}),
	'a listed database created later gets its worker');
expires('gone', 'which expires holds');

# ---------------------------------------------------------------- terminated

$all_workers = $last_workers;
my $launcher = launcher_pid();
ok($launcher, 'the launcher runs');
my $gone_worker = worker_pid('gone');
kill 'TERM', $gone_worker;
ok(within(20, qq{SELECT count(*) = 1 FROM pg_stat_activity
		WHERE backend_type = 'booking expiry' AND datname = 'gone' AND pid <> $gone_worker}),
	'a database worker terminated with SIGTERM comes back');
expires('gone', 'and expires holds');

kill 'TERM', $launcher;
my $back = 0;
for (1 .. 200) {
	my $pid = launcher_pid();
	$back = $pid && $pid != $launcher;
	last if $back;
	usleep(100_000);
}
ok($back, 'the launcher terminated with SIGTERM comes back');
ok(within(20, $all_workers), 'with a worker in every database');
is($node->safe_psql('postgres', q{SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'booking expiry'}),
	'2', 'and no database has two');
expires('postgres', 'which expire holds');
expires('gone', 'in every database');
# pg_terminate_backend works on it too, as on any backend.
my $pid = $node->safe_psql('postgres',
	q{SELECT pid FROM pg_stat_activity WHERE backend_type = 'booking launcher'}) || 0;
ok($pid && $node->safe_psql('postgres', "SELECT pg_terminate_backend($pid)") eq 't',
	'pg_terminate_backend ends the launcher');
ok(within(20, qq{SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'booking launcher' AND pid <> $pid}),
	'and it comes back');
ok(within(20, $all_workers), 'with its workers');
expires('postgres', 'which expire holds');

# ---------------------------------------------------------------- a bad booking.databases

# Refused when set, with the reason; a reload keeps the last good value and
# says why once, instead of the launcher warning every second.
($rc, $out, $err) = $node->psql('postgres', q{ALTER SYSTEM SET booking.databases = 'postgres, "gone'});
like($err, qr/invalid value for parameter "booking.databases".*\n.*List syntax is invalid/,
	'ALTER SYSTEM refuses a booking.databases that is not a list');
($rc, $out, $err) = $node->psql('postgres',
	'ALTER SYSTEM SET booking.databases = ' . join(', ', map { "'d$_'" } 1 .. 65));
like($err, qr/At most 64 databases can be listed/, 'and one of more than 64 databases');
$offset = -s $node->logfile;
$node->append_conf('postgresql.conf', qq{booking.databases = 'postgres, "gone'\n});
$node->reload;
sleep(3);
is($node->safe_psql('postgres', 'SHOW booking.databases'), 'postgres, shop, plain, forced, owned, signalled, gone',
	'a reload keeps the last good value');
ok(within(5, $all_workers), 'and its workers');
$log = log_since($offset);
my @said = $log =~ /(invalid value for parameter "booking.databases")/g;
is(scalar @said, 1, 'the bad value is logged once') or diag($log);
unlike($log, qr/WARNING/, 'and nothing is warned about') or diag($log);
expires('gone', 'the workers expire holds');

$node->stop;
my @errors = grep { !/^invalid value for parameter "booking.databases"/ }
  slurp_file($node->logfile) =~ /\bERROR:  ([^\n]*)/g;
ok(@errors == 1 && $errors[0] =~ /^(?:$refused)$/,
	'no ERROR in the log but the refused WITH (FORCE) and ALTER SYSTEM') or diag(join("\n", @errors));
done_testing();
