-- booking_proxy 1.0: the booking API in a proxy database, each call routed by
-- PL/Proxy to the booking node that owns its pool, show, resource or booking.
\echo Use "CREATE EXTENSION booking_proxy" to load this file. \quit

-- The proxy database holds no booking data: every contract function below
-- has the node's name, argument names, defaults and result type, and
-- forwards the call to cluster 'booking', an SQL/MED server of the plproxy
-- foreign data wrapper whose partitions p0 .. pN-1 are the nodes, node k
-- being the database where booking.set_node(k, N) was called:
--
--   CREATE SERVER booking FOREIGN DATA WRAPPER plproxy
--       OPTIONS (p0 'host=node0 dbname=shop', p1 'host=node1 dbname=shop');
--   CREATE USER MAPPING FOR <owner of this extension> SERVER booking
--       OPTIONS (user 'booking_proxy', password '...');
--
-- Node k of N allocates only ids congruent to k modulo N, and PL/Proxy maps
-- a hash h to partition h & (N - 1) (N a power of two) or, with the server
-- option modular_mapping '1', to abs(h % N) (any N): either way an id is its
-- own hash, so "RUN ON <id>" reaches the node that allocated it.
--
-- Like the node's, every function here is SECURITY DEFINER with a pinned
-- search_path: it runs as the extension owner, whose user mapping is the
-- only one needed, and callers need no account on the nodes. Customer
-- functions are executable by PUBLIC, organiser functions and the views
-- are not (see the end).
--
-- A call through the proxy runs in its own transaction on its node and is
-- committed there when it returns (PL/Proxy runs remote statements in
-- autocommit mode): a ROLLBACK of the caller's transaction on the proxy does
-- not undo it. Retry with an idempotency_key instead.

------------------------------------------------------------------------------
-- Result types: the node's, column for column.
------------------------------------------------------------------------------

CREATE TYPE booking.ticket_result AS (booking_id bigint, status text, remaining integer, held_until timestamptz);
CREATE TYPE booking.confirm_result AS (booking_id bigint, status text);
CREATE TYPE booking.release_result AS (booking_id bigint, status text, released integer, promoted bigint[]);
CREATE TYPE booking.hold_result AS (booking_id bigint, status text, held_until timestamptz);
CREATE TYPE booking.register_result AS (booking_id bigint, status text, waitlist_position integer);
CREATE TYPE booking.promotion AS (booking_id bigint, spots integer);
CREATE TYPE booking.seats_result AS (booking_id bigint, status text, held_until timestamptz, seat_ids bigint[],
                                     unavailable bigint[]);
CREATE TYPE booking.slot_result AS (booking_id bigint, status text, held_until timestamptz);
CREATE TYPE booking.pool_availability AS (capacity integer, confirmed integer, held integer, available integer,
                                          waitlisted integer);

------------------------------------------------------------------------------
-- Routing
------------------------------------------------------------------------------

-- The hash of a key: the id itself. A NULL key goes to node 0, which
-- answers 22004 naming the argument, as one node would (PL/Proxy itself
-- refuses a NULL hash with an error of its own).
CREATE FUNCTION booking.node_of(id bigint)
RETURNS bigint
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT coalesce(id, 0) $$;

-- Where a new root pool, show or resource goes: round robin over the nodes
-- (this sequence modulo N). A child pool goes to its parent's node, the
-- only place its parent's counters are.
CREATE SEQUENCE booking.placement_seq;

CREATE FUNCTION booking.placement(parent_id bigint)
RETURNS bigint
LANGUAGE sql VOLATILE SET search_path = pg_catalog, pg_temp
AS $$ SELECT coalesce(parent_id, pg_catalog.nextval('booking.placement_seq'::pg_catalog.regclass)) $$;

-- The number of partitions (nodes) of cluster 'booking', from its SQL/MED
-- server options p0, p1, ... (or partition_0, ...); 0 when not configured.
CREATE FUNCTION booking.partitions()
RETURNS integer
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp
AS $$
    SELECT pg_catalog.count(*)::integer
      FROM pg_catalog.pg_foreign_server s
     CROSS JOIN LATERAL pg_catalog.unnest(s.srvoptions) AS o(opt)
     WHERE s.srvname OPERATOR(pg_catalog.=) 'booking'
       AND o.opt OPERATOR(pg_catalog.~) '^(p|partition_)[0-9]+='
$$;

