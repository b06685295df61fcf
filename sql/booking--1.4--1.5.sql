-- booking 1.4 -> 1.5: browser callers (PostgREST): booking.holder_claim and
-- a customer's own bookings.
\echo Use "ALTER EXTENSION booking UPDATE TO '1.5'" to load this file. \quit

-- This script runs with search_path booking, pg_temp; every name below is
-- qualified and no statement outside a function uses an operator.

-- A holder's own bookings (my_bookings).
CREATE INDEX booking_holder ON booking.booking (holder, booking_id) WHERE holder IS NOT NULL;

CREATE TYPE booking.my_booking AS (booking_id bigint, order_id bigint, kind text, pool_id bigint, show_id bigint,
                                   resource_id bigint, spots integer, seat_ids bigint[], status text,
                                   held_until timestamptz, starts_at timestamptz, ends_at timestamptz,
                                   waitlist_position integer);

-- The holder a customer call acts for: see booking--1.5.sql.
CREATE FUNCTION booking.claimed_holder(holder text, needed boolean)
RETURNS text
AS 'MODULE_PATHNAME', 'booking_claimed_holder'
LANGUAGE C STABLE;

-- A request's seat map marks only its own claim's seats as "mine".
CREATE OR REPLACE FUNCTION booking.seat_map(show_id bigint, holder text DEFAULT NULL)
RETURNS TABLE (seat_id bigint, section text, row_label text, number integer, status text, mine boolean,
               held_until timestamptz, booking_id bigint)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
ROWS 1000
AS $$
#variable_conflict use_column
DECLARE
    -- a request's holder (1.5): another user's seats are never "mine"
    mine_of text := booking.claimed_holder(seat_map.holder, false);
BEGIN
    IF seat_map.show_id IS NULL THEN
        RAISE EXCEPTION 'argument "show_id" must not be NULL' USING ERRCODE = '22004';
    END IF;
    IF octet_length(mine_of) > 256 THEN
        RAISE EXCEPTION 'holder is % bytes long, the limit is 256', octet_length(mine_of)
            USING ERRCODE = '22023';
    END IF;
    IF NOT EXISTS (SELECT FROM booking.show s WHERE s.show_id = seat_map.show_id) THEN
        RAISE EXCEPTION 'show % does not exist', seat_map.show_id USING ERRCODE = 'PT404';
    END IF;
    RETURN QUERY
    SELECT v.seat_id, v.section, v.row_label, v.number, v.status,
           coalesce(b.holder = mine_of, false),
           CASE WHEN b.holder = mine_of THEN v.held_until END,
           CASE WHEN b.holder = mine_of THEN v.booking_id END
      FROM booking.seats v
      LEFT JOIN booking.booking b ON b.booking_id = v.booking_id
     WHERE v.show_id = seat_map.show_id
     ORDER BY v.section, v.row_label, v.number;
END
$$;

-- A customer's own bookings: see booking--1.5.sql.
CREATE FUNCTION booking.my_bookings(holder text DEFAULT NULL)
RETURNS SETOF booking.my_booking
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
ROWS 20
AS $$
DECLARE
    mine text := booking.claimed_holder(my_bookings.holder, true);
BEGIN
    IF mine IS NULL THEN
        RAISE EXCEPTION 'argument "holder" must not be NULL' USING ERRCODE = '22004';
    END IF;
    IF octet_length(mine) > 256 THEN
        RAISE EXCEPTION 'holder is % bytes long, the limit is 256', octet_length(mine) USING ERRCODE = '22023';
    END IF;
    -- order_id: NULL until orders exist
    RETURN QUERY
    SELECT b.booking_id, NULL::bigint, b.kind, b.pool_id, b.show_id, b.resource_id, b.spots, b.seat_ids, b.status,
           b.held_until, b.starts_at, b.ends_at, b.waitlist_position
      FROM booking.bookings b
     WHERE b.holder = mine
     ORDER BY b.booking_id;
END
$$;

REVOKE ALL ON FUNCTION booking.claimed_holder(text, boolean) FROM PUBLIC;

-- Exactly the documented privileges on the new objects, whatever default
-- privileges gave them when they were made (see booking--1.3--1.4.sql):
-- EXECUTE for PUBLIC on my_bookings, USAGE for PUBLIC on the type, the
-- owner's alone on claimed_holder. GRANT and REVOKE here also record the
-- result as the initial privileges, as a fresh install does.
DO $$
DECLARE
    obj record;
    priv record;
BEGIN
    FOR obj IN
        SELECT 'FUNCTION' AS kind, p.oid::pg_catalog.regprocedure::pg_catalog.text AS identity,
               coalesce(p.proacl, pg_catalog.acldefault('f', p.proowner)) AS cur,
               CASE WHEN p.proname OPERATOR(pg_catalog.=) 'my_bookings'::pg_catalog.name
                    THEN pg_catalog.acldefault('f', p.proowner)
                    ELSE ARRAY[pg_catalog.makeaclitem(p.proowner, p.proowner, 'EXECUTE', false)] END AS target
          FROM pg_catalog.pg_proc p
         WHERE p.oid OPERATOR(pg_catalog.=) ANY (ARRAY['booking.my_bookings(text)'::pg_catalog.regprocedure,
                                                       'booking.claimed_holder(text, boolean)'::pg_catalog.regprocedure]::pg_catalog.oid[])
        UNION ALL
        SELECT 'TYPE', t.oid::pg_catalog.regtype::pg_catalog.text, coalesce(t.typacl, pg_catalog.acldefault('T', t.typowner)),
               pg_catalog.acldefault('T', t.typowner)
          FROM pg_catalog.pg_type t
         WHERE t.oid OPERATOR(pg_catalog.=) 'booking.my_booking'::pg_catalog.regtype::pg_catalog.oid
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
