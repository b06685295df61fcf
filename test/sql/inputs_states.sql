-- Bad input, every function (issue 7), part 2: the cases a generated matrix
-- cannot express because they depend on a booking's state or on time: double
-- confirm and release, confirm or extend after release or expiry, cancel
-- twice, seats of another show, capacity below what is taken or waits, groups
-- larger than the pool (they wait), int4 limits on real counters, quotes stored as data.
-- step() runs a statement and keeps what it did; it answers the status (or a
-- summary) or 'SQLSTATE: message', and shouts XX000 and any table changed by a
-- failed call or an outcome-only status. unchanged() tells whether a
-- successful repeat left every table as it was.
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS booking CASCADE;
CREATE EXTENSION booking;
RESET client_min_messages;
SET timezone = 'UTC';
SET statement_timeout = '60s';

-- A digest of every row of every table of the extension (sequences left out:
-- nextval is not rolled back).
CREATE OR REPLACE FUNCTION public.booking_digest() RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    t regclass;
    d text;
    acc text := '';
BEGIN
    FOR t IN SELECT c.oid FROM pg_class c
              WHERE c.relnamespace = 'booking'::regnamespace AND c.relkind = 'r' ORDER BY c.relname LOOP
        EXECUTE format('SELECT md5(coalesce(string_agg(x::text, %L ORDER BY x::text), %L)) FROM %s AS x',
                       E'\n', '', t) INTO d;
        acc := acc || t::text || ':' || d || ';';
    END LOOP;
    RETURN md5(acc);
END $$;

CREATE TEMP TABLE inputs_log (n serial, statement text, outcome text, sqlstate text, changed boolean);

-- Run a statement returning one text value; keep => false undoes it.
CREATE OR REPLACE FUNCTION public.try(stmt text, keep boolean DEFAULT false) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    before text := public.booking_digest();
    res text;
    state text;
    msg text;
    failed boolean := false;
    changed boolean := false;
    outcome text;
BEGIN
    BEGIN
        BEGIN
            EXECUTE stmt INTO res;
            changed := split_part(res, ' ', 1) IN ('sold_out', 'conflict', 'limit_exceeded')
                       AND public.booking_digest() <> before;
        EXCEPTION WHEN OTHERS THEN
            GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, msg = MESSAGE_TEXT;
            failed := true;
        END;
        IF failed THEN
            changed := public.booking_digest() <> before;
        END IF;
        IF NOT keep THEN
            RAISE EXCEPTION USING ERRCODE = 'ZZ999';
        END IF;
    EXCEPTION WHEN SQLSTATE 'ZZ999' THEN
        NULL;
    END;
    IF failed THEN
        outcome := state || ': ' || CASE WHEN length(msg) > 110 THEN left(msg, 107) || '...' ELSE msg END;
        IF length(msg) > 2000 THEN
            outcome := outcome || format(' [MESSAGE OF %s CHARACTERS]', length(msg));
        END IF;
        IF state = 'XX000' THEN
            outcome := 'INTERNAL ERROR ' || outcome;
        END IF;
    ELSE
        outcome := coalesce(res, 'NULL');
    END IF;
    IF changed THEN
        outcome := outcome || ' [CHANGED THE TABLES]';
    END IF;
    INSERT INTO inputs_log (statement, outcome, sqlstate, changed)
        VALUES (left(stmt, 300), outcome, CASE WHEN failed THEN state END, changed);
    RETURN outcome;
END $$;

CREATE OR REPLACE FUNCTION public.step(stmt text) RETURNS text LANGUAGE sql
    AS $$ SELECT public.try(stmt, keep => true) $$;

-- Whether every table is as it was when the digest was taken.
CREATE OR REPLACE FUNCTION public.unchanged(digest text) RETURNS boolean LANGUAGE sql
    AS $$ SELECT public.booking_digest() = digest $$;

------------------------------------------------------------------------------
-- Tickets: double confirm, double release, release then confirm, cancel twice.
------------------------------------------------------------------------------

