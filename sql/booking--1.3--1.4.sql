-- booking 1.3 -> 1.4: privileges and the waitlist's oversized groups.
\echo Use "ALTER EXTENSION booking UPDATE TO '1.4'" to load this file. \quit

-- Refuse a schema booking that holds objects that are not the extension's
-- (another role may have planted them while it could create objects
-- there), that a non-superuser owns (its owner could drop and replace
-- anything in it, the functions that run as the extension owner included)
-- or where a role that is not a superuser may create objects.
--
-- This script runs with search_path booking, pg_temp (pg_catalog first), and
-- pg_catalog lacks an exact operator for some pairs of types (oid and
-- regclass, oid and integer): a planted booking.=(oid, regclass) would win
-- over pg_catalog's oid = oid and run as the updating superuser. So every
-- operator of this script's statements outside its functions (which set
-- their search_path) is OPERATOR(pg_catalog.x), every function
-- pg_catalog-qualified, and the objects check comes first.
DO $$
DECLARE
    nsp record;
    held text;
BEGIN
    SELECT n.oid, r.rolsuper, n.nspacl, e.oid AS ext INTO nsp
      FROM pg_catalog.pg_namespace n JOIN pg_catalog.pg_roles r ON r.oid OPERATOR(pg_catalog.=) n.nspowner
      JOIN pg_catalog.pg_extension e ON e.extnamespace OPERATOR(pg_catalog.=) n.oid
     WHERE e.extname OPERATOR(pg_catalog.=) 'booking'::pg_catalog.name;
    -- Every object in a schema depends on it; the extension's own objects
    -- also depend on the extension. Default privileges for the schema are
    -- not objects in it.
    SELECT pg_catalog.string_agg(pg_catalog.pg_describe_object(d.classid, d.objid, d.objsubid), ', '
                                 ORDER BY d.classid, d.objid) INTO held
      FROM pg_catalog.pg_depend d
     WHERE d.refclassid OPERATOR(pg_catalog.=) 'pg_catalog.pg_namespace'::pg_catalog.regclass::pg_catalog.oid
       AND d.refobjid OPERATOR(pg_catalog.=) nsp.oid
       AND d.classid OPERATOR(pg_catalog.<>) 'pg_catalog.pg_default_acl'::pg_catalog.regclass::pg_catalog.oid
       AND NOT (d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_extension'::pg_catalog.regclass::pg_catalog.oid
                AND d.objid OPERATOR(pg_catalog.=) nsp.ext)
       AND NOT EXISTS (
           SELECT FROM pg_catalog.pg_depend m
            WHERE m.classid OPERATOR(pg_catalog.=) d.classid AND m.objid OPERATOR(pg_catalog.=) d.objid
              AND m.refclassid OPERATOR(pg_catalog.=) 'pg_catalog.pg_extension'::pg_catalog.regclass::pg_catalog.oid
              AND m.refobjid OPERATOR(pg_catalog.=) nsp.ext
              AND m.deptype OPERATOR(pg_catalog.=) 'e'::pg_catalog."char");
    IF held IS NOT NULL THEN
        RAISE EXCEPTION 'schema booking holds objects that are not part of the extension'
            USING ERRCODE = '42501',
                  DETAIL = pg_catalog.format('It holds %s.', held),
                  HINT = 'Check who made them; drop them or move them to another schema (ALTER ... SET SCHEMA) before updating booking.';
    END IF;
    IF NOT nsp.rolsuper THEN
        RAISE EXCEPTION 'schema booking is owned by a role that is not a superuser'
            USING ERRCODE = '42501',
                  HINT = 'Drop that schema (or make a superuser its owner) before installing booking.';
    END IF;
    IF EXISTS (SELECT FROM pg_catalog.aclexplode(nsp.nspacl) AS a
                 LEFT JOIN pg_catalog.pg_roles g ON g.oid OPERATOR(pg_catalog.=) a.grantee
                WHERE a.privilege_type OPERATOR(pg_catalog.=) 'CREATE'::pg_catalog.text
                  AND NOT coalesce(g.rolsuper, false)) THEN
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

