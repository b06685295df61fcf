-- Prints "key value" lines for bench/run. oversold is computed from the
-- order rows, event by event; counter_oversold from the sold counters
-- (0 too for the peer that never moves them).
SELECT 'sold', coalesce(sum(qty), 0) FROM orders;
SELECT 'purchases', count(*) FROM orders;
SELECT 'oversold', coalesce(sum(greatest(o.sold - e.capacity, 0)), 0)
  FROM event e JOIN (SELECT event_id, sum(qty) AS sold FROM orders GROUP BY event_id) o
    ON o.event_id = e.id;
SELECT 'counter_oversold', coalesce(sum(greatest(sold - capacity, 0)), 0) FROM event;
-- Events whose counter disagrees with their orders (the counting peer
-- keeps no counter: it is not checked).
SELECT 'counter_off', count(*) FROM event e
 WHERE e.sold > 0 AND e.sold <> (SELECT coalesce(sum(qty), 0) FROM orders o WHERE o.event_id = e.id);
SELECT 'capacity', sum(capacity) FROM event;
