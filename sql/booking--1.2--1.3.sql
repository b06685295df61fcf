-- booking 1.2 -> 1.3: the C functions pin their search path in their code
-- instead of with SET search_path. A SET clause costs every call a GUC nest
-- level, a pass over every GUC on the way out and a search-path recompute
-- on the way in and out: about a fifth of a sold-out answer. The code now
-- resolves every statement it runs in pg_catalog alone (src/pg/spi.hpp),
-- which leaves a caller's planted objects out as the SET did.
\echo Use "ALTER EXTENSION booking UPDATE TO '1.3'" to load this file. \quit

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

ALTER FUNCTION booking.create_pool(integer,text,bigint,integer,integer,boolean) RESET search_path;
ALTER FUNCTION booking.set_capacity(bigint,integer) RESET search_path;
ALTER FUNCTION booking.decrement_ticket(bigint,integer,text,interval,text) RESET search_path;
ALTER FUNCTION booking.register(bigint,integer,text,text) RESET search_path;
ALTER FUNCTION booking.promote_waitlist(bigint,integer,bigint,boolean) RESET search_path;
ALTER FUNCTION booking.create_show(text,boolean) RESET search_path;
ALTER FUNCTION booking.add_seats(bigint,text,text,integer,integer) RESET search_path;
ALTER FUNCTION booking.reserve_seats(bigint,bigint[],text,interval,text) RESET search_path;
ALTER FUNCTION booking.reserve_best_available(bigint,integer,text,text,interval,text) RESET search_path;
ALTER FUNCTION booking.create_resource(text,integer) RESET search_path;
ALTER FUNCTION booking.reserve_slot(bigint,timestamp with time zone,timestamp with time zone,text,interval,text,text) RESET search_path;
ALTER FUNCTION booking.confirm_payment(text) RESET search_path;
ALTER FUNCTION booking.confirm(bigint,text,text) RESET search_path;
ALTER FUNCTION booking.release(bigint,text) RESET search_path;
ALTER FUNCTION booking.cancel(bigint) RESET search_path;
ALTER FUNCTION booking.extend_hold(bigint,text,interval) RESET search_path;
ALTER FUNCTION booking.expire_holds(integer) RESET search_path;
ALTER FUNCTION booking.availability(bigint) RESET search_path;
ALTER FUNCTION booking.stats_read() RESET search_path;
ALTER FUNCTION booking.stats_reset() RESET search_path;