-- The partitions a call keyed by an optional pool runs on: the pool's node,
-- or every node when the pool is NULL.
CREATE FUNCTION booking.nodes_for(id bigint)
RETURNS SETOF bigint
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp
AS $$
    SELECT id WHERE id IS NOT NULL
    UNION ALL
    SELECT k::bigint FROM pg_catalog.generate_series(0, booking.partitions() OPERATOR(pg_catalog.-) 1) AS k
     WHERE id IS NULL
$$;

------------------------------------------------------------------------------
-- Capacity pools
------------------------------------------------------------------------------

CREATE FUNCTION booking.create_pool(capacity integer, name text DEFAULT NULL, parent_id bigint DEFAULT NULL,
                                    shards integer DEFAULT 1, max_per_holder integer DEFAULT NULL,
                                    auto_promote boolean DEFAULT true)
RETURNS bigint
LANGUAGE plproxy VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
    CLUSTER 'booking';
    RUN ON booking.placement(parent_id);
$$;

CREATE FUNCTION booking.set_capacity(pool_id bigint, capacity integer)
RETURNS void
LANGUAGE plproxy VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
    CLUSTER 'booking';
    RUN ON booking.node_of(pool_id);
$$;

CREATE FUNCTION booking.decrement_ticket(pool_id bigint, quantity integer DEFAULT 1, holder text DEFAULT NULL,
                                         hold_for interval DEFAULT NULL, idempotency_key text DEFAULT NULL)
RETURNS booking.ticket_result
LANGUAGE plproxy VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
    CLUSTER 'booking';
    RUN ON booking.node_of(pool_id);
$$;

CREATE FUNCTION booking.register(pool_id bigint, spots integer DEFAULT 1, holder text DEFAULT NULL,
                                 idempotency_key text DEFAULT NULL)
RETURNS booking.register_result
LANGUAGE plproxy VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
    CLUSTER 'booking';
    RUN ON booking.node_of(pool_id);
$$;

CREATE FUNCTION booking.promote_waitlist(pool_id bigint, max_count integer DEFAULT NULL,
                                         booking_id bigint DEFAULT NULL, skip_unfit boolean DEFAULT false)
RETURNS SETOF booking.promotion
LANGUAGE plproxy VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
ROWS 10
AS $$
    CLUSTER 'booking';
    RUN ON booking.node_of(pool_id);
$$;

-- PL/Proxy functions must be VOLATILE; the contract's availability is
-- STABLE, so it wraps one.
CREATE FUNCTION booking.availability_on(pool_id bigint)
RETURNS booking.pool_availability
LANGUAGE plproxy VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
    CLUSTER 'booking';
    RUN ON booking.node_of(pool_id);
    TARGET booking.availability;
$$;

CREATE FUNCTION booking.availability(pool_id bigint)
RETURNS booking.pool_availability
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$ SELECT * FROM booking.availability_on(pool_id) $$;

-- A show's seat map for a buyer, from the show's node; STABLE like the
-- node's, so it wraps a PL/Proxy function too.
CREATE FUNCTION booking.seat_map_on(show_id bigint, holder text)
RETURNS TABLE (seat_id bigint, section text, row_label text, number integer, status text, mine boolean,
               held_until timestamptz, booking_id bigint)
LANGUAGE plproxy VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
ROWS 1000
AS $$
    CLUSTER 'booking';
    RUN ON booking.node_of(show_id);
    TARGET booking.seat_map;
$$;

CREATE FUNCTION booking.seat_map(show_id bigint, holder text DEFAULT NULL)
RETURNS TABLE (seat_id bigint, section text, row_label text, number integer, status text, mine boolean,
               held_until timestamptz, booking_id bigint)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
ROWS 1000
AS $$ SELECT * FROM booking.seat_map_on(show_id, holder) $$;

------------------------------------------------------------------------------
-- Seats
------------------------------------------------------------------------------

CREATE FUNCTION booking.create_show(name text DEFAULT NULL, notify boolean DEFAULT false)
RETURNS bigint
LANGUAGE plproxy VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
    CLUSTER 'booking';
    RUN ON booking.placement(NULL);
$$;

CREATE FUNCTION booking.add_seats(show_id bigint, section text, row_label text, first_number integer,
                                  count integer)
RETURNS bigint[]
LANGUAGE plproxy VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
    CLUSTER 'booking';
    RUN ON booking.node_of(show_id);
