-- Orders (1.6): a cart of pools, seats and slots held, paid and lost
-- together in one call; every error of the items; the single-booking calls
-- refuse an order's bookings.
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS booking CASCADE;
CREATE EXTENSION booking;
RESET client_min_messages;

CREATE OR REPLACE FUNCTION public.raised(statement text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE statement;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ': ' || SQLERRM;
END $$;

-- What is taken everywhere, to show that a refused order changed nothing.
CREATE OR REPLACE FUNCTION public.taken() RETURNS text LANGUAGE sql AS $$
    SELECT format('pools %s | seats %s | slots %s | orders %s | bookings %s',
                  (SELECT string_agg(format('%s:%s+%s', pool_id, confirmed, held), ' ' ORDER BY pool_id)
                     FROM booking.pool_status),
                  (SELECT count(*) FROM booking.seats WHERE status <> 'available'),
                  (SELECT count(*) FROM booking.bookings WHERE kind = 'slot' AND status IN ('held', 'confirmed')),
                  (SELECT count(*) FROM booking.orders),
                  (SELECT count(*) FROM booking.booking))
$$;

SELECT booking.create_pool(100, 'venue') AS venue \gset
SELECT booking.create_pool(2, 'adult', parent_id => :venue) AS adult \gset
SELECT booking.create_pool(10, 'child', parent_id => :venue, max_per_holder => 2) AS child \gset
SELECT booking.create_pool(1000, 'parking', shards => 4) AS parking \gset
SELECT booking.create_show('Hamlet') AS show \gset
SELECT cardinality(booking.add_seats(:show, 'stalls', 'A', 1, 8)) AS seats;   -- seats 1..8
SELECT booking.create_resource('room', 1) AS room \gset

-- A cart of every kind: one booking per item, in item order, one hold.
SELECT order_id, status, held_until = now() + interval '15 minutes' AS held_15_min,
       cardinality(booking_ids) AS items, unavailable
  FROM booking.reserve_order(jsonb_build_array(
           jsonb_build_object('pool_id', :adult, 'quantity', 2),
           jsonb_build_object('show_id', :show, 'seat_ids', jsonb_build_array(5, 4)),
           jsonb_build_object('pool_id', :parking),
           jsonb_build_object('resource_id', :room, 'starts_at', '2030-01-01 10:00+00', 'ends_at', '2030-01-01 11:00+00'),
           jsonb_build_object('show_id', :show, 'best_available', 2, 'section', 'stalls')),
       holder => 'ann', payment_ref => 'pay-1');
SELECT booking_id, order_id, kind, pool_id, spots, seat_ids, status FROM booking.bookings ORDER BY booking_id;
SELECT count(DISTINCT held_until) AS one_hold_end FROM booking.bookings;
SELECT (booking.reserve_order('[{"pool_id": 1}]', 'x')).booking_ids IS NOT NULL AS venue_still_sells;
SELECT public.taken();
-- the items in item order: the pool of item 0 first, the slot as item 3
SELECT u.i - 1 AS item, b.kind FROM booking.orders o, unnest(o.booking_ids) WITH ORDINALITY AS u(id, i)
  JOIN booking.booking b ON b.booking_id = u.id WHERE o.order_id = 1 ORDER BY u.i;
SELECT order_id, kind, status FROM booking.my_bookings('ann') ORDER BY booking_id;
SELECT seat_id, status, mine, order_id FROM booking.seat_map(:show, 'ann') WHERE status <> 'available' ORDER BY seat_id;
SELECT seat_id, order_id FROM booking.seats WHERE order_id IS NOT NULL ORDER BY seat_id;

-- All or nothing: a sold-out pool and taken seats refuse the whole cart,
-- and unavailable names every failing item (the seats someone else has).
SELECT public.taken() AS before \gset
SELECT order_id, status, held_until, booking_ids, unavailable
  FROM booking.reserve_order(jsonb_build_array(
           jsonb_build_object('pool_id', :child, 'quantity', 1),
           jsonb_build_object('pool_id', :adult, 'quantity', 1),
           jsonb_build_object('show_id', :show, 'seat_ids', jsonb_build_array(3, 4, 5))),
       holder => 'bob');
SELECT public.taken() = :'before' AS nothing_changed;
-- the cap of a pool: limit_exceeded, named by its item
SELECT status, unavailable FROM booking.reserve_order(
    jsonb_build_array(jsonb_build_object('pool_id', :parking), jsonb_build_object('pool_id', :child, 'quantity', 3)),
    holder => 'bob');
-- a range the room has no room for: conflict
SELECT status, unavailable FROM booking.reserve_order(jsonb_build_array(
    jsonb_build_object('resource_id', :room, 'starts_at', '2030-01-01 10:30+00', 'ends_at', '2030-01-01 12:00+00')),
    holder => 'bob');
SELECT public.taken() = :'before' AS nothing_changed;

-- The single-booking calls refuse an order's bookings: it changes as one.
SELECT public.raised('SELECT booking.release(2, ''ann'')');
SELECT public.raised('SELECT booking.confirm(2, ''ann'')');
SELECT public.raised('SELECT booking.extend_hold(2, ''ann'')');
SELECT public.raised('SELECT booking.cancel(2)');
-- nor do they move a seat of an order to a new hold of the same holder
SELECT status, unavailable FROM booking.reserve_seats(:show, ARRAY[4]::bigint[], 'ann');

-- Only the holder changes an order.
SELECT public.raised('SELECT booking.confirm_order(1, ''bob'')');
SELECT public.raised('SELECT booking.release_order(1)');
SELECT public.raised('SELECT booking.extend_order(1, ''mallory'')');

-- extend_order moves every item's hold end.
SELECT status, held_until = now() + interval '30 minutes' AS moved FROM booking.extend_order(1, 'ann', '30 minutes');
SELECT count(DISTINCT held_until) AS one_end, min(held_until) > now() + interval '29 minutes' AS moved
  FROM booking.booking WHERE order_id = 1;

-- confirm_payment of an order's reference confirms every item.
SELECT * FROM booking.confirm_payment('pay-1');
SELECT status, count(*) FROM booking.bookings WHERE order_id = 1 GROUP BY status;
SELECT * FROM booking.confirm_order(1, 'ann');   -- again: confirmed
SELECT public.raised('SELECT booking.extend_order(1, ''ann'')');

-- release_order gives everything back once, and promotes a pool's waitlist
-- in the same transaction.
SELECT booking_id AS waiting FROM booking.register(:adult, 1, 'carl') \gset
SELECT booking_id AS order_id, status, released, promoted = ARRAY[:waiting]::bigint[] AS promoted_carl
  FROM booking.release_order(1, 'ann');
SELECT status, released, promoted FROM booking.release_order(1, 'ann');   -- again: nothing more
SELECT status, count(*) FROM booking.bookings WHERE order_id = 1 GROUP BY status;
SELECT public.raised('SELECT booking.confirm_order(1, ''ann'')');
SELECT seat_id, status FROM booking.seats WHERE seat_id BETWEEN 3 AND 6 ORDER BY seat_id;

-- hold_for NULL buys outright: every item confirmed.
SELECT order_id AS bought, status, held_until IS NULL AS no_end FROM booking.reserve_order(jsonb_build_array(
    jsonb_build_object('show_id', :show, 'seat_ids', jsonb_build_array(7, 8)),
    jsonb_build_object('pool_id', :parking, 'quantity', 3)), holder => 'dora', hold_for => NULL) \gset
SELECT :'status' AS status, :'no_end' AS no_end;
SELECT kind, status, held_until FROM booking.bookings WHERE order_id = :bought ORDER BY booking_id;
SELECT seat_id, status FROM booking.seats WHERE seat_id IN (7, 8) ORDER BY seat_id;

-- A retried checkout with the same key returns the same order and takes
-- nothing more; another holder's key is another order.
SELECT order_id AS keyed, booking_ids AS keyed_ids FROM booking.reserve_order(
    '[{"pool_id": 3, "quantity": 2}]', 'eve', idempotency_key => 'cart-1') \gset
SELECT public.taken() AS before \gset
SELECT order_id = :keyed AS same_order, booking_ids = :'keyed_ids' AS same_bookings, status
  FROM booking.reserve_order('[{"pool_id": 3, "quantity": 2}]', 'eve', idempotency_key => 'cart-1');
SELECT public.taken() = :'before' AS nothing_more;
SELECT order_id <> :keyed AS new_order FROM booking.reserve_order('[{"pool_id": 4}]', 'fay', idempotency_key => 'cart-1');

-- cancel_order: an organiser's; customers may not call it.
SELECT status, released FROM booking.cancel_order(:keyed);
CREATE ROLE regress_order_buyer;
SET ROLE regress_order_buyer;
SELECT public.raised('SELECT booking.cancel_order(1)');
SELECT status FROM booking.reserve_order('[{"pool_id": 4}]', 'gil');
RESET ROLE;
-- An order made without a holder is changed by an organiser only, as a
-- booking without one: a customer who guesses its id may not (confirm_order,
-- release_order and extend_order must see who called them, which SECURITY
-- DEFINER hides).
SELECT order_id AS anonymous FROM booking.reserve_order('[{"pool_id": 4}]', hold_for => '1 minute') \gset
SET ROLE regress_order_buyer;
SELECT public.raised(format('SELECT booking.release_order(%s)', :anonymous));
SELECT public.raised(format('SELECT booking.confirm_order(%s)', :anonymous));
SELECT public.raised(format('SELECT booking.extend_order(%s, hold_for => ''1 day'')', :anonymous));
RESET ROLE;
SELECT status, held_until = now() + interval '1 minute' AS unchanged FROM booking.bookings WHERE order_id = :anonymous;
SELECT status, released FROM booking.release_order(:anonymous);   -- an organiser may

-- A late payment confirms only if every item is still free; else the whole
-- order is expired, once.
BEGIN;
SELECT order_id AS late FROM booking.reserve_order(jsonb_build_array(
    jsonb_build_object('pool_id', :parking), jsonb_build_object('show_id', :show, 'seat_ids', jsonb_build_array(1))),
    'hal', hold_for => '1 millisecond', payment_ref => 'pay-late') \gset
COMMIT;
SELECT pg_sleep(0.01);
SELECT status FROM booking.reserve_seats(:show, ARRAY[1]::bigint[], 'ivy');   -- the lapsed seat goes to ivy
SELECT * FROM booking.confirm_payment('pay-late');
SELECT kind, status FROM booking.booking WHERE order_id = :late ORDER BY booking_id;
SELECT seat_id, status FROM booking.seats WHERE seat_id = 1;
-- and a lapsed order whose items are all still free is confirmed
BEGIN;
SELECT order_id AS late2 FROM booking.reserve_order(jsonb_build_array(
    jsonb_build_object('pool_id', :parking), jsonb_build_object('show_id', :show, 'seat_ids', jsonb_build_array(2))),
    'hal', hold_for => '1 millisecond') \gset
COMMIT;
SELECT pg_sleep(0.01);
SELECT * FROM booking.confirm_order(:late2, 'hal');
SELECT kind, status FROM booking.booking WHERE order_id = :late2 ORDER BY booking_id;

-- Bad input: a clear error naming the item, and nothing changed.
SELECT public.taken() AS before \gset
SELECT public.raised(format('SELECT booking.reserve_order(%L, ''x'')', i)) AS error
  FROM (VALUES (NULL), ('{}'), ('[]'), ('"pool"'), ('[1]'), ('[{"pool_id": 3}, []]'), ('[{"seat_ids": [1]}]'),
               ('[{"show_id": 1}]'), ('[{"pool_id": 3, "spots": 2}]'), ('[{"pool_id": null}]'),
               ('[{"pool_id": "3"}]'), ('[{"pool_id": 3.5}]'), ('[{"pool_id": 3, "quantity": 0}]'),
               ('[{"pool_id": 3, "quantity": 99999999999}]'), ('[{"pool_id": 3, "quantity": true}]'),
               ('[{"show_id": 1, "seat_ids": []}]'), ('[{"show_id": 1, "seat_ids": ["1"]}]'),
               ('[{"show_id": 1, "seat_ids": 1}]'), ('[{"show_id": 1, "best_available": 2, "section": 3}]'),
               ('[{"resource_id": 1, "starts_at": "soon", "ends_at": "2030-01-01"}]'),
               ('[{"resource_id": 1, "starts_at": "2030-01-02", "ends_at": "2030-01-01"}]'),
               ('[{"resource_id": 1, "starts_at": "2030-01-01"}]'),
               ('[{"resource_id": 1, "starts_at": "-infinity", "ends_at": "2030-01-01"}]'),
               ('[{"pool_id": 3}, {"pool_id": 3}]'),
               ('[{"show_id": 1, "seat_ids": [1, 2]}, {"show_id": 1, "seat_ids": [2]}]'),
               ('[{"show_id": 1, "seat_ids": [3, 3]}]'),
               ('[{"pool_id": 999}]'), ('[{"show_id": 999, "seat_ids": [1]}]'), ('[{"show_id": 1, "seat_ids": [999]}]'),
               ('[{"resource_id": 999, "starts_at": "2030-01-01", "ends_at": "2030-01-02"}]')) AS v(i);
SELECT public.raised(format('SELECT booking.reserve_order(%L)', '[{"show_id": 1, "seat_ids": [3]}]'));
SELECT public.raised(format('SELECT booking.reserve_order(%L, ''x'')',
                            (SELECT jsonb_agg(jsonb_build_object('pool_id', 3)) FROM generate_series(1, 101))));
-- a seat item holds at most as many seats as reserve_seats does (10000)
SELECT public.raised(format('SELECT booking.reserve_order(%L, ''x'')',
                            (SELECT jsonb_build_array(jsonb_build_object('show_id', 1, 'seat_ids', jsonb_agg(g)))
                               FROM generate_series(1, 10001) AS g)));
SELECT public.raised('SELECT booking.reserve_order(''[{"pool_id": 3}]'', ''x'', hold_for => ''-1 minute'')');
SELECT public.raised('SELECT booking.reserve_order(''[{"pool_id": 3}]'', repeat(''h'', 300))');
SELECT public.raised('SELECT booking.reserve_order(''[{"pool_id": 3}]'', ''x'', payment_ref => ''pay-1'')');
SELECT public.raised('SELECT booking.confirm_order(NULL)');
SELECT public.raised('SELECT booking.confirm_order(999)');
SELECT public.raised('SELECT booking.release_order(999)');
SELECT public.raised('SELECT booking.extend_order(1, ''ann'', NULL)');
SELECT public.taken() = :'before' AS nothing_changed;

-- A payment reference names one live hold, purchase or order: a single
-- booking may not take the reference of a live order (confirm_payment would
-- confirm the order and never it), and once the order is given back, its
-- reference confirms the single booking that carries it now.
SELECT order_id AS paid FROM booking.reserve_order('[{"pool_id": 4}]', 'kim', payment_ref => 'pay-shared') \gset
SELECT public.raised(format('SELECT booking.reserve_slot(%s, ''2031-01-01 10:00+00'', ''2031-01-01 11:00+00'','
                            ' ''lou'', payment_ref => ''pay-shared'')', :room))
       = format('22023: payment_ref pay-shared is already used by order %s', :paid) AS refused;
SELECT booking_id AS lou_ticket FROM booking.decrement_ticket(4, 1, 'lou', hold_for => '5 minutes') \gset
SELECT public.raised(format('SELECT booking.confirm(%s, ''lou'', ''pay-shared'')', :lou_ticket))
       = format('22023: payment_ref pay-shared is already used by order %s', :paid) AS refused;
SELECT status FROM booking.release_order(:paid, 'kim');
SELECT booking_id AS lou_slot FROM booking.reserve_slot(:room, '2031-01-01 10:00+00', '2031-01-01 11:00+00', 'lou',
                                                        payment_ref => 'pay-shared') \gset
SELECT booking_id = :lou_slot AS lou_slot, status FROM booking.confirm_payment('pay-shared');
SELECT status FROM booking.bookings WHERE order_id = :paid;

SELECT * FROM booking.check();
