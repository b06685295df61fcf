-- Prints "key value" lines for bench/run. Each query stands alone (psql
-- runs without ON_ERROR_STOP), so one failing check does not hide others.
-- oversold is computed from the booking rows, pool by pool; counter_oversold
-- from the pools' counters.
SELECT 'sold', coalesce(sum(spots), 0) FROM booking.booking
 WHERE kind = 'ticket' AND status = 'confirmed' AND pool_id BETWEEN :first_pool AND :last_pool;
SELECT 'purchases', count(*) FROM booking.booking
 WHERE kind = 'ticket' AND status = 'confirmed' AND pool_id BETWEEN :first_pool AND :last_pool;
SELECT 'oversold', coalesce(sum(greatest(s.sold - p.capacity, 0)), 0)
  FROM booking.pool p
  JOIN (SELECT pool_id, sum(spots) AS sold FROM booking.booking
         WHERE kind = 'ticket' AND status = 'confirmed' GROUP BY pool_id) s USING (pool_id)
 WHERE p.pool_id BETWEEN :first_pool AND :last_pool;
SELECT 'counter_oversold', coalesce(sum(greatest(confirmed + held - capacity, 0)), 0)
  FROM booking.pool WHERE pool_id BETWEEN :first_pool AND :last_pool;
SELECT 'capacity', sum(capacity) FROM booking.pool WHERE pool_id BETWEEN :first_pool AND :last_pool;
SELECT 'shards', string_agg(DISTINCT shards::text, ',') FROM booking.pool
 WHERE pool_id BETWEEN :first_pool AND :last_pool;
SELECT 'check_problems', count(*) FROM booking.check();
