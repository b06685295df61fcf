-- The C functions' statements name every relation, function, operator and
-- type with its schema, and run with the search_path setting pinned to
-- pg_catalog, pg_temp as a SET clause would pin it (src/pg/spi.hpp), so
-- (a) code of the user's that fires inside them, as the extension's owner,
--     gets its own SET search_path when it has one, and pg_catalog, pg_temp
--     when it has none: never a path the caller chose;
-- (b) a caller whose path puts a schema full of look-alikes before
--     pg_catalog gets the same answers as anyone else, and none of them runs.
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS booking CASCADE;
DROP SCHEMA IF EXISTS audit, app, evil CASCADE;
CREATE EXTENSION booking;
RESET client_min_messages;
SET timezone = 'UTC';

------------------------------------------------------------------------------
-- (a) Users' triggers on the extension's tables.
------------------------------------------------------------------------------
-- An audit trigger as a DBA writes one: its own path, an unqualified table.
CREATE SCHEMA audit;
CREATE TABLE audit.log (booking_id bigint, kind text, status text);
CREATE FUNCTION audit.record() RETURNS trigger LANGUAGE plpgsql SET search_path = audit, pg_temp AS $$
BEGIN
    INSERT INTO log VALUES (NEW.booking_id, NEW.kind, NEW.status);
    RETURN NULL;