SELECT booking.create_pool(5, 'tickets') AS pool \gset
SELECT booking_id AS b FROM booking.decrement_ticket(:pool, 2, 'ann', '1 hour') \gset
SELECT step(format($$SELECT status FROM booking.confirm(%s, 'ann')$$, :b));
SELECT booking_digest() AS d \gset
SELECT step(format($$SELECT status FROM booking.confirm(%s, 'ann')$$, :b));           -- confirmed again
SELECT unchanged(:'d');
SELECT step(format($$SELECT status FROM booking.confirm(%s, 'bob')$$, :b));           -- PT403
SELECT step(format($$SELECT status FROM booking.extend_hold(%s, 'ann')$$, :b));       -- PT409: not a hold
SELECT step(format($$SELECT status || ' released=' || released FROM booking.release(%s, 'ann')$$, :b));
SELECT booking_digest() AS d \gset
SELECT step(format($$SELECT status || ' released=' || released FROM booking.release(%s, 'ann')$$, :b));   -- 0
SELECT unchanged(:'d');
SELECT step(format($$SELECT status || ' released=' || released FROM booking.cancel(%s)$$, :b));           -- 0
SELECT unchanged(:'d');
SELECT step(format($$SELECT status FROM booking.confirm(%s, 'ann')$$, :b));           -- PT409
SELECT step(format($$SELECT status FROM booking.extend_hold(%s, 'ann')$$, :b));       -- PT409
SELECT step(format($$SELECT status FROM booking.release(%s, 'bob')$$, :b));           -- PT403 before anything
SELECT * FROM booking.availability(:pool);

-- Cancel twice.
SELECT booking_id AS c FROM booking.decrement_ticket(:pool, 5, 'cy') \gset
SELECT step(format($$SELECT status || ' released=' || released FROM booking.cancel(%s)$$, :c));
SELECT step(format($$SELECT status || ' released=' || released FROM booking.cancel(%s)$$, :c));       -- 0

-- The waitlist: nobody overtakes it; a waitlisted booking cannot be confirmed
-- or extended; the organiser promotes only a waiting entry of the pool.
SELECT booking.create_pool(5, 'waitlist') AS wl \gset
SELECT booking_id AS dee FROM booking.register(:wl, 4, 'dee') \gset
SELECT step(format($$SELECT status || ' position=' || waitlist_position FROM booking.register(%s, 3, 'eli')$$, :wl));
SELECT booking_id AS eli FROM booking.bookings WHERE holder = 'eli' \gset
SELECT step(format($$SELECT status || ' position=' || waitlist_position FROM booking.register(%s, 1, 'fay')$$, :wl));
SELECT booking_id AS fay FROM booking.bookings WHERE holder = 'fay' \gset
SELECT step(format($$SELECT status FROM booking.decrement_ticket(%s, 1)$$, :wl));             -- sold_out: the list waits
SELECT step(format($$SELECT status FROM booking.confirm(%s, 'eli')$$, :eli));                 -- PT409
SELECT step(format($$SELECT status FROM booking.extend_hold(%s, 'eli')$$, :eli));             -- PT409
SELECT step(format($$SELECT count(*) || ' row(s)' FROM booking.promote_waitlist(%s, booking_id => %s)$$, :wl, :eli));  -- does not fit
SELECT step(format($$SELECT count(*) || ' row(s)' FROM booking.promote_waitlist(%s, booking_id => %s)$$, :wl, :dee));  -- confirmed
SELECT booking.create_pool(1, 'elsewhere') AS elsewhere \gset
SELECT step(format($$SELECT count(*) || ' row(s)' FROM booking.promote_waitlist(%s, booking_id => %s)$$, :elsewhere, :eli));  -- 22023
SELECT step(format($$SELECT count(*) || ' row(s)' FROM booking.promote_waitlist(%s, booking_id => %s)$$, :wl, :fay));  -- fits: out of order
SELECT step(format($$SELECT count(*) || ' row(s)' FROM booking.promote_waitlist(%s, booking_id => %s)$$, :wl, :fay));  -- confirmed now
SELECT step(format($$SELECT status || ' released=' || released FROM booking.release(%s, 'eli')$$, :eli));  -- leaves: 0
SELECT step(format($$SELECT status || ' released=' || released FROM booking.release(%s, 'eli')$$, :eli));  -- again: 0
SELECT step(format($$SELECT status FROM booking.confirm(%s, 'eli')$$, :eli));                 -- PT409
SELECT * FROM booking.availability(:wl);

