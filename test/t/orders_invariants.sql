-- What must hold of orders after a load (issue 21), for the TAP tests that
-- place orders under load (019_orders_load, 009_crash_recovery). Written
-- apart from booking.check(), so that a mistake there cannot hide one.

-- Orders that are not whole: bookings that are not exactly the order's
-- booking_ids (each carrying its order_id), or items in different states
-- as a reader sees them: all held until one time, all confirmed, or all
-- given back. Released, expired and held past the end count as given back
-- alike: a sweep with a limit may expire some items of a lapsed order
-- before the others, and a release then finds those already expired.
CREATE FUNCTION public.partial_orders()
RETURNS TABLE (order_id bigint, problem text) LANGUAGE sql STABLE AS $$
    SELECT o.order_id, format('bookings %s are not its items %s', coalesce(x.ids, '{}'), o.booking_ids)
      FROM booking.orders o
      LEFT JOIN (SELECT b.order_id, array_agg(b.booking_id ORDER BY b.booking_id) AS ids
                   FROM booking.booking b WHERE b.order_id IS NOT NULL GROUP BY b.order_id) x
             ON x.order_id = o.order_id
     WHERE cardinality(o.booking_ids) = 0
        OR x.ids IS DISTINCT FROM ARRAY(SELECT u FROM unnest(o.booking_ids) AS u ORDER BY u)
    UNION ALL
    SELECT b.order_id, format('booking %s names an order that does not exist', b.booking_id)
      FROM booking.booking b
     WHERE b.order_id IS NOT NULL AND NOT EXISTS (SELECT FROM booking.orders o WHERE o.order_id = b.order_id)
    UNION ALL
    SELECT s.order_id, format('items in states %s', string_agg(DISTINCT s.state, ', '))
      FROM (SELECT b.order_id,
                   CASE WHEN b.status = 'held' AND b.held_until > now() THEN 'held until ' || b.held_until
                        WHEN b.status IN ('released', 'expired', 'held') THEN 'given back'
                        ELSE b.status END AS state
              FROM booking.booking b WHERE b.order_id IS NOT NULL) s
     GROUP BY s.order_id HAVING count(DISTINCT s.state) > 1
$$;

-- Everything sold twice: a pool whose counters or live rows (confirmed, or
-- held and not lapsed; its descendants' included) exceed its capacity, a
-- seat in two live bookings, a moment of a resource covered by more live
-- slots than its capacity (counted at each live slot's start).
CREATE FUNCTION public.oversold()
RETURNS TABLE (object text, id bigint, problem text) LANGUAGE sql STABLE AS $$
    WITH live AS (
        SELECT * FROM booking.booking b
         WHERE b.status = 'confirmed' OR (b.status = 'held' AND b.held_until > now()))
    SELECT 'pool', s.pool_id, format('counters %s + %s > capacity %s', s.confirmed, s.held, s.capacity)
      FROM booking.pool_status s WHERE s.confirmed + s.held > s.capacity
    UNION ALL
    SELECT 'pool', p.pool_id, format('live rows take %s > capacity %s', sum(l.spots), p.capacity)
      FROM booking.pool p JOIN booking.pool c ON p.pool_id = ANY (c.path) JOIN live l ON l.pool_id = c.pool_id
     GROUP BY p.pool_id, p.capacity HAVING sum(l.spots) > p.capacity
    UNION ALL
    SELECT 'seat', u.seat, format('in live bookings %s', array_agg(l.booking_id ORDER BY l.booking_id))
      FROM live l, unnest(l.seat_ids) AS u(seat) WHERE l.kind = 'seats'
     GROUP BY u.seat HAVING count(*) > 1
    UNION ALL
    SELECT 'resource', r.resource_id, format('%s live slots at %s > capacity %s', count(*), x.starts_at, r.capacity)
      FROM booking.resource r JOIN live x ON x.resource_id = r.resource_id
      JOIN live y ON y.resource_id = r.resource_id AND y.starts_at <= x.starts_at AND x.starts_at < y.ends_at
     GROUP BY r.resource_id, r.capacity, x.booking_id, x.starts_at HAVING count(*) > r.capacity
$$;
