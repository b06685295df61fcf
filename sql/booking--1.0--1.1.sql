-- booking 1.0 -> 1.1: node-aware ids for a sharded cluster (PL/Proxy).
\echo Use "ALTER EXTENSION booking UPDATE TO '1.1'" to load this file. \quit

-- Refuse a schema that a non-superuser owns (it could have been planted
-- before CREATE EXTENSION): its owner could drop and replace anything in
-- it, the functions that run as the extension owner included.
DO $$
BEGIN
    IF EXISTS (SELECT FROM pg_catalog.pg_namespace n JOIN pg_catalog.pg_roles r ON r.oid = n.nspowner
                WHERE n.nspname = 'booking' AND NOT r.rolsuper) THEN
        RAISE EXCEPTION 'schema booking is owned by a role that is not a superuser'
            USING ERRCODE = '42501',
                  HINT = 'Drop that schema (or make a superuser its owner) before installing booking.';
    END IF;
END
$$;

------------------------------------------------------------------------------
-- Node-aware ids (1.1). On a node of an N-node cluster every id this
-- database allocates (pools, bookings, shows, seats, resources) is
-- congruent to the node's index modulo N, so a proxy routes any id to its
-- node (PL/Proxy: RUN ON id, with N partitions) and ids of different nodes
-- never collide. A single server is node 0 of 1: ids 1, 2, 3, ...
------------------------------------------------------------------------------

-- At most one row. A table, not a GUC: pg_dump keeps it, and restoring the
-- row re-applies it to the sequences (the trigger below), since a dump
-- restores a sequence's value but not its increment.
CREATE TABLE booking.node (
    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    node      integer NOT NULL,
    nodes     integer NOT NULL,
    CONSTRAINT node_in_range CHECK (nodes BETWEEN 1 AND 1024 AND node >= 0 AND node < nodes)
);

-- Point every id sequence at the node's residue class: increment N, next
-- value the smallest one above everything allocated so far.
CREATE FUNCTION booking.apply_node()
RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    seq  regclass;
    last bigint;
    next bigint;
BEGIN
    FOREACH seq IN ARRAY ARRAY['booking.pool_id_seq', 'booking.booking_id_seq', 'booking.show_id_seq',
                               'booking.seat_id_seq', 'booking.resource_id_seq']::regclass[] LOOP
        last := coalesce(pg_catalog.pg_sequence_last_value(seq), 0);
        next := last + 1 + ((NEW.node - (last + 1) % NEW.nodes) + NEW.nodes) % NEW.nodes;
        EXECUTE pg_catalog.format('ALTER SEQUENCE %s INCREMENT BY %s', seq, NEW.nodes);
        PERFORM pg_catalog.setval(seq, next, false);
    END LOOP;
    RETURN NULL;
END
$$;

CREATE TRIGGER node_applies_to_sequences AFTER INSERT OR UPDATE ON booking.node
    FOR EACH ROW EXECUTE FUNCTION booking.apply_node();

-- This database's place in the cluster (node 0 of 1 when never set).
CREATE VIEW booking.node_info AS
SELECT coalesce(n.node, 0) AS node, coalesce(n.nodes, 1) AS nodes
  FROM (SELECT) AS one LEFT JOIN booking.node AS n ON true;

-- Make this database node `node` (0-based) of `nodes`. Once set it cannot
-- change while the node holds any pool, show, resource or booking: their ids
-- would route elsewhere. Setting the same values again is a no-op.
CREATE FUNCTION booking.set_node(node integer, nodes integer)
RETURNS booking.node_info
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
    cur booking.node_info;