$$;

CREATE FUNCTION booking.reserve_seats(show_id bigint, seat_ids bigint[], holder text,
                                      hold_for interval DEFAULT '10 minutes', idempotency_key text DEFAULT NULL)
RETURNS booking.seats_result
LANGUAGE plproxy VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
    CLUSTER 'booking';
    RUN ON booking.node_of(show_id);
$$;

CREATE FUNCTION booking.reserve_best_available(show_id bigint, quantity integer, holder text,
                                               section text DEFAULT NULL, hold_for interval DEFAULT '10 minutes',
                                               idempotency_key text DEFAULT NULL)
RETURNS booking.seats_result
LANGUAGE plproxy VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
    CLUSTER 'booking';
    RUN ON booking.node_of(show_id);
$$;

------------------------------------------------------------------------------
-- Appointment slots
------------------------------------------------------------------------------

CREATE FUNCTION booking.create_resource(name text DEFAULT NULL, capacity integer DEFAULT 1)
RETURNS bigint
LANGUAGE plproxy VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
    CLUSTER 'booking';
    RUN ON booking.placement(NULL);
$$;

CREATE FUNCTION booking.reserve_slot(resource_id bigint, starts_at timestamptz, ends_at timestamptz, holder text,
                                     hold_for interval DEFAULT '15 minutes', payment_ref text DEFAULT NULL,
                                     idempotency_key text DEFAULT NULL)
RETURNS booking.slot_result
LANGUAGE plproxy VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
    CLUSTER 'booking';
    RUN ON booking.node_of(resource_id);
$$;

------------------------------------------------------------------------------
-- Every kind of booking: routed by booking id
------------------------------------------------------------------------------

CREATE FUNCTION booking.confirm(booking_id bigint, holder text DEFAULT NULL, payment_ref text DEFAULT NULL)
RETURNS booking.confirm_result
LANGUAGE plproxy VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
    CLUSTER 'booking';
    RUN ON booking.node_of(booking_id);
$$;

CREATE FUNCTION booking.release(booking_id bigint, holder text DEFAULT NULL)
RETURNS booking.release_result
LANGUAGE plproxy VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
    CLUSTER 'booking';
    RUN ON booking.node_of(booking_id);
$$;

CREATE FUNCTION booking.cancel(booking_id bigint)
RETURNS booking.release_result
LANGUAGE plproxy VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
    CLUSTER 'booking';
    RUN ON booking.node_of(booking_id);
$$;

CREATE FUNCTION booking.extend_hold(booking_id bigint, holder text DEFAULT NULL,
                                    hold_for interval DEFAULT '10 minutes')
RETURNS booking.hold_result
LANGUAGE plproxy VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
    CLUSTER 'booking';
    RUN ON booking.node_of(booking_id);
$$;

-- confirm_payment is keyed by a payment reference, which says nothing of
-- its node: ask every node for the bookings carrying it, then confirm on the
-- node of the one a node would pick itself (a live hold or purchase first,
-- then a lapsed one, then the newest). That node repeats the lookup under
-- its own locks, so a change between the two steps is seen there. When no
-- node knows the reference (or it is NULL), node 0 answers PT404 (or 22004).
CREATE FUNCTION booking.payment_candidates(payment_ref text, OUT booking_id bigint, OUT rank integer)
RETURNS SETOF record
LANGUAGE plproxy VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
    CLUSTER 'booking';
    RUN ON ALL;
    SELECT b.booking_id,
           CASE WHEN b.status IN ('held', 'confirmed') THEN 2 WHEN b.status = 'expired' THEN 1 ELSE 0 END AS rank
      FROM booking.bookings b
     WHERE b.payment_ref OPERATOR(pg_catalog.=) payment_ref;
$$;

CREATE FUNCTION booking.confirm_payment_on(node bigint, payment_ref text)
RETURNS booking.confirm_result
LANGUAGE plproxy VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
    CLUSTER 'booking';
    RUN ON booking.node_of(node);
    SELECT c.booking_id, c.status FROM booking.confirm_payment(payment_ref) c;
$$;

CREATE FUNCTION booking.confirm_payment(payment_ref text)
RETURNS booking.confirm_result
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    owner bigint;
BEGIN
    SELECT c.booking_id INTO owner
      FROM booking.payment_candidates(confirm_payment.payment_ref) c
     ORDER BY c.rank DESC, c.booking_id DESC LIMIT 1;
    RETURN booking.confirm_payment_on(owner, confirm_payment.payment_ref);
