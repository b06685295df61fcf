-- The seed's fix, written as well as plain SQL allows: flip available seats
-- with one conditional UPDATE, keep them only if every seat flipped.
\set row random(0, 99)
\set n random(2, 6)
\set first random(1, 101 - :n)
\set next random(1, 100)
BEGIN;
WITH flipped AS (
    UPDATE show_seats SET status = 'reserved', reserved_by = 'c' || :client_id,
                          reserved_until = now() + interval '10 minutes'
     WHERE id BETWEEN 100 * :row + :first AND 100 * :row + :first + :n - 1
       AND (status = 'available' OR (status = 'reserved' AND reserved_until < now()))
    RETURNING id)
SELECT count(*) AS got FROM flipped \gset
\if :got = :n
INSERT INTO reservations (holder, seat_ids)
SELECT 'c' || :client_id, ARRAY(SELECT generate_series(100 * :row + :first, 100 * :row + :first + :n - 1))
RETURNING id AS last \gset
COMMIT;
\if :next <= 40
BEGIN;
UPDATE show_seats SET status = 'available', reserved_by = NULL, reserved_until = NULL
 WHERE id = ANY ((SELECT seat_ids FROM reservations WHERE id = :last)::bigint[]);
UPDATE reservations SET status = 'released' WHERE id = :last;
COMMIT;
\elif :next <= 70
BEGIN;
UPDATE show_seats SET status = 'sold', reserved_until = NULL
 WHERE id = ANY ((SELECT seat_ids FROM reservations WHERE id = :last)::bigint[]);
UPDATE reservations SET status = 'confirmed' WHERE id = :last;
COMMIT;
\endif
\else
ROLLBACK;
\endif
