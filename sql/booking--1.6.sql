-- booking 1.6: capacity pools, seats, slots and orders that cannot oversell.
\echo Use "CREATE EXTENSION booking" to load this file. \quit

-- Refuse a schema booking that another role could have planted objects in
-- before CREATE EXTENSION, or could plant objects in afterwards: one that
-- already holds objects, one a non-superuser owns (its owner could drop and
-- replace anything in it, the functions that run as the extension owner
-- included), and one where a role that is not a superuser may create
-- objects. A schema made by this very command (in this transaction, so
-- nobody else could use it yet) may carry CREATE from default privileges:
-- those grants are revoked here at once, and the others set to the
-- documented ones at the end of this script.
--
-- This script runs with search_path booking, pg_temp (pg_catalog first), and
-- pg_catalog lacks an exact operator for some pairs of types (oid and
-- regclass, oid and integer): a planted booking.=(oid, regclass) would win
-- over pg_catalog's oid = oid and run as the installing superuser. So every
-- operator of this script's statements outside its functions (which set
-- their search_path) is OPERATOR(pg_catalog.x), every function
-- pg_catalog-qualified, and the objects check comes first.
DO $$
DECLARE
    nsp record;
    held text;
    creator oid;
BEGIN
    SELECT n.oid, r.rolsuper, n.nspacl, e.oid AS ext,
           -- made now: written by this transaction, with exactly the
           -- privileges default privileges give a new schema of its owner.
           -- A schema that existed and was only changed in this transaction
           -- (by a GRANT, say) has other privileges, unless default
           -- privileges gave them to it too; then what they let a role plant
           -- is refused by the objects check, and the CREATE grants revoked.
           coalesce(n.xmin OPERATOR(pg_catalog.=) e.xmin, false) AND NOT EXISTS (
               (SELECT * FROM pg_catalog.aclexplode(acl.actual) EXCEPT SELECT * FROM pg_catalog.aclexplode(acl.fresh))
               UNION ALL
               (SELECT * FROM pg_catalog.aclexplode(acl.fresh) EXCEPT SELECT * FROM pg_catalog.aclexplode(acl.actual)))
               AS made_now
      INTO nsp
      FROM pg_catalog.pg_namespace n JOIN pg_catalog.pg_roles r ON r.oid OPERATOR(pg_catalog.=) n.nspowner
      LEFT JOIN pg_catalog.pg_extension e ON e.extname OPERATOR(pg_catalog.=) 'booking'::pg_catalog.name
     CROSS JOIN LATERAL (
           SELECT coalesce(n.nspacl, pg_catalog.acldefault('n', n.nspowner)) AS actual,
                  coalesce((SELECT d.defaclacl FROM pg_catalog.pg_default_acl d
                             WHERE d.defaclrole OPERATOR(pg_catalog.=) n.nspowner
                               AND d.defaclnamespace OPERATOR(pg_catalog.=) 0::pg_catalog.oid
                               AND d.defaclobjtype OPERATOR(pg_catalog.=) 'n'::pg_catalog."char"),
                           pg_catalog.acldefault('n', n.nspowner)) AS fresh) AS acl
     WHERE n.nspname OPERATOR(pg_catalog.=) 'booking'::pg_catalog.name;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    -- Every object in a schema depends on it; default privileges for the
    -- schema are not objects in it (they are stripped below).
    SELECT pg_catalog.string_agg(pg_catalog.pg_describe_object(d.classid, d.objid, d.objsubid), ', '
                                 ORDER BY d.classid, d.objid) INTO held
      FROM pg_catalog.pg_depend d
     WHERE d.refclassid OPERATOR(pg_catalog.=) 'pg_catalog.pg_namespace'::pg_catalog.regclass::pg_catalog.oid
       AND d.refobjid OPERATOR(pg_catalog.=) nsp.oid
       AND d.classid OPERATOR(pg_catalog.<>) 'pg_catalog.pg_default_acl'::pg_catalog.regclass::pg_catalog.oid
       AND NOT (d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_extension'::pg_catalog.regclass::pg_catalog.oid
                AND d.objid OPERATOR(pg_catalog.=) nsp.ext);
    IF held IS NOT NULL THEN
        RAISE EXCEPTION 'schema booking already holds objects'
            USING ERRCODE = '42501',
                  DETAIL = pg_catalog.format('It holds %s.', held),
                  HINT = 'Install booking into a schema of its own: drop or move what is in schema booking first.';
    END IF;
    IF NOT nsp.rolsuper THEN
        RAISE EXCEPTION 'schema booking is owned by a role that is not a superuser'
            USING ERRCODE = '42501',
                  HINT = 'Drop that schema (or make a superuser its owner) before installing booking.';
    END IF;
    FOR creator IN
        SELECT DISTINCT a.grantee FROM pg_catalog.aclexplode(nsp.nspacl) AS a
          LEFT JOIN pg_catalog.pg_roles g ON g.oid OPERATOR(pg_catalog.=) a.grantee
         WHERE a.privilege_type OPERATOR(pg_catalog.=) 'CREATE'::pg_catalog.text
           AND NOT coalesce(g.rolsuper, false)
    LOOP
        IF NOT nsp.made_now THEN
            RAISE EXCEPTION 'schema booking lets a role that is not a superuser create objects in it'
                USING ERRCODE = '42501',
                      DETAIL = pg_catalog.format('Its privileges are %s.', nsp.nspacl),
                      HINT = 'Revoke CREATE on schema booking from every role but superusers (or drop that schema) before installing booking.';
        END IF;
        EXECUTE pg_catalog.format('REVOKE CREATE ON SCHEMA booking FROM %s CASCADE',
                                  CASE WHEN creator OPERATOR(pg_catalog.=) 0::pg_catalog.oid THEN 'PUBLIC'
                                       ELSE creator::pg_catalog.regrole::pg_catalog.text END);
    END LOOP;
