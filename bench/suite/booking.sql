-- pgbench script: buy 1-4 tickets of one pool of :first_pool..:last_pool
-- (W1: one pool, W2: 10,000). status is 'confirmed' or 'sold_out'.
\set pool random(:first_pool, :last_pool)
\set q random(1, 4)
SELECT status FROM booking.decrement_ticket(pool_id => :pool, quantity => :q);
