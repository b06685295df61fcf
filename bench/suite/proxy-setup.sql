-- Suite workload W2 through PL/Proxy: the proxy database. :options lists
-- the node databases as partitions (p0 '...', p1 '...'), each already
-- booking.set_node(k, N). :pools pools of :capacity tickets are created
-- through the proxy (round robin over the nodes, so their ids are
-- consecutive). Prints "first last count" of the pool ids, as
-- booking-setup.sql does.
CREATE EXTENSION plproxy;
CREATE EXTENSION booking_proxy;
CREATE SERVER booking FOREIGN DATA WRAPPER plproxy OPTIONS (:options);
CREATE USER MAPPING FOR PUBLIC SERVER booking;
WITH created AS (
    SELECT booking.create_pool(capacity => :capacity, name => 'suite ' || n) AS pool_id
      FROM generate_series(1, :pools) AS n)
SELECT min(pool_id), max(pool_id), count(*) FROM created;
