-- pgbench script: buy 1-4 tickets through the extension (one statement).
-- status is 'confirmed' or 'sold_out'; either way the client goes on.
\set q random(1, 4)
SELECT status FROM booking.decrement_ticket(pool_id => :pool, quantity => :q);
