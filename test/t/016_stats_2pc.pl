# Statistics of prepared transactions and of deep subtransactions: a
# prepared transaction counts when COMMIT PREPARED has returned (not
# before, and never after ROLLBACK PREPARED), also when another session
# commits it; counts made 40 savepoints deep reach the counters at commit,
# and a rolled-back savepoint that deep forgets only its own.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('stats_2pc');
$node->init;
$node->append_conf('postgresql.conf',
	"shared_preload_libraries = 'booking'\nmax_prepared_transactions = 4\n");
$node->start;
$node->safe_psql('postgres', q{
	CREATE EXTENSION booking;
	SELECT booking.create_pool(1000, 'p');
	SELECT booking.create_pool(1000, 'q');
});

sub stats
{
	return $node->safe_psql('postgres', q{
		SELECT format('confirmed=%s held=%s sold_out=%s released=%s',
		              confirmed, held, sold_out, released)
		  FROM booking.stats});
}

is(stats(), 'confirmed=0 held=0 sold_out=0 released=0', 'counters start at zero');

# PREPARE, then COMMIT PREPARED from another session.
$node->safe_psql('postgres', q{
	BEGIN;
	SELECT booking.decrement_ticket(1, 1);
	SELECT booking.decrement_ticket(1, 2, 'ann', interval '1 hour');
	PREPARE TRANSACTION 'bought';
});
is(stats(), 'confirmed=0 held=0 sold_out=0 released=0', 'a prepared transaction counts nothing yet');
$node->safe_psql('postgres', q{COMMIT PREPARED 'bought'});
is(stats(), 'confirmed=1 held=1 sold_out=0 released=0', 'it counts once COMMIT PREPARED has returned');
is(stats(), 'confirmed=1 held=1 sold_out=0 released=0', 'and only once');

# PREPARE, then ROLLBACK PREPARED.
$node->safe_psql('postgres', q{
	BEGIN;
	SELECT booking.decrement_ticket(1, 1);
	SELECT booking.decrement_ticket(1, 5000);
	PREPARE TRANSACTION 'undone';
	ROLLBACK PREPARED 'undone';
});
is(stats(), 'confirmed=1 held=1 sold_out=0 released=0', 'a prepared transaction rolled back counts nothing');

# A failed PREPARE (the identifier is taken) counts nothing either. (Pool 2:
# the prepared transaction keeps pool 1's row locked.)
$node->safe_psql('postgres', q{
	BEGIN;
	SELECT booking.decrement_ticket(1, 1);
	PREPARE TRANSACTION 'waiting';
});
my ($rc, $out, $err) = $node->psql('postgres', q{
	BEGIN;
	SELECT booking.decrement_ticket(2, 1);
	PREPARE TRANSACTION 'waiting';
});
like($err, qr/already in use/, 'a PREPARE with a taken identifier fails');
is(stats(), 'confirmed=1 held=1 sold_out=0 released=0', 'the failed one counts nothing, the waiting one not yet');
$node->safe_psql('postgres', q{COMMIT PREPARED 'waiting'});
is(stats(), 'confirmed=2 held=1 sold_out=0 released=0', 'the waiting one counts when committed');

# More prepared transactions than max_prepared_transactions over time: the
# places of those that ended are reused.
for my $i (1 .. 10)
{
	$node->safe_psql('postgres', qq{
		BEGIN;
		SELECT booking.decrement_ticket(1, 1);
		PREPARE TRANSACTION 'loop$i';
		COMMIT PREPARED 'loop$i';
	});
}
is(stats(), 'confirmed=12 held=1 sold_out=0 released=0', 'ten more prepared and committed, all counted');

# Outcomes counted 40 savepoints deep, committed with the transaction.
my $deep = "BEGIN;\n";
for my $level (1 .. 40)
{
	$deep .= "SAVEPOINT s$level;\n";
	$deep .= "SELECT booking.decrement_ticket(1, 1);\n" if $level % 10 == 0 || $level >= 31;
}
# 41 savepoints deep: a savepoint rolled back forgets its own count only.
$deep .= "SAVEPOINT gone;\nSELECT booking.decrement_ticket(1, 1);\nROLLBACK TO SAVEPOINT gone;\n";
$deep .= "SELECT booking.decrement_ticket(1, 5000);\n";	# sold_out inside the new 'gone'
$deep .= "RELEASE SAVEPOINT s35;\n";    # s35 and everything inside it
$deep .= "COMMIT;\n";
$node->safe_psql('postgres', $deep);
# confirmed inside savepoints 10, 20, 30 and 31..40: 13.
is(stats(), 'confirmed=25 held=1 sold_out=1 released=0',
	'counts made 10 to 41 savepoints deep reach the counters at commit');

# A call inside each of 40 savepoints, rolled back to the 33rd: what the
# 33rd and deeper counted goes, what the 32 outer ones counted stays.
$deep = "BEGIN;\n";
for my $level (1 .. 40)
{
	$deep .= "SAVEPOINT s$level;\nSELECT booking.decrement_ticket(1, 1);\n";
}
$deep .= "ROLLBACK TO SAVEPOINT s33;\nCOMMIT;\n";
$node->safe_psql('postgres', $deep);
is(stats(), 'confirmed=57 held=1 sold_out=1 released=0',
	'a rollback 33 savepoints deep forgets only what it and deeper ones counted');

# Deep savepoints inside a prepared transaction.
$deep = "BEGIN;\n";
for my $level (1 .. 40)
{
	$deep .= "SAVEPOINT s$level;\nSELECT booking.decrement_ticket(1, 1);\n";
}
$deep .= "PREPARE TRANSACTION 'deep';\n";
$node->safe_psql('postgres', $deep);
$node->safe_psql('postgres', q{COMMIT PREPARED 'deep'});
is(stats(), 'confirmed=97 held=1 sold_out=1 released=0', 'a prepared transaction 40 savepoints deep counts at commit');
is($node->safe_psql('postgres', q{SELECT confirmed FROM booking.availability(1)}),
	'97', 'the counters agree with the pool');

# A reset settles first: a transaction committed before it is zeroed with
# the rest, not added afterwards.
$node->safe_psql('postgres', q{
	BEGIN;
	SELECT booking.decrement_ticket(1, 1);
	PREPARE TRANSACTION 'before_reset';
	COMMIT PREPARED 'before_reset';
	SELECT booking.stats_reset();
});
is(stats(), 'confirmed=0 held=0 sold_out=0 released=0', 'a reset zeroes what prepared transactions committed before it');

# Documented: shared memory starts over at a restart, and a transaction
# prepared before it counts nothing when committed after it.
$node->safe_psql('postgres', q{
	BEGIN;
	SELECT booking.decrement_ticket(1, 1);
	PREPARE TRANSACTION 'across_restart';
});
$node->restart;
$node->safe_psql('postgres', q{COMMIT PREPARED 'across_restart'});
is(stats(), 'confirmed=0 held=0 sold_out=0 released=0', 'a transaction prepared before a restart counts nothing');
is($node->safe_psql('postgres', 'SELECT count(*) FROM booking.check()'), '0', 'the data is intact');

$node->stop;
done_testing();
