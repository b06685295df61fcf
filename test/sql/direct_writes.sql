-- A buy from a plain root pool writes its rows without the executor
-- (src/pg/write.hpp). Anything a user adds to the tables that only the
-- executor honours (a trigger, a default, NOT NULL, CHECK, an expression
-- index) sends the buy back to its SQL statement, so behaviour never
-- differs; amcheck proves every index holds exactly its rows either way.
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS booking CASCADE;
CREATE EXTENSION booking;
CREATE EXTENSION IF NOT EXISTS amcheck;
RESET client_min_messages;

CREATE OR REPLACE FUNCTION public.raised(statement text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE statement;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ': ' || SQLERRM;
END $$;

-- Indexes of booking.pool and booking.booking that amcheck finds whole
-- (bt_index_check with heapallindexed raises on a missing entry).
CREATE FUNCTION public.indexes_whole() RETURNS text LANGUAGE sql AS $$
    SELECT count(*) || ' indexes whole'
      FROM (SELECT bt_index_check(i.indexrelid, true)
              FROM pg_index i
             WHERE i.indrelid IN ('booking.pool'::regclass, 'booking.booking'::regclass)) AS checked
$$;

SELECT booking.create_pool(10, 'plain') AS p \gset
SELECT status, remaining FROM booking.decrement_ticket(:p, 2);
SELECT status, remaining FROM booking.decrement_ticket(:p, 3, 'ann', '1 hour');
SELECT status, spots, holder, held_until IS NOT NULL AS has_end FROM booking.bookings
 WHERE pool_id = :p ORDER BY booking_id;
SELECT confirmed, held, next_expiry IS NOT NULL AS has_next_expiry FROM booking.pool WHERE pool_id = :p;
-- The hold is found through the partial indexes it belongs in.
SET enable_seqscan = off;
SELECT count(*) AS held FROM booking.booking WHERE status = 'held' AND held_until > now();
SELECT count(*) AS anns FROM booking.booking
 WHERE pool_id = :p AND holder = 'ann' AND status IN ('held', 'confirmed', 'waitlisted');
RESET enable_seqscan;
SELECT public.indexes_whole();

-- A row trigger on booking.booking runs: the buy takes the statement.
CREATE TABLE public.audit (booking_id bigint, status text);
CREATE FUNCTION public.audit_booking() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO public.audit VALUES (NEW.booking_id, NEW.status);
    RETURN NEW;
END $$;
CREATE TRIGGER audit AFTER INSERT ON booking.booking FOR EACH ROW EXECUTE FUNCTION public.audit_booking();
SELECT status FROM booking.decrement_ticket(:p, 1);
SELECT count(*) AS audited FROM public.audit;
DROP TRIGGER audit ON booking.booking;
SELECT status FROM booking.decrement_ticket(:p, 1);
SELECT count(*) AS audited FROM public.audit;

-- A column added with a default gets it; made NOT NULL without one, the
-- buy fails as the INSERT would, and changes nothing.
ALTER TABLE booking.booking ADD COLUMN channel text DEFAULT 'web';
SELECT status FROM booking.decrement_ticket(:p, 1);
SELECT channel, count(*) FROM booking.booking GROUP BY channel ORDER BY 1;
ALTER TABLE booking.booking ALTER COLUMN channel DROP DEFAULT, ALTER COLUMN channel SET NOT NULL;
SELECT public.raised(format('SELECT booking.decrement_ticket(%s, 1)', :p));
SELECT confirmed, held FROM booking.pool WHERE pool_id = :p;
ALTER TABLE booking.booking DROP COLUMN channel;

-- A CHECK constraint on the pool is enforced.
ALTER TABLE booking.pool ADD CONSTRAINT at_most_eight CHECK (confirmed + held <= 8);
SELECT public.raised(format('SELECT booking.decrement_ticket(%s, 1)', :p));
ALTER TABLE booking.pool DROP CONSTRAINT at_most_eight;

-- So is the NOT NULL of a generated column, which the executor computes:
-- stored, or (from PostgreSQL 18) virtual, computed when read.
SELECT booking.create_pool(10, 'generated') AS g \gset
SELECT current_setting('server_version_num')::int >= 180000 AS virtual_columns \gset
\if :virtual_columns
ALTER TABLE booking.pool ADD COLUMN two_at_most int
    GENERATED ALWAYS AS (CASE WHEN pool_id = :g AND confirmed + held > 2 THEN NULL ELSE 1 END) VIRTUAL NOT NULL;
\else
ALTER TABLE booking.pool ADD COLUMN two_at_most int
    GENERATED ALWAYS AS (CASE WHEN pool_id = :g AND confirmed + held > 2 THEN NULL ELSE 1 END) STORED NOT NULL;
\endif
SELECT status, remaining FROM booking.decrement_ticket(:g, 2);
SELECT public.raised(format('SELECT booking.decrement_ticket(%s, 1)', :g));
SELECT confirmed, held FROM booking.pool WHERE pool_id = :g;
ALTER TABLE booking.pool DROP COLUMN two_at_most;

-- Indexes added later: a plain partial one gets the entries of direct
-- writes; an expression index sends the buy to the statement.
CREATE INDEX booking_confirmed_spots ON booking.booking (spots) WHERE status = 'confirmed';
CREATE INDEX booking_lower_holder ON booking.booking (lower(holder));
SELECT status FROM booking.decrement_ticket(:p, 1, 'Bob');
SELECT public.indexes_whole();
DROP INDEX booking.booking_lower_holder;
SELECT status, remaining FROM booking.decrement_ticket(:p, 1);
SELECT status, remaining FROM booking.decrement_ticket(:p, 1);
SELECT public.indexes_whole();
DROP INDEX booking.booking_confirmed_spots;

-- An index on a counter: the pool row's update is no longer HOT, and the
-- new version gets its entries in every index of booking.pool.
SELECT booking.create_pool(100, 'counted') AS c \gset
CREATE INDEX pool_confirmed ON booking.pool (confirmed);
SELECT status, remaining FROM booking.decrement_ticket(:c, 4);
SELECT status, remaining FROM booking.decrement_ticket(:c, 5);
SET enable_seqscan = off;
SELECT pool_id = :c AS found FROM booking.pool WHERE confirmed = 9;
RESET enable_seqscan;
SELECT public.indexes_whole();
DROP INDEX booking.pool_confirmed;

-- Other isolation levels and read-only transactions get the statement's
-- rules.
BEGIN ISOLATION LEVEL REPEATABLE READ;
SELECT status, remaining FROM booking.decrement_ticket(:c, 1);
COMMIT;
BEGIN READ ONLY;
SELECT public.raised(format('SELECT booking.decrement_ticket(%s, 1)', :c));
ROLLBACK;
-- A pool with too few spots answers sold_out there: the buy that writes is
-- not tried first in a read-only transaction.
SELECT booking.create_pool(1, 'read only') AS ro \gset
BEGIN READ ONLY;
SELECT status, remaining FROM booking.decrement_ticket(:ro, 2);
COMMIT;
-- A savepoint rolled back takes the direct writes with it.
BEGIN;
SAVEPOINT s;
SELECT status, remaining FROM booking.decrement_ticket(:c, 2);
ROLLBACK TO SAVEPOINT s;
SELECT status, remaining FROM booking.decrement_ticket(:c, 3);
COMMIT;
SELECT confirmed, held FROM booking.pool WHERE pool_id = :c;
SELECT count(*), sum(spots) FROM booking.booking WHERE pool_id = :c;

-- A foreign key a user adds to booking.booking is checked.
ALTER TABLE booking.booking ADD CONSTRAINT booking_pool_fk FOREIGN KEY (pool_id) REFERENCES booking.pool (pool_id);
SELECT status, remaining FROM booking.decrement_ticket(:c, 1);
ALTER TABLE booking.booking DROP CONSTRAINT booking_pool_fk;

-- A sharded pool's buys write the shard row directly: held and confirmed,
-- with the shard's next expiry.
SELECT booking.create_pool(40, 'sharded', shards => 4) AS s \gset
SELECT status FROM booking.decrement_ticket(:s, 2);
SELECT status FROM booking.decrement_ticket(:s, 3, 'cy', '1 hour');
SELECT sum(confirmed) AS confirmed, sum(held) AS held, count(next_expiry) AS expiring
  FROM booking.pool_shard WHERE pool_id = :s;
SELECT status, spots, shard IS NOT NULL AS from_shard FROM booking.booking WHERE pool_id = :s ORDER BY booking_id;
SELECT available FROM booking.availability(:s);

SELECT * FROM booking.check();
SELECT public.indexes_whole();
SELECT count(*) || ' indexes whole' AS pool_shard
  FROM (SELECT bt_index_check(i.indexrelid, true) FROM pg_index i
         WHERE i.indrelid = 'booking.pool_shard'::regclass) AS checked;
DROP TABLE public.audit;
DROP FUNCTION public.audit_booking();
DROP FUNCTION public.indexes_whole();
