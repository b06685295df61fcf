-- booking_proxy 1.1 -> 1.2: orders (booking 1.6) through the proxy.
\echo Use "ALTER EXTENSION booking_proxy UPDATE TO '1.2'" to load this file. \quit

-- An order is all or nothing because one node takes all its items in one
-- local transaction. PL/Proxy runs each call in its own autocommit
-- transaction on one node, so the proxy cannot take items of two nodes
-- together: reserve_order runs on the node that holds every item, and an
-- order naming items of two nodes is refused (22023) before any node is
-- called. The other order calls are routed by the order id, node-aware
-- like every id.

CREATE TYPE booking.order_result AS (order_id bigint, status text, held_until timestamptz, booking_ids bigint[],
                                     unavailable jsonb);

-- The node of an order's items: each item's pool, resource or show id (in
-- the precedence the node reads them), modulo the partitions. What the
-- node refuses as bad input (not an array, no id, an id that is no
-- integer) is left to it: such items do not vote, and an order with no
-- readable id goes to node 0, which answers as one node would.
CREATE FUNCTION booking.order_node(items jsonb)
RETURNS bigint
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    parts integer := booking.partitions();
    a     record;
    seen  boolean := false;
    b     record;
BEGIN
    IF parts OPERATOR(pg_catalog.<) 1 THEN
        RETURN 0;
    END IF;
    FOR b IN
        SELECT x.item, x.kind, x.id,
               ((x.id OPERATOR(pg_catalog.%) parts) OPERATOR(pg_catalog.+) parts) OPERATOR(pg_catalog.%) parts AS node
          FROM (SELECT (e.i OPERATOR(pg_catalog.-) 1)::integer AS item, k.kind,
                       CASE WHEN pg_catalog.jsonb_typeof(e.v OPERATOR(pg_catalog.->) k.kind) OPERATOR(pg_catalog.=) 'number'
                             AND (e.v OPERATOR(pg_catalog.->>) k.kind) OPERATOR(pg_catalog.~) '^-?[0-9]{1,18}$'
                            THEN (e.v OPERATOR(pg_catalog.->>) k.kind)::bigint END AS id
                  FROM pg_catalog.jsonb_array_elements(CASE WHEN pg_catalog.jsonb_typeof(items) OPERATOR(pg_catalog.=) 'array'
                                                            THEN items END) WITH ORDINALITY AS e(v, i)
                 CROSS JOIN LATERAL (
                       SELECT c.kind FROM pg_catalog.unnest('{pool_id,resource_id,show_id}'::text[]) WITH ORDINALITY AS c(kind, o)
                        WHERE pg_catalog.jsonb_typeof(e.v) OPERATOR(pg_catalog.=) 'object'
                          AND e.v OPERATOR(pg_catalog.?) c.kind
                        ORDER BY c.o LIMIT 1) AS k) AS x
         WHERE x.id IS NOT NULL
         ORDER BY x.item
    LOOP
        IF NOT seen THEN
            a := b;
            seen := true;
        ELSIF b.node OPERATOR(pg_catalog.<>) a.node THEN
            RAISE EXCEPTION 'the items of an order must be on one node: item % (% %) is on node %, item % (% %) on node %',
                a.item, a.kind, a.id, a.node, b.item, b.kind, b.id, b.node
                USING ERRCODE = '22023',
                      DETAIL = 'An order is all or nothing only inside one database: each node commits its part in a transaction of its own, so items of two nodes cannot be taken together.',
                      HINT = 'Reserve the items of each node as an order of its own with a hold, and confirm the orders once every one is held (docs/cluster.md).';
        END IF;
    END LOOP;
    IF NOT seen THEN
        RETURN 0;
    END IF;
    RETURN a.node;
END
$$;

CREATE FUNCTION booking.reserve_order_on(items jsonb, holder text, hold_for interval, payment_ref text,
                                         idempotency_key text)
RETURNS booking.order_result
LANGUAGE plproxy VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
    CLUSTER 'booking';
    RUN ON booking.order_node(items);
    TARGET booking.reserve_order;
