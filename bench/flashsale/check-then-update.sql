-- pgbench script: the naive approach. Read what is left, decide in the
-- "application", then write. Under READ COMMITTED nothing stops two
-- clients from both seeing the same last tickets: it oversells.
\set q random(1, 4)
BEGIN;
SELECT capacity - sold AS remaining FROM event WHERE id = 1 \gset
-- Stands for the application's round trip between the read and the write
-- (bench/run passes sleep_us; 1 ms by default, 0 to disable).
\sleep :sleep_us us
\if :remaining >= :q
UPDATE event SET sold = sold + :q WHERE id = 1;
INSERT INTO orders (event_id, qty) VALUES (1, :q);
\endif
END;