-- Capacity below what is taken (PT409), or below a waiting group (fine: it waits on).
SELECT booking.create_pool(5, 'manual', auto_promote => false) AS manual \gset
SELECT booking_id AS gil FROM booking.register(:manual, 5, 'gil') \gset
SELECT status, waitlist_position FROM booking.register(:manual, 4, 'hal');
SELECT step(format($$SELECT 'ok' FROM booking.set_capacity(%s, 4)$$, :manual));               -- PT409: taken
SELECT step(format($$SELECT status || ' released=' || released || ' promoted=' || cardinality(promoted)
                      FROM booking.release(%s, 'gil')$$, :gil));                               -- auto_promote off
SELECT step(format($$SELECT 'ok' FROM booking.set_capacity(%s, 3)$$, :manual));               -- hal (4) waits on
SELECT step(format($$SELECT 'ok' FROM booking.set_capacity(%s, 4)$$, :manual));
SELECT step(format($$SELECT 'ok' FROM booking.set_capacity(%s, -1)$$, :manual));              -- 22023
SELECT * FROM booking.availability(:manual);

-- A capped pool needs a holder (NULL is 22004), and the cap counts waitlisted spots.
SELECT booking.create_pool(1, 'capped', max_per_holder => 1) AS capped \gset
SELECT step(format($$SELECT status FROM booking.decrement_ticket(%s, 1)$$, :capped));           -- 22004
SELECT step(format($$SELECT status FROM booking.register(%s, 1)$$, :capped));                   -- 22004
SELECT step(format($$SELECT status FROM booking.decrement_ticket(%s, 2, 'gus')$$, :capped));    -- limit_exceeded
SELECT step(format($$SELECT status FROM booking.register(%s, 1, 'gus')$$, :capped));
SELECT step(format($$SELECT status FROM booking.register(%s, 1, 'hal')$$, :capped));            -- waitlisted
SELECT step(format($$SELECT status FROM booking.register(%s, 1, 'hal')$$, :capped));            -- limit_exceeded
SELECT step(format($$SELECT status FROM booking.decrement_ticket(%s, 1, 'hal')$$, :capped));    -- limit_exceeded

-- Capacity 0: sold out from the start, every group is larger than the pool (and waits).
SELECT booking.create_pool(0, 'closed') AS closed \gset
SELECT step(format($$SELECT status FROM booking.decrement_ticket(%s, 1)$$, :closed));
SELECT step(format($$SELECT status FROM booking.register(%s, 1)$$, :closed));
SELECT step(format($$SELECT 'ok' FROM booking.set_capacity(%s, 0)$$, :closed));

------------------------------------------------------------------------------
-- Idempotency keys: a repeat returns the first booking, also after release.
------------------------------------------------------------------------------

SELECT booking.create_pool(3, 'keys') AS keyed \gset
SELECT booking_id AS k FROM booking.decrement_ticket(:keyed, 1, 'ivy', idempotency_key => 'O''Brien $$') \gset
SELECT booking_digest() AS d \gset
SELECT step(format($s$SELECT (booking_id = %s) || ' ' || status || ' remaining=' || remaining
                       FROM booking.decrement_ticket(%s, 3, 'ivy', idempotency_key => 'O''Brien $$')$s$, :k, :keyed));
SELECT unchanged(:'d');
SELECT step(format($$SELECT status FROM booking.release(%s, 'ivy')$$, :k));
SELECT step(format($s$SELECT (booking_id = %s) || ' ' || status || ' remaining=' || remaining
                       FROM booking.decrement_ticket(%s, 1, 'ivy', idempotency_key => 'O''Brien $$')$s$, :k, :keyed));

------------------------------------------------------------------------------
-- Late confirm and extend: a lapsed hold is confirmed or re-held while its
-- spots, seats or range are free, else the answer is expired.
------------------------------------------------------------------------------

