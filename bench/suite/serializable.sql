-- pgbench script: read, decide, write under SERIALIZABLE. Concurrent
-- buyers of one event fail with a serialization error; bench/run runs it
-- with pgbench --max-tries=10, which retries them (failed: still failing
-- after 10 tries).
\set ev random(1, :events)
\set q random(1, 4)
BEGIN ISOLATION LEVEL SERIALIZABLE;
SELECT capacity - sold AS remaining FROM event WHERE id = :ev \gset
\if :remaining >= :q
UPDATE event SET sold = sold + :q WHERE id = :ev;
INSERT INTO orders (event_id, qty) VALUES (:ev, :q);
\endif
COMMIT;