-- A waitlisted group larger than a capacity of its chain no longer blocks
-- the groups behind it (it waits until a capacity is raised): check() looks
-- for a group that fits among those that could.
-- One row per broken invariant; nothing when all hold.
CREATE OR REPLACE FUNCTION booking.check()
RETURNS TABLE (object text, id bigint, problem text)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
    WITH actual AS (SELECT * FROM booking.pool_usage(NULL)), shards AS (
        SELECT pool_id, sum(confirmed) AS confirmed, sum(held) AS held, sum(budget) AS budget
          FROM booking.pool_shard GROUP BY pool_id
    ), counted AS (
        SELECT p.pool_id, p.capacity,
               p.confirmed + coalesce(s.confirmed, 0) AS confirmed, p.held + coalesce(s.held, 0) AS held,
               p.waitlisted,
               coalesce(a.confirmed, 0) AS real_confirmed, coalesce(a.held, 0) AS real_held,
               coalesce(a.waitlisted, 0) AS real_waitlisted
          FROM booking.pool p LEFT JOIN actual a ON a.pool_id = p.pool_id LEFT JOIN shards s ON s.pool_id = p.pool_id
    )
    SELECT 'pool', pool_id, format('oversold: %s confirmed + %s held > capacity %s', real_confirmed, real_held, capacity)
      FROM counted WHERE real_confirmed + real_held > capacity
    UNION ALL
    SELECT 'pool', pool_id, format('counter confirmed = %s but rows say %s', confirmed, real_confirmed)
      FROM counted WHERE confirmed <> real_confirmed
    UNION ALL
    SELECT 'pool', pool_id, format('counter held = %s but rows say %s', held, real_held)
      FROM counted WHERE held <> real_held
    UNION ALL
    SELECT 'pool', pool_id, format('counter waitlisted = %s but rows say %s', waitlisted, real_waitlisted)
      FROM counted WHERE waitlisted <> real_waitlisted
    UNION ALL
    SELECT 'pool', x.pool_id, format('shard %s counts %s confirmed and %s held, rows say %s and %s',
                                     x.shard, x.confirmed, x.held, x.real_confirmed, x.real_held)
      FROM (SELECT s.pool_id, s.shard, s.confirmed, s.held,
                   coalesce(sum(b.spots) FILTER (WHERE b.status = 'confirmed'), 0) AS real_confirmed,
                   coalesce(sum(b.spots) FILTER (WHERE b.status = 'held'), 0) AS real_held
              FROM booking.pool_shard s
              LEFT JOIN booking.booking b ON b.pool_id = s.pool_id AND b.shard = s.shard AND b.kind = 'ticket'
             GROUP BY s.pool_id, s.shard, s.confirmed, s.held) AS x
     WHERE x.confirmed <> x.real_confirmed OR x.held <> x.real_held
    UNION ALL
    SELECT 'pool', p.pool_id, format('sharded = %s but its shards have budgets of %s', p.sharded,
                                     coalesce(sum(s.budget), 0))
      FROM booking.pool p LEFT JOIN booking.pool_shard s ON s.pool_id = p.pool_id
     GROUP BY p.pool_id, p.sharded
    HAVING p.sharded <> coalesce(sum(s.budget), 0)
    UNION ALL
    SELECT 'pool', p.pool_id, format('counters over capacity: %s confirmed + %s held + %s in shards > %s',
                                     p.confirmed, p.held, p.sharded, p.capacity)
      FROM booking.pool p
     WHERE p.confirmed < 0 OR p.held < 0 OR p.waitlisted < 0 OR p.sharded < 0
        OR p.confirmed::bigint + p.held + p.sharded > p.capacity
    UNION ALL
    SELECT 'pool', s.pool_id, format('shard %s counts %s confirmed + %s held against a budget of %s',
                                     s.shard, s.confirmed, s.held, s.budget)
      FROM booking.pool_shard s
     WHERE s.confirmed < 0 OR s.held < 0 OR s.confirmed::bigint + s.held > s.budget
    UNION ALL
    SELECT 'pool', s.pool_id, format('shards_drained, but shard %s has %s free', s.shard,
                                     s.budget - s.confirmed - s.held)
      FROM booking.pool p JOIN booking.pool_shard s ON s.pool_id = p.pool_id
     WHERE p.shards_drained AND s.budget <> s.confirmed + s.held
    UNION ALL
    SELECT 'booking', b.booking_id, format('taken from shard %s, which pool %s does not have', b.shard, b.pool_id)
      FROM booking.booking b
     WHERE b.shard IS NOT NULL
       AND NOT EXISTS (SELECT 1 FROM booking.pool_shard s WHERE s.pool_id = b.pool_id AND s.shard = b.shard)
    UNION ALL
    SELECT 'pool', p.pool_id, 'path does not match parent chain'
      FROM booking.pool p LEFT JOIN booking.pool q ON q.pool_id = p.parent_id
     WHERE p.path IS DISTINCT FROM
           (CASE WHEN p.parent_id IS NULL THEN ARRAY[p.pool_id] ELSE q.path || p.pool_id END)
        OR p.root_id IS DISTINCT FROM coalesce(q.root_id, p.pool_id)
    UNION ALL
    SELECT 'pool', r.pool_id, format('next_expiry is after the end of the hold of booking %s', b.booking_id)
      FROM booking.booking b
      JOIN booking.pool p ON p.pool_id = b.pool_id
      JOIN booking.pool r ON r.pool_id = p.root_id
     WHERE b.status = 'held'
       AND coalesce(least(r.next_expiry, (SELECT min(s.next_expiry) FROM booking.pool_shard s
                                           WHERE s.pool_id = r.pool_id)), 'infinity') > b.held_until
    UNION ALL
    SELECT 'pool', p.pool_id, format('invalid definition: capacity %s, shards %s, max_per_holder %s, parent %s',
                                     p.capacity, p.shards, p.max_per_holder, p.parent_id)
      FROM booking.pool p
     WHERE p.capacity < 0 OR p.shards < 1 OR p.max_per_holder < 1 OR p.parent_id >= p.pool_id
    UNION ALL
    SELECT 'booking', b.booking_id, format('invalid row: kind %s, status %s, spots %s, held_until %s',
                                           b.kind, b.status, b.spots, b.held_until)
      FROM booking.booking b
     WHERE b.kind NOT IN ('ticket', 'seats', 'slot')
        OR b.status NOT IN ('held', 'confirmed', 'waitlisted', 'released', 'expired')
        OR b.spots < 1
        OR (b.status = 'held' AND b.held_until IS NULL)
        OR ((b.kind = 'ticket') <> (b.pool_id IS NOT NULL))
    UNION ALL
    SELECT 'seat', x.seat_id, format('in two active bookings: %s', x.bookings)
      FROM (SELECT u.seat_id, string_agg(b.booking_id::text, ', ' ORDER BY b.booking_id) AS bookings
              FROM booking.booking b CROSS JOIN LATERAL unnest(b.seat_ids) AS u(seat_id)
             WHERE b.kind = 'seats' AND (b.status = 'confirmed' OR (b.status = 'held' AND b.held_until > now()))
             GROUP BY u.seat_id HAVING count(*) > 1) AS x
    UNION ALL
    SELECT 'booking', b.booking_id, format('active, but seat %s belongs to %s', u.seat_id,
                                           coalesce(s.booking_id::text, 'nobody'))
      FROM booking.booking b CROSS JOIN LATERAL unnest(b.seat_ids) AS u(seat_id)
      LEFT JOIN booking.seat s ON s.seat_id = u.seat_id
     WHERE b.kind = 'seats' AND (b.status = 'confirmed' OR (b.status = 'held' AND b.held_until > now()))
       AND (s.booking_id IS DISTINCT FROM b.booking_id
            OR s.held_until IS DISTINCT FROM (CASE WHEN b.status = 'held' THEN b.held_until END)
            OR s.show_id IS DISTINCT FROM b.show_id)
    UNION ALL
    SELECT 'seat', s.seat_id, format('taken by booking %s, which does not list it', s.booking_id)
      FROM booking.seat s
     WHERE s.booking_id IS NOT NULL
       AND (s.held_until IS NULL OR s.held_until > now())
       AND NOT EXISTS (SELECT 1 FROM booking.booking b
                        WHERE b.booking_id = s.booking_id AND b.kind = 'seats' AND s.seat_id = ANY (b.seat_ids))
    UNION ALL
    SELECT 'booking', b.booking_id, format('seat booking of %s spots lists %s seats', b.spots,
                                           coalesce(cardinality(b.seat_ids), 0))
      FROM booking.booking b
     WHERE b.kind = 'seats' AND b.spots IS DISTINCT FROM cardinality(b.seat_ids)
    UNION ALL
    -- the busiest instant of a range is one of its bookings' starts
    SELECT 'resource', r.resource_id, format('%s bookings overlap at %s, capacity %s', x.n, x.at, r.capacity)
      FROM booking.resource r
      JOIN LATERAL (
           SELECT b.starts_at AS at, count(*) AS n
             FROM booking.booking b
             JOIN booking.booking o
               ON o.kind = 'slot' AND o.resource_id = b.resource_id
              AND o.starts_at <= b.starts_at AND o.ends_at > b.starts_at
              AND (o.status = 'confirmed' OR (o.status = 'held' AND o.held_until > now()))
            WHERE b.kind = 'slot' AND b.resource_id = r.resource_id
              AND (b.status = 'confirmed' OR (b.status = 'held' AND b.held_until > now()))
            GROUP BY b.booking_id, b.starts_at
           HAVING count(*) > r.capacity
            ORDER BY count(*) DESC LIMIT 1) AS x ON true
    UNION ALL
    SELECT 'booking', b.booking_id, 'slot booking with an empty or unknown range or resource'
      FROM booking.booking b
     WHERE b.kind = 'slot'
       AND (b.starts_at IS NULL OR b.ends_at IS NULL OR b.ends_at <= b.starts_at
            OR NOT EXISTS (SELECT 1 FROM booking.resource r WHERE r.resource_id = b.resource_id))
    UNION ALL
    SELECT 'booking', b.booking_id, format('ticket booking of unknown pool %s', b.pool_id)
      FROM booking.booking b
     WHERE b.kind = 'ticket' AND NOT EXISTS (SELECT 1 FROM booking.pool p WHERE p.pool_id = b.pool_id)
    UNION ALL
    -- a waitlisted group that fits everywhere, first of its pool's list
    -- among the groups that could fit (a group larger than a capacity of
    -- its chain waits without blocking anyone behind it)
    SELECT 'booking', h.booking_id, format('waitlisted group of %s fits in pool %s', h.spots, h.pool_id)
      FROM (SELECT DISTINCT ON (b.pool_id) b.booking_id, b.pool_id, b.spots
              FROM booking.booking b JOIN booking.pool p ON p.pool_id = b.pool_id
             WHERE b.status = 'waitlisted'
               AND NOT EXISTS (SELECT 1 FROM booking.pool a WHERE a.pool_id = ANY (p.path) AND a.capacity < b.spots)
             ORDER BY b.pool_id, b.booking_id) AS h
      JOIN booking.pool c ON c.pool_id = h.pool_id
     WHERE c.auto_promote
       AND NOT EXISTS (SELECT 1 FROM booking.pool a
                        WHERE a.pool_id = ANY (c.path)
                          AND a.capacity - a.confirmed - a.held
                              - (SELECT coalesce(sum(s.confirmed + s.held), 0) FROM booking.pool_shard s
                                  WHERE s.pool_id = a.pool_id) < h.spots)
    UNION ALL
    -- node-aware ids (set_node): every sequence steps by the node count and
    -- every id belongs to this node
    SELECT 'sequence', NULL::bigint, format('%s increments by %s, but this is node %s of %s',
                                            q.seqrelid::regclass, q.seqincrement, n.node, n.nodes)
      FROM pg_sequence q, booking.node_info n
     WHERE q.seqrelid IN ('booking.pool_id_seq'::regclass, 'booking.booking_id_seq'::regclass,
                          'booking.show_id_seq'::regclass, 'booking.seat_id_seq'::regclass,
                          'booking.resource_id_seq'::regclass)
       AND q.seqincrement <> n.nodes
    UNION ALL
    SELECT x.object, x.id, format('id is not of node %s of %s', n.node, n.nodes)
      FROM booking.node_info n,
           LATERAL (SELECT 'pool', pool_id FROM booking.pool UNION ALL
                    SELECT 'booking', booking_id FROM booking.booking UNION ALL
                    SELECT 'show', show_id FROM booking.show UNION ALL
                    SELECT 'seat', seat_id FROM booking.seat UNION ALL
                    SELECT 'resource', resource_id FROM booking.resource) AS x(object, id)
     WHERE n.nodes > 1 AND x.id % n.nodes <> n.node
