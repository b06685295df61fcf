-- Prints "key value" lines for bench/run.
SELECT 'sold', coalesce(sum(qty), 0) FROM orders;
SELECT 'purchases', count(*) FROM orders;
-- The counter only moves in the approaches that maintain it.
SELECT 'event.sold', sold FROM event WHERE id = 1 AND sold > 0;
SELECT 'last_sale_epoch', extract(epoch FROM max(created_at)) FROM orders;
