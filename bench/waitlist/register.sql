-- A group of 1-3 registers for one of the pools.
\set pool random(1, 8)
\set n random(1, 3)
SELECT status FROM booking.register(:pool, :n, 'c' || :client_id);
