-- Who may call what: customers buy; organisers, granted by the DBA, run pools.
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS booking CASCADE;
CREATE EXTENSION booking;
DROP ROLE IF EXISTS regress_buyer;
DROP ROLE IF EXISTS regress_organiser;
RESET client_min_messages;

CREATE OR REPLACE FUNCTION public.raised(statement text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE statement;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ': ' || SQLERRM;
END $$;

CREATE ROLE regress_buyer;
CREATE ROLE regress_organiser;
GRANT EXECUTE ON FUNCTION booking.create_pool(integer, text, bigint, integer, integer, boolean),
                          booking.set_capacity(bigint, integer), booking.cancel(bigint),
                          booking.expire_holds(integer)
   TO regress_organiser;

SELECT booking.create_pool(3, 'gig') AS pool \gset
SELECT booking.create_show('play') AS show \gset
SELECT booking.add_seats(:show, 'stalls', 'A', 1, 4);

-- A plain role can buy, hold, confirm, extend and release its own bookings.
SET ROLE regress_buyer;
SELECT status, remaining FROM booking.decrement_ticket(:pool, 1);
SELECT booking_id AS mine FROM booking.decrement_ticket(:pool, 1, 'buyer-1', '5 minutes') \gset
SELECT status FROM booking.extend_hold(:mine, 'buyer-1', '10 minutes');
SELECT * FROM booking.confirm(:mine, 'buyer-1');
SELECT status, waitlist_position FROM booking.register(:pool, 2, 'buyer-3');
SELECT status, seat_ids FROM booking.reserve_seats(:show, ARRAY[1, 2], 'buyer-1');
SELECT status, seat_ids FROM booking.reserve_best_available(:show, 2, 'buyer-2');
SELECT * FROM booking.availability(:pool);

-- ... but not another holder's booking ...
SELECT raised(format('SELECT booking.release(%s, ''buyer-2'')', :mine));

-- ... nor read or write the tables, the views or the sequences ...
SELECT raised('SELECT * FROM booking.pool');
SELECT raised('SELECT * FROM booking.booking');
SELECT raised('SELECT * FROM booking.bookings');
SELECT raised('SELECT * FROM booking.pool_status');
SELECT raised('SELECT * FROM booking.seats');
SELECT raised('UPDATE booking.seat SET booking_id = NULL');
SELECT raised('UPDATE booking.pool SET capacity = 1000');
SELECT raised('INSERT INTO booking.booking (booking_id, kind, pool_id, spots, status) VALUES (99, ''ticket'', 1, 1, ''confirmed'')');
SELECT raised('SELECT nextval(''booking.booking_id_seq'')');

-- ... nor call organiser functions.
SELECT raised('SELECT booking.create_pool(10)');
SELECT raised('SELECT booking.create_show(''mine'')');
SELECT raised(format('SELECT booking.add_seats(%s, ''x'', ''y'', 1, 1)', :show));
SELECT raised(format('SELECT booking.set_capacity(%s, 100)', :pool));
SELECT raised(format('SELECT booking.cancel(%s)', :mine));
SELECT raised('SELECT booking.expire_holds()');
SELECT raised(format('SELECT booking.promote_waitlist(%s)', :pool));
SELECT raised('SELECT booking.reconcile()');
SELECT raised('SELECT * FROM booking.check()');
RESET ROLE;

-- The organiser the DBA granted can.
SET ROLE regress_organiser;
SELECT booking.create_pool(10, 'organised') > 0 AS created;
SELECT booking.set_capacity(:pool, 4);
SELECT status, released, promoted FROM booking.cancel(:mine);
SELECT raised('SELECT * FROM booking.pool');
RESET ROLE;

SELECT * FROM booking.availability(:pool);

-- Customer functions are executable by PUBLIC, organiser functions are not;
-- every function runs as the owner with a pinned search_path: SQL and
-- PL/pgSQL ones with SET, C ones in their code (src/pg/spi.hpp; hostile.sql
-- shows a planted operator stays out).
SELECT p.proname,
       has_function_privilege('regress_buyer', p.oid, 'EXECUTE') AS buyer_may_call,
       p.prosecdef AS security_definer,
       l.lanname AS language,
       CASE WHEN p.proconfig = '{"search_path=pg_catalog, pg_temp"}' THEN 'SET'
            WHEN l.lanname = 'c' AND p.proconfig IS NULL THEN 'code'
            ELSE 'not pinned: ' || coalesce(p.proconfig::text, 'no SET') END AS search_path_pinned_by
  FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace JOIN pg_language l ON l.oid = p.prolang
 WHERE n.nspname = 'booking'
 ORDER BY p.proname;

-- pg_dump keeps the data: tables and sequences are configuration tables.
SELECT c.relname FROM pg_extension e, unnest(e.extconfig) AS cfg(oid) JOIN pg_class c ON c.oid = cfg.oid
 WHERE e.extname = 'booking' ORDER BY 1;

DROP OWNED BY regress_buyer, regress_organiser;
DROP ROLE regress_buyer;
DROP ROLE regress_organiser;
