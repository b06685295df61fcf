-- Flash sale with the booking extension: one pool of :capacity tickets,
-- spread over :shards shard rows (1: unsharded).
-- psql -At -q prints the pool id, which bench/run passes to pgbench as :pool.
CREATE EXTENSION booking;
SELECT booking.create_pool(capacity => :capacity, name => 'flash sale', shards => :shards);
