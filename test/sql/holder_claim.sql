-- booking.holder_claim (1.5): with request claims (PostgREST's
-- request.jwt.claims) every customer call acts for the claim's holder. The
-- claim's forms, its absence, a mismatch, and every customer function; the
-- full PostgREST request shape is test/t/018_postgrest.pl.
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS booking CASCADE;
CREATE EXTENSION booking;
DROP ROLE IF EXISTS regress_web;
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
