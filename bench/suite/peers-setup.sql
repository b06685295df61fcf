-- Schema of the plain-SQL peers of W1/W2: :events event rows of
-- :capacity tickets (a sold counter and a version for the optimistic peer)
-- and one row per order.
CREATE TABLE event (
    id       int PRIMARY KEY,
    capacity int NOT NULL,
    sold     int NOT NULL DEFAULT 0,
    version  int NOT NULL DEFAULT 0
);
CREATE TABLE orders (
    id         bigserial PRIMARY KEY,
    event_id   int NOT NULL,
    qty        int NOT NULL,
    created_at timestamptz NOT NULL DEFAULT clock_timestamp()
);
INSERT INTO event (id, capacity) SELECT n, :capacity FROM generate_series(1, :events) AS n;
