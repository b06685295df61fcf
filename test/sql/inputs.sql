-- Bad input, every function (issue 7): a matrix generated from the catalog.
-- For each function of schema booking a valid baseline call (named
-- arguments, values below), then the same call with one argument replaced by
-- NULL, 0, -1, the limits of its type, unknown and deleted ids, '', 1 MB of
-- text, quotes and $$, zero, negative and overflowing intervals, +-infinity,
-- empty, NULL-element, two-dimensional and 100,000-element arrays. Each case
-- runs in a subtransaction that is always rolled back, so every case sees the
-- same fixtures. A case prints its status (or 'ok') or 'SQLSTATE: message';
-- the documented ones are in API.md and README.md. No case may raise XX000,
-- crash the server, or change a table when it fails or answers an
-- outcome-only status (sold_out, conflict, limit_exceeded).
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS booking CASCADE;
CREATE EXTENSION booking;
RESET client_min_messages;
SET timezone = 'UTC';
SET statement_timeout = '60s';

-- A digest of every row of every table of the extension (found in the
-- catalog, so a new table is covered too). Sequences are left out: nextval
-- is not rolled back.
CREATE OR REPLACE FUNCTION public.booking_digest() RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    t regclass;
    d text;
    acc text := '';
BEGIN
    FOR t IN SELECT c.oid FROM pg_class c
              WHERE c.relnamespace = 'booking'::regnamespace AND c.relkind = 'r' ORDER BY c.relname LOOP
        EXECUTE format('SELECT md5(coalesce(string_agg(x::text, %L ORDER BY x::text), %L)) FROM %s AS x',
                       E'\n', '', t) INTO d;
        acc := acc || t::text || ':' || d || ';';
    END LOOP;
    RETURN md5(acc);
END $$;

-- Every case lands here; the last queries count what must never happen.
CREATE TEMP TABLE inputs_log (
    n          serial,
    statement  text,
    outcome    text,
    sqlstate   text,
    changed    boolean     -- a table changed although the case failed or answered an outcome-only status
);

-- Run a statement that returns one text value (the status, or 'ok') and
-- describe what happened: the value, or 'SQLSTATE: message' (messages
-- truncated to 110 characters). keep => false rolls back whatever the
-- statement did, so that cases do not depend on each other. XX000 is
-- shouted, and so is a change to any table after an error or after an
-- outcome-only status.
CREATE OR REPLACE FUNCTION public.try(stmt text, keep boolean DEFAULT false) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    before text := public.booking_digest();
    res text;
    state text;
    msg text;
    failed boolean := false;
    changed boolean := false;
    outcome text;
BEGIN
    BEGIN
        BEGIN
            EXECUTE stmt INTO res;
            changed := res IN ('sold_out', 'conflict', 'limit_exceeded') AND public.booking_digest() <> before;
        EXCEPTION WHEN OTHERS THEN
            GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, msg = MESSAGE_TEXT;
            failed := true;
        END;
        IF failed THEN
            changed := public.booking_digest() <> before;
        END IF;
        IF NOT keep THEN
            RAISE EXCEPTION USING ERRCODE = 'ZZ999';   -- undo the case
        END IF;
    EXCEPTION WHEN SQLSTATE 'ZZ999' THEN
        NULL;
    END;
    IF failed THEN
        outcome := state || ': ' || CASE WHEN length(msg) > 110 THEN left(msg, 107) || '...' ELSE msg END;
        IF length(msg) > 2000 THEN
            outcome := outcome || format(' [MESSAGE OF %s CHARACTERS]', length(msg));
        END IF;
        IF state = 'XX000' THEN
            outcome := 'INTERNAL ERROR ' || outcome;
        END IF;
    ELSE
        outcome := coalesce(res, 'NULL');
    END IF;
    IF changed THEN
        outcome := outcome || ' [CHANGED THE TABLES]';
    END IF;
    INSERT INTO inputs_log (statement, outcome, sqlstate, changed)
        VALUES (left(stmt, 300), outcome, CASE WHEN failed THEN state END, changed);
    RETURN outcome;
END $$;

------------------------------------------------------------------------------
-- Fixtures, created in a fixed order so that ids are stable.
------------------------------------------------------------------------------

