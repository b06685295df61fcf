-- The seed's plain-SQL seat map: a status column per seat and a conditional
-- UPDATE whose row count decides (all or nothing by rolling back).
CREATE TABLE show_seats (
    id             bigint PRIMARY KEY,
    status         text NOT NULL DEFAULT 'available',
    reserved_by    text,
    reserved_until timestamptz
);
INSERT INTO show_seats (id) SELECT generate_series(1, 10000);
CREATE TABLE reservations (
    id       bigserial PRIMARY KEY,
    holder   text NOT NULL,
    seat_ids bigint[] NOT NULL,
    status   text NOT NULL DEFAULT 'held'
);
