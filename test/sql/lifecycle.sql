-- A booking's life: holds, confirm, release, cancel, extend_hold, expiry at
-- read time, late confirms, idempotent repeats.
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

SELECT booking.create_pool(5, 'class') AS pool \gset

-- A hold takes spots until held_until.
SELECT booking_id AS hold, status, remaining, held_until > now() + interval '9 minutes' AS ten_minutes
  FROM booking.decrement_ticket(:pool, 2, 'ann', hold_for => '10 minutes') \gset
SELECT :hold AS hold, :'status' AS status, :remaining AS remaining, :'ten_minutes' AS ten_minutes;
SELECT * FROM booking.availability(:pool);

-- Only its holder may confirm or release it.
SELECT raised(format('SELECT booking.confirm(%s, ''bob'')', :hold));
SELECT raised(format('SELECT booking.confirm(%s)', :hold));
SELECT raised(format('SELECT booking.release(%s, ''bob'')', :hold));
SELECT * FROM booking.confirm(:hold, 'ann', payment_ref => 'pay_1');
SELECT * FROM booking.confirm(:hold, 'ann');          -- confirming twice is confirmed again
SELECT status, holder, held_until, payment_ref FROM booking.bookings WHERE booking_id = :hold;
SELECT * FROM booking.availability(:pool);
SELECT raised(format('SELECT booking.extend_hold(%s, ''ann'')', :hold));   -- confirmed: nothing to extend

-- Release gives spots back exactly once.
SELECT * FROM booking.release(:hold, 'ann');
SELECT * FROM booking.release(:hold, 'ann');
SELECT * FROM booking.availability(:pool);
SELECT raised(format('SELECT booking.confirm(%s, ''ann'')', :hold));        -- released: PT409
SELECT raised(format('SELECT booking.extend_hold(%s, ''ann'')', :hold));

-- A booking made without a holder can be released by anyone who knows its id.
SELECT booking_id AS anon FROM booking.decrement_ticket(:pool, 1) \gset
SELECT status, released FROM booking.release(:anon);

-- cancel is the organiser's release: no holder needed.
SELECT booking_id AS held FROM booking.decrement_ticket(:pool, 1, 'cat', '5 minutes') \gset
SELECT status, released, promoted FROM booking.cancel(:held);
SELECT * FROM booking.availability(:pool);

-- extend_hold moves the end of a live hold.
SELECT booking_id AS dora FROM booking.decrement_ticket(:pool, 1, 'dora', '1 minute') \gset
SELECT status, held_until > now() + interval '29 minutes' AS extended
  FROM booking.extend_hold(:dora, 'dora', '30 minutes');
SELECT raised(format('SELECT booking.extend_hold(%s, ''dora'', ''0 seconds'')', :dora));
SELECT raised(format('SELECT booking.extend_hold(%s, ''dora'', NULL)', :dora));
SELECT raised(format('SELECT booking.extend_hold(%s, ''eve'')', :dora));
SELECT status FROM booking.release(:dora, 'dora');

-- Holds lapse at read time, with no sweeper: short holds, then a pause.
SELECT booking_id AS short1 FROM booking.decrement_ticket(:pool, 3, 'fay', '100 milliseconds') \gset
SELECT booking_id AS short2 FROM booking.decrement_ticket(:pool, 2, 'gus', '100 milliseconds') \gset
SELECT * FROM booking.availability(:pool);
SELECT pg_sleep(0.3);
SELECT * FROM booking.availability(:pool);             -- lapsed holds count as free
SELECT capacity, confirmed, held, available FROM booking.pool_status WHERE pool_id = :pool;
SELECT booking_id, status FROM booking.bookings WHERE booking_id IN (:short1, :short2) ORDER BY 1;

-- A late confirm succeeds while the spots are still free ...
SELECT * FROM booking.confirm(:short1, 'fay');
-- ... a buyer takes the other lapsed hold's spots ...
SELECT status, remaining FROM booking.decrement_ticket(:pool, 2, 'hal');
-- ... and the other late confirm finds them gone.
SELECT * FROM booking.confirm(:short2, 'gus');
SELECT status, held_until < now() AS lapsed FROM booking.extend_hold(:short2, 'gus', '5 minutes');
SELECT status, released FROM booking.release(:short2, 'gus');   -- nothing left to give back
SELECT * FROM booking.availability(:pool);

