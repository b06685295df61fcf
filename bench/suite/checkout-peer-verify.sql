-- W5's peer: "key value" lines for bench/run. purchases: orders with both
-- ticket lines and 2 seats; partial: orders with another number of seats.
-- oversold from the order rows, event by event; counter_off: events whose
-- sold counter is not the sum of their order lines (a ticket line taken
-- without its order).
SELECT 'sold', coalesce(sum(hot_qty + spread_qty), 0) FROM orders;
SELECT 'purchases', count(*) FROM orders o WHERE (SELECT count(*) FROM seat s WHERE s.order_id = o.id) = 2;
SELECT 'partial', count(*) FROM orders o WHERE (SELECT count(*) FROM seat s WHERE s.order_id = o.id) <> 2;
SELECT 'oversold', coalesce(sum(greatest(l.sold - e.capacity, 0)), 0)
  FROM event e
  JOIN (SELECT event_id, sum(qty) AS sold
          FROM (SELECT hot_id AS event_id, hot_qty AS qty FROM orders
                UNION ALL SELECT spread_id, spread_qty FROM orders) AS lines GROUP BY event_id) l
    ON l.event_id = e.id;
SELECT 'counter_oversold', coalesce(sum(greatest(sold - capacity, 0)), 0) FROM event;
SELECT 'counter_off', count(*) FROM event e
 WHERE e.sold <> (SELECT coalesce(sum(qty), 0)
                    FROM (SELECT hot_qty AS qty FROM orders WHERE hot_id = e.id
                          UNION ALL SELECT spread_qty FROM orders WHERE spread_id = e.id) AS lines);
SELECT 'capacity', sum(capacity) FROM event;