END
$$;

-- Every name below is schema-qualified and every function pins its
-- search_path, so no object planted by another role changes what runs: the
-- SQL and PL/pgSQL functions with SET search_path = pg_catalog, pg_temp; the
-- C functions set that same search_path as a setting while their statements
-- run (a GUC nest level, only on calls that run a statement) and qualify
-- every name in those statements too (src/pg/spi.hpp).

------------------------------------------------------------------------------
-- Tables. Everything that matters is here, changed in the caller's
-- transaction; pg_dump keeps it (pg_extension_config_dump at the end).
------------------------------------------------------------------------------

CREATE SEQUENCE booking.pool_id_seq;
CREATE SEQUENCE booking.booking_id_seq;

-- A capacity pool: an event, a ticket type, a class session. Counters are in
-- spots and include descendant pools; they always equal what the booking
-- rows say (booking.check() proves it, booking.reconcile() restores it).
CREATE TABLE booking.pool (
    pool_id        bigint PRIMARY KEY,
    name           text,
    parent_id      bigint REFERENCES booking.pool (pool_id),
    root_id        bigint NOT NULL,
    -- ancestors and itself, root first: the lock order of a take
    path           bigint[] NOT NULL,
    capacity       integer NOT NULL,
    shards         integer NOT NULL DEFAULT 1,
    max_per_holder integer,
    auto_promote   boolean NOT NULL DEFAULT true,
    confirmed      integer NOT NULL DEFAULT 0,
    -- rows whose status is held, lapsed ones included until they are swept
    held           integer NOT NULL DEFAULT 0,
    waitlisted     integer NOT NULL DEFAULT 0,
    -- on a root: no hold of the tree lapses before this (NULL: none held)
    next_expiry    timestamptz,
    -- capacity handed to this pool's shards (their budgets); see pool_shard
    sharded        integer NOT NULL DEFAULT 0,
    created_at     timestamptz NOT NULL DEFAULT now(),
    -- on a sharded root: no shard has a free spot (each budget is what its
    -- shard sold), so this row alone gives the pool's free spots and a
    -- sold-out answer reads no shard. Set when the budgets are taken back,
    -- cleared by whatever hands out budget; false only means "not known".
    shards_drained boolean NOT NULL DEFAULT false
    -- No CHECK constraints (1.2): PostgreSQL parses every CHECK of a table
    -- again for each statement that writes it, which cost a sixth of a
    -- take. Every write is one of the functions' statements, whose WHERE
    -- clauses refuse an oversold pool or shard, and booking.check()
    -- verifies every row and counter.
) WITH (fillfactor = 50);

-- A sharded root pool spreads part of its capacity over shard rows, so that
-- concurrent buyers of one hot pool update different rows instead of queueing
-- on one. Each shard sells from its budget alone; the pool's counters are its
-- own row's plus its shards'. Any change that needs the whole pool locks the
-- pool row, then every shard in ascending order, and takes the unused budgets
-- back first.
CREATE TABLE booking.pool_shard (
    pool_id     bigint NOT NULL,
    shard       integer NOT NULL,
    budget      integer NOT NULL DEFAULT 0,
    confirmed   integer NOT NULL DEFAULT 0,
    held        integer NOT NULL DEFAULT 0,
    -- no hold taken from this shard lapses before this
    next_expiry timestamptz,
    PRIMARY KEY (pool_id, shard)
    -- no CHECK constraint: see booking.pool
) WITH (fillfactor = 50);

CREATE INDEX pool_root ON booking.pool (root_id);

-- One booking: spots of a pool (kind ticket); later seats of a show and
-- ranges of a resource.
CREATE TABLE booking.booking (
    booking_id      bigint PRIMARY KEY,
    kind            text NOT NULL,     -- ticket, seats, slot
    pool_id         bigint,
    show_id         bigint,
    resource_id     bigint,
    spots           integer NOT NULL,
    status          text NOT NULL,     -- held, confirmed, waitlisted, released, expired
    holder          text,
    held_until      timestamptz,
    starts_at       timestamptz,
    ends_at         timestamptz,
    payment_ref     text,
    idempotency_key text,
    seat_ids        bigint[],          -- kind seats: the seats, ascending
    shard           integer,           -- kind ticket: the shard whose budget it took (NULL: the pool row)
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    order_id        bigint             -- the order it is an item of (1.6), else NULL
    -- No CHECK constraints, for the same reason as on booking.pool: only the
    -- functions write here, and booking.check() verifies every row.
);

CREATE UNIQUE INDEX booking_pool_idempotency ON booking.booking (pool_id, idempotency_key)
    WHERE idempotency_key IS NOT NULL AND kind = 'ticket';
CREATE UNIQUE INDEX booking_show_idempotency ON booking.booking (show_id, idempotency_key)
    WHERE idempotency_key IS NOT NULL AND kind = 'seats';
CREATE UNIQUE INDEX booking_resource_idempotency ON booking.booking (resource_id, idempotency_key)
    WHERE idempotency_key IS NOT NULL AND kind = 'slot';
-- A payment reference ties one live hold or purchase to an outside checkout.
CREATE UNIQUE INDEX booking_payment_ref ON booking.booking (payment_ref)
    WHERE payment_ref IS NOT NULL AND status IN ('held', 'confirmed');
CREATE INDEX booking_payment_ref_any ON booking.booking (payment_ref) WHERE payment_ref IS NOT NULL;
CREATE INDEX booking_resource_active ON booking.booking (resource_id, ends_at)
    WHERE kind = 'slot' AND status IN ('held', 'confirmed');
CREATE INDEX booking_pool_holder ON booking.booking (pool_id, holder)
    WHERE holder IS NOT NULL AND status IN ('held', 'confirmed', 'waitlisted');
