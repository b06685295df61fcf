-- A take on a shard runs in no subtransaction (issue 18): a transaction of
-- 200 takes uses one transaction id, where a subtransaction per take used
-- one more each (past 64 the backend's subxid cache overflows and every
-- snapshot in the cluster reads pg_subtrans). Counted by the ids consumed
-- between two transactions of their own: the batch's and the last one's.
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS booking CASCADE;
CREATE EXTENSION booking;
RESET client_min_messages;

SELECT booking.create_pool(1000, 'batch', shards => 4) AS pool \gset

SELECT pg_current_xact_id()::text::bigint AS before \gset
BEGIN;
SELECT t.status, count(*) FROM generate_series(1, 200) AS g,
       LATERAL booking.decrement_ticket(:pool, 1 + 0 * g) AS t  -- one call per g
 GROUP BY t.status;
-- and a few that go another way: held, keyed (the pool row), a second key
SELECT status FROM booking.decrement_ticket(:pool, 2, 'h', '10 minutes');
SELECT status FROM booking.decrement_ticket(:pool, 1, idempotency_key => 'k');
SELECT status FROM booking.decrement_ticket(:pool, 1);
COMMIT;
SELECT pg_current_xact_id()::text::bigint - :before AS xids_used;

SELECT capacity, confirmed, held, available FROM booking.pool_status WHERE pool_id = :pool;
SELECT count(*) AS problems FROM booking.check();

DROP EXTENSION booking CASCADE;
