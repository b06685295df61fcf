-- pgbench script: optimistic concurrency. Read sold and version, then
-- update only if nobody changed the row in between (two statements, two
-- transactions, as an application does). pgbench cannot loop: a missed
-- update is a transaction that bought nothing (bench/run counts orders,
-- not transactions, as this peer's purchases).
\set ev random(1, :events)
\set q random(1, 4)
SELECT sold, version FROM event WHERE id = :ev \gset
WITH u AS (
    UPDATE event SET sold = sold + :q, version = version + 1
     WHERE id = :ev AND version = :version AND sold + :q <= capacity
    RETURNING id
)
INSERT INTO orders (event_id, qty) SELECT id, :q FROM u;
