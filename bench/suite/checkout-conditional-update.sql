-- pgbench script, W5 checkout in plain SQL, one transaction: conditional
-- UPDATEs of the two event rows in ascending id order (the hot row 1 first,
-- so no two checkouts deadlock), then the order row and the 2 adjacent
-- seats (WHERE free) in one statement. Any part that takes nothing rolls
-- the whole checkout back. Each \gset reads a count, so a miss is 0, not
-- a pgbench error.
\set spread random(2, :events)
\set q1 random(1, 2)
\set q2 random(1, 2)
\set seat 1 + random(0, 999) * 100 + random(0, 98)
BEGIN;
WITH u AS (UPDATE event SET sold = sold + :q1 WHERE id = 1 AND sold + :q1 <= capacity RETURNING id)
SELECT count(*) AS hot_ok FROM u \gset
\if :hot_ok
WITH u AS (UPDATE event SET sold = sold + :q2 WHERE id = :spread AND sold + :q2 <= capacity RETURNING id)
SELECT count(*) AS spread_ok FROM u \gset
\if :spread_ok
WITH o AS (INSERT INTO orders (hot_id, hot_qty, spread_id, spread_qty) VALUES (1, :q1, :spread, :q2) RETURNING id),
     s AS (UPDATE seat SET order_id = (SELECT id FROM o) WHERE id IN (:seat, :seat + 1) AND order_id IS NULL RETURNING id)
SELECT count(*) AS seats FROM s \gset
\if :seats = 2
COMMIT;
\else
ROLLBACK;
\endif
\else
ROLLBACK;
\endif
\else
ROLLBACK;
\endif