SELECT booking.create_pool(1, 'late') AS late \gset
SELECT booking_id AS l1 FROM booking.decrement_ticket(:late, 1, 'jo', '10 milliseconds') \gset
SELECT booking.create_pool(1, 'lost') AS lost \gset
SELECT booking_id AS l2 FROM booking.decrement_ticket(:lost, 1, 'jo', '10 milliseconds') \gset
SELECT booking.create_pool(1, 'lost2') AS lost2 \gset
SELECT booking_id AS l3 FROM booking.decrement_ticket(:lost2, 1, 'jo', '10 milliseconds') \gset
SELECT booking.create_show('late show') AS show \gset
SELECT booking.add_seats(:show, 'stalls', 'A', 1, 4) AS seats \gset
SELECT booking_id AS s1 FROM booking.reserve_seats(:show, '{1,2}', 'jo', '10 milliseconds') \gset
SELECT booking_id AS s2 FROM booking.reserve_seats(:show, '{3,4}', 'jo', '10 milliseconds') \gset
SELECT booking.create_resource('late room') AS room \gset
SELECT booking_id AS r1 FROM booking.reserve_slot(:room, '2030-01-01 09:00', '2030-01-01 10:00', 'jo',
                                                  '10 milliseconds', payment_ref => 'cs_late') \gset
SELECT booking_id AS r2 FROM booking.reserve_slot(:room, '2030-01-02 09:00', '2030-01-02 10:00', 'jo',
                                                  '10 milliseconds', payment_ref => 'cs_lost') \gset
SELECT pg_sleep(0.05);
-- Someone else takes what three of the lapsed holds had.
SELECT status FROM booking.decrement_ticket(:lost, 1, 'kim');
SELECT status FROM booking.decrement_ticket(:lost2, 1, 'kim');
SELECT status FROM booking.reserve_seats(:show, '{4}', 'kim');
SELECT status FROM booking.reserve_slot(:room, '2030-01-02 09:30', '2030-01-02 10:30', 'kim');
SELECT booking_id, kind, status FROM booking.bookings WHERE holder = 'jo' ORDER BY booking_id;
SELECT step(format($$SELECT status FROM booking.confirm(%s, 'jo')$$, :l1));           -- confirmed: still free
SELECT step(format($$SELECT status FROM booking.confirm(%s, 'jo')$$, :l2));           -- expired
SELECT booking_digest() AS d \gset
SELECT step(format($$SELECT status FROM booking.confirm(%s, 'jo')$$, :l2));           -- expired again
SELECT unchanged(:'d');
SELECT step(format($$SELECT status FROM booking.extend_hold(%s, 'jo')$$, :l3));       -- expired
SELECT step(format($$SELECT status || ' released=' || released FROM booking.release(%s, 'jo')$$, :l3));  -- 0
SELECT step(format($$SELECT status FROM booking.extend_hold(%s, 'jo')$$, :s1));       -- held again
SELECT step(format($$SELECT status FROM booking.confirm(%s, 'jo')$$, :s2));           -- expired: seat 4 sold
SELECT step(format($$SELECT status FROM booking.extend_hold(%s, 'jo')$$, :s2));       -- expired
SELECT step($$SELECT status FROM booking.confirm_payment('cs_late')$$);                -- confirmed
SELECT step($$SELECT status FROM booking.confirm_payment('cs_late')$$);                -- a retried webhook
SELECT step($$SELECT status FROM booking.confirm_payment('cs_lost')$$);                -- expired
SELECT step(format($$SELECT status FROM booking.confirm(%s, 'jo')$$, :r2));           -- expired
SELECT step(format($$SELECT status || ' released=' || released FROM booking.cancel(%s)$$, :r1));
SELECT step($$SELECT status FROM booking.confirm_payment('cs_late')$$);                -- PT409: cancelled
SELECT step(format($$SELECT status FROM booking.confirm(%s, 'jo')$$, :r1));           -- PT409
SELECT step($$SELECT status FROM booking.confirm_payment('cs_never')$$);               -- PT404

------------------------------------------------------------------------------
-- Seats: another show's seats, someone else's seats, one's own seats again.
------------------------------------------------------------------------------

SELECT booking.create_show('seat show') AS seat_show \gset
SELECT booking.add_seats(:seat_show, 'stalls', 'A', 1, 4) AS ids \gset
SELECT step(format($$SELECT status FROM booking.reserve_seats(%s, '{1,2}', 'lea')$$, :seat_show));   -- 22023
SELECT booking_id AS lea FROM booking.reserve_seats(:seat_show, (SELECT (:'ids'::bigint[])[1:2]), 'lea') \gset
SELECT step(format($$SELECT status || ' unavailable=' || unavailable::text
                       FROM booking.reserve_seats(%s, (SELECT (%L::bigint[])[2:3]), 'max')$$, :seat_show, :'ids'));
