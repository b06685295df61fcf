-- pgbench script: bench/flashsale/conditional-update.sql on event :ev of
-- 1..:events. One statement; the WHERE clause is re-checked against the
-- newest row version after the row lock wait, so it never oversells.
\set ev random(1, :events)
\set q random(1, 4)
WITH u AS (
    UPDATE event SET sold = sold + :q
     WHERE id = :ev AND sold + :q <= capacity
    RETURNING id
)
INSERT INTO orders (event_id, qty) SELECT id, :q FROM u;
