-- Registration with a fair waitlist: groups wait as one entry, FIFO,
-- promoted whole, automatically when spots come back.
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

-- The list of a pool, as a reader sees it.
CREATE OR REPLACE FUNCTION public.list(p bigint) RETURNS TABLE (booking_id bigint, holder text, spots integer,
                                                                   status text, waitlist_position integer)
LANGUAGE sql AS $$
    SELECT booking_id, holder, spots, status, waitlist_position FROM booking.bookings
     WHERE pool_id = p AND status IN ('confirmed', 'waitlisted') ORDER BY booking_id
$$;

SELECT booking.create_pool(5, 'workshop') AS pool \gset
SELECT * FROM booking.register(:pool, 2, 'ann');              -- fits: confirmed
SELECT * FROM booking.register(pool_id => :pool, spots => 3, holder => 'bob');
SELECT * FROM booking.register(:pool, 3, 'cat');              -- a group of 3 waits as one entry
SELECT * FROM booking.register(:pool, 1, 'dan');
SELECT * FROM booking.register(:pool, 1, 'eve');
SELECT * FROM booking.availability(:pool);
SELECT waitlisted FROM booking.pool_status WHERE pool_id = :pool;

-- While anyone waits, free spots belong to the list.
SELECT * FROM booking.release(1, 'ann');                      -- 2 free, cat needs 3: nobody overtakes cat
SELECT * FROM list(:pool);
SELECT status, remaining FROM booking.decrement_ticket(:pool, 1);
SELECT status, waitlist_position FROM booking.register(:pool, 1, 'fay');
SELECT * FROM booking.check();                                -- cat's group does not fit: nothing wrong

-- skip_unfit lets smaller groups behind the head go first; max_count limits.
SELECT * FROM booking.promote_waitlist(:pool, max_count => 1, skip_unfit => true);
SELECT * FROM list(:pool);

-- Leaving the list closes the gap.
SELECT status, released FROM booking.release(5, 'eve');
SELECT * FROM list(:pool);

-- The head's group is promoted whole when enough comes back.
SELECT * FROM booking.release(2, 'bob');
SELECT * FROM list(:pool);
SELECT * FROM booking.availability(:pool);

-- A waitlisted booking cannot be confirmed or extended by its holder.
SELECT booking.create_pool(1, 'one seat') AS one \gset
SELECT booking_id AS first FROM booking.register(:one, 1, 'gus') \gset
SELECT booking_id AS waiting FROM booking.register(:one, 1, 'hal') \gset
SELECT raised(format('SELECT booking.confirm(%s, ''hal'')', :waiting));
SELECT raised(format('SELECT booking.extend_hold(%s, ''hal'')', :waiting));

-- The organiser's manual promotion: exactly that entry, if it fits.
SELECT * FROM booking.promote_waitlist(:one, booking_id => :waiting);     -- no room: no row
SELECT booking.set_capacity(:one, 2);                                     -- raising capacity promotes
SELECT * FROM list(:one);
SELECT * FROM booking.promote_waitlist(:one, booking_id => :waiting);     -- already confirmed: no row

-- auto_promote => false: the organiser decides.
SELECT booking.create_pool(2, 'manual', auto_promote => false) AS manual \gset
SELECT booking_id AS m1 FROM booking.register(:manual, 2, 'ivy') \gset
SELECT status FROM booking.register(:manual, 1, 'jay');
SELECT status FROM booking.register(:manual, 1, 'kim');
SELECT promoted FROM booking.release(:m1, 'ivy');
SELECT * FROM list(:manual);
SELECT status, remaining FROM booking.decrement_ticket(:manual, 1);     -- the spots belong to the list
SELECT * FROM booking.check();                                           -- not an error: auto-promotion is off
SELECT * FROM booking.promote_waitlist(:manual, booking_id => (SELECT max(booking_id) FROM list(:manual)));
SELECT * FROM booking.promote_waitlist(:manual);
SELECT * FROM list(:manual);

-- Spots of a hold that lapsed go to the list, by expire_holds or at read time.
SELECT booking.create_pool(2, 'lapse') AS lapse \gset
SELECT status FROM booking.decrement_ticket(:lapse, 2, 'lou', '100 milliseconds');
SELECT status, waitlist_position FROM booking.register(:lapse, 2, 'max');
SELECT pg_sleep(0.2);
SELECT booking.expire_holds();
SELECT * FROM list(:lapse);
SELECT booking.create_pool(1, 'lapse 2') AS lapse2 \gset
SELECT status FROM booking.decrement_ticket(:lapse2, 1, 'ned', '100 milliseconds');
SELECT status FROM booking.register(:lapse2, 1, 'oli');
SELECT pg_sleep(0.2);
SELECT * FROM booking.availability(:lapse2);    -- read time: the lapsed spot shows free, but it is oli's
SELECT status, remaining FROM booking.decrement_ticket(:lapse2, 1);
SELECT * FROM list(:lapse2);

-- Groups in a sub-pool are promoted when the parent gets room.
SELECT booking.create_pool(4, 'hall') AS hall \gset
SELECT booking.create_pool(4, 'balcony', parent_id => :hall) AS balcony \gset
SELECT booking_id AS floor_group FROM booking.register(:hall, 3, 'pat') \gset
SELECT status, waitlist_position FROM booking.register(:balcony, 2, 'quinn');
SELECT waitlisted FROM booking.availability(:hall);
SELECT promoted FROM booking.release(:floor_group, 'pat');
SELECT * FROM list(:balcony);

