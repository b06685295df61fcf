-- The organiser promotes in FIFO order (a no-op while auto-promotion keeps up).
\set pool random(1, 8)
SELECT count(*) FROM booking.promote_waitlist(:pool);
