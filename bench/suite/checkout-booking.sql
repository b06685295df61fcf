-- pgbench script, W5 checkout with booking: one reserve_order of the hot
-- pool (:first_pool), one of the spread pools and 2 adjacent seats of a
-- random row of the show, bought outright (hold_for NULL: confirmed in this
-- one call, as the peer's transaction buys). status is 'confirmed', or
-- 'conflict' when a seat was taken (nothing is taken then).
\set spread random(:first_pool + 1, :last_pool)
\set q1 random(1, 2)
\set q2 random(1, 2)
\set seat :first_seat + random(0, 999) * 100 + random(0, 98)
SELECT status FROM booking.reserve_order(
    jsonb_build_array(jsonb_build_object('pool_id', :first_pool::bigint, 'quantity', :q1::integer),
                      jsonb_build_object('pool_id', :spread::bigint, 'quantity', :q2::integer),
                      jsonb_build_object('show_id', :show::bigint,
                                         'seat_ids', jsonb_build_array(:seat::bigint, :seat::bigint + 1))),
    'c' || :client_id, NULL);
