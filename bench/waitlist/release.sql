-- Someone confirmed or waiting leaves. Two clients may pick the same booking:
-- the second release gives back nothing (released = 0), never an error.
\set pool random(1, 8)
SELECT (booking.release(b.booking_id, b.holder)).released
  FROM (SELECT booking_id, holder FROM booking.booking
         WHERE pool_id = :pool AND status IN ('confirmed', 'waitlisted')
         ORDER BY random() LIMIT 1) AS b;
