-- booking_proxy 1.0 -> 1.1: browser callers (PostgREST) through the proxy.
\echo Use "ALTER EXTENSION booking_proxy UPDATE TO '1.1'" to load this file. \quit

-- With booking.holder_claim set on the proxy's database, a request that
-- carries request.jwt.claims (PostgREST) acts for the holder its claim
-- names, as on a node. The node cannot tell: PL/Proxy calls it on a
-- connection of its own, which carries no request claims, so the node would
-- take any holder it is given. So the proxy settles the holder before it
-- forwards the call: every customer function below passes its holder
-- through booking.claimed_holder (booking's library, the same rule as a
-- node's: the claim for a NULL holder, PT403 for another, 42501 without the
-- claim) to a PL/Proxy function that calls the node's.

CREATE FUNCTION booking.claimed_holder(holder text, needed boolean)
RETURNS text
AS '$libdir/booking', 'booking_claimed_holder'
LANGUAGE C STABLE;

CREATE FUNCTION booking.decrement_ticket_on(pool_id bigint, quantity integer, holder text, hold_for interval, idempotency_key text)
RETURNS booking.ticket_result
LANGUAGE plproxy VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
    CLUSTER 'booking';
    RUN ON booking.node_of(pool_id);
    TARGET booking.decrement_ticket;
$$;

CREATE OR REPLACE FUNCTION booking.decrement_ticket(pool_id bigint, quantity integer DEFAULT 1, holder text DEFAULT NULL,
                                         hold_for interval DEFAULT NULL, idempotency_key text DEFAULT NULL)
RETURNS booking.ticket_result
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$ SELECT * FROM booking.decrement_ticket_on(pool_id, quantity, booking.claimed_holder(holder, true), hold_for, idempotency_key) $$;

CREATE FUNCTION booking.register_on(pool_id bigint, spots integer, holder text, idempotency_key text)
RETURNS booking.register_result
LANGUAGE plproxy VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
    CLUSTER 'booking';
    RUN ON booking.node_of(pool_id);
    TARGET booking.register;
$$;

CREATE OR REPLACE FUNCTION booking.register(pool_id bigint, spots integer DEFAULT 1, holder text DEFAULT NULL,
                                 idempotency_key text DEFAULT NULL)
RETURNS booking.register_result
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$ SELECT * FROM booking.register_on(pool_id, spots, booking.claimed_holder(holder, true), idempotency_key) $$;

CREATE FUNCTION booking.reserve_seats_on(show_id bigint, seat_ids bigint[], holder text, hold_for interval, idempotency_key text)
RETURNS booking.seats_result
LANGUAGE plproxy VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
    CLUSTER 'booking';
    RUN ON booking.node_of(show_id);
    TARGET booking.reserve_seats;
$$;

CREATE OR REPLACE FUNCTION booking.reserve_seats(show_id bigint, seat_ids bigint[], holder text,
                                      hold_for interval DEFAULT '10 minutes', idempotency_key text DEFAULT NULL)
RETURNS booking.seats_result
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$ SELECT * FROM booking.reserve_seats_on(show_id, seat_ids, booking.claimed_holder(holder, true), hold_for, idempotency_key) $$;

CREATE FUNCTION booking.reserve_best_available_on(show_id bigint, quantity integer, holder text, section text, hold_for interval, idempotency_key text)
RETURNS booking.seats_result
LANGUAGE plproxy VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
    CLUSTER 'booking';
    RUN ON booking.node_of(show_id);
    TARGET booking.reserve_best_available;
$$;

CREATE OR REPLACE FUNCTION booking.reserve_best_available(show_id bigint, quantity integer, holder text,
                                               section text DEFAULT NULL, hold_for interval DEFAULT '10 minutes',
                                               idempotency_key text DEFAULT NULL)
RETURNS booking.seats_result
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$ SELECT * FROM booking.reserve_best_available_on(show_id, quantity, booking.claimed_holder(holder, true), section, hold_for, idempotency_key) $$;

CREATE FUNCTION booking.reserve_slot_on(resource_id bigint, starts_at timestamptz, ends_at timestamptz, holder text, hold_for interval, payment_ref text, idempotency_key text)
RETURNS booking.slot_result
LANGUAGE plproxy VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
    CLUSTER 'booking';
    RUN ON booking.node_of(resource_id);
    TARGET booking.reserve_slot;
$$;

