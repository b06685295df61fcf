// Appointment slots: create_resource, reserve_slot, and the slot side of
// confirm, confirm_payment, release, extend_hold and expire_holds.
//
// A range [starts_at, ends_at) is held when at every instant of it fewer than
// the resource's capacity of active bookings (confirmed, or held and
// unexpired) overlap it. The check and the insert happen under a lock on the
// resource row, so two overlapping requests cannot both pass.
#include "slots.hpp"

#include "bodies.hpp"
#include "core/error.hpp"
#include "core/slots.hpp"
#include "core/validate.hpp"
#include "pg/claims.hpp"
#include "pg/fmgr.hpp"
#include "pg/write.hpp"
#include "stats.hpp"

#include <algorithm>

namespace booking {

namespace {

using pg::Statement;

Statement insert_resource_sql(
	"INSERT INTO booking.resource (resource_id, name, capacity)"
	" VALUES (pg_catalog.nextval('booking.resource_id_seq'), $1, $2) RETURNING resource_id",
	{TEXTOID, INT4OID});

// The resource's row, to lock without waiting (pg::lock_result_skip: SKIP
// LOCKED without its wait).
Statement resource_row_sql("SELECT ctid FROM booking.resource WHERE resource_id OPERATOR(pg_catalog.=) $1",
						   {INT8OID});

Statement lock_resource_sql(
	"SELECT capacity FROM booking.resource WHERE resource_id OPERATOR(pg_catalog.=) $1 FOR NO KEY UPDATE", {INT8OID});

// Active bookings of the resource overlapping [$2, $3), except booking $5.
Statement overlapping_sql(
	"SELECT starts_at, ends_at FROM booking.booking"
	" WHERE kind OPERATOR(pg_catalog.=) 'slot' AND resource_id OPERATOR(pg_catalog.=) $1"
	"   AND status OPERATOR(pg_catalog.=) ANY (ARRAY['held', 'confirmed'])"
	"   AND ends_at OPERATOR(pg_catalog.>) $2 AND starts_at OPERATOR(pg_catalog.<) $3"
	"   AND (status OPERATOR(pg_catalog.=) 'confirmed' OR held_until OPERATOR(pg_catalog.>) $4)"
	"   AND booking_id OPERATOR(pg_catalog.<>) $5",
	{INT8OID, TIMESTAMPTZOID, TIMESTAMPTZOID, TIMESTAMPTZOID, INT8OID});

Statement find_by_key_sql("SELECT " BOOKING_COLUMNS " FROM booking.booking"
						  " WHERE resource_id OPERATOR(pg_catalog.=) $1 AND idempotency_key OPERATOR(pg_catalog.=) $2"
						  "   AND kind OPERATOR(pg_catalog.=) 'slot'",
						  {INT8OID, TEXTOID});

Statement insert_booking_sql(
	"INSERT INTO booking.booking (booking_id, kind, resource_id, spots, status, holder, held_until, starts_at,"
	"                             ends_at, payment_ref, idempotency_key, created_at, updated_at)"
	" VALUES (pg_catalog.nextval('booking.booking_id_seq'), 'slot', $1, 1,"
	"         CASE WHEN $3 IS NULL THEN 'confirmed' ELSE 'held' END, $2, $3, $4, $5, $6, $7, $8, $8)"
	" RETURNING booking_id",
	{INT8OID, TEXTOID, TIMESTAMPTZOID, TIMESTAMPTZOID, TIMESTAMPTZOID, TEXTOID, TEXTOID, TIMESTAMPTZOID});

// Lock a resource; PT404 when it does not exist. Returns its capacity.
int32_t
lock_resource(int64_t resource_id)
{
	lock_resource_sql.run({pg::int8_param(resource_id)}, SPI_OK_SELECT);
	if (Statement::rows() == 0)
		throw Error(SqlState::NotFound, "resource " + std::to_string(resource_id) + " does not exist");
	return *Statement::row(0).int4(1);
}

// Whether [starts, ends) fits on a locked resource, not counting booking except.
bool
range_free(int64_t resource_id, int32_t capacity, TimestampTz starts, TimestampTz ends, TimestampTz now,
		   int64_t except)
{
	overlapping_sql.run({pg::int8_param(resource_id), pg::timestamptz_param(starts), pg::timestamptz_param(ends),
						 pg::timestamptz_param(now), pg::int8_param(except)},
						SPI_OK_SELECT);
	std::vector<core::Range> ranges;
	ranges.reserve(Statement::rows());
	for (uint64_t i = 0; i < Statement::rows(); i++) {
		pg::Row r = Statement::row(i);
		ranges.push_back({*r.timestamptz(1), *r.timestamptz(2)});
	}
	return core::slot_free(ranges, {starts, ends}, capacity);
}

using slots::SlotOutcome;

// Hold [starts, ends) on a resource for holder.
SlotOutcome
reserve(int64_t resource_id, TimestampTz starts, TimestampTz ends, const std::string &holder, std::optional<TimestampTz> held_until,
		const std::optional<std::string> &payment_ref, const std::optional<std::string> &key, TimestampTz now)
{
	int32_t capacity = lock_resource(resource_id);
	if (key) {
		find_by_key_sql.run({pg::int8_param(resource_id), pg::text_param(key)}, SPI_OK_SELECT);
		if (Statement::rows() > 0) {
			store::Booking b = store::read_booking(Statement::row(0));
			return {b.booking_id, store::visible_status(b, now),
					b.status == core::Status::Held ? b.held_until : std::nullopt, true};
		}
	}
	if (payment_ref)
		store::require_payment_ref_free(*payment_ref);
	if (!range_free(resource_id, capacity, starts, ends, now, 0))
		return {std::nullopt, core::Status::Conflict, std::nullopt};
	try {
		insert_booking_sql.run({pg::int8_param(resource_id), pg::text_param(holder), pg::timestamptz_param(held_until),
								pg::timestamptz_param(starts), pg::timestamptz_param(ends), pg::text_param(payment_ref),
								pg::text_param(key), pg::timestamptz_param(now)},
							   SPI_OK_INSERT_RETURNING);
	} catch (const pg::PgError &) {
		store::rethrow_payment_ref_taken(payment_ref);
	}
	return {*Statement::row(0).int8(1), held_until ? core::Status::Held : core::Status::Confirmed, held_until};
}

// The lock order of a slot booking's state change: its resource, then its row.
store::Booking
lock_booking(const store::Booking &found, const std::optional<std::string> &holder, bool check_holder,
			 int32_t *capacity)
{
	*capacity = lock_resource(*found.resource_id);
	store::Booking b = store::find_booking_again(found.booking_id, true);
	if (check_holder)
		store::require_holder(b, holder);
	return b;
}

bool
retake_free(const store::Booking &b, int32_t capacity, TimestampTz now)
{
	return range_free(*b.resource_id, capacity, *b.starts_at, *b.ends_at, now, b.booking_id);
}

// Validate a time range argument pair.
void
check_range(const std::optional<TimestampTz> &starts, const std::optional<TimestampTz> &ends)
{
	core::require(starts.has_value(), "starts_at");
	core::require(ends.has_value(), "ends_at");
	if (TIMESTAMP_NOT_FINITE(*starts) || TIMESTAMP_NOT_FINITE(*ends))
		throw Error(SqlState::InvalidParameterValue, "starts_at and ends_at must be finite");
	if (*ends <= *starts)
		throw Error(SqlState::InvalidParameterValue, "ends_at must be after starts_at");
}

}  // namespace

namespace slots {

SlotOutcome
reserve(int64_t resource_id, TimestampTz starts, TimestampTz ends, const std::string &holder, std::optional<TimestampTz> held_until,
		TimestampTz now)
{
	return booking::reserve(resource_id, starts, ends, holder, held_until, std::nullopt, std::nullopt, now);
}

core::Status
confirm(const store::Booking &found, const std::optional<std::string> &holder, bool check_holder,
		const std::optional<std::string> &payment_ref, TimestampTz now)
{
	int32_t capacity;
	store::Booking b = lock_booking(found, holder, check_holder, &capacity);
	if (b.status == core::Status::Confirmed)
		return core::Status::Confirmed;
	if (b.status != core::Status::Held && b.status != core::Status::Expired)
		store::state_conflict(b, "confirm");
	// A late payment confirms all the same while the range is still free.
	// A hold not lapsed at now is checked too: a buyer whose transaction
	// began after its end may have taken the range while this call waited
	// for the resource (this call's now is older).
	if (!retake_free(b, capacity, now)) {
		if (b.status == core::Status::Held)
			store::set_status(b.booking_id, core::Status::Expired, b.held_until, std::nullopt, now);
		return core::Status::Expired;
	}
	store::set_status(b.booking_id, core::Status::Confirmed, std::nullopt, payment_ref, now);
	return core::Status::Confirmed;
}

seats::Released
release(const store::Booking &found, const std::optional<std::string> &holder, bool check_holder, TimestampTz now)
{
	int32_t capacity;
	store::Booking b = lock_booking(found, holder, check_holder, &capacity);
	if (store::lapsed(b, now)) {
		store::set_status(b.booking_id, core::Status::Expired, b.held_until, std::nullopt, now);
		return {core::Status::Expired, 0};
	}
	if (b.status != core::Status::Held && b.status != core::Status::Confirmed)
		return {b.status, 0};
	store::set_status(b.booking_id, core::Status::Released, b.held_until, std::nullopt, now);
	return {core::Status::Released, b.spots};
}

seats::Extended
extend(const store::Booking &found, const std::optional<std::string> &holder, TimestampTz held_until,
	   TimestampTz now)
{
	int32_t capacity;
	store::Booking b = lock_booking(found, holder, true, &capacity);
	if (b.status != core::Status::Held && b.status != core::Status::Expired)
		store::state_conflict(b, "extend the hold of");
	if (!retake_free(b, capacity, now)) {  // lapsed, or taken meanwhile: see confirm
		if (b.status == core::Status::Held)
			store::set_status(b.booking_id, core::Status::Expired, b.held_until, std::nullopt, now);
		return {core::Status::Expired, b.held_until};
	}
	store::set_status(b.booking_id, core::Status::Held, held_until, std::nullopt, now);
	return {core::Status::Held, held_until};
}

int64_t
expire_lapsed(TimestampTz now, int64_t limit, bool skip_locked)
{
	std::vector<store::Booking> candidates = store::lapsed_holds("slot", now, limit);
	// Resources in ascending id order, as an order's calls lock them: in the
	// order the holds lapsed, expire_holds would hold one resource while it
	// waits for another that an order holds, waiting for the first.
	std::stable_sort(candidates.begin(), candidates.end(), [](const store::Booking &a, const store::Booking &b) {
		return a.resource_id.value_or(0) < b.resource_id.value_or(0);
	});
	int64_t expired = 0;
	for (const store::Booking &found : candidates) {
		pg::check_for_interrupts();
		bool moved;
		if (skip_locked && (resource_row_sql.run({pg::int8_param(*found.resource_id)}, SPI_OK_SELECT) == 0 ||
							pg::lock_result_skip("resource", 1, &moved) == 0))
			continue;  // a buyer is busy with this resource: next round
		int32_t capacity;
		store::Booking b = lock_booking(found, std::nullopt, false, &capacity);
		if (!store::lapsed(b, now))
			continue;
		store::set_status(b.booking_id, core::Status::Expired, b.held_until, std::nullopt, now);
		expired++;
	}
	return expired;
}

}  // namespace slots

Datum
create_resource(FunctionCallInfo fcinfo)
{
	auto name = pg::arg_text(fcinfo, 0);
	auto capacity = pg::arg_int4(fcinfo, 1);
	core::require(capacity.has_value(), "capacity");
	core::check_capacity(*capacity);
	if (name)
		core::check_length(name->size(), core::max_name_bytes, "name");
	int64_t id;
	{
		pg::Spi spi;
		insert_resource_sql.run({pg::text_param(name), pg::int4_param(capacity)}, SPI_OK_INSERT_RETURNING);
		id = *Statement::row(0).int8(1);
	}
	return Int64GetDatum(id);
}

Datum
reserve_slot(FunctionCallInfo fcinfo)
{
	auto resource_id = pg::arg_int8(fcinfo, 0);
	std::optional<TimestampTz> starts, ends;
	if (!PG_ARGISNULL(1))
		starts = PG_GETARG_TIMESTAMPTZ(1);
	if (!PG_ARGISNULL(2))
		ends = PG_GETARG_TIMESTAMPTZ(2);
	auto holder = pg::holder_arg(fcinfo, 3, true);
	auto payment_ref = pg::arg_text(fcinfo, 5);
	auto key = pg::arg_text(fcinfo, 6);
	core::require(resource_id.has_value(), "resource_id");
	check_range(starts, ends);
	core::require(holder.has_value(), "holder");
	core::require(!PG_ARGISNULL(4), "hold_for");
	core::check_length(holder->size(), core::max_key_bytes, "holder");
	if (payment_ref)
		core::check_length(payment_ref->size(), core::max_key_bytes, "payment_ref");
	if (key)
		core::check_length(key->size(), core::max_key_bytes, "idempotency_key");
	TimestampTz now = pg::transaction_now();
	TimestampTz held_until = *pg::arg_interval_end(fcinfo, 4, now);
	core::check_hold_end(held_until, now, "hold_for");

	SlotOutcome r;
	{
		pg::Spi spi;
		r = reserve(*resource_id, *starts, *ends, *holder, held_until, payment_ref, key, now);
	}
	if (!r.repeat)
		stats::count_outcome(r.status);
	return pg::composite(fcinfo, {pg::int8_param(r.booking_id), pg::text_param(core::status_text(r.status)),
								  pg::timestamptz_param(r.held_until)});
}

}  // namespace booking
