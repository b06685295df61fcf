-- Prints "key value" lines for bench/run. Each query stands alone (psql
-- runs without ON_ERROR_STOP), so one failing check does not hide others.
SELECT 'sold', confirmed FROM booking.availability(:pool);
SELECT 'bookings_sum', coalesce(sum(spots), 0)
  FROM booking.bookings WHERE pool_id = :pool AND status = 'confirmed';
SELECT 'purchases', count(*)
  FROM booking.bookings WHERE pool_id = :pool AND status = 'confirmed';
SELECT 'check_problems', count(*) FROM booking.check();
-- When the bookings table keeps a creation time, the newest confirmed
-- booking tells when the pool sold out.
SELECT format('SELECT %L, extract(epoch FROM max(%I)) FROM booking.bookings'
              ' WHERE pool_id = %s AND status = %L',
              'last_sale_epoch', column_name, :pool, 'confirmed')
  FROM information_schema.columns
 WHERE table_schema = 'booking' AND table_name = 'bookings'
   AND data_type LIKE 'timestamp%'
   AND column_name IN ('confirmed_at', 'created_at', 'booked_at', 'inserted_at', 'created')
 ORDER BY array_position(ARRAY['confirmed_at', 'created_at', 'booked_at',
                               'inserted_at', 'created']::name[], column_name::name)
 LIMIT 1 \gexec
