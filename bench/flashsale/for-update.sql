-- pgbench script: lock the event row, count what was sold, insert if it
-- fits. Correct (the row lock serialises buyers) but every purchase
-- re-counts all orders while holding the lock.
\set q random(1, 4)
BEGIN;
SELECT capacity FROM event WHERE id = 1 FOR UPDATE \gset
SELECT coalesce(sum(qty), 0) AS sold FROM orders WHERE event_id = 1 \gset
\if :sold + :q <= :capacity
INSERT INTO orders (event_id, qty) VALUES (1, :q);
\endif
END;
