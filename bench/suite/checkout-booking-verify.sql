-- W5 with booking: "key value" lines for bench/run (each query stands
-- alone). purchases: orders whose 3 items (2 pools, 1 seat pair) are all
-- confirmed. partial: orders with another count of confirmed items, plus
-- any live booking outside an order (there should be none). oversold: from
-- the rows, per pool, plus seats in two live bookings.
SELECT 'sold', coalesce(sum(spots), 0) FROM booking.booking
 WHERE kind = 'ticket' AND status = 'confirmed' AND pool_id BETWEEN :first_pool AND :last_pool;
SELECT 'purchases', count(*) FROM booking.orders o
 WHERE (SELECT count(*) FROM booking.booking b
         WHERE b.order_id = o.order_id AND b.status = 'confirmed') = 3;
SELECT 'partial', (SELECT count(*) FROM booking.orders o
                    WHERE (SELECT count(*) FROM booking.booking b
                            WHERE b.order_id = o.order_id AND b.status = 'confirmed') <> 3)
                + (SELECT count(*) FROM booking.booking b
                    WHERE b.order_id IS NULL AND b.status IN ('confirmed', 'held'));
SELECT 'oversold', (SELECT coalesce(sum(greatest(s.sold - p.capacity, 0)), 0)
                      FROM booking.pool p
                      JOIN (SELECT pool_id, sum(spots) AS sold FROM booking.booking
                             WHERE kind = 'ticket' AND status = 'confirmed' GROUP BY pool_id) s USING (pool_id)
                     WHERE p.pool_id BETWEEN :first_pool AND :last_pool)
                 + (SELECT count(*) FROM (SELECT u.seat_id FROM booking.booking b, unnest(b.seat_ids) AS u(seat_id)
                                           WHERE b.kind = 'seats' AND b.status IN ('confirmed', 'held')
                                           GROUP BY u.seat_id HAVING count(*) > 1) AS twice);
SELECT 'counter_oversold', coalesce(sum(greatest(confirmed + held - capacity, 0)), 0)
  FROM booking.pool WHERE pool_id BETWEEN :first_pool AND :last_pool;
SELECT 'capacity', sum(capacity) FROM booking.pool WHERE pool_id BETWEEN :first_pool AND :last_pool;
SELECT 'shards', max(shards) FROM booking.pool WHERE pool_id BETWEEN :first_pool AND :last_pool;
SELECT 'check_problems', count(*) FROM booking.check();
