-- Schema of W5's plain-SQL peer: :events event rows of :capacity tickets
-- (1 the hot one, 2 .. :events the spread ones), a show of 1,000 rows of
-- 100 seats (seat k of row r is id (r - 1) * 100 + k), and one row per
-- order with its two ticket lines; a seat names the order that bought it.
CREATE TABLE event (
    id       int PRIMARY KEY,
    capacity int NOT NULL,
    sold     int NOT NULL DEFAULT 0
);
CREATE TABLE orders (
    id         bigserial PRIMARY KEY,
    hot_id     int NOT NULL,
    hot_qty    int NOT NULL,
    spread_id  int NOT NULL,
    spread_qty int NOT NULL,
    created_at timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE TABLE seat (
    id        int PRIMARY KEY,
    row_label int NOT NULL,
    number    int NOT NULL,
    order_id  bigint REFERENCES orders
);
INSERT INTO event (id, capacity) SELECT n, :capacity FROM generate_series(1, :events) AS n;
INSERT INTO seat (id, row_label, number)
SELECT (r - 1) * 100 + k, r, k FROM generate_series(1, 1000) AS r, generate_series(1, 100) AS k;