$$;

CREATE FUNCTION booking.reserve_order(items jsonb, holder text DEFAULT NULL, hold_for interval DEFAULT '15 minutes',
                                      payment_ref text DEFAULT NULL, idempotency_key text DEFAULT NULL)
RETURNS booking.order_result
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$ SELECT * FROM booking.reserve_order_on(items, booking.claimed_holder(holder, true), hold_for, payment_ref, idempotency_key) $$;

CREATE FUNCTION booking.confirm_order_on(order_id bigint, holder text, payment_ref text)
RETURNS booking.confirm_result
LANGUAGE plproxy VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
    CLUSTER 'booking';
    RUN ON booking.node_of(order_id);
    TARGET booking.confirm_order;
$$;

CREATE FUNCTION booking.confirm_order(order_id bigint, holder text DEFAULT NULL, payment_ref text DEFAULT NULL)
RETURNS booking.confirm_result
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$ SELECT * FROM booking.confirm_order_on(order_id, booking.claimed_holder(holder, true), payment_ref) $$;

CREATE FUNCTION booking.release_order_on(order_id bigint, holder text)
RETURNS booking.release_result
LANGUAGE plproxy VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
    CLUSTER 'booking';
    RUN ON booking.node_of(order_id);
    TARGET booking.release_order;
$$;

CREATE FUNCTION booking.release_order(order_id bigint, holder text DEFAULT NULL)
RETURNS booking.release_result
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$ SELECT * FROM booking.release_order_on(order_id, booking.claimed_holder(holder, true)) $$;

CREATE FUNCTION booking.extend_order_on(order_id bigint, holder text, hold_for interval)
RETURNS booking.hold_result
LANGUAGE plproxy VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
    CLUSTER 'booking';
    RUN ON booking.node_of(order_id);
    TARGET booking.extend_order;
$$;

CREATE FUNCTION booking.extend_order(order_id bigint, holder text DEFAULT NULL, hold_for interval DEFAULT '10 minutes')
RETURNS booking.hold_result
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$ SELECT * FROM booking.extend_order_on(order_id, booking.claimed_holder(holder, true), hold_for) $$;

-- An organiser's call, as cancel: no holder, so nothing to settle here.
CREATE FUNCTION booking.cancel_order(order_id bigint)
RETURNS booking.release_result
LANGUAGE plproxy VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
    CLUSTER 'booking';
    RUN ON booking.node_of(order_id);
$$;

-- seat_map gains the node's new last column, order_id. PL/Proxy asks the
-- node for the columns of the proxy function's result by name, so the old
-- one went on working but never showed the column: a new result type.
DROP FUNCTION booking.seat_map(bigint, text);
DROP FUNCTION booking.seat_map_on(bigint, text);

CREATE FUNCTION booking.seat_map_on(show_id bigint, holder text)
RETURNS TABLE (seat_id bigint, section text, row_label text, number integer, status text, mine boolean,
               held_until timestamptz, booking_id bigint, order_id bigint)
LANGUAGE plproxy VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
ROWS 1000
AS $$
    CLUSTER 'booking';
    RUN ON booking.node_of(show_id);
    TARGET booking.seat_map;
$$;

CREATE FUNCTION booking.seat_map(show_id bigint, holder text DEFAULT NULL)
RETURNS TABLE (seat_id bigint, section text, row_label text, number integer, status text, mine boolean,
               held_until timestamptz, booking_id bigint, order_id bigint)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
ROWS 1000
AS $$ SELECT * FROM booking.seat_map_on(show_id, booking.claimed_holder(holder, false)) $$;

-- The views bookings and seats gain order_id as their last column, as on a
-- node. Their functions' results change, so both are made anew: grants the
-- DBA made on them (docs/cluster.md: reporting) are to be made again.
DROP VIEW booking.bookings;
DROP FUNCTION booking.bookings_all();
DROP VIEW booking.seats;
DROP FUNCTION booking.seats_all();