$$;

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
              FROM pg_catalog.pg_depend d JOIN pg_catalog.pg_extension e ON e.oid OPERATOR(pg_catalog.=) d.refobjid
             WHERE d.refclassid OPERATOR(pg_catalog.=) 'pg_catalog.pg_extension'::pg_catalog.regclass::pg_catalog.oid
               AND e.extname OPERATOR(pg_catalog.=) 'booking'::pg_catalog.name
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
                   CASE WHEN p.proname OPERATOR(pg_catalog.=) ANY ('{decrement_ticket,register,reserve_seats,reserve_best_available,reserve_slot,confirm,release,extend_hold,availability,seat_map}'::pg_catalog.name[])
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
             WHERE e.extname OPERATOR(pg_catalog.=) 'booking'::pg_catalog.name
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

-- reconcile() no longer waits in the lock manager for a shard row a buyer
-- holds (issue 18).
CREATE OR REPLACE FUNCTION booking.reconcile(pool_id bigint DEFAULT NULL)
RETURNS integer
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    root bigint;
    corrected integer;
    busy bigint;
    started timestamptz := clock_timestamp();
BEGIN
    IF reconcile.pool_id IS NOT NULL THEN
        SELECT p.root_id INTO root FROM booking.pool p WHERE p.pool_id = reconcile.pool_id;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'pool % does not exist', reconcile.pool_id USING ERRCODE = 'PT404';
        END IF;
    END IF;
    -- Lock in ascending id order (roots before their descendants), then the
    -- shards. A buyer keeps the shard it took from locked to its commit and
    -- may go on to want a pool row locked here: never wait for it in the
    -- lock manager. SKIP LOCKED, again every millisecond for at most
    -- deadlock_timeout, then 55P03.
    PERFORM 1 FROM booking.pool p WHERE root IS NULL OR p.root_id = root ORDER BY p.pool_id FOR NO KEY UPDATE;
    LOOP
        SELECT count(*) - count(l.shard) INTO busy
          FROM booking.pool_shard s JOIN booking.pool p ON p.pool_id = s.pool_id
          LEFT JOIN (SELECT x.pool_id, x.shard FROM booking.pool_shard x JOIN booking.pool q ON q.pool_id = x.pool_id
                      WHERE root IS NULL OR q.root_id = root
                      ORDER BY x.pool_id, x.shard FOR NO KEY UPDATE OF x SKIP LOCKED) AS l
                 ON l.pool_id = s.pool_id AND l.shard = s.shard
         WHERE root IS NULL OR p.root_id = root;
        EXIT WHEN busy = 0;
        IF clock_timestamp() - started > current_setting('deadlock_timeout')::interval THEN
            RAISE EXCEPTION '% shard rows are held by other open transactions', busy
                USING ERRCODE = '55P03', HINT = 'Try again when they have ended.';
        END IF;
        PERFORM pg_sleep(0.001);
    END LOOP;
    -- Pools whose counters (their row's plus their shards') differ from the rows.
    WITH actual AS (SELECT * FROM booking.pool_usage(root)), shards AS (
        SELECT ps.pool_id, sum(ps.confirmed)::integer AS confirmed, sum(ps.held)::integer AS held
          FROM booking.pool_shard ps GROUP BY ps.pool_id
    )
    SELECT count(*) INTO corrected
      FROM booking.pool p LEFT JOIN actual a ON a.pool_id = p.pool_id LEFT JOIN shards s ON s.pool_id = p.pool_id
     WHERE (root IS NULL OR p.root_id = root)
       AND (p.confirmed + coalesce(s.confirmed, 0), p.held + coalesce(s.held, 0), p.waitlisted)
           IS DISTINCT FROM (coalesce(a.confirmed, 0), coalesce(a.held, 0), coalesce(a.waitlisted, 0));

    -- Rows that oversell a pool are refused: no counter may say so (the
    -- rows must be repaired first; booking.check() lists them).
    PERFORM 1 FROM booking.pool_usage(root) a JOIN booking.pool p ON p.pool_id = a.pool_id
      WHERE a.confirmed::bigint + a.held > p.capacity;
    IF FOUND THEN
        RAISE EXCEPTION 'the rows of a pool oversell it: %', (
            SELECT string_agg(format('pool %s: %s confirmed + %s held > capacity %s', p.pool_id, a.confirmed,
                                     a.held, p.capacity), '; ' ORDER BY p.pool_id)
              FROM booking.pool_usage(root) a JOIN booking.pool p ON p.pool_id = a.pool_id
             WHERE a.confirmed::bigint + a.held > p.capacity)
            USING ERRCODE = '23514', HINT = 'Repair the booking rows that booking.check() lists first.';
    END IF;

    -- Fold every shard back into its pool row, then write the counters from
    -- the rows; buyers refill the shards on demand.
    UPDATE booking.booking b SET shard = NULL
      FROM booking.pool p
     WHERE b.pool_id = p.pool_id AND b.shard IS NOT NULL AND (root IS NULL OR p.root_id = root);
    UPDATE booking.pool_shard s SET budget = 0, confirmed = 0, held = 0, next_expiry = NULL
      FROM booking.pool p
     WHERE p.pool_id = s.pool_id AND (root IS NULL OR p.root_id = root)
       AND (s.budget, s.confirmed, s.held) <> (0, 0, 0);
    UPDATE booking.pool p SET sharded = 0, shards_drained = (p.shards > 1 AND p.parent_id IS NULL)
     WHERE (p.sharded <> 0 OR p.shards_drained IS DISTINCT FROM (p.shards > 1 AND p.parent_id IS NULL))
       AND (root IS NULL OR p.root_id = root);
    WITH actual AS (SELECT * FROM booking.pool_usage(root))
    UPDATE booking.pool p
       SET confirmed = coalesce(a.confirmed, 0), held = coalesce(a.held, 0), waitlisted = coalesce(a.waitlisted, 0)
      FROM booking.pool q LEFT JOIN actual a ON a.pool_id = q.pool_id
     WHERE p.pool_id = q.pool_id AND (root IS NULL OR q.root_id = root)
       AND (p.confirmed, p.held, p.waitlisted)
           IS DISTINCT FROM (coalesce(a.confirmed, 0), coalesce(a.held, 0), coalesce(a.waitlisted, 0));
    -- The earliest hold end of each tree, so read-time expiry sees every hold.
    UPDATE booking.pool r
       SET next_expiry = (SELECT min(b.held_until) FROM booking.booking b JOIN booking.pool c ON c.pool_id = b.pool_id
                           WHERE c.root_id = r.pool_id AND b.status = 'held')
     WHERE r.parent_id IS NULL AND (root IS NULL OR r.pool_id = root);
    RETURN corrected;
END
$$;
