-- Seat holds: one show of 10,000 seats, 100 rows (R000..R099) of 100.
CREATE EXTENSION IF NOT EXISTS booking;
SELECT booking.create_show('10,000 seats');
SELECT count(*) FROM (SELECT booking.add_seats(1, 'stalls', 'R' || lpad(r::text, 3, '0'), 1, 100)
                        FROM generate_series(0, 99) AS r) AS rows;