CREATE INDEX booking_pool_held ON booking.booking (pool_id, held_until) WHERE status = 'held';
CREATE INDEX booking_held_until ON booking.booking (held_until) WHERE status = 'held';
CREATE INDEX booking_pool_waitlist ON booking.booking (pool_id, booking_id) WHERE status = 'waitlisted';
-- A holder's own bookings (my_bookings).
CREATE INDEX booking_holder ON booking.booking (holder, booking_id) WHERE holder IS NOT NULL;

CREATE SEQUENCE booking.order_id_seq;

-- An order: one row, and one booking per item carrying its id. The items'
-- states move together (booking.check() proves it); the row keeps what
-- belongs to the whole order.
CREATE TABLE booking.orders (
    order_id        bigint PRIMARY KEY,
    holder          text,
    payment_ref     text,
    idempotency_key text,
    booking_ids     bigint[] NOT NULL,  -- its bookings, in item order
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);
-- A retried checkout of the same holder returns the same order.
CREATE UNIQUE INDEX orders_idempotency ON booking.orders ((coalesce(holder, '')), idempotency_key)
    WHERE idempotency_key IS NOT NULL;
-- A payment reference names one order (confirm_payment).
CREATE UNIQUE INDEX orders_payment_ref ON booking.orders (payment_ref) WHERE payment_ref IS NOT NULL;

CREATE TYPE booking.order_result AS (order_id bigint, status text, held_until timestamptz, booking_ids bigint[],
                                     unavailable jsonb);
CREATE TYPE booking.order_item AS (item integer, kind text, target_id bigint, quantity integer, seat_ids bigint[],
                                   section text, starts_at timestamptz, ends_at timestamptz);


-- A show with a seat map.
CREATE SEQUENCE booking.show_id_seq;
CREATE SEQUENCE booking.seat_id_seq;

CREATE TABLE booking.show (
    show_id    bigint PRIMARY KEY,
    name       text,
    -- pg_notify on booking_show_<id> with the seat ids whose status changed,
    -- at commit (off by default: NOTIFY serialises commits)
    notify     boolean NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL DEFAULT now()
);

-- A seat belongs to at most one booking at a time: booking_id is the booking
-- that holds or bought it. A seat whose hold lapsed is free at read time;
-- taking it never touches the lapsed booking's other seats.
CREATE TABLE booking.seat (
    seat_id    bigint PRIMARY KEY,
    show_id    bigint NOT NULL REFERENCES booking.show (show_id),
    section    text NOT NULL,
    row_label  text NOT NULL,
    number     integer NOT NULL,
    booking_id bigint,
    -- end of that booking's hold; NULL once bought (or free)
    held_until timestamptz,
    UNIQUE (show_id, section, row_label, number)
) WITH (fillfactor = 80);

CREATE INDEX seat_booking ON booking.seat (booking_id) WHERE booking_id IS NOT NULL;

-- A resource booked by time range: a clinician, a court, a room. capacity
-- bookings may overlap at any instant.
CREATE SEQUENCE booking.resource_id_seq;

CREATE TABLE booking.resource (
    resource_id bigint PRIMARY KEY,
    name        text,
    capacity    integer NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);

------------------------------------------------------------------------------
-- Result types
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
CREATE TYPE booking.my_booking AS (booking_id bigint, order_id bigint, kind text, pool_id bigint, show_id bigint,
                                   resource_id bigint, spots integer, seat_ids bigint[], status text,
                                   held_until timestamptz, starts_at timestamptz, ends_at timestamptz,
                                   waitlist_position integer);

------------------------------------------------------------------------------
-- Functions. All run as the extension owner (tables stay closed to callers)
-- with a pinned search_path (the C functions set it while their statements
-- run, src/pg/spi.hpp, and qualify every name).
-- confirm, release and extend_hold are SECURITY INVOKER and switch to their
-- owner in their code, after noting who called: a booking made without a
-- holder may be changed only by an organiser (a role that may execute
-- booking.cancel).
------------------------------------------------------------------------------

CREATE FUNCTION booking.create_pool(capacity integer, name text DEFAULT NULL, parent_id bigint DEFAULT NULL,
                                    shards integer DEFAULT 1, max_per_holder integer DEFAULT NULL,
                                    auto_promote boolean DEFAULT true)
RETURNS bigint
AS 'MODULE_PATHNAME', 'booking_create_pool'
LANGUAGE C VOLATILE SECURITY DEFINER;

CREATE FUNCTION booking.set_capacity(pool_id bigint, capacity integer)
RETURNS void
AS 'MODULE_PATHNAME', 'booking_set_capacity'
LANGUAGE C VOLATILE SECURITY DEFINER;

CREATE FUNCTION booking.decrement_ticket(pool_id bigint, quantity integer DEFAULT 1, holder text DEFAULT NULL,
                                         hold_for interval DEFAULT NULL, idempotency_key text DEFAULT NULL)
RETURNS booking.ticket_result
AS 'MODULE_PATHNAME', 'booking_decrement_ticket'
LANGUAGE C VOLATILE SECURITY DEFINER;

CREATE FUNCTION booking.register(pool_id bigint, spots integer DEFAULT 1, holder text DEFAULT NULL,
                                 idempotency_key text DEFAULT NULL)
RETURNS booking.register_result
AS 'MODULE_PATHNAME', 'booking_register_spots'
LANGUAGE C VOLATILE SECURITY DEFINER;

CREATE FUNCTION booking.promote_waitlist(pool_id bigint, max_count integer DEFAULT NULL,
                                         booking_id bigint DEFAULT NULL, skip_unfit boolean DEFAULT false)
RETURNS SETOF booking.promotion
AS 'MODULE_PATHNAME', 'booking_promote_waitlist'
LANGUAGE C VOLATILE SECURITY DEFINER
ROWS 10;

