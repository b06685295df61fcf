-- Without shared_preload_libraries the statistics view says what to do
-- (the TAP test 005_stats covers the preloaded server); everything else
-- works without it.
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS booking CASCADE;
CREATE EXTENSION booking;
RESET client_min_messages;

CREATE OR REPLACE FUNCTION public.raised(statement text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE statement;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ': ' || SQLERRM;
END $$;

SELECT current_setting('shared_preload_libraries') ~ 'booking' AS preloaded;
SELECT raised('SELECT * FROM booking.stats');
\set VERBOSITY default
SELECT * FROM booking.stats;
SELECT booking.stats_reset();
SELECT status FROM booking.decrement_ticket(booking.create_pool(1), 1);

-- The GUCs exist and are reserved.
SHOW booking.expiry_interval;
SHOW booking.expiry_batch;
SHOW booking.databases;
SET booking.no_such_setting = 1;
