-- Schema shared by the three hand-written peers: a counter row per event
-- and one row per order. created_at (commit-ish time of each sale) only
-- serves to measure when the event sold out.
CREATE TABLE event (
    id       int PRIMARY KEY,
    capacity int NOT NULL,
    sold     int NOT NULL DEFAULT 0
);
CREATE TABLE orders (
    id         bigserial PRIMARY KEY,
    event_id   int NOT NULL,
    qty        int NOT NULL,
    created_at timestamptz NOT NULL DEFAULT clock_timestamp()
);
INSERT INTO event (id, capacity, sold) VALUES (1, :capacity, 0);
