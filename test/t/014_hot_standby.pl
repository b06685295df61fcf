# A streaming hot standby, booking preloaded on both servers. WAL replay
# runs no commit callback, so nothing a primary's commit tells the sold-out
# memory (src/sold_out.hpp) reaches a standby: every read the standby allows
# (availability, seat_map, the views, decrement_ticket's answer in its
# read-only transactions) must come from the replayed rows, also in a
# session that asked before the rows changed. What needs a lock (a key, a
# child pool, a cap, a waiter, a lapsed hold) is refused as read-only even
# when sold out, and booking.stats counts the standby's own calls. After a
# promotion buys work and answers stay right, in sessions opened before and
# after it.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $primary = PostgreSQL::Test::Cluster->new('primary');
$primary->init(allows_streaming => 1);
$primary->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'booking'
max_connections = 20
# A relcache invalidation (autovacuum's, replayed or after the promotion)
# makes a backend forget what it remembered: none may hide a stale answer.
autovacuum = off
});
$primary->start;
$primary->safe_psql('postgres', 'CREATE EXTENSION booking');
$primary->backup('base');
my $standby = PostgreSQL::Test::Cluster->new('standby');
$standby->init_from_backup($primary, 'base', has_streaming => 1);
$standby->start;

# Everything below reaches the standby by replay.
$primary->safe_psql('postgres', q{
	SELECT booking.create_pool(3, 'plain');                     -- 1
	SELECT booking.create_pool(4, 'sharded', shards => 4);      -- 2
	SELECT booking.create_pool(2, 'venue');                     -- 3
	SELECT booking.create_pool(5, 'vip', parent_id => 3);       -- 4
	SELECT booking.create_pool(4, 'drained', shards => 4);      -- 5
	SELECT booking.create_show('show');                         -- 1
	SELECT booking.add_seats(1, 'stalls', 'A', 1, 2);           -- seats 1 and 2
	SELECT booking.decrement_ticket(1, 1, 'p1');
	SELECT booking.decrement_ticket(1, 1, 'p2');
	SELECT booking.decrement_ticket(1, 1, 'p3');
	SELECT booking.decrement_ticket(2, 1, 's1');
	SELECT booking.decrement_ticket(2, 1, 's2');
	SELECT booking.decrement_ticket(2, 1, 's3');
	SELECT booking.decrement_ticket(2, 1, 's4');
	SELECT booking.decrement_ticket(4, 1, 'v1');
	SELECT booking.decrement_ticket(4, 1, 'v2');
	-- No shard has 4: the buy takes the budgets back (the row alone then
	-- tells the pool's free spots); pool 2 sold out shard by shard did not.
	SELECT booking.decrement_ticket(5, 4, 'd1');
	SELECT booking.reserve_seats(1, ARRAY[1, 2], 'ann');
});
$primary->wait_for_catchup($standby);

# The output of $sql in $session, or "error SQLSTATE".
sub ask
{
	my ($session, $sql) = @_;
	my ($out, $failed) = $session->query($sql);
	return $out unless $failed;
	my ($state) = $session->{stderr} =~ /ERROR:\s+([0-9A-Z]{5})/;
	$session->{stderr} = '';
	return 'error ' . ($state // '?');
}

# "status remaining" of a decrement_ticket in $session, or "error SQLSTATE".
sub attempt
{
	my ($session, $pool, $quantity) = @_;
	return ask($session, "SELECT status || ' ' || remaining FROM booking.decrement_ticket($pool, $quantity)");
}

sub seat_attempt
{
	my ($session, $holder) = @_;
	return ask($session, "SELECT status FROM booking.reserve_seats(1, ARRAY[1], '$holder')");
}

sub session
{
	my ($node) = @_;
	my $session = $node->background_psql('postgres', on_error_stop => 0);
	$session->query_safe('\set VERBOSITY sqlstate');
	return $session;
}

# A session's view of the pools and seats, in one line.
sub picture
{
	my ($session) = @_;
	return $session->query_safe(q{
		SELECT string_agg(a::text, ' ' ORDER BY pool_id)
		  FROM (SELECT pool_id, (booking.availability(pool_id)).available AS a FROM booking.pool) AS p
		UNION ALL
		SELECT string_agg(available::text, ' ' ORDER BY pool_id) FROM booking.pool_status
		UNION ALL
		SELECT string_agg(status, ' ' ORDER BY seat_id) FROM booking.seat_map(1)
		UNION ALL
		SELECT string_agg(status, ' ' ORDER BY seat_id) FROM booking.seats
		UNION ALL
		SELECT string_agg(status, ' ' ORDER BY booking_id) FROM booking.bookings});
}

# A standby session asks the sold-out pools: the plain one, the sharded
# ones and the root of the hierarchy answer sold_out from their rows (a
# child pool needs its chain locked, which a read-only transaction refuses).
is($primary->safe_psql('postgres', 'SELECT shards_drained FROM booking.pool WHERE pool_id IN (2, 5) ORDER BY pool_id'),
	"f\nt", 'pool 2 has its budgets out, pool 5 is drained');
my $old = session($standby);
is($old->query_safe('SELECT pg_is_in_recovery()'), 't', 'a hot standby');
is(attempt($old, 1, 1), 'sold_out 0', 'standby: the plain pool is sold out');
is(attempt($old, 2, 1), 'sold_out 0', 'standby: the sharded pool is sold out');
is(attempt($old, 5, 1), 'sold_out 0', 'standby: the drained sharded pool is sold out');
is(attempt($old, 3, 1), 'sold_out 0', 'standby: the venue is sold out');
is(attempt($old, 1, 1), 'sold_out 0', 'standby: asked again, the same');
is(picture($old),
	"0 0 0 3 0\n0 0 0 3 0\nheld held\nheld held\n"
	  . 'confirmed confirmed confirmed confirmed confirmed confirmed confirmed confirmed confirmed confirmed held',
	'standby: availability, pool_status, seat_map, seats and bookings show the sell-out');
is(seat_attempt($old, 'bob'), 'conflict', 'standby: a request for a held seat is a conflict');

# The primary frees spots in each: releases, a higher capacity, a release
# in the child pool, a seat hold released.
$primary->safe_psql('postgres', q{
	SELECT booking.release(booking_id, 'p1') FROM booking.booking WHERE holder = 'p1';
	SELECT booking.release(booking_id, 's1') FROM booking.booking WHERE holder = 's1';
	SELECT booking.set_capacity(5, 6);
	SELECT booking.release(booking_id, 'v1') FROM booking.booking WHERE holder = 'v1';
	SELECT booking.release(booking_id, 'ann') FROM booking.booking WHERE holder = 'ann';
});
$primary->wait_for_catchup($standby);

my $expected_after = "1 1 1 4 2\n1 1 1 4 2\navailable available\navailable available\n"
  . 'released confirmed confirmed released confirmed confirmed confirmed released confirmed confirmed released';
my $new = session($standby);
for my $s ([ $old, 'the session that saw the sell-out' ], [ $new, 'a new session' ]) {
	my ($session, $who) = @$s;
	is(attempt($session, 1, 2), 'sold_out 1', "standby, $who: the plain pool has 1 spot");
	is(attempt($session, 2, 2), 'sold_out 1', "standby, $who: the sharded pool has 1 spot");
	is(attempt($session, 5, 3), 'sold_out 2', "standby, $who: the drained sharded pool has 2 spots");
	is(attempt($session, 3, 2), 'sold_out 1', "standby, $who: the venue has 1 spot");
	# A buy that fits needs to write: refused as in any read-only transaction.
	is(attempt($session, 1, 1), 'error 25006', "standby, $who: a buy that fits is refused as read-only");
	is(attempt($session, 2, 1), 'error 25006', "standby, $who: also on the sharded pool");
	is(attempt($session, 5, 2), 'error 25006', "standby, $who: and on the drained one");
	is(seat_attempt($session, 'bob'), 'error 25006', "standby, $who: a request for a free seat is refused as read-only");
	is(picture($session), $expected_after, "standby, $who: every read shows the freed spots and seats");
}

# What a standby cannot answer. A read-only decrement_ticket answers from
# the rows only a call without a key on a root pool with no per-holder cap,
# nobody waiting and no lapsed hold; anything else must lock the pool's
# chain, which a read-only transaction refuses (25006), on a standby too,
# even when the pool is sold out. booking.stats counts each server's own
# calls. In a database of its own, so that the pictures above stay.
$primary->safe_psql('postgres', 'CREATE DATABASE other');
$primary->safe_psql('other', q{
	CREATE EXTENSION booking;
	SELECT booking.create_pool(1, 'root');                          -- 1
	SELECT booking.create_pool(1, 'child', parent_id => 1);         -- 2
	SELECT booking.create_pool(1, 'capped', max_per_holder => 1);   -- 3
	SELECT booking.create_pool(1, 'waited');                        -- 4
	SELECT booking.create_pool(2, 'lapsing');                       -- 5
	SELECT booking.decrement_ticket(2, 1, 'c1');
	SELECT booking.decrement_ticket(3, 1, 'c2');
	SELECT booking.decrement_ticket(4, 1, 'c3');
	SELECT booking.register(4, 1, 'w1');
	SELECT booking.decrement_ticket(5, 1, 'c4');
	SELECT booking.decrement_ticket(5, 1, 'h1', '1 millisecond');
});
$primary->wait_for_catchup($standby);
my $other = $standby->background_psql('other', on_error_stop => 0);
$other->query_safe('\set VERBOSITY sqlstate');
is(attempt($other, 1, 1), 'sold_out 0', 'standby: a sold-out root pool is answered from its row');
is(ask($other, q{SELECT status FROM booking.decrement_ticket(1, 1, idempotency_key => 'k')}), 'error 25006',
	'standby: a call with a key on it is refused as read-only');
is(attempt($other, 2, 1), 'error 25006', 'standby: so is one on a sold-out child pool');
is(attempt($other, 3, 1), 'error 25006', 'standby: on a sold-out pool with a per-holder cap');
is(attempt($other, 4, 1), 'error 25006', 'standby: on a sold-out pool with a waiter');
is(ask($other, 'SELECT (booking.availability(5)).available'), '1', 'standby: a lapsed hold is free again');
is(attempt($other, 5, 2), 'error 25006', 'standby: and its pool, short of 2 spots, is refused as read-only');
is(ask($other, q{SELECT confirmed || ' ' || held || ' ' || sold_out FROM booking.stats}), '0 0 1',
	'standby: booking.stats counts the standby\'s calls only');
is($primary->safe_psql('other', q{SELECT confirmed || ' ' || held || ' ' || sold_out FROM booking.stats}), '4 1 0',
	'the primary\'s count its own');
$other->quit;

# Promotion: both sessions live through it.
$standby->promote;
$standby->poll_query_until('postgres', 'SELECT NOT pg_is_in_recovery()')
  or die 'the standby was not promoted';
is($old->query_safe('SELECT pg_is_in_recovery()'), 'f', 'promoted; the old session lives on');
is(picture($old), $expected_after, 'promoted: the reads are unchanged');
is(attempt($old, 1, 2), 'sold_out 1', 'promoted: the plain pool answers its 1 spot');
is(attempt($old, 1, 1), 'confirmed 0', 'promoted: the old session buys the last spot');
is(attempt($new, 1, 1), 'sold_out 0', 'promoted: another session finds it sold out');
is(attempt($old, 1, 1), 'sold_out 0', 'promoted: and so does the buyer');
# A release on the promoted server reaches every session's memory.
my $after = session($standby);
$after->query_safe(q{SELECT booking.release(booking_id, 'p2') FROM booking.booking WHERE holder = 'p2'});
is(attempt($old, 1, 1), 'confirmed 0', 'promoted: after a release the old session buys again');
is(attempt($new, 1, 1), 'sold_out 0', 'promoted: and then it is sold out again');
is(attempt($old, 2, 2), 'sold_out 1', 'promoted: the sharded pool answers its 1 spot');
is(attempt($new, 2, 1), 'confirmed 0', 'promoted: and sells it');
is(attempt($after, 2, 1), 'sold_out 0', 'promoted: a session opened after the promotion finds it sold out');
is(attempt($old, 5, 3), 'sold_out 2', 'promoted: the drained pool answers its 2 spots');
is(attempt($after, 5, 2), 'confirmed 0', 'promoted: and sells them');
is(attempt($new, 5, 1), 'sold_out 0', 'promoted: and is sold out');
is(attempt($old, 4, 1), 'confirmed 3', 'promoted: the child pool sells the venue\'s last spot');
is(attempt($after, 3, 1), 'sold_out 0', 'promoted: the venue is sold out');
is(seat_attempt($old, 'bob'), 'held', 'promoted: the old session holds a seat');
is(seat_attempt($after, 'cy'), 'conflict', 'promoted: which is then a conflict');
is($after->query_safe(q{SELECT status FROM booking.reserve_seats(1, ARRAY[2], 'cy')}), 'held',
	'promoted: the other seat is held too');
is(picture($after),
	"0 0 0 3 0\n0 0 0 3 0\nheld held\nheld held\n"
	  . 'released released confirmed released confirmed confirmed confirmed released confirmed confirmed released '
	  . 'confirmed confirmed confirmed confirmed confirmed held held',
	'promoted: every read shows the new sales');
is($after->query_safe('SELECT count(*) FROM booking.check()'), '0', 'promoted: check() is empty');
is(attempt($old, 1, 1), 'sold_out 0', 'promoted: the old session still answers sold_out');
$_->quit for ($old, $new, $after);

$standby->stop;
$primary->stop;
done_testing();
