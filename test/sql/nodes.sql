-- Node-aware ids: on node k of N every id is congruent to k modulo N, so a
-- proxy routes an id back to its node; the setting is refused once data
-- exists, and bad arguments change nothing.
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

-- A single server is node 0 of 1.
SELECT * FROM booking.node_info;

-- Bad arguments: documented SQLSTATEs, nothing set.
SELECT public.raised('SELECT booking.set_node(NULL, 2)');
SELECT public.raised('SELECT booking.set_node(0, NULL)');
SELECT public.raised('SELECT booking.set_node(2, 2)');
SELECT public.raised('SELECT booking.set_node(-1, 2)');
SELECT public.raised('SELECT booking.set_node(0, 0)');
SELECT public.raised('SELECT booking.set_node(0, 1025)');
SELECT public.raised('SELECT booking.set_node(0, 2147483647)');
SELECT * FROM booking.node_info;

-- Node 3 of 4: every kind of id is 3 mod 4 and still ascending, so a child
-- pool's id stays above its parent's.
SELECT * FROM booking.set_node(3, 4);
SELECT * FROM booking.set_node(3, 4);  -- the same again: a no-op
SELECT booking.create_pool(10, 'venue') AS venue \gset
SELECT booking.create_pool(4, 'vip', parent_id => :venue) AS vip \gset
SELECT :venue AS venue, :vip AS vip;
SELECT booking_id, status FROM booking.decrement_ticket(:vip, 2, 'ann');
SELECT booking_id, status FROM booking.decrement_ticket(:venue, 1, 'bob');
SELECT booking.create_show('play') AS play \gset
SELECT :play AS play, booking.add_seats(:play, 'stalls', 'A', 1, 3);
SELECT seat_id FROM booking.seats ORDER BY seat_id;
SELECT booking.create_resource('room') AS room \gset
SELECT :room AS room;
SELECT count(*) AS ids_off_node FROM (
    SELECT pool_id AS id FROM booking.pool UNION ALL SELECT booking_id FROM booking.booking
    UNION ALL SELECT show_id FROM booking.show UNION ALL SELECT seat_id FROM booking.seat
    UNION ALL SELECT resource_id FROM booking.resource) AS ids
 WHERE id % 4 <> 3;

-- Data exists now: another setting is refused (its ids would route
-- elsewhere), the same one is still fine.
SELECT public.raised('SELECT booking.set_node(1, 4)');
SELECT public.raised('SELECT booking.set_node(3, 8)');
SELECT * FROM booking.set_node(3, 4);
SELECT * FROM booking.node_info;
SELECT * FROM booking.check();

-- An empty database may be moved to another node; allocation continues
-- above every id handed out before.
SET client_min_messages = warning;
DROP EXTENSION booking CASCADE;
CREATE EXTENSION booking;
RESET client_min_messages;
SELECT booking.create_pool(1), booking.create_pool(1), booking.create_pool(1);
SELECT public.raised('SELECT booking.set_node(0, 2)');  -- pools exist
DELETE FROM booking.pool;
SELECT * FROM booking.set_node(0, 2);
SELECT booking.create_pool(1), booking.create_pool(1);
SELECT public.raised('SELECT booking.set_node(1, 2)');