BEGIN
    IF set_node.node IS NULL OR set_node.nodes IS NULL THEN
        RAISE EXCEPTION 'node and nodes must not be NULL' USING ERRCODE = '22004';
    END IF;
    IF set_node.nodes NOT BETWEEN 1 AND 1024 OR set_node.node NOT BETWEEN 0 AND set_node.nodes - 1 THEN
        RAISE EXCEPTION 'node must be in 0..nodes-1 and nodes in 1..1024 (got node %, nodes %)',
            set_node.node, set_node.nodes USING ERRCODE = '22023';
    END IF;
    -- One caller at a time; a concurrent set_node waits here.
    LOCK TABLE booking.node IN EXCLUSIVE MODE;
    SELECT * INTO cur FROM booking.node_info;
    IF cur.node = set_node.node AND cur.nodes = set_node.nodes THEN
        RETURN (cur.node, cur.nodes)::booking.node_info;
    END IF;
    IF EXISTS (SELECT FROM booking.pool) OR EXISTS (SELECT FROM booking.show)
       OR EXISTS (SELECT FROM booking.resource) OR EXISTS (SELECT FROM booking.booking) THEN
        RAISE EXCEPTION 'this node already holds data; its ids would no longer route to it'
            USING ERRCODE = '55000',
                  HINT = 'Set the node on an empty database, before the first create_pool, create_show or create_resource.';
    END IF;
    INSERT INTO booking.node AS n (node, nodes) VALUES (set_node.node, set_node.nodes)
        ON CONFLICT (singleton) DO UPDATE SET node = excluded.node, nodes = excluded.nodes;
    RETURN (set_node.node, set_node.nodes)::booking.node_info;
END
$$;

REVOKE ALL ON TABLE booking.node FROM PUBLIC;
REVOKE ALL ON FUNCTION booking.apply_node() FROM PUBLIC;
REVOKE ALL ON FUNCTION booking.set_node(integer, integer) FROM PUBLIC;
REVOKE ALL ON TABLE booking.node_info FROM PUBLIC;
SELECT pg_catalog.pg_extension_config_dump('booking.node', '');

------------------------------------------------------------------------------
-- A show's seat map for a buyer (1.1): a customer function, so that a
-- PostgREST/Supabase caller, who may not read the views, can draw the map.
------------------------------------------------------------------------------

-- Every seat of the show with its status as a buyer sees it (available,
-- held, sold; a lapsed hold is available) and, for the holder given, which
-- seats are theirs, until when they hold them and in which booking (to
-- confirm, extend or release it). Other buyers' holders, hold ends and
-- bookings are not shown.
CREATE FUNCTION booking.seat_map(show_id bigint, holder text DEFAULT NULL)
RETURNS TABLE (seat_id bigint, section text, row_label text, number integer, status text, mine boolean,
               held_until timestamptz, booking_id bigint)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
ROWS 1000
AS $$
#variable_conflict use_column
BEGIN
    IF seat_map.show_id IS NULL THEN
        RAISE EXCEPTION 'argument "show_id" must not be NULL' USING ERRCODE = '22004';
    END IF;
    IF octet_length(seat_map.holder) > 256 THEN
        RAISE EXCEPTION 'holder is % bytes long, the limit is 256', octet_length(seat_map.holder)
            USING ERRCODE = '22023';
    END IF;
    IF NOT EXISTS (SELECT FROM booking.show s WHERE s.show_id = seat_map.show_id) THEN
        RAISE EXCEPTION 'show % does not exist', seat_map.show_id USING ERRCODE = 'PT404';
    END IF;
    RETURN QUERY
    SELECT v.seat_id, v.section, v.row_label, v.number, v.status,
           coalesce(b.holder = seat_map.holder, false),
           CASE WHEN b.holder = seat_map.holder THEN v.held_until END,
           CASE WHEN b.holder = seat_map.holder THEN v.booking_id END
      FROM booking.seats v
      LEFT JOIN booking.booking b ON b.booking_id = v.booking_id
     WHERE v.show_id = seat_map.show_id
     ORDER BY v.section, v.row_label, v.number;
END
$$;

-- check() also verifies the node-aware ids.
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
    -- a waitlisted group at the head of its pool's list that fits everywhere
    SELECT 'booking', h.booking_id, format('waitlisted group of %s fits in pool %s', h.spots, h.pool_id)
      FROM (SELECT DISTINCT ON (b.pool_id) b.booking_id, b.pool_id, b.spots
              FROM booking.booking b WHERE b.status = 'waitlisted'
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
