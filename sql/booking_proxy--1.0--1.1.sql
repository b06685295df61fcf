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

-- What the scripts granted that nobody documented, as on a node (the same
-- block as booking--1.3--1.4.sql's, for this extension's objects): ALTER
-- DEFAULT PRIVILEGES made before CREATE EXTENSION gave every function,
-- view and sequence privileges the scripts did not take away. A role they
-- named could run the helpers, decrement_ticket_on(.., holder, ..) and
-- release_on(id, NULL) among them, which run on the nodes as booking_proxy,
-- an organiser, past holder_claim. Left: the owner's privileges, EXECUTE
-- for PUBLIC on the customer functions (and node_of, which RUN ON
-- evaluates), USAGE for PUBLIC on the types and the schema; what the DBA
-- grants afterwards stays, and pg_dump keeps it.
DO $$
DECLARE
    obj record;
    priv record;
BEGIN
    FOR obj IN
        WITH members AS (
            SELECT d.classid, d.objid
              FROM pg_catalog.pg_depend d JOIN pg_catalog.pg_extension e ON e.oid OPERATOR(pg_catalog.=) d.refobjid
             WHERE d.refclassid OPERATOR(pg_catalog.=) 'pg_catalog.pg_extension'::pg_catalog.regclass::pg_catalog.oid
               AND e.extname OPERATOR(pg_catalog.=) 'booking_proxy'::pg_catalog.name
               AND d.deptype OPERATOR(pg_catalog.=) 'e'::pg_catalog."char"
        ), objects AS (
            SELECT m.classid, m.objid,
                   CASE WHEN c.relkind OPERATOR(pg_catalog.=) 'S'::pg_catalog."char" THEN 'SEQUENCE' ELSE 'TABLE' END AS kind,
                   c.relacl AS acl,
                   pg_catalog.acldefault(CASE WHEN c.relkind OPERATOR(pg_catalog.=) 'S'::pg_catalog."char" THEN 's' ELSE 'r' END::pg_catalog."char",
                                         c.relowner) AS base,
                   pg_catalog.acldefault(CASE WHEN c.relkind OPERATOR(pg_catalog.=) 'S'::pg_catalog."char" THEN 's' ELSE 'r' END::pg_catalog."char",
                                         c.relowner) AS target
              FROM members m JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) m.objid
             WHERE m.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_class'::pg_catalog.regclass::pg_catalog.oid
               AND c.relkind OPERATOR(pg_catalog.=) ANY ('{r,p,v,m,f,S}'::pg_catalog."char"[])
            UNION ALL
            SELECT m.classid, m.objid, 'FUNCTION', p.proacl, pg_catalog.acldefault('f', p.proowner),
                   CASE WHEN p.proname OPERATOR(pg_catalog.=) ANY ('{decrement_ticket,register,reserve_seats,reserve_best_available,reserve_slot,confirm,release,extend_hold,availability,seat_map,my_bookings,node_of}'::pg_catalog.name[])
                        THEN pg_catalog.acldefault('f', p.proowner)
                        ELSE ARRAY[pg_catalog.makeaclitem(p.proowner, p.proowner, 'EXECUTE', false)] END
              FROM members m JOIN pg_catalog.pg_proc p ON p.oid OPERATOR(pg_catalog.=) m.objid
             WHERE m.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_proc'::pg_catalog.regclass::pg_catalog.oid
            UNION ALL
            SELECT m.classid, m.objid, 'TYPE', t.typacl, pg_catalog.acldefault('T', t.typowner),
                   pg_catalog.acldefault('T', t.typowner)
              FROM members m JOIN pg_catalog.pg_type t ON t.oid OPERATOR(pg_catalog.=) m.objid
             WHERE m.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_type'::pg_catalog.regclass::pg_catalog.oid
            UNION ALL
            SELECT 'pg_catalog.pg_namespace'::pg_catalog.regclass::pg_catalog.oid, n.oid, 'SCHEMA', n.nspacl,
                   pg_catalog.acldefault('n', n.nspowner),
                   pg_catalog.acldefault('n', n.nspowner)
                       OPERATOR(pg_catalog.||) pg_catalog.makeaclitem(0::pg_catalog.oid, n.nspowner, 'USAGE', false)
              FROM pg_catalog.pg_namespace n JOIN pg_catalog.pg_extension e ON e.extnamespace OPERATOR(pg_catalog.=) n.oid
             WHERE e.extname OPERATOR(pg_catalog.=) 'booking_proxy'::pg_catalog.name
        )
        SELECT x.classid, x.objid, x.kind, (pg_catalog.pg_identify_object(x.classid, x.objid, 0)).identity,
               coalesce(x.acl, x.base) AS cur, coalesce(i.initprivs, x.base) AS init, x.target
          FROM objects x
          LEFT JOIN pg_catalog.pg_init_privs i
            ON i.objoid OPERATOR(pg_catalog.=) x.objid AND i.classoid OPERATOR(pg_catalog.=) x.classid
           AND i.objsubid OPERATOR(pg_catalog.=) 0 AND i.privtype OPERATOR(pg_catalog.=) 'e'::pg_catalog."char"
    LOOP
        FOR priv IN SELECT * FROM pg_catalog.aclexplode(obj.init) INTERSECT SELECT * FROM pg_catalog.aclexplode(obj.cur)
                 EXCEPT SELECT * FROM pg_catalog.aclexplode(obj.target) LOOP
            EXECUTE pg_catalog.format('REVOKE %s ON %s %s FROM %s CASCADE', priv.privilege_type, obj.kind, obj.identity,
                                      CASE WHEN priv.grantee OPERATOR(pg_catalog.=) 0::pg_catalog.oid THEN 'PUBLIC' ELSE priv.grantee::pg_catalog.regrole::pg_catalog.text END);
        END LOOP;
        FOR priv IN SELECT * FROM pg_catalog.aclexplode(obj.target) EXCEPT SELECT * FROM pg_catalog.aclexplode(obj.init)
                 EXCEPT SELECT * FROM pg_catalog.aclexplode(obj.cur) LOOP
            EXECUTE pg_catalog.format('GRANT %s ON %s %s TO %s%s', priv.privilege_type, obj.kind, obj.identity,
                                      CASE WHEN priv.grantee OPERATOR(pg_catalog.=) 0::pg_catalog.oid THEN 'PUBLIC' ELSE priv.grantee::pg_catalog.regrole::pg_catalog.text END,
                                      CASE WHEN priv.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END);
        END LOOP;
        UPDATE pg_catalog.pg_init_privs i SET initprivs = obj.target
         WHERE i.objoid OPERATOR(pg_catalog.=) obj.objid AND i.classoid OPERATOR(pg_catalog.=) obj.classid
           AND i.objsubid OPERATOR(pg_catalog.=) 0 AND i.privtype OPERATOR(pg_catalog.=) 'e'::pg_catalog."char"
           AND (EXISTS (SELECT * FROM pg_catalog.aclexplode(i.initprivs) EXCEPT SELECT * FROM pg_catalog.aclexplode(obj.target))
                OR EXISTS (SELECT * FROM pg_catalog.aclexplode(obj.target) EXCEPT SELECT * FROM pg_catalog.aclexplode(i.initprivs)));
        -- Since PostgreSQL 17 pg_shdepend has an 'i' row for every role an
        -- object's initial privileges name, kept in step by GRANT and
        -- REVOKE only: one left for a role the documented privileges do not
        -- name would make DROP ROLE fail ("initial privileges for ...")
        -- even after the DBA revoked their grant, and DROP OWNED cannot
        -- clear it. (The documented privileges name the owner and PUBLIC
        -- only, and the owner's row is there already: every GRANT or
        -- REVOKE in a script recorded the owner's own privileges.)
        IF pg_catalog.current_setting('server_version_num')::pg_catalog.int4 OPERATOR(pg_catalog.>=) 170000 THEN
            DELETE FROM pg_catalog.pg_shdepend s
             WHERE s.dbid OPERATOR(pg_catalog.=) (SELECT d.oid FROM pg_catalog.pg_database d
                                                  WHERE d.datname OPERATOR(pg_catalog.=) pg_catalog.current_database())
               AND s.classid OPERATOR(pg_catalog.=) obj.classid AND s.objid OPERATOR(pg_catalog.=) obj.objid
               AND s.objsubid OPERATOR(pg_catalog.=) 0 AND s.deptype OPERATOR(pg_catalog.=) 'i'::pg_catalog."char"
               AND s.refclassid OPERATOR(pg_catalog.=) 'pg_catalog.pg_authid'::pg_catalog.regclass::pg_catalog.oid
               AND NOT EXISTS (SELECT FROM pg_catalog.aclexplode(obj.target) AS a
                                WHERE s.refobjid OPERATOR(pg_catalog.=) a.grantee
                                   OR s.refobjid OPERATOR(pg_catalog.=) a.grantor);
        END IF;
    END LOOP;
END
$$;
