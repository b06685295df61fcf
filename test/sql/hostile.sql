-- The pg_pathman CVE-2020-14350 pattern: a non-superuser with CREATE on
-- public plants look-alikes of what the extension uses (functions,
-- overloads with closer argument types, operators, an aggregate, tables
-- and views named like the extension's, in public and in pg_temp); a
-- superuser whose search_path puts those first then creates and updates
-- the extension and calls every function, and so does the attacker. Every
-- planted object calls public.pwn(), which logs its call and tries to make
-- the attacker a superuser: nothing planted runs, and the attacker gains
-- nothing.
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS booking CASCADE;
DROP ROLE IF EXISTS regress_attacker;
RESET client_min_messages;
SET timezone = 'UTC';

CREATE OR REPLACE FUNCTION public.raised(statement text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE statement;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ': ' || SQLERRM;
END $$;

CREATE ROLE regress_attacker;
GRANT CREATE ON SCHEMA public TO regress_attacker;
CREATE TABLE public.pwned (what text, run_as text);
GRANT INSERT, SELECT ON public.pwned TO PUBLIC;

------------------------------------------------------------------------------
-- The attacker plants.
------------------------------------------------------------------------------
SET ROLE regress_attacker;

CREATE FUNCTION public.pwn(what text) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO public.pwned VALUES (what, current_user);
    BEGIN
        EXECUTE 'ALTER ROLE regress_attacker SUPERUSER';
    EXCEPTION WHEN OTHERS THEN
        NULL;
    END;
    RETURN true;
END $$;

-- Functions the extension's SQL calls, with the exact argument types of
-- its calls, so that they would beat pg_catalog's polymorphic or looser
-- versions wherever public were searched at all.
CREATE FUNCTION public.nextval(text) RETURNS bigint LANGUAGE sql AS $$ SELECT 1 WHERE public.pwn('nextval(text)') $$;
CREATE FUNCTION public.nextval(regclass) RETURNS bigint LANGUAGE sql AS $$ SELECT 1 WHERE public.pwn('nextval(regclass)') $$;
CREATE FUNCTION public.setval(regclass, bigint, boolean) RETURNS bigint LANGUAGE sql
    AS $$ SELECT 1 WHERE public.pwn('setval') $$;
CREATE FUNCTION public.pg_sequence_last_value(regclass) RETURNS bigint LANGUAGE sql
    AS $$ SELECT 1 WHERE public.pwn('pg_sequence_last_value') $$;
CREATE FUNCTION public.now() RETURNS timestamptz LANGUAGE sql AS $$ SELECT 'epoch'::timestamptz WHERE public.pwn('now') $$;
CREATE FUNCTION public.unnest(bigint[]) RETURNS SETOF bigint LANGUAGE sql AS $$ SELECT 1 WHERE public.pwn('unnest') $$;
CREATE FUNCTION public.cardinality(bigint[]) RETURNS integer LANGUAGE sql AS $$ SELECT 1 WHERE public.pwn('cardinality') $$;
CREATE FUNCTION public.array_position(bigint[], bigint) RETURNS integer LANGUAGE sql
    AS $$ SELECT 1 WHERE public.pwn('array_position') $$;
CREATE FUNCTION public.format(text, text) RETURNS text LANGUAGE sql AS $$ SELECT 'x' WHERE public.pwn('format') $$;
CREATE FUNCTION public.pg_notify(text, text) RETURNS void LANGUAGE sql AS $$ SELECT WHERE public.pwn('pg_notify') $$;
CREATE FUNCTION public.generate_series(integer, integer) RETURNS SETOF integer LANGUAGE sql
    AS $$ SELECT 1 WHERE public.pwn('generate_series') $$;
CREATE FUNCTION public.least(timestamptz, timestamptz) RETURNS timestamptz LANGUAGE sql
    AS $$ SELECT $1 WHERE public.pwn('least') $$;
CREATE FUNCTION public.coalesce_(integer) RETURNS integer LANGUAGE sql AS $$ SELECT 1 WHERE public.pwn('coalesce_') $$;
CREATE FUNCTION public.pg_extension_config_dump(regclass, text) RETURNS void LANGUAGE sql
    AS $$ SELECT WHERE public.pwn('pg_extension_config_dump') $$;
CREATE FUNCTION public.pwn_sum(bigint, integer) RETURNS bigint LANGUAGE sql AS $$ SELECT $1 WHERE public.pwn('sum') $$;
CREATE AGGREGATE public.sum(integer) (sfunc = public.pwn_sum, stype = bigint, initcond = '0');

-- Operators on the types the extension compares.
CREATE FUNCTION public.pwn_op(bigint, bigint) RETURNS boolean LANGUAGE sql AS $$ SELECT public.pwn('operator') $$;
CREATE FUNCTION public.pwn_op(integer, integer) RETURNS boolean LANGUAGE sql AS $$ SELECT public.pwn('operator') $$;
CREATE FUNCTION public.pwn_op(text, text) RETURNS boolean LANGUAGE sql AS $$ SELECT public.pwn('operator') $$;
CREATE FUNCTION public.pwn_op(bigint[], bigint[]) RETURNS boolean LANGUAGE sql AS $$ SELECT public.pwn('operator') $$;
CREATE FUNCTION public.pwn_plus(integer, integer) RETURNS integer LANGUAGE sql AS $$ SELECT 1 WHERE public.pwn('+') $$;
CREATE OPERATOR public.= (leftarg = bigint, rightarg = bigint, function = public.pwn_op);
CREATE OPERATOR public.= (leftarg = text, rightarg = text, function = public.pwn_op);
CREATE OPERATOR public.< (leftarg = integer, rightarg = integer, function = public.pwn_op);
CREATE OPERATOR public.<> (leftarg = integer, rightarg = integer, function = public.pwn_op);
CREATE OPERATOR public.&& (leftarg = bigint[], rightarg = bigint[], function = public.pwn_op);
CREATE OPERATOR public.@> (leftarg = bigint[], rightarg = bigint[], function = public.pwn_op);
CREATE OPERATOR public.+ (leftarg = integer, rightarg = integer, function = public.pwn_plus);

-- Tables and views named like the extension's, whose every use runs pwn().
CREATE FUNCTION public.pwn_trigger() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM public.pwn('trigger on ' || TG_TABLE_SCHEMA || '.' || TG_TABLE_NAME);
    RETURN NULL;
END $$;
DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['pool', 'pool_shard', 'booking', 'show', 'seat', 'resource', 'node'] LOOP
        EXECUTE pg_catalog.format('CREATE TABLE public.%I (pool_id bigint, booking_id bigint, show_id bigint, seat_id bigint,
                                                resource_id bigint, status text)', t);
        EXECUTE pg_catalog.format('CREATE TRIGGER pwn BEFORE INSERT OR UPDATE OR DELETE ON public.%I
                        FOR EACH ROW EXECUTE FUNCTION public.pwn_trigger()', t);
        EXECUTE pg_catalog.format('CREATE TRIGGER pwn_truncate BEFORE TRUNCATE ON public.%I
                        FOR EACH STATEMENT EXECUTE FUNCTION public.pwn_trigger()', t);
        -- pg_temp comes before pg_catalog's relations only when named, but
        -- plant there too: a view whose every read runs pwn().
        EXECUTE pg_catalog.format('CREATE TEMP VIEW %I AS SELECT 1::bigint AS pool_id, 1::bigint AS booking_id,
                        1::bigint AS show_id, 1::bigint AS seat_id, 1::bigint AS resource_id, ''x'' AS status
                        WHERE public.pwn(''temp view %s'')', t, t);
    END LOOP;
    FOREACH t IN ARRAY ARRAY['pool_status', 'bookings', 'seats', 'node_info', 'pool_id_seq', 'booking_id_seq'] LOOP
        EXECUTE pg_catalog.format('CREATE VIEW public.%I AS SELECT 1 AS x WHERE public.pwn(''view %s'')', t, t);
    END LOOP;
END $$;

-- Without CREATE on the database the attacker cannot pre-create the
-- extension's schema.
SELECT public.raised('CREATE SCHEMA booking');
RESET ROLE;

------------------------------------------------------------------------------
-- A superuser with the attacker's objects first in search_path creates and
-- updates the extension and calls every function.
------------------------------------------------------------------------------
SET search_path = pg_temp, public, pg_catalog;
SET client_min_messages = warning;
CREATE EXTENSION booking VERSION '1.0';
ALTER EXTENSION booking UPDATE;
RESET client_min_messages;
SELECT extversion FROM pg_extension WHERE extname = 'booking';

-- (The test's own statements here avoid every planted name, so that a
-- logged call can only come from the extension.)
SELECT booking.set_node(0, 1);
SELECT booking.create_pool(10, 'venue') AS venue \gset
SELECT booking.create_pool(4, 'vip', parent_id => :venue) AS vip \gset
SELECT booking.create_pool(100, 'hot', shards => 4, max_per_holder => 50) AS hot \gset
SELECT booking.set_capacity(:venue, 12);
SELECT booking_id AS ann, status FROM booking.decrement_ticket(:vip, 3, 'ann') \gset
SELECT booking_id AS ann_hold, status FROM booking.decrement_ticket(:hot, 2, 'ann', '1 hour', 'k1') \gset
SELECT :'status' AS status, :ann_hold AS first_id, (booking.decrement_ticket(:hot, 2, 'ann', '1 hour', 'k1')).booking_id AS again_id;
SELECT status, waitlist_position FROM booking.register(:vip, 2, 'bob');
SELECT status FROM booking.extend_hold(:ann_hold, 'ann', '2 hours');
SELECT status FROM booking.confirm(:ann_hold, 'ann');
SELECT status, released, array_length(promoted, 1) AS promoted FROM booking.release(:ann, 'ann');
SELECT count(*) FROM booking.promote_waitlist(:vip);
SELECT booking.create_show('play', notify => true) AS play \gset
SELECT array_length(booking.add_seats(:play, 'stalls', 'A', 1, 8), 1) AS seats;
SELECT booking_id AS cy, status, seat_ids FROM booking.reserve_seats(:play, '{1,2}', 'cy') \gset
SELECT :'status' AS status, :'seat_ids' AS seat_ids;
SELECT status, seat_ids, unavailable FROM booking.reserve_seats(:play, '{2,3}', 'dee');
SELECT status, seat_ids FROM booking.reserve_best_available(:play, 3, 'dee');
SELECT status FROM booking.confirm(:cy, 'cy');
SELECT booking.create_resource('room', 1) AS room \gset
SELECT booking_id AS eve, status FROM booking.reserve_slot(:room, '2030-01-01 10:00', '2030-01-01 11:00', 'eve', payment_ref => 'cs_1') \gset
SELECT status FROM booking.confirm_payment('cs_1');
SELECT status, released FROM booking.cancel(:eve);
SELECT booking.expire_holds();
SELECT * FROM booking.availability(:venue);
SELECT count(*) FROM booking.pool_status;
SELECT count(*) FROM booking.bookings;
SELECT count(*) FROM booking.seats;
SELECT count(*) FROM booking.seat_map(:play, 'cy');
SELECT * FROM booking.node_info;
SELECT * FROM booking.check();
SELECT booking.reconcile();
SELECT count(*) FROM booking.pool_usage(:venue);
SELECT public.raised('SELECT * FROM booking.stats');   -- needs shared_preload_libraries
SELECT public.raised('SELECT booking.stats_reset()');

------------------------------------------------------------------------------
-- The attacker calls the customer functions with its own search_path.
------------------------------------------------------------------------------
SET ROLE regress_attacker;
SET search_path = pg_temp, public, pg_catalog;
SELECT status FROM booking.decrement_ticket(:venue, 1, 'mallory');
SELECT status FROM booking.register(:venue, 1, 'mallory');
SELECT booking_id AS mallory, status FROM booking.reserve_seats(:play, '{7}', 'mallory') \gset
SELECT :'status' AS status;
SELECT status FROM booking.extend_hold(:mallory, 'mallory');
SELECT status FROM booking.reserve_best_available(:play, 1, 'mallory');
SELECT status FROM booking.reserve_slot(:room, '2030-01-02 10:00', '2030-01-02 11:00', 'mallory');
SELECT status FROM booking.release(:mallory, 'mallory');
SELECT * FROM booking.availability(:venue);
SELECT count(*) FILTER (WHERE mine) AS mine FROM booking.seat_map(:play, 'mallory');
SELECT public.raised('SELECT booking.release(' || :cy || ', ''mallory'')');   -- cy's booking: PT403
SELECT public.raised('SELECT booking.confirm(' || :ann_hold || ', ''mallory'')');
SELECT public.raised('SELECT booking.create_pool(5)');
SELECT public.raised('SELECT booking.set_node(1, 2)');
SELECT public.raised('SELECT * FROM booking.booking');
SELECT public.raised('CREATE FUNCTION booking.decrement_ticket(pool_id numeric) RETURNS int LANGUAGE sql AS ''SELECT 1''');
SELECT public.raised('CREATE TABLE booking.pwn (x int)');
-- The extension sets no path of its own (it names everything with its
-- schema): after a call, a failed call, and one whose error a PL/pgSQL
-- block caught, the caller's own path is in force.
BEGIN;
SELECT status FROM booking.decrement_ticket(:venue, 1, 'mallory');
SELECT pg_catalog.array_position(pg_catalog.current_schemas(true), 'public'::name) IS NOT NULL AS callers_path;
SAVEPOINT s;
SELECT booking.confirm(0, 'mallory');   -- PT404, raised while a statement ran
ROLLBACK TO SAVEPOINT s;
SELECT pg_catalog.array_position(pg_catalog.current_schemas(true), 'public'::name) IS NOT NULL AS callers_path;
DO $$
BEGIN
    PERFORM booking.release(0, 'mallory');
EXCEPTION WHEN no_data_found OR sqlstate 'PT404' THEN
    RAISE NOTICE 'caught %', SQLSTATE;
END
$$;
SELECT pg_catalog.array_position(pg_catalog.current_schemas(true), 'public'::name) IS NOT NULL AS callers_path;
COMMIT;
RESET ROLE;
RESET search_path;

------------------------------------------------------------------------------
-- Nothing planted ran; the attacker gained nothing.
------------------------------------------------------------------------------
SELECT count(*) AS planted_calls FROM public.pwned;
-- The trap works: the same name resolution in a query of the attacker's
-- own runs the planted operator (and fails to escalate).
SET ROLE regress_attacker;
SET search_path = pg_temp, public, pg_catalog;
SELECT 1::bigint = 1::bigint AS planted_operator_ran;
RESET ROLE;
RESET search_path;
SELECT * FROM public.pwned;
DELETE FROM public.pwned;
SELECT * FROM public.pwned;
SELECT rolsuper AS attacker_is_superuser FROM pg_roles WHERE rolname = 'regress_attacker';
SELECT count(*) AS attacker_owns_extension_objects
  FROM pg_depend d JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'booking'
  JOIN pg_class c ON d.classid = 'pg_class'::regclass AND c.oid = d.objid
 WHERE c.relowner = 'regress_attacker'::regrole;
SELECT c.relname, has_table_privilege('regress_attacker', c.oid, 'SELECT, INSERT, UPDATE, DELETE, TRUNCATE') AS any_privilege
  FROM pg_class c WHERE c.relnamespace = 'booking'::regnamespace AND c.relkind IN ('r', 'v', 'S')
 ORDER BY c.relname;
SELECT count(*) AS problems FROM booking.check();

------------------------------------------------------------------------------
-- With CREATE on the database the attacker could pre-create the schema and
-- own it (a schema owner can drop and replace anything in it). The
-- extension refuses to install into a schema a non-superuser owns.
------------------------------------------------------------------------------
SET client_min_messages = warning;
DROP EXTENSION booking CASCADE;
DROP SCHEMA booking;
RESET client_min_messages;
DO $$ BEGIN EXECUTE pg_catalog.format('GRANT CREATE ON DATABASE %I TO regress_attacker', current_database()); END $$;
SET ROLE regress_attacker;
CREATE SCHEMA booking;
CREATE TABLE booking.pool_status (x int);
RESET ROLE;
SELECT public.raised('CREATE EXTENSION booking');
SELECT count(*) AS extension_installed FROM pg_extension WHERE extname = 'booking';
DROP SCHEMA booking CASCADE;
SELECT count(*) AS planted_calls FROM public.pwned;

------------------------------------------------------------------------------
-- A superuser-owned schema booking where the attacker once could create
-- objects. While it could, it planted operators for pairs of types that
-- pg_catalog has no exact operator for (oid and regclass, oid and integer):
-- with the search_path of an extension script (booking, pg_temp, after
-- pg_catalog) they win over pg_catalog's oid = oid. The install and update
-- scripts refuse such a schema, and nothing planted runs.
------------------------------------------------------------------------------
CREATE SCHEMA booking;
GRANT USAGE, CREATE ON SCHEMA booking TO regress_attacker;
SET ROLE regress_attacker;
DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['regclass', 'integer'] LOOP
        -- = says false and <> says true: every catalog check passes
        EXECUTE pg_catalog.format('CREATE FUNCTION booking.planted_eq(oid, %s) RETURNS boolean LANGUAGE sql
                                   AS $f$ SELECT NOT public.pwn(''booking.=(oid, %s)'') $f$', t, t);
        EXECUTE pg_catalog.format('CREATE FUNCTION booking.planted_ne(oid, %s) RETURNS boolean LANGUAGE sql
                                   AS $f$ SELECT public.pwn(''booking.<>(oid, %s)'') $f$', t, t);
        EXECUTE pg_catalog.format('CREATE OPERATOR booking.= (leftarg = oid, rightarg = %s, function = booking.planted_eq)', t);
        EXECUTE pg_catalog.format('CREATE OPERATOR booking.<> (leftarg = oid, rightarg = %s, function = booking.planted_ne)', t);
    END LOOP;
END $$;
-- Positive control: with that search_path, they are what such comparisons run.
SET search_path = booking, pg_temp;
SELECT count(*) AS matched FROM (SELECT 'pg_catalog.pg_class'::pg_catalog.regclass::pg_catalog.oid AS c) AS x
 WHERE x.c = 'pg_catalog.pg_class'::pg_catalog.regclass OR x.c <> 0;
SET search_path = pg_temp, public, pg_catalog;
SELECT what, run_as FROM public.pwned ORDER BY what;
RESET ROLE;
DELETE FROM public.pwned;
REVOKE CREATE ON SCHEMA booking FROM regress_attacker;                  -- closed again
SELECT public.raised('CREATE EXTENSION booking');
SELECT count(*) AS extension_installed FROM pg_extension WHERE extname = 'booking';
SELECT count(*) AS planted_calls FROM public.pwned;
SELECT rolsuper AS attacker_is_superuser FROM pg_roles WHERE rolname = 'regress_attacker';

-- The same plant in the schema of an installed 1.3, then the update.
ALTER SCHEMA booking RENAME TO planted;
SET client_min_messages = warning;
CREATE EXTENSION booking VERSION '1.3';
RESET client_min_messages;
GRANT CREATE ON SCHEMA booking TO regress_attacker;
SET ROLE regress_attacker;
ALTER FUNCTION planted.planted_eq(oid, regclass) SET SCHEMA booking;
ALTER FUNCTION planted.planted_ne(oid, regclass) SET SCHEMA booking;
ALTER FUNCTION planted.planted_eq(oid, integer) SET SCHEMA booking;
ALTER FUNCTION planted.planted_ne(oid, integer) SET SCHEMA booking;
ALTER OPERATOR planted.= (oid, regclass) SET SCHEMA booking;
ALTER OPERATOR planted.<> (oid, regclass) SET SCHEMA booking;
ALTER OPERATOR planted.= (oid, integer) SET SCHEMA booking;
ALTER OPERATOR planted.<> (oid, integer) SET SCHEMA booking;
RESET ROLE;
REVOKE CREATE ON SCHEMA booking FROM regress_attacker;
SELECT public.raised('ALTER EXTENSION booking UPDATE TO ''1.4''');
SELECT extversion FROM pg_extension WHERE extname = 'booking';
SELECT count(*) AS planted_calls FROM public.pwned;
SELECT rolsuper AS attacker_is_superuser FROM pg_roles WHERE rolname = 'regress_attacker';
SET client_min_messages = warning;
DROP EXTENSION booking;
DROP SCHEMA booking CASCADE;
DROP SCHEMA planted;
RESET client_min_messages;

-- Clean up.
SET client_min_messages = warning;
DO $$ BEGIN EXECUTE pg_catalog.format('REVOKE CREATE ON DATABASE %I FROM regress_attacker', current_database()); END $$;
DROP OWNED BY regress_attacker CASCADE;
DROP ROLE regress_attacker;
DROP TABLE public.pwned;
CREATE EXTENSION booking;
RESET client_min_messages;
