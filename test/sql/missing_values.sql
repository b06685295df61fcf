-- A row the extension cannot have written (a NOT NULL constraint dropped by
-- hand, or a column its kind needs set to NULL) is a clear error naming the
-- column, XX001 data_corrupted, and changes nothing: never undefined
-- behaviour from reading a value that is not there.
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

SELECT booking.create_pool(10, 'p') AS p \gset
SELECT booking_id AS b FROM booking.decrement_ticket(:p, 2, 'ann', '1 hour') \gset
SELECT booking.create_show('s') AS s \gset
SELECT booking.add_seats(:s, 'stalls', 'A', 1, 4);
SELECT booking_id AS sb FROM booking.reserve_seats(:s, ARRAY[1, 2]::bigint[], 'cy') \gset

-- booking.pool.capacity, NOT NULL dropped: read by key (a take), by SQL
-- (availability) and while locked (register).
ALTER TABLE booking.pool ALTER COLUMN capacity DROP NOT NULL;
UPDATE booking.pool SET capacity = NULL WHERE pool_id = :p;
SELECT raised(format('SELECT booking.decrement_ticket(%s, 1)', :p));
SELECT raised(format('SELECT booking.decrement_ticket(%s, 1, %L, idempotency_key => %L)', :p, 'bob', 'k'));
SELECT raised(format('SELECT booking.availability(%s)', :p));
SELECT raised(format('SELECT booking.register(%s, 1, %L)', :p, 'bob'));
UPDATE booking.pool SET capacity = 10 WHERE pool_id = :p;
ALTER TABLE booking.pool ALTER COLUMN capacity SET NOT NULL;

-- booking.booking.spots, NOT NULL dropped: release and confirm read it.
ALTER TABLE booking.booking ALTER COLUMN spots DROP NOT NULL;
UPDATE booking.booking SET spots = NULL WHERE booking_id = :b;
SELECT raised(format('SELECT booking.release(%s, %L)', :b, 'ann'));
SELECT raised(format('SELECT booking.confirm(%s, %L)', :b, 'ann'));
UPDATE booking.booking SET spots = 2 WHERE booking_id = :b;
ALTER TABLE booking.booking ALTER COLUMN spots SET NOT NULL;

-- Columns a kind needs, which have no constraint of their own: a ticket's
-- pool, a seat booking's show.
UPDATE booking.booking SET pool_id = NULL WHERE booking_id = :b;
SELECT raised(format('SELECT booking.release(%s, %L)', :b, 'ann'));
SELECT raised(format('SELECT booking.extend_hold(%s, %L, %L)', :b, 'ann', '1 hour'));
UPDATE booking.booking SET pool_id = :p WHERE booking_id = :b;
UPDATE booking.booking SET show_id = NULL WHERE booking_id = :sb;
SELECT raised(format('SELECT booking.release(%s, %L)', :sb, 'cy'));
UPDATE booking.booking SET show_id = :s WHERE booking_id = :sb;

-- Nothing changed, and with the rows restored everything works again.
SELECT booking_id, status, spots FROM booking.booking ORDER BY booking_id;
SELECT * FROM booking.availability(:p);
SELECT * FROM booking.check();
SELECT status FROM booking.decrement_ticket(:p, 1);
SELECT booking_id, status, released FROM booking.release(:b, 'ann');
SELECT booking_id, status, released FROM booking.release(:sb, 'cy');
SELECT * FROM booking.check();

DROP FUNCTION public.raised(text);
