-- Appointment slots: ranges on a resource of some capacity, holds tied to a
-- checkout session, the payment webhook, and every error.
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS booking CASCADE;
CREATE EXTENSION booking;
RESET client_min_messages;
SET timezone = 'UTC';

CREATE OR REPLACE FUNCTION public.raised(statement text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE statement;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ': ' || SQLERRM;
END $$;

SELECT booking.create_resource('Dr. Ruiz') AS doctor \gset
SELECT booking.create_resource(name => 'Court 2', capacity => 2) AS court \gset

-- Capacity 1: overlapping ranges conflict, back-to-back ranges do not.
SELECT booking_id AS visit, status, held_until > now() + interval '14 minutes' AS fifteen_minutes
  FROM booking.reserve_slot(:doctor, '2026-12-01 09:00', '2026-12-01 09:30', 'ann', payment_ref => 'cs_ann') \gset
SELECT :visit AS visit, :'status' AS status, :'fifteen_minutes' AS fifteen_minutes;
SELECT * FROM booking.reserve_slot(:doctor, '2026-12-01 09:29', '2026-12-01 09:45', 'bob');
SELECT * FROM booking.reserve_slot(:doctor, '2026-12-01 08:00', '2026-12-01 12:00', 'bob');
SELECT status FROM booking.reserve_slot(resource_id => :doctor, starts_at => '2026-12-01 09:30',
                                        ends_at => '2026-12-01 10:00', holder => 'bob', hold_for => '5 minutes');
SELECT status FROM booking.reserve_slot(:doctor, '2026-12-01 08:30', '2026-12-01 09:00', 'cy');

-- Capacity 2: the busiest instant counts, not the number of bookings in the range.
SELECT status FROM booking.reserve_slot(:court, '2026-12-01 18:00', '2026-12-01 19:00', 'p1');
SELECT status FROM booking.reserve_slot(:court, '2026-12-01 18:30', '2026-12-01 19:30', 'p2');
SELECT status FROM booking.reserve_slot(:court, '2026-12-01 18:45', '2026-12-01 18:50', 'p3');   -- 3 at 18:45
SELECT status FROM booking.reserve_slot(:court, '2026-12-01 17:00', '2026-12-01 18:30', 'p3');   -- 2 at most
SELECT status FROM booking.reserve_slot(:court, '2026-12-01 19:00', '2026-12-01 20:00', 'p4');

-- The payment webhook confirms the hold carrying the checkout session.
SELECT * FROM booking.confirm_payment('cs_ann');
SELECT * FROM booking.confirm_payment('cs_ann');                     -- a retried webhook
SELECT status, payment_ref FROM booking.bookings WHERE booking_id = :visit;
SELECT raised('SELECT booking.confirm_payment(''cs_nobody'')');
SELECT raised('SELECT booking.confirm_payment(NULL)');
-- A payment reference belongs to one live hold or purchase.
SELECT raised(format('SELECT booking.reserve_slot(%s, ''2026-12-02 09:00'', ''2026-12-02 09:30'', ''x'', payment_ref => ''cs_ann'')', :doctor));

-- A late webhook confirms while the range is still free ...
SELECT booking_id AS late FROM booking.reserve_slot(:doctor, '2026-12-03 09:00', '2026-12-03 09:30', 'dee',
                                                    hold_for => '100 milliseconds', payment_ref => 'cs_dee') \gset
SELECT pg_sleep(0.2);
SELECT status FROM booking.bookings WHERE booking_id = :late;
SELECT * FROM booking.confirm_payment('cs_dee');
-- ... and answers expired once someone else took it, so the application refunds.
SELECT booking_id AS lost FROM booking.reserve_slot(:doctor, '2026-12-04 09:00', '2026-12-04 09:30', 'eve',
                                                    hold_for => '100 milliseconds', payment_ref => 'cs_eve') \gset
SELECT pg_sleep(0.2);
SELECT status FROM booking.reserve_slot(:doctor, '2026-12-04 09:15', '2026-12-04 09:45', 'fay');
SELECT * FROM booking.confirm_payment('cs_eve');
SELECT status FROM booking.bookings WHERE booking_id = :lost;
-- An expired hold's reference may be used again for a new checkout.
SELECT status FROM booking.reserve_slot(:doctor, '2026-12-05 09:00', '2026-12-05 09:30', 'eve', payment_ref => 'cs_eve');

-- Holder checks, release, extend, expire.
SELECT booking_id AS gus FROM booking.reserve_slot(:doctor, '2026-12-06 09:00', '2026-12-06 09:30', 'gus') \gset
SELECT raised(format('SELECT booking.confirm(%s, ''hal'')', :gus));
SELECT status, held_until > now() + interval '29 minutes' AS extended FROM booking.extend_hold(:gus, 'gus', '30 minutes');
SELECT * FROM booking.release(:gus, 'gus');
SELECT * FROM booking.release(:gus, 'gus');
SELECT status FROM booking.reserve_slot(:doctor, '2026-12-06 09:00', '2026-12-06 09:30', 'hal');   -- free again
SELECT raised(format('SELECT booking.confirm(%s, ''gus'')', :gus));
SELECT booking_id AS ivy FROM booking.reserve_slot(:doctor, '2026-12-07 09:00', '2026-12-07 09:30', 'ivy',
                                                   hold_for => '50 milliseconds') \gset
SELECT pg_sleep(0.1);
SELECT booking.expire_holds();
SELECT status FROM booking.bookings WHERE booking_id = :ivy;
SELECT status, held_until > now() AS live FROM booking.extend_hold(:ivy, 'ivy', '5 minutes');     -- still free
SELECT status, released FROM booking.cancel(:ivy);

-- Idempotent repeats.
SELECT booking_id AS k FROM booking.reserve_slot(:court, '2026-12-08 10:00', '2026-12-08 11:00', 'jo',
                                                 idempotency_key => 'appt-1') \gset
SELECT booking_id = :k AS same, status FROM booking.reserve_slot(:court, '2026-12-08 10:00', '2026-12-08 11:00', 'jo',
                                                                 idempotency_key => 'appt-1');

-- Errors: the range, the resource, the arguments.
SELECT raised(format('SELECT booking.reserve_slot(%s, ''2026-12-01 10:00'', ''2026-12-01 10:00'', ''x'')', :doctor));
SELECT raised(format('SELECT booking.reserve_slot(%s, ''2026-12-01 10:00'', ''2026-12-01 09:00'', ''x'')', :doctor));
SELECT raised(format('SELECT booking.reserve_slot(%s, ''-infinity'', ''2026-12-01 09:00'', ''x'')', :doctor));
SELECT raised(format('SELECT booking.reserve_slot(%s, ''2026-12-01 09:00'', ''infinity'', ''x'')', :doctor));
SELECT raised(format('SELECT booking.reserve_slot(%s, NULL, ''2026-12-01 09:00'', ''x'')', :doctor));
SELECT raised(format('SELECT booking.reserve_slot(%s, ''2026-12-01 09:00'', NULL, ''x'')', :doctor));
SELECT raised(format('SELECT booking.reserve_slot(%s, ''2026-12-01 09:00'', ''2026-12-01 10:00'', NULL)', :doctor));
SELECT raised(format('SELECT booking.reserve_slot(%s, ''2026-12-01 09:00'', ''2026-12-01 10:00'', ''x'', ''0 seconds'')', :doctor));
SELECT raised(format('SELECT booking.reserve_slot(%s, ''2026-12-01 09:00'', ''2026-12-01 10:00'', ''x'', NULL)', :doctor));
SELECT raised('SELECT booking.reserve_slot(NULL, ''2026-12-01 09:00'', ''2026-12-01 10:00'', ''x'')');
SELECT raised('SELECT booking.reserve_slot(424242, ''2026-12-01 09:00'', ''2026-12-01 10:00'', ''x'')');
SELECT raised('SELECT booking.create_resource(capacity => -1)');
SELECT status FROM booking.reserve_slot(booking.create_resource('closed', 0), '2026-12-01 09:00', '2026-12-01 10:00', 'x');
SELECT raised('SELECT booking.create_resource(capacity => NULL)');

SELECT resource_id, count(*) FILTER (WHERE status IN ('held', 'confirmed')) AS active FROM booking.bookings
 WHERE kind = 'slot' GROUP BY 1 ORDER BY 1;
SELECT * FROM booking.check();
