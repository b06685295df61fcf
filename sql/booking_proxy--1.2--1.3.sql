-- booking_proxy 1.2 -> 1.3: the customer calls forward in C.
\echo Use "ALTER EXTENSION booking_proxy UPDATE TO '1.3'" to load this file. \quit

-- Each customer call settled its holder and called its PL/Proxy function
-- X_on from a SQL function. PostgreSQL before 18 plans a SQL function's
-- body again in every query that calls it, prepared or not: about a fifth of
-- the proxy's CPU per purchase. booking_proxy_forward (booking's library,
-- src/proxy.cpp) does the same in C: the holder as booking.claimed_holder
-- settles it (the claim for a NULL holder, PT403 for another, 42501 without
-- the claim), then booking.X_on with the other arguments as given. Same
-- names, arguments, defaults, results, planner cost (100: each is a round
-- trip to a node, not a C function's default of 1) and privileges; still
-- run as the extension owner; search_path is pinned by the code, which
-- resolves no name through it, as on a node.

CREATE OR REPLACE FUNCTION booking.decrement_ticket(pool_id bigint, quantity integer DEFAULT 1, holder text DEFAULT NULL, hold_for interval DEFAULT NULL, idempotency_key text DEFAULT NULL)
RETURNS booking.ticket_result
LANGUAGE C VOLATILE SECURITY DEFINER COST 100
AS '$libdir/booking', 'booking_proxy_forward';

CREATE OR REPLACE FUNCTION booking.register(pool_id bigint, spots integer DEFAULT 1, holder text DEFAULT NULL, idempotency_key text DEFAULT NULL)
RETURNS booking.register_result
LANGUAGE C VOLATILE SECURITY DEFINER COST 100
AS '$libdir/booking', 'booking_proxy_forward';

CREATE OR REPLACE FUNCTION booking.reserve_seats(show_id bigint, seat_ids bigint[], holder text, hold_for interval DEFAULT '10 minutes', idempotency_key text DEFAULT NULL)
RETURNS booking.seats_result
LANGUAGE C VOLATILE SECURITY DEFINER COST 100
AS '$libdir/booking', 'booking_proxy_forward';

CREATE OR REPLACE FUNCTION booking.reserve_best_available(show_id bigint, quantity integer, holder text, section text DEFAULT NULL, hold_for interval DEFAULT '10 minutes', idempotency_key text DEFAULT NULL)
RETURNS booking.seats_result
LANGUAGE C VOLATILE SECURITY DEFINER COST 100
AS '$libdir/booking', 'booking_proxy_forward';

CREATE OR REPLACE FUNCTION booking.reserve_slot(resource_id bigint, starts_at timestamptz, ends_at timestamptz, holder text, hold_for interval DEFAULT '15 minutes', payment_ref text DEFAULT NULL, idempotency_key text DEFAULT NULL)
RETURNS booking.slot_result
LANGUAGE C VOLATILE SECURITY DEFINER COST 100
AS '$libdir/booking', 'booking_proxy_forward';

CREATE OR REPLACE FUNCTION booking.confirm(booking_id bigint, holder text DEFAULT NULL, payment_ref text DEFAULT NULL)
RETURNS booking.confirm_result
LANGUAGE C VOLATILE SECURITY DEFINER COST 100
AS '$libdir/booking', 'booking_proxy_forward';

CREATE OR REPLACE FUNCTION booking.release(booking_id bigint, holder text DEFAULT NULL)
RETURNS booking.release_result
LANGUAGE C VOLATILE SECURITY DEFINER COST 100
AS '$libdir/booking', 'booking_proxy_forward';

CREATE OR REPLACE FUNCTION booking.extend_hold(booking_id bigint, holder text DEFAULT NULL, hold_for interval DEFAULT '10 minutes')
RETURNS booking.hold_result
LANGUAGE C VOLATILE SECURITY DEFINER COST 100
AS '$libdir/booking', 'booking_proxy_forward';

CREATE OR REPLACE FUNCTION booking.reserve_order(items jsonb, holder text DEFAULT NULL, hold_for interval DEFAULT '15 minutes', payment_ref text DEFAULT NULL, idempotency_key text DEFAULT NULL)
RETURNS booking.order_result
LANGUAGE C VOLATILE SECURITY DEFINER COST 100
AS '$libdir/booking', 'booking_proxy_forward';

CREATE OR REPLACE FUNCTION booking.confirm_order(order_id bigint, holder text DEFAULT NULL, payment_ref text DEFAULT NULL)
RETURNS booking.confirm_result
LANGUAGE C VOLATILE SECURITY DEFINER COST 100
AS '$libdir/booking', 'booking_proxy_forward';

CREATE OR REPLACE FUNCTION booking.release_order(order_id bigint, holder text DEFAULT NULL)
RETURNS booking.release_result
LANGUAGE C VOLATILE SECURITY DEFINER COST 100
AS '$libdir/booking', 'booking_proxy_forward';

CREATE OR REPLACE FUNCTION booking.extend_order(order_id bigint, holder text DEFAULT NULL, hold_for interval DEFAULT '10 minutes')
RETURNS booking.hold_result
LANGUAGE C VOLATILE SECURITY DEFINER COST 100
AS '$libdir/booking', 'booking_proxy_forward';