END
$$;

-- Calls on every node: the sum of the nodes' answers. max_count applies to
-- each node.
CREATE FUNCTION booking.expire_holds_all(max_count integer)
RETURNS SETOF integer
LANGUAGE plproxy VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
    CLUSTER 'booking';
    RUN ON ALL;
    TARGET booking.expire_holds;
$$;

CREATE FUNCTION booking.expire_holds(max_count integer DEFAULT 10000)
RETURNS integer
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$ SELECT coalesce(pg_catalog.sum(n), 0)::integer FROM booking.expire_holds_all(max_count) AS n $$;

-- reconcile(pool) on the pool's node; reconcile() on every node.
CREATE FUNCTION booking.reconcile_on(pool_id bigint)
RETURNS SETOF integer
LANGUAGE plproxy VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
    CLUSTER 'booking';
    RUN ON booking.nodes_for(pool_id);
    TARGET booking.reconcile;
$$;

CREATE FUNCTION booking.reconcile(pool_id bigint DEFAULT NULL)
RETURNS integer
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$ SELECT coalesce(pg_catalog.sum(n), 0)::integer FROM booking.reconcile_on(pool_id) AS n $$;

CREATE FUNCTION booking.stats_reset_all()
RETURNS SETOF integer
LANGUAGE plproxy VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
    CLUSTER 'booking';
    RUN ON ALL;
    SELECT 1 AS stats_reset_all FROM booking.stats_reset();
$$;

CREATE FUNCTION booking.stats_reset()
RETURNS void
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$ SELECT FROM booking.stats_reset_all() $$;

------------------------------------------------------------------------------
-- Reading: every node's rows (RUN ON ALL, in parallel), each node in its
-- own snapshot; see docs/cluster.md for what that cannot promise.
------------------------------------------------------------------------------

CREATE FUNCTION booking.pool_status_all(OUT pool_id bigint, OUT name text, OUT parent_id bigint,
                                        OUT capacity integer, OUT confirmed integer, OUT held integer,
                                        OUT available integer, OUT waitlisted integer, OUT shards integer)
RETURNS SETOF record
LANGUAGE plproxy VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
    CLUSTER 'booking';
    RUN ON ALL;
    SELECT s.pool_id, s.name, s.parent_id, s.capacity, s.confirmed, s.held, s.available, s.waitlisted, s.shards
      FROM booking.pool_status s;
$$;

CREATE VIEW booking.pool_status AS
SELECT s.pool_id, s.name, s.parent_id, s.capacity, s.confirmed, s.held, s.available, s.waitlisted, s.shards
  FROM booking.pool_status_all() AS s;

CREATE FUNCTION booking.bookings_all(OUT booking_id bigint, OUT kind text, OUT pool_id bigint, OUT show_id bigint,
                                     OUT resource_id bigint, OUT spots integer, OUT seat_ids bigint[],
                                     OUT status text, OUT holder text, OUT held_until timestamptz,
                                     OUT starts_at timestamptz, OUT ends_at timestamptz, OUT payment_ref text,
                                     OUT idempotency_key text, OUT waitlist_position integer,
                                     OUT created_at timestamptz, OUT updated_at timestamptz)
RETURNS SETOF record
LANGUAGE plproxy VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
    CLUSTER 'booking';
    RUN ON ALL;
    SELECT b.booking_id, b.kind, b.pool_id, b.show_id, b.resource_id, b.spots, b.seat_ids, b.status, b.holder,
           b.held_until, b.starts_at, b.ends_at, b.payment_ref, b.idempotency_key, b.waitlist_position,
           b.created_at, b.updated_at
      FROM booking.bookings b;
$$;

CREATE VIEW booking.bookings AS
SELECT b.booking_id, b.kind, b.pool_id, b.show_id, b.resource_id, b.spots, b.seat_ids, b.status, b.holder,
       b.held_until, b.starts_at, b.ends_at, b.payment_ref, b.idempotency_key, b.waitlist_position,
       b.created_at, b.updated_at
  FROM booking.bookings_all() AS b;

CREATE FUNCTION booking.seats_all(OUT seat_id bigint, OUT show_id bigint, OUT section text, OUT row_label text,
                                  OUT number integer, OUT status text, OUT booking_id bigint,
                                  OUT held_until timestamptz)
