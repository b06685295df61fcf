-- booking 1.3 -> 1.4: privileges and the waitlist's oversized groups.
\echo Use "ALTER EXTENSION booking UPDATE TO '1.4'" to load this file. \quit

-- Refuse a schema booking that a non-superuser owns (its owner could drop
-- and replace anything in it, the functions that run as the extension
-- owner included) or where a role that is not a superuser may create
-- objects.
DO $$
DECLARE
    nsp record;
BEGIN
    SELECT r.rolsuper, n.nspacl INTO nsp
      FROM pg_catalog.pg_namespace n JOIN pg_catalog.pg_roles r ON r.oid = n.nspowner
     WHERE n.nspname = 'booking';
    IF NOT nsp.rolsuper THEN
        RAISE EXCEPTION 'schema booking is owned by a role that is not a superuser'
            USING ERRCODE = '42501',
                  HINT = 'Drop that schema (or make a superuser its owner) before installing booking.';
    END IF;
    IF EXISTS (SELECT FROM pg_catalog.aclexplode(nsp.nspacl) AS a
                 LEFT JOIN pg_catalog.pg_roles g ON g.oid = a.grantee
                WHERE a.privilege_type = 'CREATE' AND NOT coalesce(g.rolsuper, false)) THEN
        RAISE EXCEPTION 'schema booking lets a role that is not a superuser create objects in it'
            USING ERRCODE = '42501',
                  DETAIL = pg_catalog.format('Its privileges are %s.', nsp.nspacl),
                  HINT = 'Revoke CREATE on schema booking from every role but superusers, and check what they created there, before updating booking.';
    END IF;
END
$$;
-- A booking made without a holder could be released, confirmed or extended
-- by anyone who guessed its id (ids are sequential). Only an organiser (a
-- role that may execute booking.cancel) may now: these functions note who
-- called them, which SECURITY DEFINER hides, and switch to their owner in
-- their code (src/pg/caller.hpp).
ALTER FUNCTION booking.confirm(bigint, text, text) SECURITY INVOKER;
ALTER FUNCTION booking.release(bigint, text) SECURITY INVOKER;
ALTER FUNCTION booking.extend_hold(bigint, text, interval) SECURITY INVOKER;

-- What the scripts of earlier versions granted that nobody documented:
-- ALTER DEFAULT PRIVILEGES (for the installing role, FOR ROLE, IN SCHEMA)
-- made before CREATE or ALTER EXTENSION gave the objects those scripts
-- created privileges that let a role read every holder, the only
-- credential of a booking, or cancel bookings. Take away what a script put
-- there and is not documented, and grant what is documented and was
-- missing since a script made the object: the owner's own privileges;
-- EXECUTE for PUBLIC on the customer functions; USAGE for PUBLIC on the
-- types and the schema. A script's privileges are those PostgreSQL
-- recorded in pg_init_privs while the script ran (every table, view,
-- sequence and organiser function went through a GRANT or REVOKE there);
-- what the DBA granted or revoked since stays as it is. But a GRANT or
-- REVOKE here records the object's whole ACL as its initial privileges,
-- the DBA's own grants included, which would hide those from pg_dump (it
-- dumps only what differs from them): so the initial privileges are set to
-- the documented ones afterwards, as a fresh install records them.
DO $$
DECLARE
    obj record;
    priv record;