CREATE FUNCTION booking.create_show(name text DEFAULT NULL, notify boolean DEFAULT false)
RETURNS bigint
AS 'MODULE_PATHNAME', 'booking_create_show'
LANGUAGE C VOLATILE SECURITY DEFINER;

CREATE FUNCTION booking.add_seats(show_id bigint, section text, row_label text, first_number integer,
                                  count integer)
RETURNS bigint[]
AS 'MODULE_PATHNAME', 'booking_add_seats'
LANGUAGE C VOLATILE SECURITY DEFINER;

CREATE FUNCTION booking.reserve_seats(show_id bigint, seat_ids bigint[], holder text,
                                      hold_for interval DEFAULT '10 minutes', idempotency_key text DEFAULT NULL)
RETURNS booking.seats_result
AS 'MODULE_PATHNAME', 'booking_reserve_seats'
LANGUAGE C VOLATILE SECURITY DEFINER;

CREATE FUNCTION booking.reserve_best_available(show_id bigint, quantity integer, holder text,
                                               section text DEFAULT NULL, hold_for interval DEFAULT '10 minutes',
                                               idempotency_key text DEFAULT NULL)
RETURNS booking.seats_result
AS 'MODULE_PATHNAME', 'booking_reserve_best_available'
LANGUAGE C VOLATILE SECURITY DEFINER;

CREATE FUNCTION booking.create_resource(name text DEFAULT NULL, capacity integer DEFAULT 1)
RETURNS bigint
AS 'MODULE_PATHNAME', 'booking_create_resource'
LANGUAGE C VOLATILE SECURITY DEFINER;

CREATE FUNCTION booking.reserve_slot(resource_id bigint, starts_at timestamptz, ends_at timestamptz, holder text,
                                     hold_for interval DEFAULT '15 minutes', payment_ref text DEFAULT NULL,
                                     idempotency_key text DEFAULT NULL)
RETURNS booking.slot_result
AS 'MODULE_PATHNAME', 'booking_reserve_slot'
LANGUAGE C VOLATILE SECURITY DEFINER;

CREATE FUNCTION booking.confirm_payment(payment_ref text)
RETURNS booking.confirm_result
AS 'MODULE_PATHNAME', 'booking_confirm_payment'
LANGUAGE C VOLATILE SECURITY DEFINER;

CREATE FUNCTION booking.confirm(booking_id bigint, holder text DEFAULT NULL, payment_ref text DEFAULT NULL)
RETURNS booking.confirm_result
AS 'MODULE_PATHNAME', 'booking_confirm'
LANGUAGE C VOLATILE SECURITY INVOKER;

CREATE FUNCTION booking.release(booking_id bigint, holder text DEFAULT NULL)
RETURNS booking.release_result
AS 'MODULE_PATHNAME', 'booking_release'
LANGUAGE C VOLATILE SECURITY INVOKER;

CREATE FUNCTION booking.cancel(booking_id bigint)
RETURNS booking.release_result
AS 'MODULE_PATHNAME', 'booking_cancel'
LANGUAGE C VOLATILE SECURITY DEFINER;

CREATE FUNCTION booking.extend_hold(booking_id bigint, holder text DEFAULT NULL,
                                    hold_for interval DEFAULT '10 minutes')
RETURNS booking.hold_result
AS 'MODULE_PATHNAME', 'booking_extend_hold'
LANGUAGE C VOLATILE SECURITY INVOKER;

CREATE FUNCTION booking.expire_holds(max_count integer DEFAULT 10000)
RETURNS integer
AS 'MODULE_PATHNAME', 'booking_expire_holds'
LANGUAGE C VOLATILE SECURITY DEFINER;

CREATE FUNCTION booking.availability(pool_id bigint)
RETURNS booking.pool_availability
AS 'MODULE_PATHNAME', 'booking_availability'
LANGUAGE C STABLE SECURITY DEFINER;

-- The holder a customer call acts for (1.5): holder itself, or with
-- booking.holder_claim set and request claims present (PostgREST), the
-- claim's value; PT403 for another holder, 42501 without the claim when
-- needed or a holder was given. For the SQL functions (seat_map,
-- my_bookings); not callable by customers.
CREATE FUNCTION booking.claimed_holder(holder text, needed boolean)
RETURNS text
AS 'MODULE_PATHNAME', 'booking_claimed_holder'
LANGUAGE C STABLE;

------------------------------------------------------------------------------
-- Orders (1.6): several items held, paid and lost together.
------------------------------------------------------------------------------

-- The items of an order, checked: one row per item, in item order (0-based
-- index), kind pool, seats, best or slot. Bad input raises 22023 (22004 for
-- a missing required field) naming the item. For reserve_order only.
CREATE FUNCTION booking.order_items(items jsonb)
RETURNS SETOF booking.order_item
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    e       jsonb;
    i       integer;
    n       integer;
    it      booking.order_item;
    allowed text[];
    bad     text;
    v       jsonb;
    s       text;