CREATE FUNCTION booking.bookings_all(OUT booking_id bigint, OUT kind text, OUT pool_id bigint, OUT show_id bigint,
                                     OUT resource_id bigint, OUT spots integer, OUT seat_ids bigint[],
                                     OUT status text, OUT holder text, OUT held_until timestamptz,
                                     OUT starts_at timestamptz, OUT ends_at timestamptz, OUT payment_ref text,
                                     OUT idempotency_key text, OUT waitlist_position integer,
                                     OUT created_at timestamptz, OUT updated_at timestamptz, OUT order_id bigint)
RETURNS SETOF record
LANGUAGE plproxy VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
    CLUSTER 'booking';
    RUN ON ALL;
    SELECT b.booking_id, b.kind, b.pool_id, b.show_id, b.resource_id, b.spots, b.seat_ids, b.status, b.holder,
           b.held_until, b.starts_at, b.ends_at, b.payment_ref, b.idempotency_key, b.waitlist_position,
           b.created_at, b.updated_at, b.order_id
      FROM booking.bookings b;
$$;

CREATE VIEW booking.bookings AS
SELECT b.booking_id, b.kind, b.pool_id, b.show_id, b.resource_id, b.spots, b.seat_ids, b.status, b.holder,
       b.held_until, b.starts_at, b.ends_at, b.payment_ref, b.idempotency_key, b.waitlist_position,
       b.created_at, b.updated_at, b.order_id
  FROM booking.bookings_all() AS b;

CREATE FUNCTION booking.seats_all(OUT seat_id bigint, OUT show_id bigint, OUT section text, OUT row_label text,
                                  OUT number integer, OUT status text, OUT booking_id bigint,
                                  OUT held_until timestamptz, OUT order_id bigint)
RETURNS SETOF record
LANGUAGE plproxy VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
    CLUSTER 'booking';
    RUN ON ALL;
    SELECT s.seat_id, s.show_id, s.section, s.row_label, s.number, s.status, s.booking_id, s.held_until, s.order_id
      FROM booking.seats s;
$$;

CREATE VIEW booking.seats AS
SELECT s.seat_id, s.show_id, s.section, s.row_label, s.number, s.status, s.booking_id, s.held_until, s.order_id
  FROM booking.seats_all() AS s;

