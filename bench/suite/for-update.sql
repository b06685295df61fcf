-- pgbench script (W2): lock the event row, read its sold counter under the
-- lock, and if the tickets fit move the counter and record the order.
\set ev random(1, :events)
\set q random(1, 4)
BEGIN;
SELECT capacity - sold AS remaining FROM event WHERE id = :ev FOR UPDATE \gset
\if :remaining >= :q
UPDATE event SET sold = sold + :q WHERE id = :ev;
INSERT INTO orders (event_id, qty) VALUES (:ev, :q);
\endif
END;
