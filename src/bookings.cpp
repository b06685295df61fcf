// State changes of one booking: confirm, release, cancel, extend_hold; and
// expire_holds over every pool.
#include "bodies.hpp"
#include "bookings.hpp"

#include "core/error.hpp"
#include "core/validate.hpp"
#include "pg/caller.hpp"
#include "pg/claims.hpp"
#include "pg/fmgr.hpp"
#include "pg/read.hpp"
#include "seats.hpp"
#include "shards.hpp"
#include "slots.hpp"
#include "expiry.hpp"
#include "orders.hpp"
#include "store.hpp"

#include <tuple>

namespace booking {

namespace {

using pg::Statement;

// Also the sharded roots where someone waits while a shard still has free
// budget: a shard whose holder was still open when the group registered kept
// its budget, and only a call that locks the chain takes it back.
Statement lapsed_roots_sql(
	"SELECT p.root_id FROM booking.booking b JOIN booking.pool p ON p.pool_id OPERATOR(pg_catalog.=) b.pool_id"
	" WHERE b.status OPERATOR(pg_catalog.=) 'held' AND b.held_until OPERATOR(pg_catalog.<=) $1"
	"   AND b.kind OPERATOR(pg_catalog.=) 'ticket'"
	" UNION"
	" SELECT s.pool_id FROM booking.pool_shard s"
	"  WHERE s.budget OPERATOR(pg_catalog.>) (s.confirmed OPERATOR(pg_catalog.+) s.held)"
	"    AND EXISTS (SELECT 1 FROM booking.pool c WHERE c.root_id OPERATOR(pg_catalog.=) s.pool_id"
	"                   AND c.waitlisted OPERATOR(pg_catalog.>) 0)"
	" ORDER BY 1",
	{TIMESTAMPTZOID});

// A booking with its pool chain locked and lapsed holds settled.
struct Opened {
	store::Chain chain;
	store::Booking booking;
};

// A booking as last committed; PT404 when unknown.
store::Booking
find_booking(int64_t booking_id)
{
	auto found = store::find_booking(booking_id, false);
	if (!found)
		throw Error(SqlState::NotFound, "booking " + std::to_string(booking_id) + " does not exist");
	if (found->kind != "ticket" && found->kind != "seats" && found->kind != "slot")
		throw Error(SqlState::Internal,
					"booking: booking " + std::to_string(booking_id) + " has unknown kind " + found->kind);
	return *found;
}

pg::KeyRead order_of_row("booking", "booking_pkey", {"?order_id"});

// PT409 for a booking that is an item of an order (1.6): an order changes
// as one, through the order's calls.
void
refuse_order_item(const store::Booking &b)
{
	if (!order_of_row.read(b.booking_id))
		return;
	if (auto order_id = order_of_row.int8(1))
		throw Error(SqlState::StateConflict,
					"booking " + std::to_string(b.booking_id) + " is an item of order " + std::to_string(*order_id),
					"An order changes as one: use confirm_order, release_order, extend_order or cancel_order.");
}

// Lock a ticket booking for a change; PT403 when holder does not match the
// holder it was made with (check_holder).
Opened
open_booking(const store::Booking &found, const std::optional<std::string> &holder, bool check_holder,
			 TimestampTz now)
{
	int64_t booking_id = found.booking_id;
	Opened o{store::lock_chain(*found.pool_id), {}};
	store::settle(o.chain, now);
	o.booking = store::find_booking_again(booking_id, true);
	// A booking taken from a shard changes on its pool's row like any other.
	store::detach_from_shard(o.chain, o.booking);
	o.booking.shard.reset();
	if (check_holder)
		store::require_holder(o.booking, holder);
	return o;
}

// Whether a lapsed booking's spots can be taken again: they fit, nobody
// waits for them, and its holder stays within the pool's cap.
bool
can_retake(store::Chain &chain, const store::Booking &b, TimestampTz now)
{
	if (store::has_own_waiters(chain.pools))
		return false;
	// Spots a busy shard may still give back decide it: wait for them.
	while (!core::fits(chain.pools, b.spots))
		if (chain.busy_free == 0 || !store::await_shards(chain))
			return core::fits(chain.pools, b.spots);
	if (chain.max_per_holder && b.holder &&
		store::holder_active(chain.pools.back().pool_id, *b.holder, now) + b.spots > *chain.max_per_holder)
		return false;
	return true;
}

using bookings::ReleaseOutcome;

// Give a booking's spots back once and let waiters take them.
ReleaseOutcome
release_booking(int64_t booking_id, const std::optional<std::string> &holder, bool check_holder, bool alone)
{
	TimestampTz now = pg::transaction_now();
	pg::Spi spi;
	store::Booking found = find_booking(booking_id);
	if (alone)
		refuse_order_item(found);
	if (found.kind != "ticket") {
		seats::Released r = found.kind == "seats" ? seats::release(found, holder, check_holder, now)
												  : slots::release(found, holder, check_holder, now);
		return {r.status, r.released, {}};
	}
	Opened o = open_booking(found, holder, check_holder, now);
	store::Booking &b = o.booking;
	ReleaseOutcome out;
	out.status = b.status;
	if (b.status == core::Status::Held || b.status == core::Status::Confirmed || b.status == core::Status::Waitlisted) {
		if (b.status == core::Status::Held)
			store::add_counts(o.chain, 0, -b.spots, 0);
		else if (b.status == core::Status::Confirmed)
			store::add_counts(o.chain, -b.spots, 0, 0);
		else
			store::add_counts(o.chain, 0, 0, -b.spots);
		out.released = b.status == core::Status::Waitlisted ? 0 : b.spots;
		store::set_status(booking_id, core::Status::Released, b.held_until, std::nullopt, now);
		out.status = core::Status::Released;
		for (const auto &w : store::promote(o.chain.root_id(), core::automatic_promotion(), now))
			out.promoted.push_back(w.booking_id);
	}
	return out;
}

Datum
release_result(FunctionCallInfo fcinfo, int64_t booking_id, const ReleaseOutcome &out)
{
	return pg::composite(fcinfo, {pg::int8_param(booking_id), pg::text_param(core::status_text(out.status)),
								  pg::int4_param(out.released), pg::int8_array_param(out.promoted)});
}

// confirm for a ticket booking: its status after the call.
core::Status
confirm_ticket(const store::Booking &found, const std::optional<std::string> &holder, bool check_holder,
			   const std::optional<std::string> &payment_ref, TimestampTz now)
{
	Opened o = open_booking(found, holder, check_holder, now);
	store::Booking &b = o.booking;
	if (b.status == core::Status::Held) {
		store::set_status(b.booking_id, core::Status::Confirmed, std::nullopt, payment_ref, now);
		store::add_counts(o.chain, b.spots, -b.spots, 0);
		return core::Status::Confirmed;
	}
	if (b.status == core::Status::Expired) {
		// A late payment: confirmed all the same if the spots are still free.
		if (!can_retake(o.chain, b, now))
			return core::Status::Expired;
		store::set_status(b.booking_id, core::Status::Confirmed, std::nullopt, payment_ref, now);
		store::add_counts(o.chain, b.spots, 0, 0);
		return core::Status::Confirmed;
	}
	if (b.status == core::Status::Confirmed)
		return core::Status::Confirmed;
	store::state_conflict(b, "confirm");
}

// extend_hold for a ticket booking.
std::pair<core::Status, std::optional<TimestampTz>>
extend_ticket(const store::Booking &found, const std::optional<std::string> &holder, TimestampTz held_until,
			  TimestampTz now)
{
	Opened o = open_booking(found, holder, true, now);
	store::Booking &b = o.booking;
	if (b.status == core::Status::Held) {
		store::set_status(b.booking_id, core::Status::Held, held_until, std::nullopt, now);
		store::add_counts(o.chain, 0, 0, 0, held_until);
		return {core::Status::Held, held_until};
	}
	if (b.status != core::Status::Expired)
		store::state_conflict(b, "extend the hold of");
	// A buyer still at checkout after the hold lapsed: hold again if free.
	if (!can_retake(o.chain, b, now))
		return {core::Status::Expired, b.held_until};
	store::set_status(b.booking_id, core::Status::Held, held_until, std::nullopt, now);
	store::add_counts(o.chain, 0, b.spots, 0, held_until);
	return {core::Status::Held, held_until};
}

// confirm for a booking of any kind; a payment webhook skips the holder check.
core::Status
confirm_any(const store::Booking &found, const std::optional<std::string> &holder, bool check_holder,
			const std::optional<std::string> &payment_ref, TimestampTz now)
{
	const std::optional<std::string> &as = check_holder ? holder : found.holder;
	if (found.kind == "seats")
		return seats::confirm(found, as, payment_ref, now);
	if (found.kind == "slot")
		return slots::confirm(found, holder, check_holder, payment_ref, now);
	return confirm_ticket(found, holder, check_holder, payment_ref, now);
}

Statement by_payment_ref_sql(
	"SELECT " BOOKING_COLUMNS " FROM booking.booking WHERE payment_ref OPERATOR(pg_catalog.=) $1"
	" ORDER BY status OPERATOR(pg_catalog.=) ANY (ARRAY['held', 'confirmed']) DESC, booking_id DESC LIMIT 1",
	{TEXTOID});

}  // namespace

namespace bookings {

store::Booking
find(int64_t booking_id)
{
	return find_booking(booking_id);
}

ReleaseOutcome
release(const store::Booking &b)
{
	return release_booking(b.booking_id, std::nullopt, false, false);
}

core::Status
confirm(const store::Booking &b, TimestampTz now)
{
	return confirm_any(b, std::nullopt, false, std::nullopt, now);
}

std::pair<core::Status, std::optional<TimestampTz>>
extend_any(const store::Booking &found, const std::optional<std::string> &holder, TimestampTz held_until,
		   TimestampTz now)
{
	if (found.kind == "seats") {
		seats::Extended e = seats::extend(found, holder, held_until, now);
		return {e.status, e.held_until};
	}
	if (found.kind == "slot") {
		seats::Extended e = slots::extend(found, holder, held_until, now);
		return {e.status, e.held_until};
	}
	return extend_ticket(found, holder, held_until, now);
}

}  // namespace bookings

Datum
confirm_payment(FunctionCallInfo fcinfo)
{
	auto payment_ref = pg::arg_text(fcinfo, 0);
	core::require(payment_ref.has_value(), "payment_ref");
	core::check_length(payment_ref->size(), core::max_key_bytes, "payment_ref");
	TimestampTz now = pg::transaction_now();
	int64_t booking_id;
	core::Status status;
	{
		pg::Spi spi;
		by_payment_ref_sql.run({pg::text_param(payment_ref)}, SPI_OK_SELECT);
		std::optional<store::Booking> found;
		if (Statement::rows() > 0)
			found = store::read_booking(Statement::row(0));
		// An order's reference confirms the whole order (booking_id: the order
		// id), unless the order was given back and a live booking carries the
		// reference now (a reference is reused once its holder is gone).
		bool live = found && (found->status == core::Status::Held || found->status == core::Status::Confirmed);
		std::optional<std::pair<int64_t, core::Status>> order;
		if (!live)
			order = orders::confirm_by_payment_ref(*payment_ref, now);
		if (order) {
			std::tie(booking_id, status) = *order;
		} else {
			if (!found)
				throw Error(SqlState::NotFound, "no booking carries payment_ref " + *payment_ref);
			booking_id = found->booking_id;
			status = confirm_any(*found, std::nullopt, false, std::nullopt, now);
		}
	}
	return pg::composite(fcinfo, {pg::int8_param(booking_id), pg::text_param(core::status_text(status))});
}

Datum
confirm(FunctionCallInfo fcinfo)
{
	pg::AsOwner as_owner(fcinfo);
	auto booking_id = pg::arg_int8(fcinfo, 0);
	auto holder = pg::holder_arg(fcinfo, 1, true);
	if (holder)
		core::check_length(holder->size(), core::max_key_bytes, "holder");
	auto payment_ref = pg::arg_text(fcinfo, 2);
	core::require(booking_id.has_value(), "booking_id");
	if (payment_ref)
		core::check_length(payment_ref->size(), core::max_key_bytes, "payment_ref");

	TimestampTz now = pg::transaction_now();
	core::Status status;
	{
		pg::Spi spi;
		store::Booking found = find_booking(*booking_id);
		refuse_order_item(found);
		status = confirm_any(found, holder, true, payment_ref, now);
	}
	return pg::composite(fcinfo, {pg::int8_param(*booking_id), pg::text_param(core::status_text(status))});
}

Datum
release(FunctionCallInfo fcinfo)
{
	pg::AsOwner as_owner(fcinfo);
	auto booking_id = pg::arg_int8(fcinfo, 0);
	auto holder = pg::holder_arg(fcinfo, 1, true);
	if (holder)
		core::check_length(holder->size(), core::max_key_bytes, "holder");
	core::require(booking_id.has_value(), "booking_id");
	ReleaseOutcome out = release_booking(*booking_id, holder, true, true);
	return release_result(fcinfo, *booking_id, out);
}

Datum
cancel(FunctionCallInfo fcinfo)
{
	auto booking_id = pg::arg_int8(fcinfo, 0);
	core::require(booking_id.has_value(), "booking_id");
	ReleaseOutcome out = release_booking(*booking_id, std::nullopt, false, true);
	return release_result(fcinfo, *booking_id, out);
}

Datum
extend_hold(FunctionCallInfo fcinfo)
{
	pg::AsOwner as_owner(fcinfo);
	auto booking_id = pg::arg_int8(fcinfo, 0);
	auto holder = pg::holder_arg(fcinfo, 1, true);
	if (holder)
		core::check_length(holder->size(), core::max_key_bytes, "holder");
	core::require(booking_id.has_value(), "booking_id");
	core::require(!PG_ARGISNULL(2), "hold_for");
	TimestampTz now = pg::transaction_now();
	TimestampTz held_until = *pg::arg_interval_end(fcinfo, 2, now);
	core::check_hold_end(held_until, now, "hold_for");

	core::Status status;
	std::optional<TimestampTz> result_until;
	{
		pg::Spi spi;
		store::Booking found = find_booking(*booking_id);
		refuse_order_item(found);
		std::tie(status, result_until) = bookings::extend_any(found, holder, held_until, now);
	}
	return pg::composite(fcinfo, {pg::int8_param(*booking_id), pg::text_param(core::status_text(status)),
								  pg::timestamptz_param(result_until)});
}

// booking.claimed_holder(holder, needed): request_holder() for the SQL
// functions (seat_map, my_bookings, the proxy's calls).
Datum
claimed_holder(FunctionCallInfo fcinfo)
{
	auto needed = pg::arg_bool(fcinfo, 1);
	auto holder = pg::holder_arg(fcinfo, 0, needed.value_or(true));
	if (!holder)
		PG_RETURN_NULL();
	return pg::text_param(holder).value;
}

int64_t
expire_batch(TimestampTz now, int64_t limit, bool skip_locked)
{
	int64_t expired = 0;
	pg::Spi spi;
	lapsed_roots_sql.run({pg::timestamptz_param(now)}, SPI_OK_SELECT);
	std::vector<int64_t> roots;
	for (uint64_t i = 0; i < Statement::rows(); i++)
		roots.push_back(*Statement::row(i).int8(1));
	for (int64_t root : roots) {
		pg::check_for_interrupts();
		if (expired >= limit)
			break;
		if (skip_locked && !store::try_lock_root(root))
			continue;  // a buyer holds this tree: next round
		// Locks the idle shards (never waiting for one) and takes their
		// unused budgets back, so promote() sees them.
		store::lock_chain(root);
		expired += store::expire_lapsed(root, now, limit - expired);
		store::promote(root, core::automatic_promotion(), now);
	}
	if (expired < limit)
		expired += seats::expire_lapsed(now, limit - expired, skip_locked);
	if (expired < limit)
		expired += slots::expire_lapsed(now, limit - expired, skip_locked);
	return expired;
}

Datum
expire_holds(FunctionCallInfo fcinfo)
{
	auto max_count = pg::arg_int4(fcinfo, 0);
	core::require(max_count.has_value(), "max_count");
	core::check_positive(*max_count, "max_count");
	int64_t expired = expire_batch(pg::transaction_now(), *max_count, false);
	return Int32GetDatum(int32_t(expired));
}

}  // namespace booking