SELECT booking.create_pool(10, 'main') AS main_pool;                              -- 1
SELECT booking.create_pool(4, 'manual waitlist', auto_promote => false) AS wl_pool; -- 2
SELECT booking.create_pool(1, 'deleted') AS deleted_pool;                         -- 3
-- booking 1: ann holds 2 of the main pool for an hour; booking 2: ann bought 1
SELECT booking_id, status FROM booking.decrement_ticket(1, 2, 'ann', '1 hour');
SELECT booking_id, status FROM booking.decrement_ticket(1, 1, 'ann');
-- bookings 3 and 4: ann has 3 of 4, then her group of 2 waits; she releases
-- the 3, and with auto_promote off the group keeps waiting with 4 spots free.
SELECT booking_id, status FROM booking.register(2, 3, 'ann');
SELECT booking_id, status, waitlist_position FROM booking.register(2, 2, 'ann');
SELECT status, released, promoted FROM booking.release(3, 'ann');
-- booking 5: made, released and deleted.
SELECT booking_id, status FROM booking.decrement_ticket(1, 1, 'del');
SELECT status, released FROM booking.release(5, 'del');
-- shows 1 and 2, seats 1-6 (show 1, stalls A 1-6) and 7-8 (show 2); show 3
-- and seat 9 are deleted.
SELECT booking.create_show('main show') AS main_show;                             -- 1
SELECT booking.add_seats(1, 'stalls', 'A', 1, 6);
SELECT booking.create_show('other show') AS other_show;                           -- 2
SELECT booking.add_seats(2, 'stalls', 'A', 1, 2);
SELECT booking.create_show('deleted show') AS deleted_show;                       -- 3
SELECT booking.add_seats(1, 'stalls', 'Z', 1, 1);                                 -- seat 9
-- resource 1; resource 2 is deleted. Booking 6 holds a slot with a payment ref.
SELECT booking.create_resource('room', 1) AS room;                                -- 1
SELECT booking.create_resource('deleted room') AS deleted_room;                   -- 2
SELECT booking_id, status FROM booking.reserve_slot(1, '2030-01-01 09:00', '2030-01-01 10:00', 'pat', '1 hour',
                                                    payment_ref => 'cs_matrix');
-- Pool 4; order 1: ann holds a spot of pool 4 (booking 7) and seat 8 of
-- show 2 (booking 8), paid with order_matrix.
SELECT booking.create_pool(5, 'order pool') AS order_pool;                        -- 4
SELECT order_id, status, booking_ids FROM booking.reserve_order('[{"show_id": 2, "seat_ids": [8]}, {"pool_id": 4}]',
                                                                'ann', payment_ref => 'order_matrix');
-- Deleted ids, as superuser.
DELETE FROM booking.booking WHERE booking_id = 5;
DELETE FROM booking.pool WHERE pool_id = 3;
DELETE FROM booking.show WHERE show_id = 3;
DELETE FROM booking.seat WHERE seat_id = 9;
DELETE FROM booking.resource WHERE resource_id = 2;
SELECT * FROM booking.check();
SELECT booking_id, kind, pool_id, show_id, resource_id, spots, status, holder, payment_ref
  FROM booking.bookings ORDER BY booking_id;

------------------------------------------------------------------------------
-- The matrix.
------------------------------------------------------------------------------

-- The functions under test: everything in schema booking but trigger
-- functions and the internal helper pool_usage (not part of the API).
CREATE TEMP TABLE inputs_fn AS
SELECT p.oid AS fn_oid, p.proname::text AS fn, p.proretset AS retset, p.prorettype::regtype AS rettype,
       EXISTS (SELECT FROM pg_attribute a
                WHERE a.attrelid = t.typrelid AND a.attname = 'status' AND NOT a.attisdropped) AS has_status
  FROM pg_proc p JOIN pg_type t ON t.oid = p.prorettype
 WHERE p.pronamespace = 'booking'::regnamespace
   AND p.prorettype <> 'trigger'::regtype
   AND p.proname <> 'pool_usage';