BEGIN
    FOR obj IN
        WITH members AS (
            SELECT d.classid, d.objid
              FROM pg_catalog.pg_depend d JOIN pg_catalog.pg_extension e ON e.oid = d.refobjid
             WHERE d.refclassid = 'pg_catalog.pg_extension'::pg_catalog.regclass AND e.extname = 'booking'
               AND d.deptype = 'e'
        ), objects AS (
            SELECT m.classid, m.objid, CASE c.relkind WHEN 'S' THEN 'SEQUENCE' ELSE 'TABLE' END AS kind,
                   c.relacl AS acl,
                   pg_catalog.acldefault(CASE c.relkind WHEN 'S' THEN 's' ELSE 'r' END::"char", c.relowner) AS base,
                   pg_catalog.acldefault(CASE c.relkind WHEN 'S' THEN 's' ELSE 'r' END::"char", c.relowner) AS target
              FROM members m JOIN pg_catalog.pg_class c ON c.oid = m.objid
             WHERE m.classid = 'pg_catalog.pg_class'::pg_catalog.regclass AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S')
            UNION ALL
            SELECT m.classid, m.objid, 'FUNCTION', p.proacl, pg_catalog.acldefault('f', p.proowner),
                   CASE WHEN p.proname IN ('decrement_ticket', 'register', 'reserve_seats', 'reserve_best_available',
                                           'reserve_slot', 'confirm', 'release', 'extend_hold', 'availability',
                                           'seat_map')
                        THEN pg_catalog.acldefault('f', p.proowner)
                        ELSE ARRAY[pg_catalog.makeaclitem(p.proowner, p.proowner, 'EXECUTE', false)] END
              FROM members m JOIN pg_catalog.pg_proc p ON p.oid = m.objid
             WHERE m.classid = 'pg_catalog.pg_proc'::pg_catalog.regclass
            UNION ALL
            SELECT m.classid, m.objid, 'TYPE', t.typacl, pg_catalog.acldefault('T', t.typowner),
                   pg_catalog.acldefault('T', t.typowner)
              FROM members m JOIN pg_catalog.pg_type t ON t.oid = m.objid
             WHERE m.classid = 'pg_catalog.pg_type'::pg_catalog.regclass
            UNION ALL
            SELECT 'pg_catalog.pg_namespace'::pg_catalog.regclass::oid, n.oid, 'SCHEMA', n.nspacl,
                   pg_catalog.acldefault('n', n.nspowner),
                   pg_catalog.acldefault('n', n.nspowner)
                       OPERATOR(pg_catalog.||) pg_catalog.makeaclitem(0, n.nspowner, 'USAGE', false)
              FROM pg_catalog.pg_namespace n JOIN pg_catalog.pg_extension e ON e.extnamespace = n.oid
             WHERE e.extname = 'booking'
        )
        SELECT x.classid, x.objid, x.kind, (pg_catalog.pg_identify_object(x.classid, x.objid, 0)).identity,
               coalesce(x.acl, x.base) AS cur, coalesce(i.initprivs, x.base) AS init, x.target
          FROM objects x
          LEFT JOIN pg_catalog.pg_init_privs i
            ON i.objoid = x.objid AND i.classoid = x.classid AND i.objsubid = 0 AND i.privtype = 'e'
    LOOP
        FOR priv IN SELECT * FROM pg_catalog.aclexplode(obj.init) INTERSECT SELECT * FROM pg_catalog.aclexplode(obj.cur)
                 EXCEPT SELECT * FROM pg_catalog.aclexplode(obj.target) LOOP
            EXECUTE pg_catalog.format('REVOKE %s ON %s %s FROM %s CASCADE', priv.privilege_type, obj.kind, obj.identity,
                                      CASE WHEN priv.grantee = 0 THEN 'PUBLIC' ELSE priv.grantee::pg_catalog.regrole::text END);
        END LOOP;
        FOR priv IN SELECT * FROM pg_catalog.aclexplode(obj.target) EXCEPT SELECT * FROM pg_catalog.aclexplode(obj.init)
                 EXCEPT SELECT * FROM pg_catalog.aclexplode(obj.cur) LOOP
            EXECUTE pg_catalog.format('GRANT %s ON %s %s TO %s%s', priv.privilege_type, obj.kind, obj.identity,
                                      CASE WHEN priv.grantee = 0 THEN 'PUBLIC' ELSE priv.grantee::pg_catalog.regrole::text END,
                                      CASE WHEN priv.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END);
        END LOOP;
        UPDATE pg_catalog.pg_init_privs i SET initprivs = obj.target
         WHERE i.objoid = obj.objid AND i.classoid = obj.classid AND i.objsubid = 0 AND i.privtype = 'e'
           AND (EXISTS (SELECT * FROM pg_catalog.aclexplode(i.initprivs) EXCEPT SELECT * FROM pg_catalog.aclexplode(obj.target))
                OR EXISTS (SELECT * FROM pg_catalog.aclexplode(obj.target) EXCEPT SELECT * FROM pg_catalog.aclexplode(i.initprivs)));
    END LOOP;
END
$$;