CREATE OR REPLACE FUNCTION booking.reserve_slot(resource_id bigint, starts_at timestamptz, ends_at timestamptz, holder text,
                                     hold_for interval DEFAULT '15 minutes', payment_ref text DEFAULT NULL,
                                     idempotency_key text DEFAULT NULL)
RETURNS booking.slot_result
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$ SELECT * FROM booking.reserve_slot_on(resource_id, starts_at, ends_at, booking.claimed_holder(holder, true), hold_for, payment_ref, idempotency_key) $$;

CREATE FUNCTION booking.confirm_on(booking_id bigint, holder text, payment_ref text)
RETURNS booking.confirm_result
LANGUAGE plproxy VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
    CLUSTER 'booking';
    RUN ON booking.node_of(booking_id);
    TARGET booking.confirm;
$$;

CREATE OR REPLACE FUNCTION booking.confirm(booking_id bigint, holder text DEFAULT NULL, payment_ref text DEFAULT NULL)
RETURNS booking.confirm_result
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$ SELECT * FROM booking.confirm_on(booking_id, booking.claimed_holder(holder, true), payment_ref) $$;

CREATE FUNCTION booking.release_on(booking_id bigint, holder text)
RETURNS booking.release_result
LANGUAGE plproxy VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
    CLUSTER 'booking';
    RUN ON booking.node_of(booking_id);
    TARGET booking.release;
$$;

CREATE OR REPLACE FUNCTION booking.release(booking_id bigint, holder text DEFAULT NULL)
RETURNS booking.release_result
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$ SELECT * FROM booking.release_on(booking_id, booking.claimed_holder(holder, true)) $$;

CREATE FUNCTION booking.extend_hold_on(booking_id bigint, holder text, hold_for interval)
RETURNS booking.hold_result
LANGUAGE plproxy VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
    CLUSTER 'booking';
    RUN ON booking.node_of(booking_id);
    TARGET booking.extend_hold;
$$;

CREATE OR REPLACE FUNCTION booking.extend_hold(booking_id bigint, holder text DEFAULT NULL,
                                    hold_for interval DEFAULT '10 minutes')
RETURNS booking.hold_result
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$ SELECT * FROM booking.extend_hold_on(booking_id, booking.claimed_holder(holder, true), hold_for) $$;

-- A seat map marks as "mine" only the request's own seats.
CREATE OR REPLACE FUNCTION booking.seat_map(show_id bigint, holder text DEFAULT NULL)
RETURNS TABLE (seat_id bigint, section text, row_label text, number integer, status text, mine boolean,
               held_until timestamptz, booking_id bigint)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
ROWS 1000
AS $$ SELECT * FROM booking.seat_map_on(show_id, booking.claimed_holder(holder, false)) $$;

-- A customer's own bookings, from every node (a holder's bookings may be on
-- any), in booking order.
CREATE TYPE booking.my_booking AS (booking_id bigint, order_id bigint, kind text, pool_id bigint, show_id bigint,
                                   resource_id bigint, spots integer, seat_ids bigint[], status text,
                                   held_until timestamptz, starts_at timestamptz, ends_at timestamptz,
                                   waitlist_position integer);

CREATE FUNCTION booking.my_bookings_all(holder text)
RETURNS SETOF booking.my_booking
LANGUAGE plproxy VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
    CLUSTER 'booking';
    RUN ON ALL;
    TARGET booking.my_bookings;
$$;

CREATE FUNCTION booking.my_bookings(holder text DEFAULT NULL)
RETURNS SETOF booking.my_booking
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
ROWS 20
AS $$ SELECT * FROM booking.my_bookings_all(booking.claimed_holder(holder, true)) AS b ORDER BY b.booking_id $$;

-- The helpers run only inside the functions above.
REVOKE ALL ON FUNCTION booking.claimed_holder(text, boolean) FROM PUBLIC;
REVOKE ALL ON FUNCTION booking.decrement_ticket_on(bigint, integer, text, interval, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION booking.register_on(bigint, integer, text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION booking.reserve_seats_on(bigint, bigint[], text, interval, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION booking.reserve_best_available_on(bigint, integer, text, text, interval, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION booking.reserve_slot_on(bigint, timestamptz, timestamptz, text, interval, text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION booking.confirm_on(bigint, text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION booking.release_on(bigint, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION booking.extend_hold_on(bigint, text, interval) FROM PUBLIC;
REVOKE ALL ON FUNCTION booking.my_bookings_all(text) FROM PUBLIC;