RETURNS SETOF record
LANGUAGE plproxy VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
    CLUSTER 'booking';
    RUN ON ALL;
    SELECT s.seat_id, s.show_id, s.section, s.row_label, s.number, s.status, s.booking_id, s.held_until
      FROM booking.seats s;
$$;

CREATE VIEW booking.seats AS
SELECT s.seat_id, s.show_id, s.section, s.row_label, s.number, s.status, s.booking_id, s.held_until
  FROM booking.seats_all() AS s;

-- The cluster's counters: the sum over the nodes; stats_reset is the latest
-- reset of any node. A node without shared_preload_libraries = 'booking'
-- raises 55000 as it would alone.
CREATE FUNCTION booking.stats_all(OUT confirmed bigint, OUT held bigint, OUT waitlisted bigint,
                                  OUT sold_out bigint, OUT conflict bigint, OUT limit_exceeded bigint,
                                  OUT promoted bigint, OUT released bigint, OUT expired bigint,
                                  OUT stats_reset timestamptz)
RETURNS SETOF record
LANGUAGE plproxy VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
    CLUSTER 'booking';
    RUN ON ALL;
    SELECT s.confirmed, s.held, s.waitlisted, s.sold_out, s.conflict, s.limit_exceeded, s.promoted, s.released,
           s.expired, s.stats_reset
      FROM booking.stats s;
$$;

CREATE VIEW booking.stats AS
SELECT pg_catalog.current_database() AS datname,
       pg_catalog.sum(s.confirmed)::bigint AS confirmed, pg_catalog.sum(s.held)::bigint AS held,
       pg_catalog.sum(s.waitlisted)::bigint AS waitlisted, pg_catalog.sum(s.sold_out)::bigint AS sold_out,
       pg_catalog.sum(s.conflict)::bigint AS conflict, pg_catalog.sum(s.limit_exceeded)::bigint AS limit_exceeded,
       pg_catalog.sum(s.promoted)::bigint AS promoted, pg_catalog.sum(s.released)::bigint AS released,
       pg_catalog.sum(s.expired)::bigint AS expired, pg_catalog.max(s.stats_reset) AS stats_reset
  FROM booking.stats_all() AS s;

------------------------------------------------------------------------------
-- The nodes: one row per node; set_node routed to the node it names.
------------------------------------------------------------------------------

CREATE FUNCTION booking.node_info_all(OUT node integer, OUT nodes integer)
RETURNS SETOF record
LANGUAGE plproxy VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
    CLUSTER 'booking';
    RUN ON ALL;
    SELECT n.node, n.nodes FROM booking.node_info n;
$$;

CREATE VIEW booking.node_info AS
SELECT n.node, n.nodes FROM booking.node_info_all() AS n;

-- What the database behind partition k says it is.
CREATE FUNCTION booking.node_info_at(k integer, OUT node integer, OUT nodes integer)
RETURNS record
LANGUAGE plproxy VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
    CLUSTER 'booking';
    RUN ON booking.node_of(k);
    SELECT n.node, n.nodes FROM booking.node_info n;
$$;

CREATE FUNCTION booking.set_node_on(node integer, nodes integer)
RETURNS booking.node_info
LANGUAGE plproxy VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
    CLUSTER 'booking';
    RUN ON booking.node_of(node);
    TARGET booking.set_node;
$$;

-- SELECT booking.set_node(k, N) FROM generate_series(0, N - 1) AS k: makes
-- the database behind partition k node k of N. N must be the cluster's
-- partition count, else ids would route to the wrong node.
CREATE FUNCTION booking.set_node(node integer, nodes integer)
RETURNS booking.node_info
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    parts integer := booking.partitions();
BEGIN
    IF set_node.nodes <> parts THEN
        RAISE EXCEPTION 'nodes must be the number of partitions of cluster booking (got nodes %, partitions %)',
            set_node.nodes, parts USING ERRCODE = '22023',
            HINT = 'List every node as p0, p1, ... in the options of SERVER booking.';
    END IF;
    RETURN booking.set_node_on(set_node.node, set_node.nodes);
END
$$;

------------------------------------------------------------------------------
-- Checking: every node's check() (problems prefixed with the node), and one
-- row per partition whose database is not the node of that number.
------------------------------------------------------------------------------

