-- Suite workloads W1/W2 with the booking extension: :pools pools of
-- :capacity tickets, created with :shards shards. Prints "first last count"
-- of the pool ids, which bench/run passes to pgbench as :first_pool and
-- :last_pool. One statement: when create_pool refuses the shard count,
-- nothing is left behind and bench/run retries with shards => 1.
CREATE EXTENSION IF NOT EXISTS booking;
WITH created AS (
    SELECT booking.create_pool(capacity => :capacity, shards => :shards, name => 'suite ' || n) AS pool_id
      FROM generate_series(1, :pools) AS n)
SELECT min(pool_id), max(pool_id), count(*) FROM created;
