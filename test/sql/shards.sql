-- Sharded pools: the same answers as an unsharded pool, spread over rows.
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

SELECT booking.create_pool(10, 'hot', shards => 4) AS hot \gset
SELECT capacity, confirmed, held, available, waitlisted, shards FROM booking.pool_status WHERE pool_id = :hot;

-- Takes sell the pool out exactly, whichever shards they land on.
SELECT status, remaining FROM booking.decrement_ticket(:hot, 3);
SELECT status, remaining FROM booking.decrement_ticket(:hot, 3);    -- more than one shard's budget
SELECT status, remaining FROM booking.decrement_ticket(:hot, 2, 'ann', '10 minutes');
SELECT status, remaining FROM booking.decrement_ticket(:hot, 3);    -- 2 left: all or nothing
SELECT status, remaining FROM booking.decrement_ticket(:hot, 2);
SELECT status, remaining FROM booking.decrement_ticket(:hot, 1);
SELECT * FROM booking.availability(:hot);
SELECT * FROM booking.check();

-- Confirm, release and cancel work on bookings taken from a shard.
SELECT status FROM booking.confirm((SELECT booking_id FROM booking.bookings WHERE holder = 'ann'), 'ann');
SELECT status, released FROM booking.release((SELECT min(booking_id) FROM booking.bookings WHERE pool_id = :hot));
SELECT * FROM booking.availability(:hot);
SELECT status, remaining FROM booking.decrement_ticket(:hot, 3);
SELECT * FROM booking.availability(:hot);
SELECT * FROM booking.check();

-- Holds taken from a shard lapse at read time and come back.
SELECT booking.create_pool(6, 'lapse', shards => 3) AS lapse \gset
SELECT status FROM booking.decrement_ticket(:lapse, 2, 'bob', '100 milliseconds');
SELECT status FROM booking.decrement_ticket(:lapse, 4, 'cy', '100 milliseconds');
SELECT * FROM booking.availability(:lapse);
SELECT pg_sleep(0.2);
SELECT * FROM booking.availability(:lapse);
SELECT status, remaining FROM booking.decrement_ticket(:lapse, 6);
SELECT status FROM booking.confirm((SELECT booking_id FROM booking.bookings WHERE holder = 'bob'), 'bob');  -- gone
SELECT * FROM booking.check();

-- Waitlists, caps and keys keep their meaning.
SELECT booking.create_pool(4, 'class', shards => 2, max_per_holder => 3) AS class \gset
SELECT status FROM booking.register(:class, 3, 'dee');
SELECT status, waitlist_position FROM booking.register(:class, 2, 'eve');
SELECT status FROM booking.decrement_ticket(:class, 1, 'fay');       -- the spot belongs to eve's list
SELECT status FROM booking.decrement_ticket(:class, 1, 'dee');       -- over dee's cap anyway
SELECT promoted FROM booking.release((SELECT booking_id FROM booking.bookings WHERE holder = 'dee'), 'dee');
SELECT booking_id AS k, status FROM booking.decrement_ticket(:class, 1, 'gus', idempotency_key => 'k1') \gset
SELECT booking_id = :k AS same, status FROM booking.decrement_ticket(:class, 1, 'gus', idempotency_key => 'k1');
SELECT * FROM booking.availability(:class);
SELECT * FROM booking.check();

-- Capacity changes and reconcile see through the shards.
SELECT raised(format('SELECT booking.set_capacity(%s, 5)', :hot));
SELECT booking.set_capacity(:hot, 12);
SELECT status, remaining FROM booking.decrement_ticket(:hot, 2);
SELECT booking.reconcile();
SELECT * FROM booking.availability(:hot);
SELECT status, remaining FROM booking.decrement_ticket(:hot, 1);
SELECT * FROM booking.check();

-- A sold-out sharded pool: taking the budgets back drains the shards (each
-- budget is what its shard sold), so the pool row alone answers sold_out,
-- and a hold that lapsed in a shard still comes back.
SELECT booking.create_pool(8, 'drain', shards => 4) AS drain \gset
SELECT status FROM booking.decrement_ticket(:drain, 2, 'hal', '100 milliseconds');
SELECT shards_drained FROM booking.pool WHERE pool_id = :drain;
SELECT status, remaining FROM booking.decrement_ticket(:drain, 6);   -- more than a shard's budget
SELECT shards_drained, sharded FROM booking.pool WHERE pool_id = :drain;
SELECT status, remaining FROM booking.decrement_ticket(:drain, 1);
SELECT pg_sleep(0.2);
SELECT status, remaining FROM booking.decrement_ticket(:drain, 2);   -- hal's lapsed spots
SELECT * FROM booking.check();
-- Free spots go back to the shards only when there are as many as shards;
-- fewer stay in the row.
SELECT released FROM booking.release((SELECT booking_id FROM booking.bookings WHERE pool_id = :drain AND spots = 6));
SELECT status, remaining FROM booking.decrement_ticket(:drain, 1);
SELECT shards_drained, sharded FROM booking.pool WHERE pool_id = :drain;
-- check() sees a drained flag that is not true; reconcile() makes it so.
UPDATE booking.pool SET shards_drained = true WHERE pool_id = :drain;
SELECT object, problem FROM booking.check() ORDER BY 2;
SELECT booking.reconcile(:drain);
SELECT shards_drained, sharded FROM booking.pool WHERE pool_id = :drain;
SELECT status, remaining FROM booking.decrement_ticket(:drain, 3);
SELECT shards_drained, sharded FROM booking.pool WHERE pool_id = :drain;
SELECT * FROM booking.availability(:drain);
SELECT * FROM booking.check();

-- A backend that took on a shard goes to its shard first next time and
-- reads the pool row after the take: a hold of the row that lapsed
-- meanwhile is still settled first (the take is undone), as when the row is
-- read first. ivy's hold (a key: the general path) is the row's.
SELECT booking.create_pool(8, 'hinted', shards => 2) AS hinted \gset
SELECT status, remaining FROM booking.decrement_ticket(:hinted, 1);
SELECT status FROM booking.decrement_ticket(:hinted, 2, 'ivy', '100 milliseconds', idempotency_key => 'i1');
SELECT held, sharded, next_expiry IS NOT NULL AS expires FROM booking.pool WHERE pool_id = :hinted;
SELECT pg_sleep(0.2);
SELECT status, remaining FROM booking.decrement_ticket(:hinted, 1);
SELECT status FROM booking.booking WHERE holder = 'ivy';
SELECT status, remaining FROM booking.decrement_ticket(:hinted, 1);
SELECT * FROM booking.availability(:hinted);
SELECT * FROM booking.check();

-- Shards are a root pool's; a child pool with shards just counts as one.
SELECT booking.create_pool(5, 'child', parent_id => :hot, shards => 4) AS child \gset
SELECT status FROM booking.decrement_ticket(:child, 1);
SELECT shards FROM booking.pool_status WHERE pool_id = :child;
SELECT raised('SELECT booking.create_pool(10, shards => 257)');
SELECT * FROM booking.check();
