-- pgbench script (W1): bench/flashsale/for-update.sql. Lock the event row,
-- count what was sold from the orders, insert if it fits. The count grows
-- with the orders table while the row lock is held: that is this peer's
-- real cost.
\set ev random(1, :events)
\set q random(1, 4)
BEGIN;
SELECT capacity FROM event WHERE id = :ev FOR UPDATE \gset
SELECT coalesce(sum(qty), 0) AS sold FROM orders WHERE event_id = :ev \gset
\if :sold + :q <= :capacity
INSERT INTO orders (event_id, qty) VALUES (:ev, :q);
\endif
END;
