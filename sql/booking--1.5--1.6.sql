-- booking 1.5 -> 1.6: orders, a checkout of several items held, paid and
-- lost together.
\echo Use "ALTER EXTENSION booking UPDATE TO '1.6'" to load this file. \quit

-- This script runs with search_path booking, pg_temp; every name below is
-- qualified and no statement outside a function uses an operator.

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

ALTER TABLE booking.booking ADD COLUMN order_id bigint;

CREATE TYPE booking.order_result AS (order_id bigint, status text, held_until timestamptz, booking_ids bigint[],
                                     unavailable jsonb);
CREATE TYPE booking.order_item AS (item integer, kind text, target_id bigint, quantity integer, seat_ids bigint[],
                                   section text, starts_at timestamptz, ends_at timestamptz);

SELECT pg_catalog.pg_extension_config_dump('booking.orders', '');
SELECT pg_catalog.pg_extension_config_dump('booking.order_id_seq', '');

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

-- Views and reads show the order of a booking.
CREATE OR REPLACE VIEW booking.bookings AS
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

CREATE OR REPLACE VIEW booking.seats AS
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

-- seat_map gains a column (order_id): a new result type.
DROP FUNCTION booking.seat_map(bigint, text);
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

CREATE OR REPLACE FUNCTION booking.my_bookings(holder text DEFAULT NULL)
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

-- Orders are checked too; order ids are node-aware like every id.
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

CREATE OR REPLACE FUNCTION booking.apply_node()
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

-- A node that is already part of a cluster steps its new sequence too, as
-- apply_node() does for the others: increment N, ids of its residue class.
DO $$
DECLARE
    r record;
BEGIN
    SELECT node, nodes INTO r FROM booking.node;
    IF FOUND THEN
        EXECUTE pg_catalog.format('ALTER SEQUENCE booking.order_id_seq INCREMENT BY %s', r.nodes);
        PERFORM pg_catalog.setval('booking.order_id_seq', 1 + ((r.node - 1 % r.nodes) + r.nodes) % r.nodes, false);
    END IF;
END
$$;

REVOKE ALL ON TABLE booking.orders FROM PUBLIC;
REVOKE ALL ON SEQUENCE booking.order_id_seq FROM PUBLIC;
REVOKE ALL ON FUNCTION booking.cancel_order(bigint) FROM PUBLIC;
REVOKE ALL ON FUNCTION booking.order_items(jsonb) FROM PUBLIC;

-- Exactly the documented privileges on the new objects, whatever default
-- privileges gave them when they were made (see booking--1.3--1.4.sql):
-- EXECUTE for PUBLIC on the customer calls (seat_map made anew among them),
-- USAGE for PUBLIC on the types, the owner's alone on the other functions,
-- the table and the sequence. GRANT and REVOKE here also record the result
-- as the initial privileges, as a fresh install does.
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
         WHERE p.oid OPERATOR(pg_catalog.=) ANY (ARRAY['booking.seat_map(bigint, text)'::pg_catalog.regprocedure,
                                                       'booking.reserve_order(jsonb, text, interval, text, text)'::pg_catalog.regprocedure,
                                                       'booking.confirm_order(bigint, text, text)'::pg_catalog.regprocedure,
                                                       'booking.release_order(bigint, text)'::pg_catalog.regprocedure,
                                                       'booking.extend_order(bigint, text, interval)'::pg_catalog.regprocedure,
                                                       'booking.cancel_order(bigint)'::pg_catalog.regprocedure,
                                                       'booking.order_items(jsonb)'::pg_catalog.regprocedure]::pg_catalog.oid[])
        UNION ALL
        SELECT 'TYPE', t.oid::pg_catalog.regtype::pg_catalog.text, coalesce(t.typacl, pg_catalog.acldefault('T', t.typowner)),
               pg_catalog.acldefault('T', t.typowner)
          FROM pg_catalog.pg_type t
         WHERE t.oid OPERATOR(pg_catalog.=) ANY (ARRAY['booking.order_result'::pg_catalog.regtype,
                                                       'booking.order_item'::pg_catalog.regtype]::pg_catalog.oid[])
        UNION ALL
        SELECT CASE WHEN c.relkind OPERATOR(pg_catalog.=) 'S'::pg_catalog."char" THEN 'SEQUENCE' ELSE 'TABLE' END,
               c.oid::pg_catalog.regclass::pg_catalog.text,
               coalesce(c.relacl, pg_catalog.acldefault(CASE WHEN c.relkind OPERATOR(pg_catalog.=) 'S'::pg_catalog."char"
                                                             THEN 's' ELSE 'r' END::pg_catalog."char", c.relowner)),
               pg_catalog.acldefault(CASE WHEN c.relkind OPERATOR(pg_catalog.=) 'S'::pg_catalog."char"
                                          THEN 's' ELSE 'r' END::pg_catalog."char", c.relowner)
          FROM pg_catalog.pg_class c
         WHERE c.oid OPERATOR(pg_catalog.=) ANY (ARRAY['booking.orders'::pg_catalog.regclass,
                                                       'booking.order_id_seq'::pg_catalog.regclass]::pg_catalog.oid[])
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

-- reconcile() locks the shards before the pool rows (a shard's SKIP LOCKED
-- can wait for a buyer, which must then not be waiting for a pool row held
-- here).
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
