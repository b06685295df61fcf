-- A buyer picks 2-6 adjacent seats of a random row and holds them; 40% of
-- holds are released again, 30% confirmed. Seat ids are 100 * row + number.
\set row random(0, 99)
\set n random(2, 6)
\set first random(1, 101 - :n)
\set next random(1, 100)
SELECT coalesce(booking_id, 0) AS last, status
  FROM booking.reserve_seats(1, ARRAY(SELECT generate_series(100 * :row + :first, 100 * :row + :first + :n - 1))::bigint[],
                             'c' || :client_id) \gset
\if :last > 0 AND :next <= 40
SELECT released FROM booking.release(:last, 'c' || :client_id);
\elif :last > 0 AND :next <= 70
SELECT status FROM booking.confirm(:last, 'c' || :client_id);
\endif
