-- pgbench script: one statement. The UPDATE's WHERE clause is re-checked
-- against the newest row version after waiting for the row lock (READ
-- COMMITTED), so the counter can never pass capacity.
\set q random(1, 4)
WITH u AS (
    UPDATE event SET sold = sold + :q
     WHERE id = 1 AND sold + :q <= capacity
    RETURNING id
)
INSERT INTO orders (event_id, qty) SELECT id, :q FROM u;
