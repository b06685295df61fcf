-- After the seat holds: no seat in two active bookings, every active
-- booking owns its seats, check() empty.
\pset footer off
SELECT count(*) AS check_problems FROM booking.check();

SELECT count(*) AS seats_in_two_bookings FROM (
    SELECT u.seat_id FROM booking.bookings b CROSS JOIN LATERAL unnest(b.seat_ids) AS u(seat_id)
     WHERE b.kind = 'seats' AND b.status IN ('held', 'confirmed')
     GROUP BY u.seat_id HAVING count(*) > 1) AS twice;

SELECT count(*) AS seats_not_owned FROM booking.bookings b CROSS JOIN LATERAL unnest(b.seat_ids) AS u(seat_id)
  JOIN booking.seats s ON s.seat_id = u.seat_id
 WHERE b.kind = 'seats' AND b.status IN ('held', 'confirmed') AND s.booking_id IS DISTINCT FROM b.booking_id;

SELECT count(*) FILTER (WHERE status = 'held') AS held,
       count(*) FILTER (WHERE status = 'confirmed') AS confirmed,
       count(*) FILTER (WHERE status = 'released') AS released
  FROM booking.bookings WHERE kind = 'seats';
SELECT count(*) FILTER (WHERE status = 'available') AS seats_available,
       count(*) FILTER (WHERE status = 'held') AS seats_held,
       count(*) FILTER (WHERE status = 'sold') AS seats_sold
  FROM booking.seats;
