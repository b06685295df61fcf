-- Reserved seating: all-or-nothing holds, conflicts that name the seats,
-- best-available blocks, the seat map a buyer sees, and every error.
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

-- The seat map of a show as rows of '.' available, 'h' held, 'S' sold.
CREATE OR REPLACE FUNCTION public.seat_map(show bigint) RETURNS TABLE (row_label text, seats text)
LANGUAGE sql AS $$
    SELECT section || ' ' || row_label,
           string_agg(CASE status WHEN 'available' THEN '.' WHEN 'held' THEN 'h' ELSE 'S' END, '' ORDER BY number)
      FROM booking.seats WHERE show_id = show GROUP BY section, row_label ORDER BY section, row_label
$$;

SELECT booking.create_show('Hamlet') AS show \gset
SELECT booking.add_seats(:show, 'stalls', 'A', 1, 10);            -- seats 1..10
SELECT booking.add_seats(show_id => :show, section => 'stalls', row_label => 'B', first_number => 1, count => 10);
SELECT booking.add_seats(:show, 'balcony', 'A', 101, 4);          -- seats 21..24, numbered 101..104
SELECT * FROM seat_map(:show);

-- All or nothing: a conflict names exactly the seats someone else has.
SELECT booking_id, status, held_until > now() AS live, seat_ids, unavailable
  FROM booking.reserve_seats(:show, ARRAY[5, 4, 6], 'ann');
SELECT booking_id, status, held_until, seat_ids, unavailable
  FROM booking.reserve_seats(:show, ARRAY[7, 6, 5, 8], 'bob');
SELECT * FROM seat_map(:show);                                     -- bob got nothing
SELECT status, seat_ids FROM booking.reserve_seats(:show, ARRAY[7, 8], 'bob');
SELECT seat_id, status, booking_id FROM booking.seats WHERE seat_id BETWEEN 3 AND 9 ORDER BY seat_id;

-- Asking again for seats one already holds is no conflict: they move to the new hold.
SELECT booking_id, status, seat_ids, unavailable FROM booking.reserve_seats(:show, ARRAY[6, 9], 'ann');
SELECT booking_id, status, spots, seat_ids FROM booking.bookings WHERE kind = 'seats' ORDER BY booking_id;
SELECT booking_id, status, seat_ids FROM booking.reserve_seats(:show, ARRAY[4, 5], 'ann');  -- moves the rest
SELECT booking_id, status, spots, seat_ids FROM booking.bookings WHERE kind = 'seats' ORDER BY booking_id;

-- Confirm sells, release frees, exactly once.
SELECT * FROM booking.confirm(4, 'ann');
SELECT * FROM booking.release(2, 'bob');
SELECT * FROM booking.release(2, 'bob');
SELECT raised('SELECT booking.release(4, ''bob'')');
SELECT * FROM seat_map(:show);

-- A hold lapses: its seats show available at once, another buyer takes one,
-- and the late confirm finds it gone.
SELECT booking_id AS short FROM booking.reserve_seats(:show, ARRAY[11, 12], 'cy', '100 milliseconds') \gset
SELECT pg_sleep(0.2);
SELECT seat_id, status FROM booking.seats WHERE seat_id IN (11, 12) ORDER BY 1;
SELECT status FROM booking.bookings WHERE booking_id = :short;
SELECT status, seat_ids FROM booking.reserve_seats(:show, ARRAY[12], 'dee');
SELECT * FROM booking.confirm(:short, 'cy');
SELECT status, held_until < now() AS lapsed FROM booking.extend_hold(:short, 'cy');
SELECT * FROM seat_map(:show);

-- A lapsed hold whose seats are still free: the late confirm sells them.
SELECT booking_id AS late FROM booking.reserve_seats(:show, ARRAY[13, 14], 'eve', '100 milliseconds') \gset
SELECT pg_sleep(0.2);
SELECT * FROM booking.confirm(:late, 'eve');
-- ... and extend_hold re-holds one that is still free.
SELECT booking_id AS ext FROM booking.reserve_seats(:show, ARRAY[15], 'fay', '100 milliseconds') \gset
SELECT pg_sleep(0.2);
SELECT status, held_until > now() AS live FROM booking.extend_hold(:ext, 'fay', '5 minutes');
SELECT * FROM seat_map(:show);