SELECT step(format($$SELECT status || ' seats=' || cardinality(seat_ids)
                       FROM booking.reserve_seats(%s, (SELECT (%L::bigint[])[2:3]), 'lea')$$, :seat_show, :'ids'));
SELECT step(format($$SELECT status FROM booking.reserve_best_available(%s, 4, 'max')$$, :seat_show));   -- sold_out
SELECT booking_id AS ref FROM booking.decrement_ticket(:keyed, 1, 'ref', '1 hour') \gset
SELECT step(format($$SELECT status FROM booking.confirm(%s, 'ref', 'pay_lea')$$, :ref));
SELECT step(format($$SELECT status FROM booking.confirm(%s, 'lea', 'pay_lea')$$, :lea));     -- 22023: in use
SELECT step(format($$SELECT status FROM booking.confirm(%s, 'lea')$$, :lea));
SELECT step(format($$SELECT status FROM booking.confirm(%s, 'lea')$$, :lea));
SELECT step(format($$SELECT status || ' released=' || released FROM booking.release(%s, 'lea')$$, :lea));
SELECT step(format($$SELECT status || ' released=' || released FROM booking.release(%s, 'lea')$$, :lea));
SELECT step(format($$SELECT 'ok, ' || cardinality(r) || ' ids' FROM booking.add_seats(%s, 'stalls', 'A', 4, 2) AS r$$,
                   :seat_show));                                                       -- 22023: seat 4 exists
SELECT status, count(*) FROM booking.seats WHERE show_id = :seat_show GROUP BY 1 ORDER BY 1;
------------------------------------------------------------------------------
-- Slots: empty, reversed and infinite ranges; a payment_ref in use.
------------------------------------------------------------------------------

SELECT booking.create_resource('slot room', 2) AS slot_room \gset
SELECT step(format($$SELECT status FROM booking.reserve_slot(%s, '2030-03-01 10:00', '2030-03-01 10:00', 'ned')$$, :slot_room));
SELECT step(format($$SELECT status FROM booking.reserve_slot(%s, '2030-03-01 10:00', '2030-03-01 09:00', 'ned')$$, :slot_room));
SELECT step(format($$SELECT status FROM booking.reserve_slot(%s, '-infinity', 'infinity', 'ned')$$, :slot_room));
SELECT step(format($$SELECT status FROM booking.reserve_slot(%s, '2030-03-01 10:00', 'infinity', 'ned')$$, :slot_room));
SELECT booking_id AS ned FROM booking.reserve_slot(:slot_room, '2030-03-01 10:00', '2030-03-01 11:00', 'ned',
                                                   payment_ref => 'cs_ned') \gset
SELECT step(format($$SELECT status FROM booking.reserve_slot(%s, '2030-03-02 10:00', '2030-03-02 11:00', 'olga',
                                                            payment_ref => 'cs_ned')$$, :slot_room));   -- 22023
SELECT booking_id AS olga FROM booking.reserve_slot(:slot_room, '2030-03-02 10:00', '2030-03-02 11:00', 'olga') \gset
SELECT step(format($$SELECT status FROM booking.confirm(%s, 'olga', payment_ref => 'cs_ned')$$, :olga));  -- 22023
SELECT step(format($$SELECT status FROM booking.confirm(%s, 'ned', payment_ref => 'cs_ned')$$, :ned));    -- its own
SELECT step(format($$SELECT status FROM booking.reserve_slot(%s, '2030-03-01 10:30', '2030-03-01 10:45', 'pia')$$, :slot_room));
SELECT step(format($$SELECT status FROM booking.reserve_slot(%s, '2030-03-01 10:40', '2030-03-01 10:50', 'pia')$$, :slot_room));  -- conflict

------------------------------------------------------------------------------
-- int4 limits on real counters: the largest pool, trees and shards of it.
------------------------------------------------------------------------------