-- An order's payment reference is the order's, not its bookings' (a node
-- confirms the whole order by it): confirm_payment looks in every node's
-- orders too (SELECT on booking.orders for the proxy's account). An order
-- ranks as its items do; its id routes like a booking's.
CREATE OR REPLACE FUNCTION booking.payment_candidates(payment_ref text, OUT booking_id bigint, OUT rank integer)
RETURNS SETOF record
LANGUAGE plproxy VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
    CLUSTER 'booking';
    RUN ON ALL;
    SELECT b.booking_id,
           CASE WHEN b.status IN ('held', 'confirmed') THEN 2 WHEN b.status = 'expired' THEN 1 ELSE 0 END AS rank
      FROM booking.bookings b
     WHERE b.payment_ref OPERATOR(pg_catalog.=) payment_ref
    UNION ALL
    SELECT o.order_id,
           (SELECT CASE WHEN b.status IN ('held', 'confirmed') THEN 2 WHEN b.status = 'expired' THEN 1 ELSE 0 END
              FROM booking.bookings b WHERE b.booking_id OPERATOR(pg_catalog.=) o.booking_ids[1])
      FROM booking.orders o
     WHERE o.payment_ref OPERATOR(pg_catalog.=) payment_ref;
$$;

REVOKE ALL ON FUNCTION booking.order_node(jsonb) FROM PUBLIC;
REVOKE ALL ON FUNCTION booking.reserve_order_on(jsonb, text, interval, text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION booking.confirm_order_on(bigint, text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION booking.release_order_on(bigint, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION booking.extend_order_on(bigint, text, interval) FROM PUBLIC;
REVOKE ALL ON FUNCTION booking.cancel_order(bigint) FROM PUBLIC;
REVOKE ALL ON FUNCTION booking.seat_map_on(bigint, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION booking.bookings_all() FROM PUBLIC;
REVOKE ALL ON FUNCTION booking.seats_all() FROM PUBLIC;

-- Exactly the documented privileges on what this script made, whatever
-- ALTER DEFAULT PRIVILEGES gave it (as at the end of 1.0--1.1 and in
-- booking--1.5--1.6.sql): EXECUTE for PUBLIC on the customer calls, USAGE
-- for PUBLIC on the type, the owner's alone on the rest and on the views.
-- GRANT and REVOKE in an extension script also record the result as the
-- initial privileges (and, since PostgreSQL 17, keep pg_shdepend in step).
DO $$
DECLARE
    obj record;
    priv record;
BEGIN
    FOR obj IN
        SELECT 'FUNCTION' AS kind, p.oid::pg_catalog.regprocedure::pg_catalog.text AS identity,
               coalesce(p.proacl, pg_catalog.acldefault('f', p.proowner)) AS cur,
               CASE WHEN p.proname OPERATOR(pg_catalog.=) ANY ('{seat_map,reserve_order,confirm_order,release_order,extend_order}'::pg_catalog.name[])
                    THEN pg_catalog.acldefault('f', p.proowner)
                    ELSE ARRAY[pg_catalog.makeaclitem(p.proowner, p.proowner, 'EXECUTE', false)] END AS target
          FROM pg_catalog.pg_proc p
         WHERE p.pronamespace OPERATOR(pg_catalog.=) 'booking'::pg_catalog.regnamespace
           AND p.proname OPERATOR(pg_catalog.=) ANY ('{order_node,reserve_order_on,reserve_order,confirm_order_on,confirm_order,release_order_on,release_order,extend_order_on,extend_order,cancel_order,seat_map_on,seat_map,bookings_all,seats_all}'::pg_catalog.name[])
        UNION ALL
        SELECT 'TYPE', 'booking.order_result', coalesce(t.typacl, pg_catalog.acldefault('T', t.typowner)),
               pg_catalog.acldefault('T', t.typowner)
          FROM pg_catalog.pg_type t
         WHERE t.oid OPERATOR(pg_catalog.=) 'booking.order_result'::pg_catalog.regtype
        UNION ALL
        SELECT 'TABLE', c.oid::pg_catalog.regclass::pg_catalog.text,
               coalesce(c.relacl, pg_catalog.acldefault('r', c.relowner)), pg_catalog.acldefault('r', c.relowner)
          FROM pg_catalog.pg_class c
         WHERE c.oid OPERATOR(pg_catalog.=) ANY (ARRAY['booking.bookings'::pg_catalog.regclass,
                                                       'booking.seats'::pg_catalog.regclass]::pg_catalog.oid[])
    LOOP
        FOR priv IN SELECT * FROM pg_catalog.aclexplode(obj.cur) EXCEPT SELECT * FROM pg_catalog.aclexplode(obj.target) LOOP
            EXECUTE pg_catalog.format('REVOKE %s ON %s %s FROM %s CASCADE', priv.privilege_type, obj.kind, obj.identity,
                                      CASE WHEN priv.grantee OPERATOR(pg_catalog.=) 0::pg_catalog.oid THEN 'PUBLIC' ELSE priv.grantee::pg_catalog.regrole::pg_catalog.text END);
        END LOOP;
        FOR priv IN SELECT * FROM pg_catalog.aclexplode(obj.target) EXCEPT SELECT * FROM pg_catalog.aclexplode(obj.cur) LOOP
            EXECUTE pg_catalog.format('GRANT %s ON %s %s TO %s', priv.privilege_type, obj.kind, obj.identity,
                                      CASE WHEN priv.grantee OPERATOR(pg_catalog.=) 0::pg_catalog.oid THEN 'PUBLIC' ELSE priv.grantee::pg_catalog.regrole::pg_catalog.text END);
        END LOOP;
    END LOOP;
END
$$;