-- A lapsed hold can be held again with extend_hold when its spots are free.
SELECT booking.create_pool(2, 'room') AS room \gset
SELECT booking_id AS ivy FROM booking.decrement_ticket(:room, 2, 'ivy', '100 milliseconds') \gset
SELECT pg_sleep(0.2);
SELECT status, held_until > now() AS live FROM booking.extend_hold(:ivy, 'ivy', '5 minutes');
SELECT * FROM booking.availability(:room);

-- expire_holds marks lapsed holds expired and counts them.
SELECT booking.create_pool(9, 'other') AS other \gset
SELECT booking_id AS j1 FROM booking.decrement_ticket(:other, 1, 'jo', '50 milliseconds') \gset
SELECT booking_id AS j2 FROM booking.decrement_ticket(:other, 2, 'jo', '50 milliseconds') \gset
SELECT booking_id AS j3 FROM booking.decrement_ticket(:other, 3, 'jo', '50 milliseconds') \gset
SELECT pg_sleep(0.2);
SELECT booking.expire_holds(max_count => 2);
SELECT booking.expire_holds();
SELECT booking.expire_holds();
SELECT count(*) FILTER (WHERE status = 'expired') AS expired FROM booking.bookings WHERE holder = 'jo';
SELECT raised('SELECT booking.expire_holds(0)');
SELECT raised('SELECT booking.expire_holds(NULL)');

-- Idempotency: a repeat returns the first booking and takes nothing more.
SELECT booking.create_pool(10, 'drop') AS dropp \gset
SELECT booking_id AS first, status, remaining FROM booking.decrement_ticket(:dropp, 3, idempotency_key => 'order-1') \gset
SELECT booking_id = :first AS same, status, remaining FROM booking.decrement_ticket(:dropp, 3, idempotency_key => 'order-1');
SELECT booking_id = :first AS same, status, remaining FROM booking.decrement_ticket(:dropp, 5, idempotency_key => 'order-1');
SELECT status FROM booking.release(:first);
SELECT booking_id = :first AS same, status, remaining FROM booking.decrement_ticket(:dropp, 3, idempotency_key => 'order-1');
SELECT booking_id = :first AS same, status FROM booking.decrement_ticket(:dropp, 3, idempotency_key => 'order-2');
SELECT booking.create_pool(10, 'drop 2') AS drop2 \gset
SELECT booking_id = :first AS same, status FROM booking.decrement_ticket(:drop2, 3, idempotency_key => 'order-1');
SELECT * FROM booking.availability(:dropp);

-- A late confirm or re-hold never lets a holder past the pool's cap.
SELECT booking.create_pool(10, 'capped', max_per_holder => 4) AS capped \gset
SELECT booking_id AS cap_hold FROM booking.decrement_ticket(:capped, 4, 'zed', '100 milliseconds') \gset
SELECT pg_sleep(0.2);
SELECT status FROM booking.decrement_ticket(:capped, 4, 'zed');       -- the lapsed hold no longer counts
SELECT * FROM booking.confirm(:cap_hold, 'zed');                      -- would make 8: expired
SELECT status FROM booking.extend_hold(:cap_hold, 'zed', '5 minutes');
SELECT * FROM booking.availability(:capped);

-- A hold_for past the calendar is a bad argument.
SELECT raised(format('SELECT booking.decrement_ticket(%s, 1, hold_for => ''300000 years'')', :pool));

-- Unknown bookings: PT404; NULL ids: 22004.
SELECT raised('SELECT booking.confirm(424242)');
SELECT raised('SELECT booking.release(424242)');
SELECT raised('SELECT booking.cancel(424242)');
SELECT raised('SELECT booking.extend_hold(424242)');
SELECT raised('SELECT booking.confirm(NULL)');
SELECT raised('SELECT booking.release(NULL)');
SELECT raised('SELECT booking.cancel(NULL)');
SELECT raised('SELECT booking.extend_hold(NULL)');
SELECT raised(format('SELECT booking.confirm(%s, payment_ref => repeat(''p'', 1000))', :first));

-- Every counter equals its rows.
SELECT * FROM booking.check();
SELECT booking.reconcile();
