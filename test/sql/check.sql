-- check() finds every broken invariant; reconcile() repairs counters.
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS booking CASCADE;
CREATE EXTENSION booking;
RESET client_min_messages;

CREATE OR REPLACE FUNCTION public.raised(statement text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE statement;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ': ' || SQLERRM;
END $$;

SELECT booking.create_pool(10, 'a') AS a \gset
SELECT booking.create_pool(5, 'a child', parent_id => :a) AS child \gset
SELECT booking.create_pool(4, 'b') AS b \gset
SELECT status FROM booking.decrement_ticket(:child, 2);
SELECT status FROM booking.decrement_ticket(:a, 3, 'x', '1 hour');
SELECT status FROM booking.decrement_ticket(:b, 4);
SELECT * FROM booking.check();

-- Counters that drifted from their rows (a hand-written UPDATE, say).
UPDATE booking.pool SET confirmed = confirmed - 1 WHERE pool_id = :a;
UPDATE booking.pool SET held = 0 WHERE pool_id = :a;
SELECT * FROM booking.check() ORDER BY 1, 2, 3;
SELECT booking.reconcile(:b);        -- another tree: nothing to correct
SELECT booking.reconcile(:child);    -- the whole tree of the child
SELECT * FROM booking.check();
SELECT booking.reconcile();

-- Rows changed behind the extension's back: an oversold pool.
UPDATE booking.booking SET spots = 5 WHERE pool_id = :b;
SELECT * FROM booking.check() ORDER BY 1, 2, 3;
-- reconcile() refuses to write counters that oversell (23514).
SELECT raised(format('SELECT booking.reconcile(%s)', :b));
UPDATE booking.booking SET spots = 4 WHERE pool_id = :b;
-- Counters no function would write: over capacity, a shard over its budget
-- (no CHECK constraint stops them; check() finds them, reconcile() repairs).
UPDATE booking.pool SET confirmed = confirmed + 10 WHERE pool_id = :b;
SELECT booking.create_pool(4, 'sharded', shards => 2) AS sh \gset
UPDATE booking.pool_shard SET confirmed = budget + 1 WHERE pool_id = :sh AND shard = 0;
SELECT object, problem FROM booking.check() ORDER BY 2;
SELECT booking.reconcile();
SELECT * FROM booking.check();

-- A hold the next-expiry marker does not cover, and a booking of no pool.
UPDATE booking.pool SET next_expiry = now() + interval '2 hours' WHERE pool_id = :a;
INSERT INTO booking.booking (booking_id, kind, pool_id, spots, status) VALUES (1000, 'ticket', 424242, 1, 'confirmed');
SELECT * FROM booking.check() ORDER BY 1, 2, 3;
DELETE FROM booking.booking WHERE booking_id = 1000;

-- Rows no function would write: an unknown status, a hold without an end.
UPDATE booking.pool SET next_expiry = NULL WHERE pool_id = :a;
SELECT booking.reconcile();
UPDATE booking.booking SET status = 'lost' WHERE pool_id = :b;
UPDATE booking.booking SET held_until = NULL WHERE status = 'held';
SELECT object, id, problem FROM booking.check() WHERE object = 'booking' ORDER BY 1, 2, 3;
UPDATE booking.booking SET status = 'confirmed' WHERE pool_id = :b;
UPDATE booking.booking SET held_until = now() + interval '1 hour' WHERE status = 'held';
SELECT booking.reconcile();
SELECT * FROM booking.check();

-- A waitlisted group that fits while auto-promotion is on: the organiser
-- held promotion back, then switched it on behind the extension's back.
SELECT booking.create_pool(2, 'held back', auto_promote => false) AS held_back \gset
SELECT booking_id AS first FROM booking.register(:held_back, 2, 'ann') \gset
SELECT status FROM booking.register(:held_back, 1, 'bob');
SELECT status FROM booking.cancel(:first);
SELECT * FROM booking.check();
UPDATE booking.pool SET auto_promote = true WHERE pool_id = :held_back;
SELECT object, problem FROM booking.check();
SELECT count(*) FROM booking.promote_waitlist(:held_back);
SELECT * FROM booking.check();

SELECT raised('SELECT booking.reconcile(424242)');