END $$;
CREATE TRIGGER audit AFTER INSERT ON booking.booking FOR EACH ROW EXECUTE FUNCTION audit.record();
-- One without a SET clause: it resolves names in whatever path is in force
-- (lower() is pg_catalog's unless a path puts a look-alike first).
CREATE SCHEMA app;
CREATE TABLE app.seen (booking_id bigint, search_path text, holder text);
CREATE FUNCTION public.note_path() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO app.seen VALUES (NEW.booking_id, current_setting('search_path'), lower(NEW.holder));
    RETURN NULL;
END $$;
CREATE TRIGGER note_path AFTER INSERT ON booking.booking FOR EACH ROW EXECUTE FUNCTION public.note_path();

-- The caller's path has app on it.
SET search_path = app, public;
SELECT booking.create_pool(10, 'gig') AS gig \gset
SELECT booking.create_pool(100, 'hot', shards => 4) AS hot \gset
SELECT status FROM booking.decrement_ticket(:gig, 2, 'ann');
SELECT status FROM booking.decrement_ticket(:gig, 1, 'ann', '1 hour', 'k1');
SELECT status FROM booking.decrement_ticket(:hot, 3, 'bob');
SELECT status FROM booking.register(:gig, 2, 'cy');
SELECT status FROM booking.register(:gig, 9, 'dee');
SELECT booking.create_show('play') AS play \gset
SELECT array_length(booking.add_seats(:play, 'stalls', 'A', 1, 6), 1) AS seats;
SELECT status FROM booking.reserve_seats(:play, (SELECT array_agg(seat_id ORDER BY seat_id) FROM booking.seat
                                                  WHERE show_id = :play AND number IN (1, 2)), 'eve');
SELECT status FROM booking.reserve_best_available(:play, 2, 'fay');
SELECT booking.create_resource('room') AS room \gset
SELECT status FROM booking.reserve_slot(:room, '2030-01-01 10:00+00', '2030-01-01 11:00+00', 'gus');
-- Every booking was logged, by both triggers; the one without a SET clause
-- ran with the pinned path, not the caller's.
SELECT b.kind, b.status, b.holder, l.status AS logged, s.search_path
  FROM booking.booking b
  LEFT JOIN audit.log l USING (booking_id)
  LEFT JOIN app.seen s USING (booking_id)
 ORDER BY b.booking_id;
-- And the same triggers from a plain INSERT, for comparison.
BEGIN;
INSERT INTO booking.booking (booking_id, kind, pool_id, spots, status, holder)
VALUES (-1, 'ticket', :gig, 1, 'released', 'by hand');
SELECT l.kind, l.status, s.search_path FROM audit.log l JOIN app.seen s USING (booking_id) WHERE booking_id = -1;
ROLLBACK;
RESET search_path;

-- A caller's path with a look-alike of lower() before pg_catalog, and a
-- temporary table named like the audit trigger's: neither is reached by
-- the triggers, which run as the extension's owner.
CREATE SCHEMA evil_path;
CREATE FUNCTION evil_path.lower(text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN RAISE EXCEPTION 'planted lower() ran as %', current_user; END $$;
CREATE TEMP TABLE log (booking_id bigint, kind text, status text);
SET search_path = evil_path, pg_catalog, public;
SELECT status FROM booking.decrement_ticket(:hot, 1, 'Hal');
SELECT s.search_path, s.holder, l.status AS logged
  FROM app.seen s JOIN audit.log l USING (booking_id) WHERE s.holder = 'hal';
SELECT count(*) AS in_temp_log FROM pg_temp.log;
RESET search_path;
DROP TABLE pg_temp.log;
DROP SCHEMA evil_path CASCADE;
DROP TRIGGER note_path ON booking.booking;
SELECT count(*) AS problems FROM booking.check();

------------------------------------------------------------------------------
-- (b) A caller's path with look-alikes before pg_catalog.
------------------------------------------------------------------------------
-- Schema evil holds, for the types the extension's statements use, every
-- operator they could name or imply, every function and aggregate, types
-- named like pg_catalog's and relations named like the extension's. Each
-- counts its call in a sequence (which no rollback undoes) and raises.
SET search_path = pg_catalog;
CREATE SCHEMA evil;
CREATE SEQUENCE evil.calls;
CREATE FUNCTION evil.planted(what text) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_catalog.nextval('evil.calls');
    RAISE EXCEPTION 'planted % called', what;
END $$;
-- A planted function: name(args) RETURNS result, whose body calls
-- evil.planted(what).
CREATE FUNCTION evil.plant_function(name text, args text, result text, what text DEFAULT NULL)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format('CREATE FUNCTION evil.%I(%s) RETURNS %s LANGUAGE plpgsql AS %L',
                   name, args, result,
                   format('BEGIN PERFORM evil.planted(%L); RETURN%s; END', coalesce(what, name || '(' || args || ')'),
                          CASE WHEN result LIKE 'SETOF %' OR result = 'void' THEN '' ELSE ' NULL' END));
END $$;
-- A planted operator over left (NULL: prefix) and right.
CREATE FUNCTION evil.plant_operator(op text, l text, r text, result text) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    fn text := 'op_' || md5(op || coalesce(l, '') || r);
BEGIN
    PERFORM evil.plant_function(fn, concat_ws(', ', l, r), result,
                                format('operator %s(%s)', op, concat_ws(', ', l, r)));
    EXECUTE format('CREATE OPERATOR evil.%s (%s rightarg = %s, function = evil.%I)',
                   op, CASE WHEN l IS NULL THEN '' ELSE format('leftarg = %s,', l) END, r, fn);
END $$;
-- A planted aggregate: its transition and final functions both raise, so
-- it raises over no rows too.
CREATE FUNCTION evil.plant_aggregate(name text, arg text, state text) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    fn text := 'agg_' || md5(name || arg);
BEGIN
    PERFORM evil.plant_function(fn || '_s', CASE WHEN arg = '*' THEN state ELSE state || ', ' || arg END, state,
                                format('aggregate %s(%s)', name, arg));
    PERFORM evil.plant_function(fn || '_f', state, state, format('aggregate %s(%s)', name, arg));
    EXECUTE format('CREATE AGGREGATE evil.%I(%s) (sfunc = evil.%I, stype = %s, finalfunc = evil.%I)',
                   name, arg, fn || '_s', state, fn || '_f');
END $$;
DO $$
DECLARE
    ints text[] := ARRAY['smallint', 'integer', 'bigint', 'numeric'];
    scalars text[] := ARRAY['text', 'boolean', 'timestamptz', 'timestamp', 'interval', 'oid', 'name',
                            'bigint[]', 'integer[]', 'text[]'];
    l text;
    r text;
    op text;
BEGIN
    -- Comparisons of every type with itself and of every integer type with every other.
    FOREACH op IN ARRAY ARRAY['=', '<>', '<', '<=', '>', '>='] LOOP
        FOREACH l IN ARRAY scalars LOOP
            PERFORM evil.plant_operator(op, l, l, 'boolean');
        END LOOP;
        FOREACH l IN ARRAY ints LOOP
            FOREACH r IN ARRAY ints LOOP
                PERFORM evil.plant_operator(op, l, r, 'boolean');
            END LOOP;
        END LOOP;
    END LOOP;
    -- Arithmetic.
    FOREACH op IN ARRAY ARRAY['+', '-', '*', '/', '%'] LOOP
        FOREACH l IN ARRAY ints LOOP
            FOREACH r IN ARRAY ints LOOP
                PERFORM evil.plant_operator(op, l, r, CASE WHEN l = 'numeric' OR r = 'numeric' THEN 'numeric'
                                                           WHEN l = 'bigint' OR r = 'bigint' THEN 'bigint'
                                                           ELSE 'integer' END);
            END LOOP;
        END LOOP;
    END LOOP;
    FOREACH l IN ARRAY ints || ARRAY['interval'] LOOP
        PERFORM evil.plant_operator('-', NULL, l, l);
    END LOOP;
    PERFORM evil.plant_operator('+', 'timestamptz', 'interval', 'timestamptz');
    PERFORM evil.plant_operator('-', 'timestamptz', 'interval', 'timestamptz');
    PERFORM evil.plant_operator('-', 'timestamptz', 'timestamptz', 'interval');
    PERFORM evil.plant_operator('+', 'interval', 'interval', 'interval');
    -- Concatenation, arrays, LIKE.
    PERFORM evil.plant_operator('||', 'text', 'text', 'text');
    FOREACH l IN ARRAY ARRAY['bigint', 'integer', 'text'] LOOP
        PERFORM evil.plant_operator('||', l || '[]', l, l || '[]');
        PERFORM evil.plant_operator('||', l, l || '[]', l || '[]');
        PERFORM evil.plant_operator('||', l || '[]', l || '[]', l || '[]');
        FOREACH op IN ARRAY ARRAY['&&', '@>', '<@'] LOOP
            PERFORM evil.plant_operator(op, l || '[]', l || '[]', 'boolean');
        END LOOP;
    END LOOP;
    FOREACH op IN ARRAY ARRAY['~~', '!~~', '~~*', '!~~*'] LOOP
        PERFORM evil.plant_operator(op, 'text', 'text', 'boolean');
    END LOOP;
    -- Functions, with the exact argument types of a call.
    PERFORM evil.plant_function('nextval', 'regclass', 'bigint');
    PERFORM evil.plant_function('nextval', 'text', 'bigint');
    PERFORM evil.plant_function('currval', 'regclass', 'bigint');
    PERFORM evil.plant_function('setval', 'regclass, bigint', 'bigint');
    PERFORM evil.plant_function('lastval', '', 'bigint');
    FOREACH l IN ARRAY ARRAY['now', 'transaction_timestamp', 'statement_timestamp', 'clock_timestamp'] LOOP
        PERFORM evil.plant_function(l, '', 'timestamptz');
    END LOOP;
    FOREACH l IN ARRAY ARRAY['bigint', 'integer', 'text'] LOOP
        PERFORM evil.plant_function('unnest', l || '[]', 'SETOF ' || l);
        PERFORM evil.plant_function('cardinality', l || '[]', 'integer');
        PERFORM evil.plant_function('array_length', l || '[], integer', 'integer');
        PERFORM evil.plant_function('array_position', l || '[], ' || l, 'integer');
        PERFORM evil.plant_function('array_append', l || '[], ' || l, l || '[]');
        PERFORM evil.plant_function('array_cat', l || '[], ' || l || '[]', l || '[]');
        PERFORM evil.plant_function('array_remove', l || '[], ' || l, l || '[]');
    END LOOP;
    PERFORM evil.plant_function('unnest', 'anyarray', 'SETOF anyelement');
    PERFORM evil.plant_function('generate_series', 'integer, integer', 'SETOF integer');
    PERFORM evil.plant_function('generate_series', 'bigint, bigint', 'SETOF bigint');
    PERFORM evil.plant_function('generate_subscripts', 'bigint[], integer', 'SETOF integer');
    FOREACH l IN ARRAY ARRAY['lower', 'upper', 'btrim', 'format'] LOOP
        PERFORM evil.plant_function(l, 'text', 'text');
    END LOOP;
    PERFORM evil.plant_function('length', 'text', 'integer');
    PERFORM evil.plant_function('octet_length', 'text', 'integer');
    PERFORM evil.plant_function('format', 'text, text', 'text');
    PERFORM evil.plant_function('pg_notify', 'text, text', 'void');
    PERFORM evil.plant_function('abs', 'integer', 'integer');
    PERFORM evil.plant_function('abs', 'bigint', 'bigint');
    -- Aggregates.
    PERFORM evil.plant_aggregate('count', '*', 'bigint');
    FOREACH l IN ARRAY ARRAY['smallint', 'integer', 'bigint', 'text', 'timestamptz', 'boolean'] LOOP
        PERFORM evil.plant_aggregate('count', l, 'bigint');
        PERFORM evil.plant_aggregate('min', l, l);
        PERFORM evil.plant_aggregate('max', l, l);
    END LOOP;
    PERFORM evil.plant_aggregate('sum', 'smallint', 'bigint');
    PERFORM evil.plant_aggregate('sum', 'integer', 'bigint');
    PERFORM evil.plant_aggregate('sum', 'bigint', 'numeric');
    PERFORM evil.plant_aggregate('array_agg', 'bigint', 'bigint[]');
    PERFORM evil.plant_aggregate('array_agg', 'integer', 'integer[]');
    PERFORM evil.plant_aggregate('bool_and', 'boolean', 'boolean');
    PERFORM evil.plant_aggregate('bool_or', 'boolean', 'boolean');
    -- Types named like pg_catalog's: a value cast to one fails its check.
    FOREACH l IN ARRAY ARRAY['text', 'timestamptz', 'regclass', 'int2', 'int4', 'int8', 'bool', 'numeric',
                             'name', 'oid', 'varchar', 'jsonb'] LOOP
        EXECUTE format('CREATE DOMAIN evil.%I AS pg_catalog.%I CHECK (evil.planted(%L))', l, l, 'type ' || l);
    END LOOP;
    -- Relations named like the extension's.
    FOREACH l IN ARRAY ARRAY['pool', 'pool_shard', 'booking', 'show', 'seat', 'resource', 'node', 'node_info',
                             'pool_status', 'bookings', 'seats', 'pool_id_seq', 'booking_id_seq', 'seat_id_seq',
                             'show_id_seq', 'resource_id_seq'] LOOP
        EXECUTE format('CREATE VIEW evil.%I AS SELECT 1::bigint AS pool_id WHERE evil.planted(%L)', l,
                       'relation ' || l);
    END LOOP;
END $$;
SELECT count(*) AS planted_operators FROM pg_operator WHERE oprnamespace = 'evil'::regnamespace;
SELECT count(*) AS planted_functions FROM pg_proc WHERE pronamespace = 'evil'::regnamespace;

-- The same calls of every function, run once with an ordinary path and once
-- with evil first, each from a fresh install in a fresh session. The test's
-- own statements name everything with its schema too (helpers pin their
-- path), so that whatever runs planted code can only be the extension.
CREATE TABLE public.steps (n serial PRIMARY KEY, phase integer NOT NULL, sql text NOT NULL);
CREATE TABLE public.results (run text, step integer, result text, ord bigint);
CREATE FUNCTION public.pool(name text) RETURNS bigint LANGUAGE sql STABLE SET search_path = pg_catalog
    AS $$ SELECT pool_id FROM booking.pool WHERE name = $1 $$;
CREATE FUNCTION public.show(name text) RETURNS bigint LANGUAGE sql STABLE SET search_path = pg_catalog
    AS $$ SELECT show_id FROM booking.show WHERE name = $1 $$;
CREATE FUNCTION public.resource(name text) RETURNS bigint LANGUAGE sql STABLE SET search_path = pg_catalog
    AS $$ SELECT resource_id FROM booking.resource WHERE name = $1 $$;
-- The holder's latest booking.
CREATE FUNCTION public.latest(holder text) RETURNS bigint LANGUAGE sql STABLE SET search_path = pg_catalog
    AS $$ SELECT max(booking_id) FROM booking.booking WHERE holder = $1 $$;
CREATE FUNCTION public.seat_ids(show text, section text, first integer, last integer) RETURNS bigint[]
    LANGUAGE sql STABLE SET search_path = pg_catalog
    AS $$ SELECT array_agg(s.seat_id ORDER BY s.seat_id) FROM booking.seat s
           WHERE s.show_id = public.show($1) AND s.section = $2 AND s.number BETWEEN $3 AND $4 $$;
-- Run the steps of a phase (one transaction: holds lapse between phases)
-- and return each result row as JSON, or the error.
CREATE FUNCTION public.run_steps(phase integer) RETURNS TABLE (step integer, result text) LANGUAGE plpgsql AS $$
DECLARE
    s record;
    r record;
BEGIN
    FOR s IN SELECT n, sql FROM public.steps WHERE steps.phase OPERATOR(pg_catalog.=) run_steps.phase ORDER BY n LOOP
        step := s.n;
        BEGIN
            FOR r IN EXECUTE s.sql LOOP
                result := pg_catalog.row_to_json(r)::pg_catalog.text;
                RETURN NEXT;
            END LOOP;
        EXCEPTION WHEN OTHERS THEN
            result := pg_catalog.concat(SQLSTATE, ': ', SQLERRM);
            RETURN NEXT;
        END;
    END LOOP;
END $$;
INSERT INTO public.steps (phase, sql) VALUES
-- pools: a tree, a sharded pool with a holder cap, a waitlist
(1, $$SELECT booking.create_pool(10, 'venue')$$),
(1, $$SELECT booking.create_pool(4, 'vip', parent_id => public.pool('venue'))$$),
(1, $$SELECT booking.create_pool(100, 'hot', shards => 4, max_per_holder => 50)$$),
(1, $$SELECT booking.create_pool(3, 'class')$$),
(1, $$SELECT booking.set_capacity(public.pool('venue'), 12)$$),
(1, $$SELECT status, remaining FROM booking.decrement_ticket(public.pool('vip'), 3, 'ann')$$),
(1, $$SELECT status, remaining FROM booking.decrement_ticket(public.pool('venue'), 20, 'ann')$$),
(1, $$SELECT status, remaining FROM booking.decrement_ticket(public.pool('hot'), 2, 'ann', '1 hour', 'k1')$$),
(1, $$SELECT status, remaining FROM booking.decrement_ticket(public.pool('hot'), 2, 'ann', '1 hour', 'k1')$$),
(1, $$SELECT status, remaining FROM booking.decrement_ticket(public.pool('hot'), 60, 'ann')$$),
(1, $$SELECT status, remaining FROM booking.decrement_ticket(public.pool('hot'), 5, 'bea', '1 millisecond')$$),
(1, $$SELECT status, remaining FROM booking.decrement_ticket(public.pool('hot'), 7, 'cy')$$),
(1, $$SELECT status, waitlist_position FROM booking.register(public.pool('class'), 2, 'dan')$$),
(1, $$SELECT status, waitlist_position FROM booking.register(public.pool('class'), 2, 'eve')$$),
(1, $$SELECT status, waitlist_position FROM booking.register(public.pool('class'), 1, 'fay', 'r1')$$),
(1, $$SELECT status, waitlist_position FROM booking.register(public.pool('class'), 1, 'fay', 'r1')$$),
(1, $$SELECT status, remaining FROM booking.decrement_ticket(public.pool('class'), 1, 'gil')$$),
(1, $$SELECT pg_catalog.count(*) FROM booking.promote_waitlist(public.pool('class'))$$),
(1, $$SELECT spots FROM booking.promote_waitlist(public.pool('class'), skip_unfit => true)$$),
(1, $$SELECT status, released, promoted FROM booking.release(public.latest('dan'), 'dan')$$),
(1, $$SELECT booking.set_capacity(public.pool('class'), 6)$$),
(1, $$SELECT status FROM booking.extend_hold(public.latest('ann'), 'ann', '2 hours')$$),
(1, $$SELECT status FROM booking.confirm(public.latest('ann'), 'ann', 'pay-ann')$$),
(1, $$SELECT status, released FROM booking.release(public.latest('ann'), 'ann')$$),
(1, $$SELECT status, released FROM booking.cancel(public.latest('cy'))$$),
(1, $$SELECT booking.set_capacity(public.pool('hot'), 150)$$),
(1, $$SELECT status, remaining FROM booking.decrement_ticket(public.pool('hot'), 4, 'hal')$$),
-- the fast paths: a plain root pool, a sharded one
(1, $$SELECT booking.create_pool(5, 'solo')$$),
(1, $$SELECT booking.create_pool(8, 'flash', shards => 4)$$),
(1, $$SELECT status, remaining FROM booking.decrement_ticket(public.pool('solo'), 2, 'oz', '1 millisecond')$$),
(1, $$SELECT status, remaining FROM booking.decrement_ticket(public.pool('solo'), 1, 'oz')$$),
(1, $$SELECT status, remaining FROM booking.decrement_ticket(public.pool('flash'), 2, 'pia')$$),
(1, $$SELECT status, remaining FROM booking.decrement_ticket(public.pool('flash'), 2, 'pia')$$),
(1, $$SELECT status, remaining FROM booking.decrement_ticket(public.pool('flash'), 1, 'quin', '1 hour')$$),
(1, $$SELECT status, released FROM booking.release(public.latest('pia'), 'pia')$$),
(1, $$SELECT status, remaining FROM booking.decrement_ticket(public.pool('flash'), 9, 'quin')$$),
-- seats
(1, $$SELECT booking.create_show('play', notify => true)$$),
(1, $$SELECT pg_catalog.array_length(booking.add_seats(public.show('play'), 'stalls', 'A', 1, 8), 1)$$),
(1, $$SELECT booking.add_seats(public.show('play'), 'stalls', 'A', 8, 2)$$),
(1, $$SELECT pg_catalog.array_length(booking.add_seats(public.show('play'), 'circle', 'B', 1, 4), 1)$$),
(1, $$SELECT status, seat_ids, unavailable FROM booking.reserve_seats(public.show('play'), public.seat_ids('play', 'stalls', 1, 2), 'ivy')$$),
(1, $$SELECT status, seat_ids, unavailable FROM booking.reserve_seats(public.show('play'), public.seat_ids('play', 'stalls', 2, 3), 'jo')$$),
(1, $$SELECT status, seat_ids FROM booking.reserve_seats(public.show('play'), public.seat_ids('play', 'stalls', 3, 4), 'jo', idempotency_key => 's1')$$),
(1, $$SELECT status, seat_ids FROM booking.reserve_seats(public.show('play'), public.seat_ids('play', 'stalls', 3, 4), 'jo', idempotency_key => 's1')$$),
(1, $$SELECT status, seat_ids FROM booking.reserve_seats(public.show('play'), public.seat_ids('play', 'stalls', 4, 4), 'jo')$$),
(1, $$SELECT status, seat_ids FROM booking.reserve_best_available(public.show('play'), 2, 'kim', 'stalls')$$),
(1, $$SELECT status, seat_ids FROM booking.reserve_best_available(public.show('play'), 2, 'lee', 'circle', '1 millisecond')$$),
(1, $$SELECT status, seat_ids FROM booking.reserve_best_available(public.show('play'), 9, 'lee')$$),
(1, $$SELECT status FROM booking.confirm(public.latest('ivy'), 'ivy')$$),
(1, $$SELECT status FROM booking.extend_hold(public.latest('kim'), 'kim')$$),
(1, $$SELECT status, released FROM booking.release(public.latest('kim'), 'kim')$$),
(1, $$SELECT seat_id, status, mine, booking_id FROM booking.seat_map(public.show('play'), 'ivy')$$),
-- slots
(1, $$SELECT booking.create_resource('room', 1)$$),
(1, $$SELECT status FROM booking.reserve_slot(public.resource('room'), '2030-01-01 10:00+00', '2030-01-01 11:00+00', 'max', payment_ref => 'cs_1')$$),
(1, $$SELECT status FROM booking.reserve_slot(public.resource('room'), '2030-01-01 10:30+00', '2030-01-01 11:30+00', 'ned')$$),
(1, $$SELECT status FROM booking.reserve_slot(public.resource('room'), '2030-01-01 12:00+00', '2030-01-01 13:00+00', 'ned', '1 millisecond', idempotency_key => 'q1')$$),
(1, $$SELECT status FROM booking.reserve_slot(public.resource('room'), '2030-01-01 12:00+00', '2030-01-01 13:00+00', 'ned', '1 millisecond', idempotency_key => 'q1')$$),
(1, $$SELECT status FROM booking.confirm_payment('cs_1')$$),
(1, $$SELECT status FROM booking.reserve_slot(public.resource('room'), '2030-01-02 10:00+00', '2030-01-02 11:00+00', 'max')$$),
(1, $$SELECT status, released FROM booking.cancel(public.latest('max'))$$),
-- lapsed holds (phase 2 runs in a later transaction)
(2, $$SELECT * FROM booking.availability(public.pool('solo'))$$),
(2, $$SELECT status FROM booking.confirm(public.latest('lee'), 'lee')$$),
(2, $$SELECT status FROM booking.extend_hold(public.latest('ned'), 'ned')$$),
(2, $$SELECT booking.expire_holds()$$),
(2, $$SELECT status FROM booking.confirm(public.latest('bea'), 'bea')$$),
(2, $$SELECT status, released FROM booking.release(public.latest('ned'), 'ned')$$),
(2, $$SELECT booking.reconcile()$$),
-- reads
(3, $$SELECT * FROM booking.availability(public.pool('venue'))$$),
(3, $$SELECT * FROM booking.availability(public.pool('hot'))$$),
(3, $$SELECT * FROM booking.availability(public.pool('flash'))$$),
(3, $$SELECT * FROM booking.pool_status ORDER BY pool_id$$),
(3, $$SELECT kind, spots, status, holder, seat_ids, waitlist_position FROM booking.bookings ORDER BY booking_id$$),
(3, $$SELECT seat_id, section, row_label, number, status FROM booking.seats ORDER BY seat_id$$),
(3, $$SELECT * FROM booking.pool_usage(public.pool('venue'))$$),
(3, $$SELECT * FROM booking.node_info$$),
(3, $$SELECT * FROM booking.set_node(0, 1)$$),
(3, $$SELECT pg_catalog.count(*) FROM booking.check()$$),
(3, $$SELECT booking.stats_reset()$$);
RESET search_path;

-- The ordinary run.
\c
SET client_min_messages = warning;
DROP EXTENSION booking CASCADE;
CREATE EXTENSION booking;
RESET client_min_messages;
CREATE TRIGGER audit AFTER INSERT ON booking.booking FOR EACH ROW EXECUTE FUNCTION audit.record();
INSERT INTO public.results SELECT 'plain', * FROM public.run_steps(1) WITH ORDINALITY;
SELECT pg_sleep(0.01);
INSERT INTO public.results SELECT 'plain', * FROM public.run_steps(2) WITH ORDINALITY;
INSERT INTO public.results SELECT 'plain', * FROM public.run_steps(3) WITH ORDINALITY;

-- The same with evil first. (An audit trigger keeps the bookings off the
-- direct writes, so that their statements run too.)
\c
SET client_min_messages = warning;
DROP EXTENSION booking CASCADE;
CREATE EXTENSION booking;
RESET client_min_messages;
CREATE TRIGGER audit AFTER INSERT ON booking.booking FOR EACH ROW EXECUTE FUNCTION audit.record();
SET search_path = evil, pg_catalog, public;
INSERT INTO public.results SELECT 'evil first', * FROM public.run_steps(1) WITH ORDINALITY;
SELECT pg_catalog.pg_sleep(0.01);
INSERT INTO public.results SELECT 'evil first', * FROM public.run_steps(2) WITH ORDINALITY;
INSERT INTO public.results SELECT 'evil first', * FROM public.run_steps(3) WITH ORDINALITY;
RESET search_path;

-- What the calls answered, with evil first ...
SELECT r.step, s.sql, r.result FROM public.results r JOIN public.steps s ON s.n = r.step
 WHERE r.run = 'evil first' ORDER BY r.step, r.ord;
-- ... is what they answered without it,
SELECT step, p.result AS plain, e.result AS evil_first
  FROM (SELECT * FROM public.results WHERE run = 'plain') p
  FULL JOIN (SELECT * FROM public.results WHERE run = 'evil first') e USING (step, ord)
 WHERE p.result IS DISTINCT FROM e.result;
-- and nothing planted ran.
SELECT is_called AS planted_called FROM evil.calls;
-- The trap works: a query of the caller's own that names = or count() bare
-- runs the planted ones.
\set VERBOSITY terse
SET search_path = evil, pg_catalog, public;
SELECT 1 = 1;
SELECT pg_catalog.count(*) FROM booking.pool WHERE pool_id = 1;
SELECT count(*) FROM booking.pool;
RESET search_path;
\set VERBOSITY default
SELECT is_called AS planted_called FROM evil.calls;

-- Clean up.
SET client_min_messages = warning;
DROP TABLE public.steps, public.results;
DROP FUNCTION public.run_steps(integer), public.pool(text), public.show(text), public.resource(text),
              public.latest(text), public.seat_ids(text, text, integer, integer), public.note_path();
DROP SCHEMA audit, app, evil CASCADE;
DROP EXTENSION booking CASCADE;
CREATE EXTENSION booking;
RESET client_min_messages;