-- expire_holds frees seats of lapsed holds.
SELECT booking_id AS gone FROM booking.reserve_seats(:show, ARRAY[21, 22], 'gus', '50 milliseconds') \gset
SELECT pg_sleep(0.1);
SELECT booking.expire_holds();
SELECT seat_id, status, booking_id FROM booking.seats WHERE seat_id IN (21, 22) ORDER BY 1;
SELECT status FROM booking.bookings WHERE booking_id = :gone;

-- Best available: rows in (section, row) order, nearest the centre, no orphans.
SELECT * FROM seat_map(:show);
SELECT status, seat_ids FROM booking.reserve_best_available(:show, 2, 'hal');           -- balcony A first
SELECT status, seat_ids FROM booking.reserve_best_available(:show, 2, 'ivy', section => 'stalls');
SELECT status, seat_ids FROM booking.reserve_best_available(:show, 3, 'jay', section => 'stalls');
SELECT * FROM seat_map(:show);
SELECT status, seat_ids, unavailable FROM booking.reserve_best_available(:show, 11, 'kim');  -- no row that long
SELECT status FROM booking.reserve_best_available(:show, 2, 'lee', section => 'gallery');   -- no such section

-- Idempotent repeats.
SELECT booking_id AS k1 FROM booking.reserve_seats(:show, ARRAY[20], 'max', idempotency_key => 'cart-9') \gset
SELECT booking_id = :k1 AS same, status, seat_ids FROM booking.reserve_seats(:show, ARRAY[20], 'max', idempotency_key => 'cart-9');
SELECT booking_id = :k1 AS same, status, seat_ids FROM booking.reserve_best_available(:show, 4, 'max', idempotency_key => 'cart-9');

-- Errors: nothing is held by a call that fails.
SELECT booking.create_show('Macbeth') AS other \gset
SELECT booking.add_seats(:other, 'stalls', 'A', 1, 3) AS other_seats \gset
SELECT raised(format('SELECT booking.reserve_seats(%s, ''{}''::bigint[], ''x'')', :show));
SELECT raised(format('SELECT booking.reserve_seats(%s, ARRAY[1, NULL]::bigint[], ''x'')', :show));
SELECT raised(format('SELECT booking.reserve_seats(%s, ARRAY[1, 2, 1], ''x'')', :show));
SELECT raised(format('SELECT booking.reserve_seats(%s, ''{{1,2},{3,10}}''::bigint[], ''x'')', :show));
SELECT raised(format('SELECT booking.reserve_seats(%s, ARRAY[3, 25], ''x'')', :show));
SELECT raised(format('SELECT booking.reserve_seats(%s, ARRAY[3, 424242], ''x'')', :show));
SELECT raised(format('SELECT booking.reserve_seats(%s, ARRAY[424242], ''x'')', :show));
SELECT raised(format('SELECT booking.reserve_seats(%s, ARRAY(SELECT generate_series(1, 100000))::bigint[], ''x'')', :show));
SELECT raised(format('SELECT booking.reserve_seats(%s, NULL, ''x'')', :show));
SELECT raised(format('SELECT booking.reserve_seats(%s, ARRAY[3], NULL)', :show));
SELECT raised(format('SELECT booking.reserve_seats(%s, ARRAY[3], ''x'', NULL)', :show));
SELECT raised(format('SELECT booking.reserve_seats(%s, ARRAY[3], ''x'', ''-1 minute'')', :show));
SELECT raised('SELECT booking.reserve_seats(NULL, ARRAY[3], ''x'')');
SELECT raised('SELECT booking.reserve_seats(424242, ARRAY[3], ''x'')');
SELECT raised(format('SELECT booking.reserve_best_available(%s, 0, ''x'')', :show));
SELECT raised(format('SELECT booking.reserve_best_available(%s, NULL, ''x'')', :show));
SELECT raised(format('SELECT booking.reserve_best_available(%s, 2, NULL)', :show));
SELECT raised('SELECT booking.reserve_best_available(424242, 2, ''x'')');
SELECT raised(format('SELECT booking.add_seats(%s, ''stalls'', ''A'', 10, 2)', :show));
SELECT raised(format('SELECT booking.add_seats(%s, ''stalls'', ''C'', 1, 0)', :show));
SELECT raised(format('SELECT booking.add_seats(%s, ''stalls'', ''C'', 2147483647, 2)', :show));
SELECT raised(format('SELECT booking.add_seats(%s, NULL, ''C'', 1, 2)', :show));
SELECT raised('SELECT booking.add_seats(424242, ''stalls'', ''C'', 1, 2)');
SELECT raised('SELECT booking.create_show(notify => NULL)');
SELECT count(*) AS held_or_sold FROM booking.seats WHERE show_id = :show AND status <> 'available';

