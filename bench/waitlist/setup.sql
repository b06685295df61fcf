-- Waitlist churn: 8 small pools whose lists never empty, and an audit of
-- every status change in the order the pool locks serialise them, so FIFO
-- can be verified after the run (verify.sql).
CREATE EXTENSION IF NOT EXISTS booking;

SELECT booking.create_pool(20, 'churn ' || n) FROM generate_series(1, 8) AS n;

CREATE TABLE public.churn_audit (
    seq         bigserial PRIMARY KEY,
    txid        bigint NOT NULL DEFAULT txid_current(),
    booking_id  bigint NOT NULL,
    pool_id     bigint NOT NULL,
    old_status  text,
    new_status  text NOT NULL
);

-- Runs inside the booking functions (search_path pinned: names qualified),
-- while the pool's root row
-- is locked, so seq orders the events of one pool as they really happened.
CREATE FUNCTION public.churn_audit_row() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' OR OLD.status IS DISTINCT FROM NEW.status THEN
        INSERT INTO public.churn_audit (booking_id, pool_id, old_status, new_status)
        VALUES (NEW.booking_id, NEW.pool_id, CASE WHEN TG_OP = 'UPDATE' THEN OLD.status END, NEW.status);
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER churn_audit AFTER INSERT OR UPDATE ON booking.booking
    FOR EACH ROW EXECUTE FUNCTION public.churn_audit_row();