SELECT booking.create_pool(2147483647, 'huge') AS huge \gset
SELECT booking.create_pool(2147483647, 'huge child', parent_id => :huge) AS huge_child \gset
SELECT booking.create_pool(2147483647, 'huge sharded', shards => 64) AS huge_sharded \gset
SELECT step(format($$SELECT status || ' remaining=' || remaining FROM booking.decrement_ticket(%s, 2147483646, 'q')$$, :huge_child));
SELECT step(format($$SELECT status || ' remaining=' || remaining FROM booking.decrement_ticket(%s, 2, 'q')$$, :huge));       -- sold_out
SELECT step(format($$SELECT status || ' remaining=' || remaining FROM booking.decrement_ticket(%s, 1, 'q', '1 hour')$$, :huge));
SELECT step(format($$SELECT status || ' position=' || waitlist_position FROM booking.register(%s, 2147483647, 'q')$$, :huge));
SELECT step(format($$SELECT 'ok' FROM booking.set_capacity(%s, 2147483647)$$, :huge));
SELECT step(format($$SELECT 'ok' FROM booking.set_capacity(%s, 2147483646)$$, :huge));   -- PT409
-- A waitlist as long as int4 allows: one spot more is sold_out, in the pool
-- and in its child (whose spots wait in the parent too).
SELECT step(format($$SELECT status FROM booking.register(%s, 1, 'q')$$, :huge));
SELECT step(format($$SELECT status FROM booking.register(%s, 1, 'q')$$, :huge_child));
SELECT * FROM booking.availability(:huge);
SELECT * FROM booking.availability(:huge_child);
SELECT step(format($$SELECT status || ' remaining=' || remaining FROM booking.decrement_ticket(%s, 2147483647, 'q')$$, :huge_sharded));
SELECT step(format($$SELECT status || ' remaining=' || remaining FROM booking.decrement_ticket(%s, 1, 'q')$$, :huge_sharded));  -- sold_out
SELECT step(format($$SELECT 'ok' FROM booking.set_capacity(%s, 2147483647)$$, :huge_sharded));
SELECT * FROM booking.availability(:huge_sharded);
SELECT step(format($$SELECT status FROM booking.reserve_best_available(%s, 2147483647, 'q')$$, :seat_show));   -- sold_out
SELECT step('SELECT r::text FROM booking.expire_holds(2147483647) AS r');

------------------------------------------------------------------------------
-- Quotes and $$ are data.
------------------------------------------------------------------------------

SELECT booking.create_pool(3, $q$O'Brien $$ \"; DROP TABLE booking.pool; --$q$) AS quoted \gset
SELECT booking_id AS qb FROM booking.decrement_ticket(:quoted, 1, $q$O'Brien $$ \"; DROP TABLE booking.pool; --$q$,
                                                      '1 hour', $q$'; DELETE FROM booking.booking; --$q$) \gset
SELECT name FROM booking.pool WHERE pool_id = :quoted;
SELECT holder, idempotency_key FROM booking.bookings WHERE booking_id = :qb;
SELECT step(format($$SELECT status FROM booking.confirm(%s, %L)$$, :qb, $q$O'Brien $$ \"; DROP TABLE booking.pool; --$q$));

------------------------------------------------------------------------------
-- The most seats one call may add and hold: 10,000 (last: every step digests
-- every row).
------------------------------------------------------------------------------

SELECT booking.create_show('big show') AS big_show \gset
SELECT cardinality(booking.add_seats(:big_show, 'hall', 'R', 1, 10000));
SELECT step(format($$SELECT status || ' seats=' || cardinality(seat_ids) FROM booking.reserve_seats(%s,
                       (SELECT array_agg(seat_id ORDER BY seat_id DESC) FROM booking.seat WHERE show_id = %s), 'ria')$$,
                   :big_show, :big_show));
SELECT step(format($$SELECT status || ' unavailable=' || cardinality(unavailable) FROM booking.reserve_seats(%s,
                       (SELECT array_agg(seat_id) FROM booking.seat WHERE show_id = %s), 'sam')$$,
                   :big_show, :big_show));
SELECT step(format($$SELECT status FROM booking.reserve_best_available(%s, 10000, 'sam')$$, :big_show));

------------------------------------------------------------------------------
-- Never: an internal error, a change after an error or an outcome-only
-- status. The invariants hold.
------------------------------------------------------------------------------

SELECT count(*) AS steps,
       count(*) FILTER (WHERE sqlstate = 'XX000') AS internal_errors,
       count(*) FILTER (WHERE changed) AS changed_after_error_or_outcome
  FROM inputs_log;
SELECT sqlstate, count(*) FROM inputs_log WHERE sqlstate IS NOT NULL GROUP BY 1 ORDER BY 1;
SELECT * FROM booking.check();