SELECT * FROM booking.check();

-- The seat map a buyer may read (customer function): statuses as in the
-- view, "mine" and the hold's end only for the holder asking.
SELECT booking.create_show('map') AS map \gset
SELECT array_length(booking.add_seats(:map, 'stalls', 'A', 1, 5), 1) AS seats;
SELECT min(seat_id) AS m1 FROM booking.seats WHERE show_id = :map \gset
SELECT status FROM booking.reserve_seats(:map, ARRAY[:m1, :m1 + 1], 'ann', '1 hour');
SELECT booking_id AS sold FROM booking.reserve_seats(:map, ARRAY[:m1 + 2], 'bob') \gset
SELECT status FROM booking.confirm(:sold, 'bob');
SELECT status FROM booking.reserve_seats(:map, ARRAY[:m1 + 3], 'cy', '1 millisecond');
SELECT pg_sleep(0.01);
SELECT number, status, mine, held_until > now() AS holding FROM booking.seat_map(:map, 'ann');
SELECT number, status, mine, booking_id = :sold AS bobs_booking FROM booking.seat_map(:map, 'bob');
SELECT number, status, mine, held_until, booking_id FROM booking.seat_map(show_id => :map);
CREATE ROLE regress_seat_reader;
SET ROLE regress_seat_reader;
SELECT count(*) AS seats_a_buyer_sees FROM booking.seat_map(:map, 'ann');
RESET ROLE;
DROP ROLE regress_seat_reader;
SELECT raised('SELECT booking.seat_map(NULL)');
SELECT raised('SELECT booking.seat_map(424242)');
SELECT raised(format('SELECT booking.seat_map(%s, repeat(''x'', 257))', :map));

-- A schema damaged by hand (a table or column the seat requests read by key
-- renamed) is a clear error naming what is missing, and changes nothing;
-- put back, the same request works.
SELECT min(seat_id) + 4 AS m5 FROM booking.seats WHERE show_id = :map \gset
ALTER TABLE booking.seat RENAME TO seat_renamed;
SELECT raised(format('SELECT booking.reserve_seats(%s, ARRAY[%s], ''dan'')', :map, :m5));
ALTER TABLE booking.seat_renamed RENAME TO seat;
ALTER TABLE booking.seat RENAME COLUMN held_until TO held_until_renamed;
SELECT raised(format('SELECT booking.reserve_seats(%s, ARRAY[%s], ''dan'')', :map, :m5));
ALTER TABLE booking.seat RENAME COLUMN held_until_renamed TO held_until;
SELECT count(*) AS dans_bookings FROM booking.bookings WHERE holder = 'dan';
SELECT status, seat_ids = ARRAY[:m5]::bigint[] AS the_seat FROM booking.reserve_seats(:map, ARRAY[:m5], 'dan');
SELECT * FROM booking.check();
