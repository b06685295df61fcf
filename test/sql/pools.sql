-- Capacity pools: creation, takes, hierarchy, availability and every error.
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS booking CASCADE;
CREATE EXTENSION booking;
RESET client_min_messages;

-- What a statement raises: 'SQLSTATE: message', or 'ok'.
CREATE OR REPLACE FUNCTION public.raised(statement text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE statement;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ': ' || SQLERRM;
END $$;

-- create_pool returns new ids; named arguments work.
SELECT booking.create_pool(10, 'concert') AS pool \gset
SELECT booking.create_pool(capacity => 5, name => 'workshop', max_per_holder => 2) AS limited \gset
SELECT pool_id, name, parent_id, capacity, confirmed, held, available, waitlisted, shards
  FROM booking.pool_status ORDER BY pool_id;

-- Takes: confirmed until sold out, all or nothing.
SELECT * FROM booking.decrement_ticket(:pool, 4);
SELECT * FROM booking.decrement_ticket(pool_id => :pool, quantity => 5);
SELECT * FROM booking.decrement_ticket(:pool, 2);     -- only 1 left: nothing taken
SELECT * FROM booking.decrement_ticket(:pool);        -- default quantity 1: the last one
SELECT * FROM booking.decrement_ticket(:pool);        -- sold out
SELECT * FROM booking.availability(:pool);

-- A capacity-0 pool is sold out from the start.
SELECT * FROM booking.decrement_ticket(booking.create_pool(0), 1);

-- max_per_holder counts the holder's active spots.
SELECT status, remaining FROM booking.decrement_ticket(:limited, 2, 'ann');
SELECT status, remaining FROM booking.decrement_ticket(:limited, 1, 'ann');   -- limit_exceeded
SELECT status, remaining FROM booking.decrement_ticket(:limited, 3, 'bob');   -- more than the cap at once
SELECT status, remaining FROM booking.decrement_ticket(:limited, 2, 'bob');
SELECT raised(format('SELECT booking.decrement_ticket(%s, 1)', :limited));    -- who is buying?

-- Hierarchy: a VIP pool inside a venue total; a take must fit both.
SELECT booking.create_pool(100, 'venue') AS venue \gset
SELECT booking.create_pool(60, 'vip', parent_id => :venue) AS vip \gset
SELECT booking.create_pool(60, 'floor', parent_id => :venue) AS floor \gset
SELECT booking.create_pool(10, 'vip box', parent_id => :vip) AS box \gset
SELECT status, remaining FROM booking.decrement_ticket(:vip, 50);
SELECT status, remaining FROM booking.decrement_ticket(:floor, 45);      -- venue has only 50 left
SELECT status, remaining FROM booking.decrement_ticket(:floor, 40);
SELECT status, remaining FROM booking.decrement_ticket(:box, 10);        -- venue has 10 left
SELECT status, remaining FROM booking.decrement_ticket(:box, 1);
SELECT name, capacity, confirmed, held, available FROM booking.pool_status
 WHERE pool_id IN (:venue, :vip, :floor, :box) ORDER BY pool_id;
SELECT * FROM booking.availability(:vip);                              -- includes its box

-- set_capacity: raising frees spots, lowering below what is taken is PT409.
SELECT booking.set_capacity(:pool, 12);
SELECT * FROM booking.availability(:pool);
SELECT raised(format('SELECT booking.set_capacity(%s, 9)', :pool));
SELECT booking.set_capacity(:pool, 10);
SELECT * FROM booking.availability(:pool);
SELECT raised(format('SELECT booking.set_capacity(%s, 99)', :venue + 1000));

-- Errors: the contract's SQLSTATEs, a message naming the value, nothing changed.
SELECT raised('SELECT booking.create_pool(-1)');
SELECT raised('SELECT booking.create_pool(NULL)');
SELECT raised('SELECT booking.create_pool(5, shards => 0)');
SELECT raised('SELECT booking.create_pool(5, shards => NULL)');
SELECT raised('SELECT booking.create_pool(5, max_per_holder => 0)');
SELECT raised('SELECT booking.create_pool(5, auto_promote => NULL)');
SELECT raised('SELECT booking.create_pool(5, parent_id => 424242)');
SELECT raised('SELECT booking.create_pool(5, name => repeat(''x'', 5000))');
SELECT raised(format('SELECT booking.decrement_ticket(%s, 0)', :pool));
SELECT raised(format('SELECT booking.decrement_ticket(%s, -1)', :pool));
SELECT raised(format('SELECT booking.decrement_ticket(%s, NULL)', :pool));
SELECT raised('SELECT booking.decrement_ticket(NULL, 1)');
SELECT raised('SELECT booking.decrement_ticket(424242, 1)');
SELECT raised('SELECT booking.decrement_ticket(-1, 1)');
SELECT raised(format('SELECT booking.decrement_ticket(%s, 1, hold_for => ''0 seconds'')', :venue));
SELECT raised(format('SELECT booking.decrement_ticket(%s, 1, hold_for => ''-5 minutes'')', :venue));
SELECT raised(format('SELECT booking.decrement_ticket(%s, 1, holder => repeat(''h'', 1000000))', :venue));
SELECT raised(format('SELECT booking.decrement_ticket(%s, 1, idempotency_key => repeat(''k'', 300))', :venue));
SELECT raised('SELECT booking.set_capacity(NULL, 1)');
SELECT raised(format('SELECT booking.set_capacity(%s, NULL)', :pool));
SELECT raised(format('SELECT booking.set_capacity(%s, -3)', :pool));
SELECT raised('SELECT booking.availability(NULL)');
SELECT raised('SELECT booking.availability(424242)');
SELECT raised('SELECT booking.decrement_ticket(9223372036854775807, 2147483647)');
SELECT count(*) AS pools, sum(confirmed) AS confirmed FROM booking.pool;

-- Quotes and dollar signs are data, never SQL.
SELECT booking.create_pool(1, name => $n$it's $$ "quoted" '); DROP TABLE booking.pool; --$n$) AS odd \gset
SELECT name FROM booking.pool_status WHERE pool_id = :odd;
SELECT status FROM booking.decrement_ticket(:odd, 1, holder => $h$o'brien $$x$$$h$);
SELECT holder FROM booking.bookings WHERE pool_id = :odd;

-- Counters equal the rows.
SELECT * FROM booking.check();