-- Their input arguments, in order.
CREATE TEMP TABLE inputs_arg AS
SELECT f.fn, a.pos, p.proargnames[a.pos] AS arg, p.proargtypes[a.pos - 1]::regtype AS typ
  FROM inputs_fn f JOIN pg_proc p ON p.oid = f.fn_oid
 CROSS JOIN LATERAL generate_series(1, p.pronargs) AS a(pos);

-- A valid value for every argument: the baseline call.
CREATE TEMP TABLE inputs_baseline (fn text, arg text, expr text, PRIMARY KEY (fn, arg));
INSERT INTO inputs_baseline VALUES
    ('create_pool', 'capacity', '5'), ('create_pool', 'name', '''child'''), ('create_pool', 'parent_id', '1'),
    ('create_pool', 'shards', '1'), ('create_pool', 'max_per_holder', '2'), ('create_pool', 'auto_promote', 'true'),
    ('set_capacity', 'pool_id', '1'), ('set_capacity', 'capacity', '20'),
    ('decrement_ticket', 'pool_id', '1'), ('decrement_ticket', 'quantity', '1'),
    ('decrement_ticket', 'holder', '''bob'''), ('decrement_ticket', 'hold_for', '''10 minutes'''),
    ('decrement_ticket', 'idempotency_key', '''key_matrix'''),
    ('register', 'pool_id', '1'), ('register', 'spots', '1'), ('register', 'holder', '''bob'''),
    ('register', 'idempotency_key', '''reg_matrix'''),
    ('promote_waitlist', 'pool_id', '2'), ('promote_waitlist', 'max_count', '1'),
    ('promote_waitlist', 'booking_id', '4'), ('promote_waitlist', 'skip_unfit', 'false'),
    ('create_show', 'name', '''show'''), ('create_show', 'notify', 'false'),
    ('add_seats', 'show_id', '1'), ('add_seats', 'section', '''stalls'''), ('add_seats', 'row_label', '''B'''),
    ('add_seats', 'first_number', '1'), ('add_seats', 'count', '2'),
    ('reserve_seats', 'show_id', '1'), ('reserve_seats', 'seat_ids', '''{1,2}'''),
    ('reserve_seats', 'holder', '''bob'''), ('reserve_seats', 'hold_for', '''10 minutes'''),
    ('reserve_seats', 'idempotency_key', '''seats_matrix'''),
    ('seat_map', 'show_id', '1'), ('seat_map', 'holder', '''bob'''),
    ('reserve_best_available', 'show_id', '1'), ('reserve_best_available', 'quantity', '2'),
    ('reserve_best_available', 'holder', '''bob'''), ('reserve_best_available', 'section', '''stalls'''),
    ('reserve_best_available', 'hold_for', '''10 minutes'''),
    ('reserve_best_available', 'idempotency_key', '''best_matrix'''),
    ('create_resource', 'name', '''court'''), ('create_resource', 'capacity', '1'),
    ('reserve_slot', 'resource_id', '1'), ('reserve_slot', 'starts_at', '''2030-01-02 09:00'''),
    ('reserve_slot', 'ends_at', '''2030-01-02 10:00'''), ('reserve_slot', 'holder', '''bob'''),
    ('reserve_slot', 'hold_for', '''15 minutes'''), ('reserve_slot', 'payment_ref', '''cs_new'''),
    ('reserve_slot', 'idempotency_key', '''slot_matrix'''),
    ('confirm_payment', 'payment_ref', '''cs_matrix'''),
    ('confirm', 'booking_id', '1'), ('confirm', 'holder', '''ann'''), ('confirm', 'payment_ref', '''pay_matrix'''),
    ('release', 'booking_id', '1'), ('release', 'holder', '''ann'''),
    ('cancel', 'booking_id', '1'),
    ('extend_hold', 'booking_id', '1'), ('extend_hold', 'holder', '''ann'''),
    ('extend_hold', 'hold_for', '''20 minutes'''),
    ('expire_holds', 'max_count', '100'),
    ('availability', 'pool_id', '1'),
    ('my_bookings', 'holder', '''ann'''),
    ('reserve_order', 'items', '''[{"pool_id": 1}]'''), ('reserve_order', 'holder', '''bob'''),
    ('reserve_order', 'hold_for', '''15 minutes'''), ('reserve_order', 'payment_ref', '''order_new'''),
    ('reserve_order', 'idempotency_key', '''order_key'''),
    ('order_items', 'items', '''[{"pool_id": 1}]'''),
    ('confirm_order', 'order_id', '1'), ('confirm_order', 'holder', '''ann'''),
    ('confirm_order', 'payment_ref', '''order_pay'''),
    ('release_order', 'order_id', '1'), ('release_order', 'holder', '''ann'''),
    ('extend_order', 'order_id', '1'), ('extend_order', 'holder', '''ann'''),
    ('extend_order', 'hold_for', '''20 minutes'''),
    ('cancel_order', 'order_id', '1'),
    ('claimed_holder', 'holder', '''ann'''), ('claimed_holder', 'needed', 'true'),
    ('reconcile', 'pool_id', '1'),
    ('set_node', 'node', '0'), ('set_node', 'nodes', '1');

