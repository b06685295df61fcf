-- After the churn: invariants, counters against rows, and FIFO order.
\pset footer off
SELECT count(*) AS check_problems FROM booking.check();

SELECT count(*) AS pools_over_capacity FROM booking.pool_status WHERE confirmed + held > capacity;

SELECT count(*) AS counters_off FROM booking.pool p
 WHERE p.confirmed <> (SELECT coalesce(sum(spots), 0) FROM booking.booking b
                        WHERE b.pool_id = p.pool_id AND b.status = 'confirmed')
    OR p.waitlisted <> (SELECT coalesce(sum(spots), 0) FROM booking.booking b
                         WHERE b.pool_id = p.pool_id AND b.status = 'waitlisted');

-- Strict FIFO: no booking was confirmed (on registration or by promotion)
-- while an older booking of the same pool was waiting and stayed waiting
-- after that transaction.
WITH waits AS (
    SELECT booking_id, pool_id,
           min(seq) FILTER (WHERE new_status = 'waitlisted') AS since,
           min(seq) FILTER (WHERE old_status = 'waitlisted') AS until,
           min(txid) FILTER (WHERE old_status = 'waitlisted') AS until_txid
      FROM churn_audit GROUP BY booking_id, pool_id
)
SELECT count(*) AS fifo_violations
  FROM churn_audit c
  JOIN waits w ON w.pool_id = c.pool_id AND w.booking_id < c.booking_id
 WHERE c.new_status = 'confirmed' AND c.old_status IS DISTINCT FROM 'held'
   AND w.since < c.seq
   AND (w.until IS NULL OR (w.until > c.seq AND w.until_txid <> c.txid));

SELECT count(*) FILTER (WHERE old_status IS NULL AND new_status = 'confirmed') AS confirmed_on_register,
       count(*) FILTER (WHERE old_status IS NULL AND new_status = 'waitlisted') AS waitlisted,
       count(*) FILTER (WHERE old_status = 'waitlisted' AND new_status = 'confirmed') AS promoted,
       count(*) FILTER (WHERE new_status = 'released') AS released
  FROM churn_audit;
