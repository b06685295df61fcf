-- booking.holder_claim (1.5): with request claims (PostgREST's
-- request.jwt.claims) every customer call acts for the claim's holder. The
-- claim's forms, its absence, a mismatch, and every customer function; the
-- full PostgREST request shape is test/t/018_postgrest.pl.
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS booking CASCADE;
CREATE EXTENSION booking;
DROP ROLE IF EXISTS regress_web;
DROP ROLE IF EXISTS regress_edge;
RESET client_min_messages;
SET timezone = 'UTC';

CREATE OR REPLACE FUNCTION public.raised(statement text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    res text;
BEGIN
    EXECUTE statement INTO res;
    RETURN coalesce(res, 'ok');
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ': ' || SQLERRM;
END $$;

CREATE ROLE regress_web;
SELECT booking.create_pool(10, 'pool') AS pool;                       -- 1
SELECT booking.create_show('show') AS show;                           -- 1
SELECT cardinality(booking.add_seats(1, 'stalls', 'A', 1, 6)) AS seats;
SELECT booking.create_resource('room') AS room;                       -- 1
-- bookings 1 (u1), 2 (u2) and 3 (no holder), made without request claims
SELECT booking_id, status FROM booking.decrement_ticket(1, 1, 'u1', '1 hour');
SELECT booking_id, status FROM booking.decrement_ticket(1, 1, 'u2', '1 hour');
SELECT booking_id, status FROM booking.decrement_ticket(1, 1, NULL, '1 hour');

-- Off by default: claims change nothing.
SHOW booking.holder_claim;
SET request.jwt.claims = '{"sub":"u2","role":"authenticated"}';
SELECT status FROM booking.extend_hold(1, 'u1');
SELECT booking.claimed_holder(NULL, true) IS NULL AS off_passes_null, booking.claimed_holder('x', true) AS off_passes_x;

SET booking.holder_claim = 'sub';
-- Forms of the claim: a string, a number, a boolean; absent, JSON null, empty
-- string, an object; claims that are not an object; not JSON at all.
SELECT c AS claims, public.raised(format('SELECT booking.claimed_holder(NULL, true)')) AS needed,
       public.raised(format('SELECT booking.claimed_holder(NULL, false)')) AS optional,
       public.raised(format('SELECT booking.claimed_holder(%L, true)', 'u1')) AS given_u1
  FROM (VALUES ('{"sub":"u1"}'), ('{"sub":42}'), ('{"sub":true}'), ('{"role":"anon"}'), ('{"sub":null}'),
               ('{"sub":""}'), ('{"sub":{"id":1}}'), ('[1,2]'), ('"sub"'), ('{}'), ('not json')) AS v(c),
       LATERAL (SELECT set_config('request.jwt.claims', c, false)) AS s;
-- No claims at all (empty, as after a request's transaction): the argument.
SET request.jwt.claims = '';
SELECT booking.claimed_holder(NULL, true) IS NULL AS no_claims_passes_null, booking.claimed_holder('x', true) AS no_claims_passes_x;
-- A claim over the holder limit is refused like such a holder.
SELECT set_config('request.jwt.claims', format('{"sub":"%s"}', repeat('k', 257)), false) IS NOT NULL AS long_claim;
SELECT public.raised('SELECT status FROM booking.decrement_ticket(1)');
SELECT public.raised('SELECT count(*)::text FROM booking.my_bookings()');
SELECT public.raised('SELECT count(*)::text FROM booking.seat_map(1)');

-- Every customer function, as a web user (no organiser) with u1's claim, on
-- u2's booking 2 and on booking 3 made without a holder, and naming u2.
SET ROLE regress_web;
SET request.jwt.claims = '{"sub":"u1","role":"authenticated"}';
SELECT f AS call, public.raised(f) AS outcome FROM (VALUES
    ('SELECT status FROM booking.confirm(2)'),
    ('SELECT status FROM booking.confirm(3)'),
    ('SELECT status FROM booking.confirm(1, ''u2'')'),
    ('SELECT status FROM booking.release(2)'),
    ('SELECT status FROM booking.release(3)'),
    ('SELECT status FROM booking.release(1, ''u2'')'),
    ('SELECT status FROM booking.extend_hold(2)'),
    ('SELECT status FROM booking.extend_hold(3)'),
    ('SELECT status FROM booking.extend_hold(1, ''u2'')'),
    ('SELECT status FROM booking.decrement_ticket(1, 1, ''u2'')'),
    ('SELECT status FROM booking.register(1, 1, ''u2'')'),
    ('SELECT status FROM booking.reserve_seats(1, ARRAY[1], ''u2'')'),
    ('SELECT status FROM booking.reserve_best_available(1, 1, ''u2'')'),
    ('SELECT status FROM booking.reserve_slot(1, ''2030-01-01 09:00'', ''2030-01-01 10:00'', ''u2'')'),
    ('SELECT count(*)::text FROM booking.seat_map(1, ''u2'')'),
    ('SELECT count(*)::text FROM booking.my_bookings(''u2'')')) AS v(f);
-- The same as anonymous (claims without "sub").
SET request.jwt.claims = '{"role":"anon"}';
SELECT f AS call, public.raised(f) AS outcome FROM (VALUES
    ('SELECT status FROM booking.confirm(1)'),
    ('SELECT status FROM booking.release(3)'),
    ('SELECT status FROM booking.extend_hold(1, ''u1'')'),
    ('SELECT status FROM booking.decrement_ticket(1)'),
    ('SELECT status FROM booking.register(1)'),
    ('SELECT status FROM booking.reserve_seats(1, ARRAY[1], NULL)'),
    ('SELECT status FROM booking.reserve_best_available(1, 1, NULL)'),
    ('SELECT status FROM booking.reserve_slot(1, ''2030-01-01 09:00'', ''2030-01-01 10:00'', NULL)'),
    ('SELECT count(*)::text FROM booking.seat_map(1, ''u1'')'),
    ('SELECT count(*)::text FROM booking.seat_map(1)'),
    ('SELECT available::text FROM booking.availability(1)'),
    ('SELECT count(*)::text FROM booking.my_bookings()')) AS v(f);
-- u1 acts on her own, without naming herself, and reads her own.
SET request.jwt.claims = '{"sub":"u1","role":"authenticated"}';
SELECT status FROM booking.confirm(1);
SELECT booking_id, status FROM booking.reserve_seats(1, ARRAY[1, 2], NULL);
SELECT booking_id, status FROM booking.reserve_slot(1, '2030-01-01 09:00', '2030-01-01 10:00', NULL);
SELECT booking_id, status, waitlist_position FROM booking.register(1, 20);
SELECT seat_id, mine, booking_id FROM booking.seat_map(1) WHERE seat_id <= 3;
SELECT booking_id, order_id, kind, pool_id, show_id, resource_id, spots, seat_ids, status, waitlist_position
  FROM booking.my_bookings();
-- The customer cannot turn it off.
SELECT public.raised('SET booking.holder_claim = ''''');
SELECT public.raised('SELECT set_config(''booking.holder_claim'', '''', true)');
RESET ROLE;
RESET request.jwt.claims;
RESET booking.holder_claim;
SELECT booking_id, kind, status, holder FROM booking.bookings ORDER BY booking_id;
SELECT * FROM booking.check();

DROP OWNED BY regress_web;
DROP ROLE regress_web;

-- The edges (review of issue 22): every spelling of a holder that is not
-- exactly the claim, claims of every JSON type, claim names PostgREST would
-- read as a path, PostgREST's pre-9 per-claim settings, and request claims
-- left over from an earlier transaction on the same (pooled) connection, as
-- PostgREST sets them: set_config(..., true). On a fresh extension.
SET client_min_messages = warning;
DROP EXTENSION booking CASCADE;
CREATE EXTENSION booking;
RESET client_min_messages;
CREATE FUNCTION public.code(statement text) RETURNS text LANGUAGE sql
    AS $$ SELECT split_part(public.raised(statement), ':', 1) $$;

CREATE ROLE regress_edge;
SELECT booking.create_pool(100, 'pool') AS pool;                      -- 1
SELECT booking.create_show('show') AS show;                           -- 1
SELECT cardinality(booking.add_seats(1, 'stalls', 'A', 1, 4)) AS seats;
-- bookings 1 (u1), 2 (42), 3 (U1), made by a trusted backend
SELECT booking_id FROM booking.decrement_ticket(1, 1, 'u1', '1 hour');
SELECT booking_id FROM booking.decrement_ticket(1, 1, '42', '1 hour');
SELECT booking_id FROM booking.decrement_ticket(1, 1, 'U1', '1 hour');
SELECT booking_id FROM booking.reserve_seats(1, ARRAY[1], 'u1');
CREATE TEMP TABLE before AS SELECT * FROM booking.booking;
GRANT SELECT ON before TO regress_edge;

SET booking.holder_claim = 'sub';
SET ROLE regress_edge;

-- 1. A holder that differs from the claim in any way is PT403: empty,
-- spaces, case, a trailing newline, a NUL-free lookalike; in every function
-- that takes a holder.
SELECT set_config('request.jwt.claims', '{"sub":"u1","role":"authenticated"}', false) IS NOT NULL AS u1;
-- (The holder shown in hex: psql's width of a zero-width space differs by version.)
SELECT encode(convert_to(h, 'UTF8'), 'hex') AS holder_hex, public.code(format('SELECT status FROM booking.release(1, %L)', h)) AS release,
       public.code(format('SELECT status FROM booking.confirm(1, %L)', h)) AS confirm,
       public.code(format('SELECT status FROM booking.extend_hold(1, %L)', h)) AS extend,
       public.code(format('SELECT status FROM booking.decrement_ticket(1, 1, %L)', h)) AS decrement,
       public.code(format('SELECT status FROM booking.register(1, 1, %L)', h)) AS register,
       public.code(format('SELECT status FROM booking.reserve_seats(1, ARRAY[2], %L)', h)) AS seats,
       public.code(format('SELECT status FROM booking.reserve_best_available(1, 1, %L)', h)) AS best,
       public.code(format('SELECT count(*)::text FROM booking.my_bookings(%L)', h)) AS mine,
       public.code(format('SELECT count(*)::text FROM booking.seat_map(1, %L)', h)) AS map
  FROM (VALUES (''), (' '), (' u1'), ('u1 '), ('U1'), (E'u1\n'), ('u1' || chr(8203))) AS v(h);
-- u1 never sees U1's booking 3, nor 42's.
SELECT booking_id FROM booking.my_bookings();
-- The claim is taken as it is: a claim " u1" or "U1" is another user.
SELECT set_config('request.jwt.claims', '{"sub":" u1"}', false) IS NOT NULL AS spaced;
SELECT count(*) AS spaced_sees FROM booking.my_bookings();
SELECT public.code('SELECT status FROM booking.release(1)') AS spaced_release;
SELECT set_config('request.jwt.claims', '{"sub":"U1"}', false) IS NOT NULL AS upper;
SELECT booking_id FROM booking.my_bookings();

-- 2. A number claim is its JSON text: 42 is holder '42' (booking 2); 42.0
-- and 4.2e1 are other texts, so other holders (PT403), never u1's.
SELECT c AS claims, public.code('SELECT string_agg(booking_id::text, '','') FROM booking.my_bookings()') AS mine,
       public.code('SELECT status FROM booking.extend_hold(2)') AS extend_2
  FROM (VALUES ('{"sub":42}'), ('{"sub":42.0}'), ('{"sub":4.2e1}'), ('{"sub":"42"}'),
               ('{"sub":null}'), ('{"sub":[]}'), ('{"sub":{}}'), ('{"sub":false}')) AS v(c),
       LATERAL (SELECT set_config('request.jwt.claims', c, false)) AS s;

-- 3. Claim names are keys, not paths: PostgREST's jwt-role-claim-key style
-- ".app_metadata.uid" or "app_metadata.uid" finds no claim, so the call is
-- refused (42501), never run for someone.
RESET ROLE;
SET booking.holder_claim = 'app_metadata.uid';
SET ROLE regress_edge;
SELECT set_config('request.jwt.claims', '{"sub":"u1","app_metadata":{"uid":"u1"}}', false) IS NOT NULL AS nested;
SELECT public.code('SELECT status FROM booking.release(1)') AS path_release,
       public.code('SELECT count(*)::text FROM booking.my_bookings()') AS path_mine;
RESET ROLE;
SET booking.holder_claim = 'sub';
SET ROLE regress_edge;

-- 4. PostgREST before 9 (and 9 on PostgreSQL < 14 by default) sets one
-- setting per claim (request.jwt.claim.sub, request.jwt.claim.role, role
-- always) and no request.jwt.claims. Such a request must not pass for a
-- trusted backend: 42501 where a holder is given or needed; a seat map
-- without a holder is drawn with no seat "mine".
SELECT set_config('request.jwt.claims', '', false) IS NOT NULL AS no_json_claims,
       set_config('request.jwt.claim.role', 'authenticated', false) IS NOT NULL AS legacy_role,
       set_config('request.jwt.claim.sub', 'u2', false) IS NOT NULL AS legacy_sub;
SELECT public.code('SELECT status FROM booking.extend_hold(1, ''u1'')') AS legacy_extend,
       public.code('SELECT count(*)::text FROM booking.my_bookings(''u1'')') AS legacy_mine,
       public.code('SELECT status FROM booking.decrement_ticket(1, 1, ''u1'')') AS legacy_decrement,
       public.code('SELECT status FROM booking.decrement_ticket(1)') AS legacy_no_holder,
       public.code('SELECT count(*)::text FROM booking.seat_map(1) WHERE mine') AS legacy_map;
SELECT set_config('request.jwt.claim.role', '', false) IS NOT NULL AS legacy_gone,
       set_config('request.jwt.claim.sub', '', false) IS NOT NULL AS legacy_sub_gone;

-- 5. A pooled connection: a request's transaction-local claims are gone at
-- its end, committed or rolled back, and the next transaction without
-- claims is a trusted backend again; a later request's own claims win.
RESET ROLE;
BEGIN;
SELECT set_config('role', 'regress_edge', true), set_config('request.jwt.claims', '{"sub":"u2"}', true);
SELECT public.code('SELECT status FROM booking.extend_hold(1)') AS in_request;
COMMIT;
SELECT current_user = 'regress_edge' AS still_edge, current_setting('request.jwt.claims') AS claims_after_commit;
BEGIN;
SELECT set_config('role', 'regress_edge', true), set_config('request.jwt.claims', '{"sub":"u1"}', true);
SELECT count(*) AS u1_sees FROM booking.my_bookings();
SELECT 1 / 0;
ROLLBACK;
SELECT current_setting('request.jwt.claims') AS claims_after_rollback;
-- trusted: the argument
SELECT booking_id FROM booking.my_bookings('U1');
-- a read-only (GET) request: my_bookings runs; a change is 25006
BEGIN ISOLATION LEVEL READ COMMITTED READ ONLY;
SELECT set_config('role', 'regress_edge', true), set_config('request.jwt.claims', '{"sub":"42"}', true);
SELECT booking_id FROM booking.my_bookings();
SELECT public.code('SELECT status FROM booking.release(2)') AS release_read_only;
COMMIT;
SELECT p.provolatile AS my_bookings_volatility FROM pg_proc p WHERE p.oid = 'booking.my_bookings(text)'::regprocedure;

-- Nothing any of the above refused changed a row: only 42's own
-- extend_hold(2) moved a hold.
SELECT b.booking_id, b.holder, b.status, b.held_until = o.held_until AS same_hold
  FROM booking.booking b JOIN before o USING (booking_id) ORDER BY 1;
SELECT count(*) AS new_bookings FROM booking.booking WHERE booking_id > 4;
SELECT * FROM booking.check();

RESET booking.holder_claim;
DROP TABLE before;
DROP FUNCTION public.code(text);
DROP OWNED BY regress_edge;
DROP ROLE regress_edge;
