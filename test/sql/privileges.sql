-- Who may call what: customers buy; organisers, granted by the DBA, run pools.
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS booking CASCADE;
CREATE EXTENSION booking;
DROP ROLE IF EXISTS regress_buyer;
DROP ROLE IF EXISTS regress_organiser;
RESET client_min_messages;

CREATE OR REPLACE FUNCTION public.raised(statement text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE statement;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ': ' || SQLERRM;
END $$;

CREATE ROLE regress_buyer;
CREATE ROLE regress_organiser;
GRANT EXECUTE ON FUNCTION booking.create_pool(integer, text, bigint, integer, integer, boolean),
                          booking.set_capacity(bigint, integer), booking.cancel(bigint),
                          booking.expire_holds(integer)
   TO regress_organiser;

SELECT booking.create_pool(3, 'gig') AS pool \gset
SELECT booking.create_show('play') AS show \gset
SELECT booking.add_seats(:show, 'stalls', 'A', 1, 4);

-- A plain role can buy, hold, confirm, extend and release its own bookings.
SET ROLE regress_buyer;
SELECT status, remaining FROM booking.decrement_ticket(:pool, 1);
SELECT booking_id AS mine FROM booking.decrement_ticket(:pool, 1, 'buyer-1', '5 minutes') \gset
SELECT status FROM booking.extend_hold(:mine, 'buyer-1', '10 minutes');
SELECT * FROM booking.confirm(:mine, 'buyer-1');
SELECT status, waitlist_position FROM booking.register(:pool, 2, 'buyer-3');
SELECT status, seat_ids FROM booking.reserve_seats(:show, ARRAY[1, 2], 'buyer-1');
SELECT status, seat_ids FROM booking.reserve_best_available(:show, 2, 'buyer-2');
SELECT * FROM booking.availability(:pool);

-- ... but not another holder's booking ...
SELECT raised(format('SELECT booking.release(%s, ''buyer-2'')', :mine));

-- ... nor read or write the tables, the views or the sequences ...
SELECT raised('SELECT * FROM booking.pool');
SELECT raised('SELECT * FROM booking.booking');
SELECT raised('SELECT * FROM booking.bookings');
SELECT raised('SELECT * FROM booking.pool_status');
SELECT raised('SELECT * FROM booking.seats');
SELECT raised('UPDATE booking.seat SET booking_id = NULL');
SELECT raised('UPDATE booking.pool SET capacity = 1000');
SELECT raised('INSERT INTO booking.booking (booking_id, kind, pool_id, spots, status) VALUES (99, ''ticket'', 1, 1, ''confirmed'')');
SELECT raised('SELECT nextval(''booking.booking_id_seq'')');

-- ... nor call organiser functions.
SELECT raised('SELECT booking.create_pool(10)');
SELECT raised('SELECT booking.create_show(''mine'')');
SELECT raised(format('SELECT booking.add_seats(%s, ''x'', ''y'', 1, 1)', :show));
SELECT raised(format('SELECT booking.set_capacity(%s, 100)', :pool));
SELECT raised(format('SELECT booking.cancel(%s)', :mine));
SELECT raised('SELECT booking.expire_holds()');
SELECT raised(format('SELECT booking.promote_waitlist(%s)', :pool));
SELECT raised('SELECT booking.reconcile()');
SELECT raised('SELECT * FROM booking.check()');
RESET ROLE;

-- The organiser the DBA granted can.
SET ROLE regress_organiser;
SELECT booking.create_pool(10, 'organised') > 0 AS created;
SELECT booking.set_capacity(:pool, 4);
SELECT status, released, promoted FROM booking.cancel(:mine);
SELECT raised('SELECT * FROM booking.pool');
RESET ROLE;

SELECT * FROM booking.availability(:pool);

-- A booking made without a holder has nothing to check, and ids are
-- sequential: only an organiser (a role that may execute booking.cancel)
-- may release, confirm or extend it. A customer gets the answer a wrong
-- holder gets (PT403), whatever holder it passes, and nothing changes.
SELECT booking.create_pool(10, 'door sales') AS door \gset
SELECT booking_id AS walkin FROM booking.decrement_ticket(:door, 2) \gset
SELECT booking_id AS on_hold FROM booking.decrement_ticket(:door, 1, hold_for => '10 minutes') \gset
SELECT booking_id AS queued FROM booking.register(:door, 9) \gset
CREATE TEMP TABLE door_before AS SELECT * FROM booking.booking WHERE pool_id = :door;
SET ROLE regress_buyer;
SELECT raised(format('SELECT booking.release(%s)', :walkin));
SELECT raised(format('SELECT booking.release(%s, ''buyer-1'')', :walkin));
SELECT raised(format('SELECT booking.release(%s)', :queued));
SELECT raised(format('SELECT booking.confirm(%s)', :on_hold));
SELECT raised(format('SELECT booking.extend_hold(%s, hold_for => ''1 hour'')', :on_hold));
SELECT current_user;                                                   -- back after the errors
RESET ROLE;
SELECT count(*) AS changed FROM (SELECT * FROM booking.booking WHERE pool_id = :door
                                 EXCEPT SELECT * FROM door_before) AS c;
SELECT * FROM booking.availability(:door);
-- An organiser may, also through a SECURITY DEFINER function of its own
-- (the role at the call site counts, as for any privilege).
GRANT CREATE ON SCHEMA public TO regress_organiser;
SET ROLE regress_organiser;
CREATE FUNCTION public.door_release(id bigint) RETURNS integer LANGUAGE sql SECURITY DEFINER
    AS $$ SELECT released FROM booking.release(id) $$;
SELECT status FROM booking.extend_hold(:on_hold, hold_for => '1 hour');
SELECT status FROM booking.confirm(:on_hold);
SELECT current_user;
RESET ROLE;
SET ROLE regress_buyer;
SELECT public.door_release(:walkin) AS released_by_the_organisers_function;
RESET ROLE;
-- The extension owner (here a superuser, as in pgbench and the TAP tests) may.
SELECT status, released, promoted FROM booking.release(:on_hold);
SELECT * FROM booking.availability(:door);
DROP FUNCTION public.door_release(bigint);
REVOKE CREATE ON SCHEMA public FROM regress_organiser;

-- Customer functions are executable by PUBLIC, organiser functions are not;
-- every function runs as the owner with a pinned search_path: SQL and
-- PL/pgSQL ones with SET, C ones in their code (src/pg/spi.hpp; hostile.sql
-- shows a planted operator stays out). release, confirm and extend_hold (and
-- release_order, confirm_order and extend_order) are SECURITY INVOKER and
-- switch to the owner in their code, after noting who called
-- (src/pg/caller.hpp).
SELECT p.proname,
       has_function_privilege('regress_buyer', p.oid, 'EXECUTE') AS buyer_may_call,
       p.prosecdef AS security_definer,
       l.lanname AS language,
       CASE WHEN p.proconfig = '{"search_path=pg_catalog, pg_temp"}' THEN 'SET'
            WHEN l.lanname = 'c' AND p.proconfig IS NULL THEN 'code'
            ELSE 'not pinned: ' || coalesce(p.proconfig::text, 'no SET') END AS search_path_pinned_by
  FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace JOIN pg_language l ON l.oid = p.prolang
 WHERE n.nspname = 'booking'
 ORDER BY p.proname;

-- pg_dump keeps the data: tables and sequences are configuration tables.
SELECT c.relname FROM pg_extension e, unnest(e.extconfig) AS cfg(oid) JOIN pg_class c ON c.oid = cfg.oid
 WHERE e.extname = 'booking' ORDER BY 1;

DROP OWNED BY regress_buyer, regress_organiser;
DROP ROLE regress_buyer;
DROP ROLE regress_organiser;

------------------------------------------------------------------------------
-- Default privileges made before CREATE EXTENSION give nobody anything: the
-- install script leaves exactly the documented grants on every member of
-- the extension and on its schema.
------------------------------------------------------------------------------

-- Every privilege on the extension's members and schema, by kind of object
-- and grantee (the objects' owner shown as owner).
CREATE OR REPLACE FUNCTION public.extension_grants()
RETURNS TABLE (kind text, grantee text, privileges text, objects bigint) LANGUAGE sql AS $$
    WITH members AS (
        SELECT d.classid, d.objid FROM pg_depend d JOIN pg_extension e ON e.oid = d.refobjid
         WHERE d.refclassid = 'pg_extension'::regclass AND e.extname = 'booking' AND d.deptype = 'e'
        UNION ALL
        SELECT 'pg_namespace'::regclass, e.extnamespace FROM pg_extension e WHERE e.extname = 'booking'
    ), acls AS (
        SELECT m.objid, (pg_identify_object(m.classid, m.objid, 0)).type AS kind, o.owner, o.acl
          FROM members m CROSS JOIN LATERAL (
               SELECT c.relowner, coalesce(c.relacl, acldefault(CASE c.relkind WHEN 'S' THEN 's' ELSE 'r' END::"char", c.relowner))
                 FROM pg_class c WHERE m.classid = 'pg_class'::regclass AND c.oid = m.objid
               UNION ALL
               SELECT p.proowner, coalesce(p.proacl, acldefault('f', p.proowner))
                 FROM pg_proc p WHERE m.classid = 'pg_proc'::regclass AND p.oid = m.objid
               UNION ALL
               SELECT t.typowner, coalesce(t.typacl, acldefault('T', t.typowner))
                 FROM pg_type t WHERE m.classid = 'pg_type'::regclass AND t.oid = m.objid
                  -- From 17 on a table's, view's or type's row and array
                  -- types are members too; they carry the default ACL.
                  AND NOT EXISTS (SELECT FROM pg_type e WHERE e.typarray = t.oid)
                  AND NOT EXISTS (SELECT FROM pg_class c WHERE c.oid = t.typrelid AND c.relkind <> 'c')
               UNION ALL
               SELECT n.nspowner, coalesce(n.nspacl, acldefault('n', n.nspowner))
                 FROM pg_namespace n WHERE m.classid = 'pg_namespace'::regclass AND n.oid = m.objid) AS o(owner, acl)
    )
    SELECT a.kind,
           CASE WHEN x.grantee = 0 THEN 'PUBLIC' WHEN x.grantee = a.owner THEN 'owner' ELSE x.grantee::regrole::text END
               || CASE WHEN x.grantor <> a.owner THEN ' from ' || x.grantor::regrole::text ELSE '' END,
           string_agg(DISTINCT x.privilege_type || CASE WHEN x.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END, ', ')
               FILTER (WHERE x.privilege_type <> 'MAINTAIN'),  -- 17's, the owner's by default
           count(DISTINCT a.objid)
      FROM acls a CROSS JOIN LATERAL aclexplode(a.acl) AS x
     GROUP BY 1, 2 ORDER BY 1, 2
$$;

-- The documented grants, as a plain install leaves them.
SELECT * FROM extension_grants();
SELECT string_agg(g::text, '; ') AS documented FROM extension_grants() AS g \gset

CREATE ROLE regress_analyst;
ALTER DEFAULT PRIVILEGES GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE ON TABLES TO regress_analyst;
ALTER DEFAULT PRIVILEGES FOR ROLE CURRENT_USER GRANT EXECUTE ON FUNCTIONS TO regress_analyst WITH GRANT OPTION;
ALTER DEFAULT PRIVILEGES GRANT USAGE, SELECT, UPDATE ON SEQUENCES TO regress_analyst;
ALTER DEFAULT PRIVILEGES GRANT USAGE ON TYPES TO regress_analyst;
ALTER DEFAULT PRIVILEGES GRANT USAGE, CREATE ON SCHEMAS TO regress_analyst;
ALTER DEFAULT PRIVILEGES REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC;
ALTER DEFAULT PRIVILEGES REVOKE USAGE ON TYPES FROM PUBLIC;
SET client_min_messages = warning;
DROP EXTENSION booking;
DROP SCHEMA booking;
RESET client_min_messages;
CREATE EXTENSION booking;                       -- makes schema booking too
SELECT string_agg(g::text, '; ') = :'documented' AS only_documented_grants FROM extension_grants() AS g;
SELECT * FROM extension_grants() WHERE grantee <> 'owner';
-- They are the initial privileges pg_dump compares with (pg_init_privs).
SELECT count(*) AS initial_privileges_of_analyst FROM pg_init_privs i, aclexplode(i.initprivs) AS a
 WHERE a.grantee = 'regress_analyst'::regrole;

SELECT booking.create_pool(3, 'analysed') AS pool \gset
SELECT status FROM booking.decrement_ticket(:pool, 1, 'secret-holder', '1 hour');
SET ROLE regress_analyst;
SELECT raised('SELECT holder FROM booking.booking');
SELECT raised('SELECT holder FROM booking.bookings');
SELECT raised('SELECT * FROM booking.pool_status');
SELECT raised('SELECT nextval(''booking.booking_id_seq'')');
SELECT raised('SELECT booking.cancel(1)');
SELECT raised('SELECT booking.create_pool(1)');
SELECT raised('CREATE TABLE booking.planted ()');
SELECT status, remaining FROM booking.decrement_ticket(:pool, 1);      -- a customer still buys
RESET ROLE;

-- Default privileges IN SCHEMA booking, on a schema a superuser made first.
ALTER DEFAULT PRIVILEGES REVOKE USAGE, CREATE ON SCHEMAS FROM regress_analyst;
SET client_min_messages = warning;
DROP EXTENSION booking;
DROP SCHEMA booking;
RESET client_min_messages;
CREATE SCHEMA booking;
ALTER DEFAULT PRIVILEGES IN SCHEMA booking GRANT SELECT ON TABLES TO regress_analyst;
ALTER DEFAULT PRIVILEGES IN SCHEMA booking GRANT EXECUTE ON FUNCTIONS TO regress_analyst;
ALTER DEFAULT PRIVILEGES IN SCHEMA booking GRANT USAGE ON SEQUENCES TO regress_analyst;
ALTER DEFAULT PRIVILEGES IN SCHEMA booking GRANT USAGE ON TYPES TO regress_analyst;
CREATE EXTENSION booking;
SELECT string_agg(g::text, '; ') = :'documented' AS only_documented_grants FROM extension_grants() AS g;

------------------------------------------------------------------------------
-- A schema booking that another role could plant objects in is refused,
-- and nothing is created.
------------------------------------------------------------------------------

SET client_min_messages = warning;
DROP EXTENSION booking;
DROP SCHEMA booking CASCADE;
RESET client_min_messages;
CREATE SCHEMA booking;
GRANT CREATE ON SCHEMA booking TO regress_analyst;
SELECT raised('CREATE EXTENSION booking');                                 -- 42501
-- Changed earlier in the same transaction, it is still not one made now.
BEGIN;
GRANT USAGE ON SCHEMA booking TO PUBLIC;
SELECT raised('CREATE EXTENSION booking');                                 -- 42501
ROLLBACK;
REVOKE CREATE ON SCHEMA booking FROM regress_analyst;
GRANT CREATE ON SCHEMA booking TO PUBLIC;
SELECT raised('CREATE EXTENSION booking');                                 -- 42501
REVOKE CREATE ON SCHEMA booking FROM PUBLIC;
CREATE TABLE booking.pool (pool_id bigint);                                -- made first
SELECT raised('CREATE EXTENSION booking');                                 -- 42501
DROP TABLE booking.pool;
CREATE FUNCTION booking.now() RETURNS timestamptz LANGUAGE sql AS $$ SELECT 'epoch'::timestamptz $$;
SELECT raised('CREATE EXTENSION booking');                                 -- 42501
DROP FUNCTION booking.now();
SELECT count(*) AS extensions FROM pg_extension WHERE extname = 'booking';
SELECT count(*) AS objects FROM pg_depend WHERE refobjid = 'booking'::regnamespace AND classid <> 'pg_default_acl'::regclass;
-- Emptied and closed again, it is fine.
CREATE EXTENSION booking;
SELECT string_agg(g::text, '; ') = :'documented' AS only_documented_grants FROM extension_grants() AS g;

ALTER DEFAULT PRIVILEGES GRANT EXECUTE ON FUNCTIONS TO PUBLIC;
ALTER DEFAULT PRIVILEGES GRANT USAGE ON TYPES TO PUBLIC;
DROP OWNED BY regress_analyst;
DROP ROLE regress_analyst;
SELECT count(*) AS default_privileges_left FROM pg_default_acl;
