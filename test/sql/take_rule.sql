-- The take rule is written once, in src/core (core::judge_row, room_for and
-- judge_take, which test/fuzz/fuzz_take.cpp checks agree); the fast buy's
-- statements (take_root_sql, take_shard_sql in src/fastbuy.cpp) say it
-- again in SQL, for when a direct write cannot stand in. Each edge of the
-- rule is bought with direct writes, then again with the statements (a row
-- trigger on booking.booking sends every buy to them): the answers and
-- counters must be the same, and what the general path answers.
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS booking CASCADE;
CREATE EXTENSION booking;
RESET client_min_messages;

-- One buy and the pool's counters after it.
CREATE FUNCTION public.buy(edge text, pool bigint, quantity integer, who text DEFAULT NULL, hold interval DEFAULT NULL)
RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    t record;
    a record;
BEGIN
    SELECT * INTO t FROM booking.decrement_ticket(pool, quantity, who, hold);
    SELECT * INTO a FROM booking.availability(pool);
    RETURN format('%s: %s, remaining %s; %s confirmed, %s held, %s available, %s waiting', edge, t.status,
                  t.remaining, a.confirmed, a.held, a.available, a.waitlisted);
END $$;

-- Every edge, in order; pools are made afresh each time.
CREATE FUNCTION public.take_edges() RETURNS SETOF text LANGUAGE plpgsql AS $$
DECLARE
    p bigint;
    c bigint;
BEGIN
    p := booking.create_pool(5);
    RETURN NEXT public.buy('exact fit', p, 5);
    RETURN NEXT public.buy('none left', p, 1);

    p := booking.create_pool(5);
    PERFORM booking.decrement_ticket(p, 1);
    RETURN NEXT public.buy('one short', p, 5);
    RETURN NEXT public.buy('held to the last spot', p, 4, 'ann', '1 hour');

    -- A group that could fit waits: free spots are the list's.
    p := booking.create_pool(2, auto_promote => false);
    PERFORM booking.decrement_ticket(p, 2);
    PERFORM booking.register(p, 1, 'bob');
    PERFORM booking.set_capacity(p, 4);
    RETURN NEXT public.buy('someone waits', p, 1);

    -- A cap counts the holder's spots.
    p := booking.create_pool(10, max_per_holder => 2);
    RETURN NEXT public.buy('over the cap', p, 3, 'ann');
    RETURN NEXT public.buy('up to the cap', p, 2, 'ann');

    -- A hold that lapsed gives its spots back first.
    p := booking.create_pool(2);
    PERFORM booking.decrement_ticket(p, 2, 'ann', '1 hour');
    UPDATE booking.booking SET held_until = now() - interval '1 minute' WHERE pool_id = p;
    UPDATE booking.pool SET next_expiry = now() - interval '1 minute' WHERE pool_id = p;
    RETURN NEXT public.buy('after a lapsed hold', p, 2);

    -- A child pool must fit in its parent too.
    p := booking.create_pool(3);
    c := booking.create_pool(10, parent_id => p);
    RETURN NEXT public.buy('child over its parent', c, 4);
    RETURN NEXT public.buy('child within its parent', c, 3);

    -- A sharded pool: each shard's budget, then what no shard has alone.
    p := booking.create_pool(4, shards => 2);
    RETURN NEXT public.buy('a shard''s whole budget', p, 2);
    RETURN NEXT public.buy('the other shard''s', p, 2);
    RETURN NEXT public.buy('sharded, none left', p, 1);
    p := booking.create_pool(4, shards => 2);
    RETURN NEXT public.buy('more than a shard has', p, 3);
    RETURN NEXT public.buy('the last spot', p, 1);
    RETURN NEXT public.buy('sharded, one short', p, 1);
END $$;

CREATE TEMP TABLE direct AS SELECT row_number() OVER () AS n, e AS answer FROM public.take_edges() AS e;
SELECT answer FROM direct ORDER BY n;

CREATE TABLE public.inserted (booking_id bigint);
CREATE FUNCTION public.note_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO public.inserted VALUES (NEW.booking_id);
    RETURN NEW;
END $$;
CREATE TRIGGER note AFTER INSERT ON booking.booking FOR EACH ROW EXECUTE FUNCTION public.note_insert();
CREATE TEMP TABLE statements AS SELECT row_number() OVER () AS n, e AS answer FROM public.take_edges() AS e;
DROP TRIGGER note ON booking.booking;
SELECT count(*) > 0 AS statements_ran FROM public.inserted;
-- No edge answered differently.
SELECT d.answer AS direct, s.answer AS statement
  FROM direct d FULL JOIN statements s USING (n)
 WHERE d.answer IS DISTINCT FROM s.answer;

SELECT * FROM booking.check();
DROP TABLE public.inserted;
DROP FUNCTION public.note_insert();
DROP FUNCTION public.take_edges();
DROP FUNCTION public.buy(text, bigint, integer, text, interval);
