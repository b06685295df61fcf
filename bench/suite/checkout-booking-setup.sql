-- Suite workload W5 (checkout) with the booking extension: one hot pool of
-- :capacity tickets with :shards shards, then :pools - 1 spread pools of
-- :capacity (consecutive ids after it), and a show of 1,000 rows of 100
-- seats. Prints "first last count show first_seat": pool ids (the hot pool
-- is the first), the show, and its first seat; seat k (1-based) of row r is
-- first_seat + (r - 1) * 100 + k - 1, checked below. The hot pool is
-- created first and alone: when create_pool refuses the shard count,
-- nothing is left behind and bench/run retries with shards => 1.
CREATE EXTENSION IF NOT EXISTS booking;
SELECT booking.create_pool(capacity => :capacity, shards => :shards, name => 'checkout hot') AS hot \gset
SELECT max(pool_id) AS last_pool
  FROM (SELECT booking.create_pool(capacity => :capacity, name => 'checkout spread ' || n) AS pool_id
          FROM generate_series(2, :pools) AS n) AS created \gset
SELECT booking.create_show('checkout') AS show \gset
SELECT min(seat_id) AS first_seat
  FROM (SELECT unnest(booking.add_seats(:show, 'stalls', lpad(r::text, 4, '0'), 1, 100)) AS seat_id
          FROM generate_series(1, 1000) AS r) AS added \gset
-- The pgbench script computes seat ids from row and number: make sure they are laid out so.
SELECT count(*) = 100000 AND bool_and(seat_id = :first_seat + (row_label::int - 1) * 100 + number - 1) AS laid_out
  FROM booking.seat WHERE show_id = :show \gset
\if :laid_out
\else
\echo seat ids are not laid out row by row
\quit
\endif
SELECT :hot, :last_pool, :last_pool - :hot + 1, :show, :first_seat;