-- Every argument has a baseline value (a new function or argument without
-- one shows up here).
SELECT a.fn, a.arg AS argument_without_baseline
  FROM inputs_arg a LEFT JOIN inputs_baseline b USING (fn, arg) WHERE b.expr IS NULL ORDER BY 1, 2;
SELECT b.fn, b.arg AS baseline_of_no_argument
  FROM inputs_baseline b LEFT JOIN inputs_arg a USING (fn, arg) WHERE a.pos IS NULL ORDER BY 1, 2;

-- Bad values by type, for every argument of that type.
CREATE TEMP TABLE inputs_variant (typ regtype, ord int, label text, expr text);
INSERT INTO inputs_variant VALUES
    ('integer', 1, '0', '0'), ('integer', 2, '-1', '-1'),
    ('integer', 3, 'int4 max', '2147483647'), ('integer', 4, 'int4 min', '''-2147483648''::integer'),
    ('bigint', 1, '0', '0'), ('bigint', 2, '-1', '-1'),
    ('bigint', 3, 'int8 max', '9223372036854775807'), ('bigint', 4, 'int8 min', '''-9223372036854775808''::bigint'),
    ('bigint', 5, 'unknown 999999', '999999'),
    ('text', 1, 'empty', ''''''),
    ('text', 2, '257 bytes', 'repeat(''k'', 257)'),
    ('text', 3, '1 MB', 'repeat(''x'', 1048576)'),
    ('text', 4, 'quotes and $$', quote_literal('O''Brien $$ \"; DROP TABLE booking.pool; --')),
    ('interval', 1, '0', '''0''::interval'), ('interval', 2, '-1 minute', '''-1 minute''::interval'),
    ('interval', 3, '1 microsecond', '''1 microsecond''::interval'),
    ('interval', 4, '1000000 years', '''1000000 years''::interval'),
    ('interval', 5, 'interval max', '''178000000 years 2147483647 days''::interval'),
    ('interval', 6, 'interval min', '''-178000000 years -2147483648 days''::interval'),
    ('timestamp with time zone', 1, 'infinity', '''infinity''::timestamptz'),
    ('timestamp with time zone', 2, '-infinity', '''-infinity''::timestamptz'),
    ('timestamp with time zone', 3, 'year 294276', '''294276-12-31 23:59:59''::timestamptz'),
    ('timestamp with time zone', 4, '4713 BC', '''4713-01-01 00:00:00 BC''::timestamptz'),
    ('boolean', 1, 'true', 'true'), ('boolean', 2, 'false', 'false'),
    ('bigint[]', 1, 'empty', '''{}''::bigint[]'),
    ('bigint[]', 2, '{NULL}', '''{NULL}''::bigint[]'),
    ('bigint[]', 3, 'with a NULL', '''{1,NULL}''::bigint[]'),
    ('bigint[]', 4, '2-D', '''{{1,2},{3,4}}''::bigint[]'),
    ('bigint[]', 5, 'lower bound 0', '''[0:1]={1,2}''::bigint[]'),
    ('bigint[]', 6, 'duplicate', '''{1,2,1}''::bigint[]'),
    ('bigint[]', 7, '100,000 elements', '(SELECT array_agg(g::bigint) FROM generate_series(1, 100000) g)'),
    ('bigint[]', 8, '10,001 elements', '(SELECT array_agg(g::bigint) FROM generate_series(1, 10001) g)'),
    ('bigint[]', 9, 'unknown 999999', '''{1,999999}''::bigint[]'),
    ('bigint[]', 11, 'only unknown ids', '''{999998,999999}''::bigint[]'),
    ('bigint[]', 12, '{0}', '''{0}''::bigint[]'),
    ('bigint[]', 10, 'int8 min, max', '''{-9223372036854775808,9223372036854775807}''::bigint[]'),
    ('jsonb', 1, 'empty array', '''[]''::jsonb'), ('jsonb', 2, 'object', '''{}''::jsonb'),
    ('jsonb', 3, 'JSON null', '''null''::jsonb'), ('jsonb', 4, '[null]', '''[null]''::jsonb'),
    ('jsonb', 5, '101 items', '(SELECT jsonb_agg(jsonb_build_object(''pool_id'', 1)) FROM generate_series(1, 101))'),
    ('jsonb', 6, '1 MB string', 'to_jsonb(repeat(''x'', 1048576))'),
    ('jsonb', 7, 'nested 1,000 deep', '(repeat(''['', 1000) || repeat('']'', 1000))::jsonb');

-- Bad values of one argument of one function: ids of deleted rows, rows of
-- the wrong kind, values that only mean something there.
CREATE TEMP TABLE inputs_extra (fn text, arg text, ord int, label text, expr text);
INSERT INTO inputs_extra VALUES
    ('create_pool', 'parent_id', 1, 'deleted pool 3', '3'),
    ('create_pool', 'shards', 1, '256', '256'), ('create_pool', 'shards', 2, '257', '257'),
    ('create_pool', 'name', 1, '1025 bytes', 'repeat(''n'', 1025)'),
    ('set_capacity', 'pool_id', 1, 'deleted pool 3', '3'),
    ('set_capacity', 'capacity', 1, '3 (= taken)', '3'),
    ('set_capacity', 'capacity', 2, '2 (< taken)', '2'),
    ('decrement_ticket', 'pool_id', 1, 'deleted pool 3', '3'),
    ('decrement_ticket', 'quantity', 1, '7 (= available)', '7'),
    ('decrement_ticket', 'quantity', 2, '8 (> available)', '8'),
    ('decrement_ticket', 'quantity', 3, '11 (> capacity)', '11'),
    ('register', 'pool_id', 1, 'deleted pool 3', '3'),
    ('register', 'spots', 1, '7 (= available)', '7'),
    ('register', 'spots', 2, '8 (> available)', '8'),
    ('register', 'spots', 3, '11 (> capacity)', '11'),
    ('promote_waitlist', 'pool_id', 1, 'deleted pool 3', '3'),
    ('promote_waitlist', 'pool_id', 2, 'other pool 1', '1'),
    ('promote_waitlist', 'booking_id', 1, 'deleted booking 5', '5'),
    ('promote_waitlist', 'booking_id', 2, 'held booking 1 of pool 1', '1'),
    ('promote_waitlist', 'booking_id', 3, 'released booking 3', '3'),
    ('promote_waitlist', 'max_count', 1, '2', '2'),
    ('add_seats', 'show_id', 1, 'deleted show 3', '3'),
    ('add_seats', 'show_id', 2, 'other show 2', '2'),
    ('add_seats', 'row_label', 1, 'A (seats exist)', '''A'''),
    ('add_seats', 'first_number', 1, 'int4 max - 1', '2147483646'),
    ('add_seats', 'count', 1, '10000', '10000'), ('add_seats', 'count', 2, '10001', '10001'),
    ('reserve_seats', 'show_id', 1, 'deleted show 3', '3'),
    ('reserve_seats', 'show_id', 2, 'other show 2', '2'),
    ('reserve_seats', 'seat_ids', 1, 'seat 7 of show 2', '''{1,7}''::bigint[]'),
    ('reserve_seats', 'seat_ids', 2, 'deleted seat 9', '''{1,9}''::bigint[]'),
    ('reserve_seats', 'seat_ids', 3, '{2,1}', '''{2,1}''::bigint[]'),
    ('seat_map', 'show_id', 1, 'deleted show 3', '3'),
    ('reserve_best_available', 'show_id', 1, 'deleted show 3', '3'),
    ('reserve_best_available', 'show_id', 2, 'other show 2', '2'),
    ('reserve_best_available', 'quantity', 1, '7 (> a row)', '7'),
    ('reserve_best_available', 'section', 1, 'unknown section', '''nowhere'''),
    ('reserve_slot', 'resource_id', 1, 'deleted resource 2', '2'),
    ('reserve_slot', 'ends_at', 1, '= starts_at', '''2030-01-02 09:00'''),
    ('reserve_slot', 'ends_at', 2, '< starts_at', '''2030-01-02 08:00'''),
    ('reserve_slot', 'ends_at', 3, 'starts_at + 1 us', '''2030-01-02 09:00:00.000001'''),
    ('reserve_slot', 'starts_at', 1, '= ends_at', '''2030-01-02 10:00'''),
    ('reserve_slot', 'starts_at', 2, '> ends_at', '''2030-01-02 11:00'''),
    ('reserve_slot', 'payment_ref', 1, 'cs_matrix (in use)', '''cs_matrix'''),
    ('confirm_payment', 'payment_ref', 1, 'unknown ref', '''cs_nobody'''),
    ('confirm', 'booking_id', 1, 'deleted booking 5', '5'),
    ('confirm', 'booking_id', 2, 'waitlisted booking 4', '4'),
    ('confirm', 'booking_id', 3, 'released booking 3', '3'),
    ('confirm', 'holder', 1, 'other holder', '''mallory'''),
    ('confirm', 'payment_ref', 1, 'cs_matrix (in use)', '''cs_matrix'''),
    ('release', 'booking_id', 1, 'deleted booking 5', '5'),
    ('release', 'booking_id', 2, 'released booking 3', '3'),
    ('release', 'holder', 1, 'other holder', '''mallory'''),
    ('cancel', 'booking_id', 1, 'deleted booking 5', '5'),
    ('cancel', 'booking_id', 2, 'released booking 3', '3'),
    ('extend_hold', 'booking_id', 1, 'deleted booking 5', '5'),
    ('extend_hold', 'booking_id', 2, 'confirmed booking 2', '2'),
    ('extend_hold', 'booking_id', 3, 'released booking 3', '3'),
    ('extend_hold', 'booking_id', 4, 'waitlisted booking 4', '4'),
    ('extend_hold', 'holder', 1, 'other holder', '''mallory'''),
    ('availability', 'pool_id', 1, 'deleted pool 3', '3'),
    ('my_bookings', 'holder', 1, 'holder of none', '''nobody'''),
    ('my_bookings', 'holder', 2, 'del (booking deleted)', '''del'''),
    ('reconcile', 'pool_id', 1, 'deleted pool 3', '3'),
    ('reserve_order', 'items', 1, 'deleted pool 3', '''[{"pool_id": 3}]'''),
    ('reserve_order', 'items', 2, 'seat 8 (held by order 1)', '''[{"show_id": 2, "seat_ids": [8]}]'''),
    ('reserve_order', 'items', 3, 'every kind', '''[{"pool_id": 1}, {"show_id": 1, "seat_ids": [5]}, {"show_id": 1, "best_available": 2}, {"resource_id": 1, "starts_at": "2030-01-03 09:00", "ends_at": "2030-01-03 10:00"}]'''),
    ('reserve_order', 'payment_ref', 1, 'order_matrix (in use)', '''order_matrix'''),
    ('reserve_order', 'payment_ref', 2, 'cs_matrix (in use)', '''cs_matrix'''),
    ('confirm_order', 'order_id', 1, 'unknown order 2', '2'),
    ('confirm_order', 'holder', 1, 'other holder', '''mallory'''),
    ('confirm_order', 'payment_ref', 1, 'cs_matrix (in use)', '''cs_matrix'''),
    ('release_order', 'holder', 1, 'other holder', '''mallory'''),
    ('extend_order', 'holder', 1, 'other holder', '''mallory'''),
    ('confirm', 'booking_id', 4, 'order item 7', '7'),
    ('release', 'booking_id', 3, 'order item 8', '8'),
    ('cancel', 'booking_id', 3, 'order item 7', '7'),
    ('extend_hold', 'booking_id', 5, 'order item 8', '8'),
    ('set_node', 'nodes', 1, '1024', '1024'), ('set_node', 'nodes', 2, '1025', '1025');

-- No extra value names an argument that does not exist.
SELECT e.fn, e.arg AS extra_of_no_argument
  FROM inputs_extra e LEFT JOIN inputs_arg a USING (fn, arg) WHERE a.pos IS NULL ORDER BY 1, 2;

-- The cases: the baseline, then per argument NULL, the values of its type and
-- its extra values, each replacing that argument of the baseline call.
CREATE TEMP TABLE inputs_case AS
WITH variants AS (
    SELECT fn, '-'::text AS arg, 0 AS pos, 0 AS ord, 'baseline'::text AS label, NULL::text AS expr
      FROM inputs_fn
    UNION ALL
    SELECT a.fn, a.arg, a.pos, 1, 'NULL', 'NULL' FROM inputs_arg a
    UNION ALL
    SELECT a.fn, a.arg, a.pos, 10 + v.ord, v.label, v.expr FROM inputs_arg a JOIN inputs_variant v USING (typ)
    UNION ALL
    SELECT a.fn, a.arg, a.pos, 100 + e.ord, e.label, e.expr FROM inputs_arg a JOIN inputs_extra e USING (fn, arg)
)
SELECT v.fn, v.pos, v.arg, v.ord, v.label,
       CASE WHEN f.has_status THEN 'SELECT r.status FROM booking.%s AS r'
            WHEN f.retset THEN 'SELECT count(*) || '' row(s)'' FROM booking.%s AS r'
            WHEN f.rettype = 'integer'::regtype THEN 'SELECT r::text FROM booking.%s AS r'
            WHEN f.rettype = 'bigint[]'::regtype THEN 'SELECT ''ok, '' || cardinality(r) || '' ids'' FROM booking.%s AS r'
            ELSE 'SELECT ''ok'' FROM booking.%s AS r' END AS template,
       format('%I(%s)', v.fn,
              (SELECT coalesce(string_agg(format('%I => %s', a.arg,
                                                 CASE WHEN a.pos = v.pos THEN v.expr ELSE b.expr END),
                                          ', ' ORDER BY a.pos), '')
                 FROM inputs_arg a JOIN inputs_baseline b USING (fn, arg) WHERE a.fn = v.fn)) AS call
  FROM variants v JOIN inputs_fn f USING (fn);

SELECT count(*) AS cases, count(DISTINCT fn) AS functions FROM inputs_case;

-- Run them, in a fixed order.
CREATE TEMP TABLE inputs_result AS
SELECT c.fn, c.pos, c.arg, c.ord, c.label, public.try(format(c.template, c.call)) AS outcome
  FROM (SELECT * FROM inputs_case ORDER BY fn, pos, ord) AS c;

SELECT fn AS function, arg AS argument, label AS value, outcome
  FROM inputs_result ORDER BY fn, pos, ord;

-- The statements, for the record (a few, to show what ran).
SELECT format(template, call) AS statement FROM inputs_case
 WHERE (fn, arg, label) IN (('reserve_slot', '-', 'baseline'), ('reserve_seats', 'seat_ids', '2-D'),
                            ('promote_waitlist', 'skip_unfit', 'NULL'))
 ORDER BY 1;

-- Never: an internal error, a change after an error or an outcome-only status.
SELECT count(*) AS cases,
       count(*) FILTER (WHERE sqlstate = 'XX000') AS internal_errors,
       count(*) FILTER (WHERE changed) AS changed_after_error_or_outcome
  FROM inputs_log;
-- Every error is one of the contract's SQLSTATEs.
SELECT sqlstate, count(*) FROM inputs_log WHERE sqlstate IS NOT NULL GROUP BY 1 ORDER BY 1;
-- The fixtures are as they were, the invariants hold, and nothing was dropped.
SELECT * FROM booking.check();
SELECT booking_id, kind, pool_id, show_id, resource_id, spots, status, holder, payment_ref
  FROM booking.bookings ORDER BY booking_id;
SELECT pool_id, name, capacity, confirmed, held, available, waitlisted FROM booking.pool_status ORDER BY 1;
SELECT count(*) AS seats FROM booking.seat;