BEGIN
    IF items IS NULL THEN
        RAISE EXCEPTION 'argument "items" must not be NULL' USING ERRCODE = '22004';
    END IF;
    IF jsonb_typeof(items) <> 'array' THEN
        RAISE EXCEPTION 'items must be a JSON array of objects, not a JSON %', jsonb_typeof(items)
            USING ERRCODE = '22023';
    END IF;
    n := jsonb_array_length(items);
    IF n = 0 THEN
        RAISE EXCEPTION 'items must not be empty' USING ERRCODE = '22023';
    END IF;
    IF n > 100 THEN
        RAISE EXCEPTION 'an order has at most 100 items, not %', n USING ERRCODE = '22023';
    END IF;
    FOR i IN 0 .. n - 1 LOOP
        e := items -> i;
        it := ROW(i, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
        IF jsonb_typeof(e) <> 'object' THEN
            RAISE EXCEPTION 'item %: must be a JSON object, not a JSON %', i, jsonb_typeof(e) USING ERRCODE = '22023';
        END IF;
        IF e ? 'pool_id' THEN
            it.kind := 'pool';
            allowed := '{pool_id,quantity}';
        ELSIF e ? 'resource_id' THEN
            it.kind := 'slot';
            allowed := '{resource_id,starts_at,ends_at}';
        ELSIF e ? 'show_id' AND e ? 'seat_ids' THEN
            it.kind := 'seats';
            allowed := '{show_id,seat_ids}';
        ELSIF e ? 'show_id' AND e ? 'best_available' THEN
            it.kind := 'best';
            allowed := '{show_id,best_available,section}';
        ELSIF e ? 'show_id' THEN
            RAISE EXCEPTION 'item %: a show item needs "seat_ids" or "best_available"', i USING ERRCODE = '22004';
        ELSE
            RAISE EXCEPTION 'item %: unknown kind of item: it names no "pool_id", "show_id" or "resource_id"', i
                USING ERRCODE = '22023';
        END IF;
        SELECT k INTO bad FROM jsonb_object_keys(e) AS k WHERE k <> ALL (allowed) ORDER BY k LIMIT 1;
        IF bad IS NOT NULL THEN
            RAISE EXCEPTION 'item %: unknown field "%" in a % item (fields: %)', i, bad,
                CASE it.kind WHEN 'best' THEN 'best_available' ELSE it.kind END, array_to_string(allowed, ', ')
                USING ERRCODE = '22023';
        END IF;
        -- the fields: present and not JSON null where required, of their type
        FOREACH s IN ARRAY allowed LOOP
            v := e -> s;
            IF v IS NULL OR jsonb_typeof(v) = 'null' THEN
                CONTINUE WHEN s IN ('quantity', 'section');
                RAISE EXCEPTION 'item %: "%" must not be null', i, s USING ERRCODE = '22004';
            END IF;
            IF s IN ('pool_id', 'resource_id', 'show_id', 'quantity', 'best_available') THEN
                IF jsonb_typeof(v) <> 'number' OR (v #>> '{}') !~ '^-?[0-9]{1,18}$' THEN
                    RAISE EXCEPTION 'item %: "%" must be an integer, not %', i, s, left(v::text, 100)
                        USING ERRCODE = '22023';
                END IF;
                IF s IN ('quantity', 'best_available') THEN
                    IF (v #>> '{}')::bigint NOT BETWEEN 1 AND 2147483647 THEN
                        RAISE EXCEPTION 'item %: "%" must be between 1 and 2147483647, not %', i, s, v #>> '{}'
                            USING ERRCODE = '22023';
                    END IF;
                    it.quantity := (v #>> '{}')::integer;
                ELSE
                    it.target_id := (v #>> '{}')::bigint;
                END IF;
            ELSIF s = 'seat_ids' THEN
                IF jsonb_typeof(v) <> 'array' OR jsonb_array_length(v) = 0 THEN
                    RAISE EXCEPTION 'item %: "seat_ids" must be a non-empty JSON array of seat ids, not %', i,
                        left(v::text, 100) USING ERRCODE = '22023';
                END IF;
                SELECT x INTO bad FROM jsonb_array_elements(v) AS x
                 WHERE jsonb_typeof(x) <> 'number' OR (x #>> '{}') !~ '^-?[0-9]{1,18}$' LIMIT 1;
                IF bad IS NOT NULL THEN
                    RAISE EXCEPTION 'item %: "seat_ids" must hold integers only, not %', i, left(bad, 100)
                        USING ERRCODE = '22023';
                END IF;
                it.seat_ids := ARRAY(SELECT (x #>> '{}')::bigint FROM jsonb_array_elements(v) AS x);
                it.quantity := cardinality(it.seat_ids);
            ELSIF s = 'section' THEN
                IF jsonb_typeof(v) <> 'string' THEN
                    RAISE EXCEPTION 'item %: "section" must be a string, not %', i, left(v::text, 100)
                        USING ERRCODE = '22023';
                END IF;
                it.section := v #>> '{}';
                IF octet_length(it.section) > 256 THEN
                    RAISE EXCEPTION 'item %: "section" is % bytes long, the limit is 256', i,
                        octet_length(it.section) USING ERRCODE = '22023';
                END IF;
            ELSE  -- starts_at, ends_at
                IF jsonb_typeof(v) <> 'string' THEN
                    RAISE EXCEPTION 'item %: "%" must be a timestamp string, not %', i, s, left(v::text, 100)
                        USING ERRCODE = '22023';
                END IF;
                BEGIN
                    IF s = 'starts_at' THEN
                        it.starts_at := (v #>> '{}')::timestamptz;
                    ELSE
                        it.ends_at := (v #>> '{}')::timestamptz;
                    END IF;
                EXCEPTION WHEN data_exception THEN
                    RAISE EXCEPTION 'item %: "%" is not a timestamp: %', i, s, left(v #>> '{}', 100)
                        USING ERRCODE = '22023';
                END;
            END IF;
        END LOOP;
        IF it.kind = 'pool' AND it.quantity IS NULL THEN
            it.quantity := 1;
        END IF;
        IF it.kind = 'slot' THEN
            IF NOT isfinite(it.starts_at) OR NOT isfinite(it.ends_at) THEN
                RAISE EXCEPTION 'item %: starts_at and ends_at must be finite', i USING ERRCODE = '22023';
            END IF;
            IF it.ends_at <= it.starts_at THEN
                RAISE EXCEPTION 'item %: ends_at must be after starts_at', i USING ERRCODE = '22023';
            END IF;
        END IF;
        RETURN NEXT it;
    END LOOP;
END
$$;

CREATE FUNCTION booking.reserve_order(items jsonb, holder text DEFAULT NULL, hold_for interval DEFAULT '15 minutes',
                                      payment_ref text DEFAULT NULL, idempotency_key text DEFAULT NULL)
RETURNS booking.order_result
AS 'MODULE_PATHNAME', 'booking_reserve_order'
LANGUAGE C VOLATILE SECURITY DEFINER;

-- confirm_order, release_order and extend_order note who called them (an
-- order made without a holder is changed by an organiser only), which
-- SECURITY DEFINER hides, and switch to their owner in their code, as
-- confirm, release and extend_hold do (src/pg/caller.hpp).
CREATE FUNCTION booking.confirm_order(order_id bigint, holder text DEFAULT NULL, payment_ref text DEFAULT NULL)
RETURNS booking.confirm_result
AS 'MODULE_PATHNAME', 'booking_confirm_order'
LANGUAGE C VOLATILE SECURITY INVOKER;

CREATE FUNCTION booking.release_order(order_id bigint, holder text DEFAULT NULL)
RETURNS booking.release_result
AS 'MODULE_PATHNAME', 'booking_release_order'
LANGUAGE C VOLATILE SECURITY INVOKER;

CREATE FUNCTION booking.extend_order(order_id bigint, holder text DEFAULT NULL, hold_for interval DEFAULT '10 minutes')
RETURNS booking.hold_result
AS 'MODULE_PATHNAME', 'booking_extend_order'
LANGUAGE C VOLATILE SECURITY INVOKER;

CREATE FUNCTION booking.cancel_order(order_id bigint)
RETURNS booking.release_result
AS 'MODULE_PATHNAME', 'booking_cancel_order'
LANGUAGE C VOLATILE SECURITY DEFINER;

------------------------------------------------------------------------------
-- Views: what a reader sees. A hold whose time ran out counts as expired
-- here even before a sweep marks its row.
------------------------------------------------------------------------------

CREATE VIEW booking.pool_status AS
SELECT p.pool_id, p.name, p.parent_id, p.capacity, p.confirmed OPERATOR(pg_catalog.+) sh.confirmed AS confirmed,
       p.held OPERATOR(pg_catalog.+) sh.held OPERATOR(pg_catalog.-) l.spots AS held,
       p.capacity OPERATOR(pg_catalog.-) (p.confirmed OPERATOR(pg_catalog.+) sh.confirmed)
                  OPERATOR(pg_catalog.-) (p.held OPERATOR(pg_catalog.+) sh.held OPERATOR(pg_catalog.-) l.spots)
           AS available,
       p.waitlisted, p.shards
  FROM booking.pool p
 CROSS JOIN LATERAL (
       SELECT coalesce(pg_catalog.sum(s.confirmed), 0)::integer AS confirmed,
              coalesce(pg_catalog.sum(s.held), 0)::integer AS held
         FROM booking.pool_shard s WHERE s.pool_id OPERATOR(pg_catalog.=) p.pool_id) AS sh
 CROSS JOIN LATERAL (
       SELECT coalesce(sum(b.spots), 0)::integer AS spots
         FROM booking.booking b
         JOIN booking.pool c ON c.pool_id OPERATOR(pg_catalog.=) b.pool_id
        WHERE b.status OPERATOR(pg_catalog.=) 'held'
          AND b.held_until OPERATOR(pg_catalog.<=) pg_catalog.now()
          AND c.root_id OPERATOR(pg_catalog.=) p.root_id
          AND c.path OPERATOR(pg_catalog.@>) ARRAY[p.pool_id]) AS l;

CREATE VIEW booking.bookings AS
SELECT b.booking_id, b.kind, b.pool_id, b.show_id, b.resource_id, b.spots,
       b.seat_ids,
       CASE WHEN b.status OPERATOR(pg_catalog.=) 'held'
                 AND b.held_until OPERATOR(pg_catalog.<=) pg_catalog.now()
            THEN 'expired' ELSE b.status END AS status,
       b.holder, b.held_until, b.starts_at, b.ends_at, b.payment_ref, b.idempotency_key,
       CASE WHEN b.status OPERATOR(pg_catalog.=) 'waitlisted' THEN
            (SELECT pg_catalog.count(*)::integer FROM booking.booking w
              WHERE w.pool_id OPERATOR(pg_catalog.=) b.pool_id
                AND w.status OPERATOR(pg_catalog.=) 'waitlisted'
                AND w.booking_id OPERATOR(pg_catalog.<=) b.booking_id)
       END AS waitlist_position,
       b.created_at, b.updated_at, b.order_id
  FROM booking.booking b;

-- What a buyer sees of each seat: available (free, or its hold lapsed), held, sold.
CREATE VIEW booking.seats AS
SELECT s.seat_id, s.show_id, s.section, s.row_label, s.number,
       CASE WHEN s.booking_id IS NULL THEN 'available'
            WHEN s.held_until IS NULL THEN 'sold'
            WHEN s.held_until OPERATOR(pg_catalog.>) pg_catalog.now() THEN 'held'
            ELSE 'available' END AS status,
       CASE WHEN s.held_until IS NULL OR s.held_until OPERATOR(pg_catalog.>) pg_catalog.now()
            THEN s.booking_id END AS booking_id,
       CASE WHEN s.held_until OPERATOR(pg_catalog.>) pg_catalog.now() THEN s.held_until END AS held_until,
       CASE WHEN s.held_until IS NULL OR s.held_until OPERATOR(pg_catalog.>) pg_catalog.now()
            THEN (SELECT b.order_id FROM booking.booking b WHERE b.booking_id OPERATOR(pg_catalog.=) s.booking_id)
       END AS order_id
  FROM booking.seat s;

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
                               'booking.seat_id_seq', 'booking.resource_id_seq', 'booking.order_id_seq']::regclass[] LOOP
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
               held_until timestamptz, booking_id bigint, order_id bigint)
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
           CASE WHEN b.holder = mine_of THEN v.booking_id END,
           CASE WHEN b.holder = mine_of THEN b.order_id END
      FROM booking.seats v
      LEFT JOIN booking.booking b ON b.booking_id = v.booking_id
     WHERE v.show_id = seat_map.show_id
     ORDER BY v.section, v.row_label, v.number;
END
$$;

------------------------------------------------------------------------------
-- A customer's own bookings (1.5), for a "my tickets" page: the views are
-- the owner's, and a holder is a credential (whoever knows it may release
-- its bookings), so reading by holder asks no more trust than releasing.
-- With booking.holder_claim set, a request reads only its own claim's.
------------------------------------------------------------------------------

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
    RETURN QUERY
    SELECT b.booking_id, b.order_id, b.kind, b.pool_id, b.show_id, b.resource_id, b.spots, b.seat_ids, b.status,
           b.held_until, b.starts_at, b.ends_at, b.waitlist_position
      FROM booking.bookings b
     WHERE b.holder = mine
     ORDER BY b.booking_id;
END
$$;

------------------------------------------------------------------------------
-- Checking and repairing
------------------------------------------------------------------------------

-- What the booking rows say each pool has (in spots, descendants included),
-- for the pools of one tree or of all (root NULL). Used by check() and
-- reconcile().
CREATE FUNCTION booking.pool_usage(root bigint)
RETURNS TABLE (pool_id bigint, confirmed integer, held integer, waitlisted integer)
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp
AS $$
    SELECT a.id,
           coalesce(sum(b.spots) FILTER (WHERE b.status = 'confirmed'), 0)::integer,
           coalesce(sum(b.spots) FILTER (WHERE b.status = 'held'), 0)::integer,
           coalesce(sum(b.spots) FILTER (WHERE b.status = 'waitlisted'), 0)::integer
      FROM booking.booking b
      JOIN booking.pool c ON c.pool_id = b.pool_id
     CROSS JOIN LATERAL unnest(c.path) AS a(id)
     WHERE b.kind = 'ticket' AND (root IS NULL OR c.root_id = root)
     GROUP BY a.id
$$;

-- One row per broken invariant; nothing when all hold.
CREATE FUNCTION booking.check()
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
    -- an order changes as one (1.6): its items are all held until the same
    -- time, all confirmed, or all given back
    SELECT 'order', x.order_id, format('items in different states: %s', x.states)
      FROM (SELECT b.order_id,
                   string_agg(DISTINCT CASE WHEN b.status = 'held' AND b.held_until <= now() THEN 'expired'
                                            WHEN b.status = 'held' THEN 'held until ' || b.held_until
                                            ELSE b.status END, ', ') AS states,
                   count(DISTINCT CASE WHEN b.status IN ('released', 'expired')
                                         OR (b.status = 'held' AND b.held_until <= now()) THEN 'given back'
                                       WHEN b.status = 'held' THEN 'held until ' || b.held_until
                                       ELSE b.status END) AS n
              FROM booking.booking b WHERE b.order_id IS NOT NULL GROUP BY b.order_id) AS x
     WHERE x.n > 1
    UNION ALL
    -- and its bookings are exactly its items
    SELECT 'order', coalesce(o.order_id, x.order_id),
           CASE WHEN o.order_id IS NULL THEN format('bookings %s name it, but it does not exist', x.ids)
                ELSE format('its bookings %s are not its items %s', coalesce(x.ids, '{}'), o.booking_ids) END
      FROM booking.orders o
      FULL JOIN (SELECT b.order_id, array_agg(b.booking_id ORDER BY b.booking_id) AS ids
                   FROM booking.booking b WHERE b.order_id IS NOT NULL GROUP BY b.order_id) AS x
             ON x.order_id = o.order_id
     WHERE o.order_id IS NULL
        OR coalesce(x.ids, '{}') IS DISTINCT FROM ARRAY(SELECT u FROM unnest(o.booking_ids) AS u ORDER BY u)
    UNION ALL
    SELECT 'booking', b.booking_id, format('item of order %s with a status an order item never has: %s',
                                           b.order_id, b.status)
      FROM booking.booking b
     WHERE b.order_id IS NOT NULL AND b.status = 'waitlisted'
    UNION ALL
    -- node-aware ids (set_node): every sequence steps by the node count and
    -- every id belongs to this node
    SELECT 'sequence', NULL::bigint, format('%s increments by %s, but this is node %s of %s',
                                            q.seqrelid::regclass, q.seqincrement, n.node, n.nodes)
      FROM pg_sequence q, booking.node_info n
     WHERE q.seqrelid IN ('booking.pool_id_seq'::regclass, 'booking.booking_id_seq'::regclass,
                          'booking.show_id_seq'::regclass, 'booking.seat_id_seq'::regclass,
                          'booking.resource_id_seq'::regclass, 'booking.order_id_seq'::regclass)
       AND q.seqincrement <> n.nodes
    UNION ALL
    SELECT x.object, x.id, format('id is not of node %s of %s', n.node, n.nodes)
      FROM booking.node_info n,
           LATERAL (SELECT 'pool', pool_id FROM booking.pool UNION ALL
                    SELECT 'booking', booking_id FROM booking.booking UNION ALL
                    SELECT 'show', show_id FROM booking.show UNION ALL
                    SELECT 'seat', seat_id FROM booking.seat UNION ALL
                    SELECT 'resource', resource_id FROM booking.resource UNION ALL
                    SELECT 'order', order_id FROM booking.orders) AS x(object, id)
     WHERE n.nodes > 1 AND x.id % n.nodes <> n.node
$$;

-- Recompute counters from the rows; returns how many pools were corrected.
CREATE FUNCTION booking.reconcile(pool_id bigint DEFAULT NULL)
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
    -- The shards first, then the pool rows in ascending id order (roots
    -- before their descendants): a buyer takes on a shard before it may
    -- want a pool row, and never waits for a shard, so nothing waits for
    -- this call while it waits for a shard. SKIP LOCKED, again every
    -- millisecond for at most deadlock_timeout, then 55P03. (SKIP LOCKED
    -- can still wait for the next writer of a row whose writer has just
    -- committed: holding no pool row yet, that wait closes no cycle.)
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
    PERFORM 1 FROM booking.pool p WHERE root IS NULL OR p.root_id = root ORDER BY p.pool_id FOR NO KEY UPDATE;
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

------------------------------------------------------------------------------
-- Live statistics (shared memory; needs shared_preload_libraries = 'booking')
------------------------------------------------------------------------------

CREATE FUNCTION booking.stats_read(OUT confirmed bigint, OUT held bigint, OUT waitlisted bigint,
                                   OUT sold_out bigint, OUT conflict bigint, OUT limit_exceeded bigint,
                                   OUT promoted bigint, OUT released bigint, OUT expired bigint,
                                   OUT stats_reset timestamptz)
RETURNS record
AS 'MODULE_PATHNAME', 'booking_stats_read'
LANGUAGE C VOLATILE;

-- Counters of this database since the server started or stats_reset():
-- outcomes by status, promotions, releases and expired holds. Updated at
-- commit only; an aborted call counts nothing.
CREATE VIEW booking.stats AS
SELECT pg_catalog.current_database() AS datname, s.* FROM booking.stats_read() AS s;

CREATE FUNCTION booking.stats_reset()
RETURNS void
AS 'MODULE_PATHNAME', 'booking_stats_reset'
LANGUAGE C VOLATILE;

------------------------------------------------------------------------------
-- Privileges: customers buy; organisers (granted by the DBA) run the pools.
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
REVOKE ALL ON FUNCTION booking.cancel_order(bigint) FROM PUBLIC;
REVOKE ALL ON FUNCTION booking.order_items(jsonb) FROM PUBLIC;
REVOKE ALL ON FUNCTION booking.expire_holds(integer) FROM PUBLIC;
REVOKE ALL ON FUNCTION booking.reconcile(bigint) FROM PUBLIC;
REVOKE ALL ON FUNCTION booking.check() FROM PUBLIC;
REVOKE ALL ON FUNCTION booking.pool_usage(bigint) FROM PUBLIC;
REVOKE ALL ON FUNCTION booking.claimed_holder(text, boolean) FROM PUBLIC;
REVOKE ALL ON FUNCTION booking.stats_read() FROM PUBLIC;
REVOKE ALL ON FUNCTION booking.stats_reset() FROM PUBLIC;
GRANT USAGE ON SCHEMA booking TO PUBLIC;

SELECT pg_catalog.pg_extension_config_dump('booking.pool', '');
SELECT pg_catalog.pg_extension_config_dump('booking.booking', '');
SELECT pg_catalog.pg_extension_config_dump('booking.pool_shard', '');
SELECT pg_catalog.pg_extension_config_dump('booking.pool_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('booking.booking_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('booking.show', '');
SELECT pg_catalog.pg_extension_config_dump('booking.seat', '');
SELECT pg_catalog.pg_extension_config_dump('booking.show_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('booking.seat_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('booking.resource', '');
SELECT pg_catalog.pg_extension_config_dump('booking.resource_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('booking.orders', '');
SELECT pg_catalog.pg_extension_config_dump('booking.order_id_seq', '');

------------------------------------------------------------------------------
-- Exactly the documented grants, whatever default privileges exist.
------------------------------------------------------------------------------

-- ALTER DEFAULT PRIVILEGES (for the installing role, FOR ROLE, IN SCHEMA)
-- gives the objects this script creates privileges nobody documented: a
-- role granted SELECT on tables reads every holder, the only credential of
-- a booking, and one granted EXECUTE on functions cancels bookings. So
-- every member of the extension and its schema get exactly the documented
-- privileges: the owner's own; EXECUTE for PUBLIC on the customer
-- functions; USAGE for PUBLIC on the types and the schema; nothing else.
-- These are also their initial privileges (pg_init_privs), which pg_dump
-- compares with to dump what the DBA granted or revoked since.
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
                   CASE WHEN p.proname OPERATOR(pg_catalog.=) ANY ('{decrement_ticket,register,reserve_seats,reserve_best_available,reserve_slot,confirm,release,extend_hold,availability,seat_map,my_bookings,reserve_order,confirm_order,release_order,extend_order}'::pg_catalog.name[])
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
        SELECT x.kind, (pg_catalog.pg_identify_object(x.classid, x.objid, 0)).identity,
               coalesce(x.acl, x.base) AS cur, x.target
          FROM objects x
    LOOP
        FOR priv IN SELECT * FROM pg_catalog.aclexplode(obj.cur) EXCEPT SELECT * FROM pg_catalog.aclexplode(obj.target) LOOP
            EXECUTE pg_catalog.format('REVOKE %s ON %s %s FROM %s CASCADE', priv.privilege_type, obj.kind, obj.identity,
                                      CASE WHEN priv.grantee OPERATOR(pg_catalog.=) 0::pg_catalog.oid THEN 'PUBLIC' ELSE priv.grantee::pg_catalog.regrole::pg_catalog.text END);
        END LOOP;
        FOR priv IN SELECT * FROM pg_catalog.aclexplode(obj.target) EXCEPT SELECT * FROM pg_catalog.aclexplode(obj.cur) LOOP
            EXECUTE pg_catalog.format('GRANT %s ON %s %s TO %s%s', priv.privilege_type, obj.kind, obj.identity,
                                      CASE WHEN priv.grantee OPERATOR(pg_catalog.=) 0::pg_catalog.oid THEN 'PUBLIC' ELSE priv.grantee::pg_catalog.regrole::pg_catalog.text END,
                                      CASE WHEN priv.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END);
        END LOOP;
    END LOOP;
END
$$;