-- max_per_holder counts waitlisted spots too.
SELECT booking.create_pool(1, 'capped', max_per_holder => 2) AS capped \gset
SELECT status FROM booking.register(:capped, 1, 'rex');
SELECT status FROM booking.register(:capped, 1, 'rex');
SELECT status FROM booking.register(:capped, 1, 'rex');

-- Idempotent repeats return the first booking and its place.
SELECT booking_id AS again, status, waitlist_position FROM booking.register(:capped, 1, 'sam', 'reg-1') \gset
SELECT booking_id = :again AS same, status, waitlist_position FROM booking.register(:capped, 1, 'sam', 'reg-1');

-- A group larger than the pool (or an ancestor) waits too: its demand stays
-- visible and raising the capacity promotes it, but it blocks nobody:
-- strict FIFO holds among the groups that could fit the capacity.
SELECT booking.create_pool(4, 'small room') AS room \gset
SELECT booking_id AS tom FROM booking.register(:room, 3, 'tom') \gset
-- larger than the room:
SELECT booking_id AS big FROM booking.register(:room, 6, 'big') \gset
SELECT status, waitlist_position FROM booking.bookings WHERE booking_id = :big;
SELECT status FROM booking.register(:room, 1, 'uma');                      -- the free spot is hers
SELECT status, remaining FROM booking.decrement_ticket(:room, 1);          -- full
SELECT status, waitlist_position FROM booking.register(:room, 2, 'val');
SELECT status, waitlist_position FROM booking.register(:room, 1, 'wes');
SELECT * FROM booking.availability(:room);                                 -- 9 spots of demand
SELECT * FROM booking.check();
SELECT promoted FROM booking.release(:tom, 'tom');                         -- val and wes, in order
SELECT * FROM list(:room);
SELECT * FROM booking.promote_waitlist(:room, booking_id => :big);         -- does not fit: no row
-- Raised to 8, the group could fit: it heads the list again and waits for
-- 6 free spots (4 are), so a newcomer queues behind it.
SELECT booking.set_capacity(:room, 8);
SELECT status, waitlist_position FROM booking.register(:room, 1, 'xan');
SELECT status, remaining FROM booking.decrement_ticket(:room, 1);          -- the free spots are the list's
SELECT * FROM booking.check();
SELECT booking.set_capacity(:room, 10);                                    -- room for it: promoted
SELECT * FROM list(:room);
SELECT * FROM booking.availability(:room);

-- Capacity may go below a waiting group (PT409 only below what is held and
-- confirmed): the group waits on, and whoever queued behind it and fits
-- the new capacity goes.
SELECT booking.create_pool(5, 'shrinking') AS shrink \gset
SELECT booking_id AS s1 FROM booking.register(:shrink, 2, 'tom') \gset
SELECT status, waitlist_position FROM booking.register(:shrink, 4, 'uma');  -- 3 free: waits
SELECT status, waitlist_position FROM booking.register(:shrink, 1, 'vic');  -- behind uma
SELECT booking.set_capacity(:shrink, 3);                                     -- uma larger now: vic goes
SELECT * FROM list(:shrink);
SELECT raised(format('SELECT booking.set_capacity(%s, 2)', :shrink));        -- PT409: 3 taken
SELECT booking.set_capacity(:shrink, 7);                                     -- uma fits again: promoted
SELECT * FROM list(:shrink);

-- An ancestor smaller than the group counts the same; the list of a pool
-- with auto_promote off waits for the organiser.
SELECT booking.create_pool(4, 'venue') AS venue \gset
SELECT booking.create_pool(10, 'stalls', parent_id => :venue) AS stalls \gset
SELECT status, waitlist_position FROM booking.register(:stalls, 6, 'yul');   -- larger than the venue
SELECT status FROM booking.register(:stalls, 2, 'zoe');                      -- fits: confirmed
SELECT booking.create_pool(2, 'by hand', auto_promote => false) AS by_hand \gset
SELECT booking_id AS huge FROM booking.register(:by_hand, 3, 'amy') \gset
SELECT booking.set_capacity(:by_hand, 3);
SELECT status FROM booking.bookings WHERE booking_id = :huge;                -- still waiting
SELECT * FROM booking.check();                                               -- auto-promotion is off
SELECT * FROM booking.promote_waitlist(:by_hand);

-- Errors.
SELECT raised('SELECT booking.register(NULL)');
SELECT raised(format('SELECT booking.register(%s, 0)', :pool));
SELECT raised(format('SELECT booking.register(%s, NULL)', :pool));
SELECT raised('SELECT booking.register(424242)');
SELECT raised(format('SELECT booking.register(%s, 1)', :capped));
SELECT raised('SELECT booking.promote_waitlist(NULL)');
SELECT raised('SELECT booking.promote_waitlist(424242)');
SELECT raised(format('SELECT booking.promote_waitlist(%s, max_count => 0)', :pool));
SELECT raised(format('SELECT booking.promote_waitlist(%s, skip_unfit => NULL)', :pool));
SELECT raised(format('SELECT booking.promote_waitlist(%s, booking_id => 424242)', :pool));
SELECT raised(format('SELECT booking.promote_waitlist(%s, booking_id => %s)', :pool, :waiting));

SELECT * FROM booking.check();
SELECT booking.reconcile();