CREATE FUNCTION booking.check_all(OUT object text, OUT id bigint, OUT problem text)
RETURNS SETOF record
LANGUAGE plproxy VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
    CLUSTER 'booking';
    RUN ON ALL;
    SELECT c.object, c.id, pg_catalog.format('node %s: %s', n.node, c.problem) AS problem
      FROM booking.check() c CROSS JOIN booking.node_info n;
$$;

CREATE FUNCTION booking.check()
RETURNS TABLE (object text, id bigint, problem text)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
    SELECT c.object, c.id, c.problem FROM booking.check_all() AS c
    UNION ALL
    SELECT 'node', k::bigint, format('partition %s of %s is node %s of %s', k, p.n, i.node, i.nodes)
      FROM booking.partitions() AS p(n)
     CROSS JOIN LATERAL generate_series(0, p.n - 1) AS k
     CROSS JOIN LATERAL booking.node_info_at(k) AS i
     WHERE (i.node, i.nodes) IS DISTINCT FROM (k, p.n)
$$;

------------------------------------------------------------------------------
-- Privileges: as on a node. Customers buy; organisers (granted by the DBA)
-- run the pools; views and check() are the owner's. The helpers run only
-- inside the functions above. A DBA who grants a view also grants its
-- function: GRANT SELECT ON booking.bookings TO r; GRANT EXECUTE ON
-- FUNCTION booking.bookings_all() TO r.
------------------------------------------------------------------------------

REVOKE ALL ON ALL TABLES IN SCHEMA booking FROM PUBLIC;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA booking FROM PUBLIC;
REVOKE ALL ON FUNCTION booking.create_pool(integer, text, bigint, integer, integer, boolean) FROM PUBLIC;
REVOKE ALL ON FUNCTION booking.set_capacity(bigint, integer) FROM PUBLIC;
REVOKE ALL ON FUNCTION booking.create_show(text, boolean) FROM PUBLIC;
REVOKE ALL ON FUNCTION booking.add_seats(bigint, text, text, integer, integer) FROM PUBLIC;
REVOKE ALL ON FUNCTION booking.promote_waitlist(bigint, integer, bigint, boolean) FROM PUBLIC;
REVOKE ALL ON FUNCTION booking.create_resource(text, integer) FROM PUBLIC;
REVOKE ALL ON FUNCTION booking.confirm_payment(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION booking.cancel(bigint) FROM PUBLIC;
REVOKE ALL ON FUNCTION booking.expire_holds(integer) FROM PUBLIC;
REVOKE ALL ON FUNCTION booking.reconcile(bigint) FROM PUBLIC;
REVOKE ALL ON FUNCTION booking.check() FROM PUBLIC;
REVOKE ALL ON FUNCTION booking.stats_reset() FROM PUBLIC;
REVOKE ALL ON FUNCTION booking.set_node(integer, integer) FROM PUBLIC;
-- helpers
REVOKE ALL ON FUNCTION booking.placement(bigint) FROM PUBLIC;
REVOKE ALL ON FUNCTION booking.partitions() FROM PUBLIC;
REVOKE ALL ON FUNCTION booking.nodes_for(bigint) FROM PUBLIC;
REVOKE ALL ON FUNCTION booking.availability_on(bigint) FROM PUBLIC;
REVOKE ALL ON FUNCTION booking.seat_map_on(bigint, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION booking.payment_candidates(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION booking.confirm_payment_on(bigint, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION booking.expire_holds_all(integer) FROM PUBLIC;
REVOKE ALL ON FUNCTION booking.reconcile_on(bigint) FROM PUBLIC;
REVOKE ALL ON FUNCTION booking.stats_reset_all() FROM PUBLIC;
REVOKE ALL ON FUNCTION booking.pool_status_all() FROM PUBLIC;
REVOKE ALL ON FUNCTION booking.bookings_all() FROM PUBLIC;
REVOKE ALL ON FUNCTION booking.seats_all() FROM PUBLIC;
REVOKE ALL ON FUNCTION booking.stats_all() FROM PUBLIC;
REVOKE ALL ON FUNCTION booking.node_info_all() FROM PUBLIC;
REVOKE ALL ON FUNCTION booking.node_info_at(integer) FROM PUBLIC;
REVOKE ALL ON FUNCTION booking.set_node_on(integer, integer) FROM PUBLIC;
REVOKE ALL ON FUNCTION booking.check_all() FROM PUBLIC;
GRANT USAGE ON SCHEMA booking TO PUBLIC;
