// Registrations with a fair waitlist: register and promote_waitlist. Groups
// wait as one entry and are promoted whole; within a pool nobody overtakes
// the head of the list unless the organiser says so.
#include "bodies.hpp"

#include "core/error.hpp"
#include "core/validate.hpp"
#include "pg/claims.hpp"
#include "pg/fmgr.hpp"
#include "shards.hpp"
#include "stats.hpp"
#include "store.hpp"

namespace booking {

namespace {

struct Registration {
	std::optional<int64_t> booking_id;
	core::Status status = core::Status::SoldOut;
	std::optional<int32_t> position;
	bool repeat = false;  // an idempotent repeat: nothing happened
};

// Register spots in a locked, settled chain.
Registration
register_spots(int64_t pool_id, int32_t spots, const std::optional<std::string> &holder,
			   const std::optional<std::string> &key, TimestampTz now)
{
	store::Chain chain = store::lock_chain(pool_id);
	store::settle(chain, now);

	if (key) {
		if (auto first = store::find_by_key(pool_id, *key)) {
			Registration repeat{first->booking_id, store::visible_status(*first, now), std::nullopt, true};
			if (first->status == core::Status::Waitlisted)
				repeat.position = store::waitlist_position(pool_id, first->booking_id);
			return repeat;
		}
	}

	core::TakeRequest request = store::take_request(chain, spots, holder, now);

	core::RegisterVerdict verdict = core::judge_register(chain.pools, request);
	// A busy shard's free budget may decide between confirming and waiting:
	// wait for its holder (bounded). A group waitlisted while a holder is
	// still there keeps FIFO: a buyer that takes from that shard afterwards
	// read the pool row before this commit, so it goes first; the spots it
	// leaves come back to the list on the next call (settle()).
	while ((verdict == core::RegisterVerdict::Waitlist || verdict == core::RegisterVerdict::SoldOut) &&
		   chain.busy_free > 0 && store::await_shards(chain))
		verdict = core::judge_register(chain.pools, request);
	switch (verdict) {
	case core::RegisterVerdict::LimitExceeded:
		return {std::nullopt, core::Status::LimitExceeded, std::nullopt};
	case core::RegisterVerdict::SoldOut:
		return {std::nullopt, core::Status::SoldOut, std::nullopt};
	case core::RegisterVerdict::Confirm: {
		int64_t id = store::insert_ticket(pool_id, spots, core::Status::Confirmed, holder, std::nullopt, key, now);
		store::add_counts(chain, spots, 0, 0);
		return {id, core::Status::Confirmed, std::nullopt};
	}
	case core::RegisterVerdict::Waitlist:
		break;
	}
	int64_t id = store::insert_ticket(pool_id, spots, core::Status::Waitlisted, holder, std::nullopt, key, now);
	store::add_counts(chain, 0, 0, spots);
	return {id, core::Status::Waitlisted, store::waitlist_position(pool_id, id)};
}

}  // namespace

Datum
register_spots(FunctionCallInfo fcinfo)
{
	auto pool_id = pg::arg_int8(fcinfo, 0);
	auto spots = pg::arg_int4(fcinfo, 1);
	auto holder = pg::holder_arg(fcinfo, 2, true);
	auto key = pg::arg_text(fcinfo, 3);
	core::require(pool_id.has_value(), "pool_id");
	core::require(spots.has_value(), "spots");
	core::check_positive(*spots, "spots");
	if (holder)
		core::check_length(holder->size(), core::max_key_bytes, "holder");
	if (key)
		core::check_length(key->size(), core::max_key_bytes, "idempotency_key");

	TimestampTz now = pg::transaction_now();
	Registration r;
	{
		pg::Spi spi;
		r = register_spots(*pool_id, *spots, holder, key, now);
	}
	if (!r.repeat)
		stats::count_outcome(r.status);
	return pg::composite(fcinfo, {pg::int8_param(r.booking_id), pg::text_param(core::status_text(r.status)),
								  pg::int4_param(r.position)});
}

Datum
promote_waitlist(FunctionCallInfo fcinfo)
{
	auto pool_id = pg::arg_int8(fcinfo, 0);
	auto max_count = pg::arg_int4(fcinfo, 1);
	auto booking_id = pg::arg_int8(fcinfo, 2);
	auto skip_unfit = pg::arg_bool(fcinfo, 3);
	core::require(pool_id.has_value(), "pool_id");
	core::require(skip_unfit.has_value(), "skip_unfit");
	if (max_count)
		core::check_positive(*max_count, "max_count");

	TimestampTz now = pg::transaction_now();
	std::vector<core::Waiter> promoted;
	{
		pg::Spi spi;
		store::Chain chain = store::lock_chain(*pool_id);
		store::settle(chain, now);
		core::PromotionPolicy policy;
		policy.max_count = max_count;
		policy.only_pool = *pool_id;
		policy.skip_unfit = *skip_unfit;
		bool promote = true;
		if (booking_id) {
			// Check the pool before locking: a booking of another tree must not
			// be locked while this tree's root is held.
			auto b = store::find_booking(*booking_id, false);
			if (!b)
				throw Error(SqlState::NotFound, "booking " + std::to_string(*booking_id) + " does not exist");
			if (b->pool_id != pool_id)
				throw Error(SqlState::InvalidParameterValue,
							"booking " + std::to_string(*booking_id) + " is not in pool " + std::to_string(*pool_id));
			b = store::find_booking_again(*booking_id, true);
			// Already promoted, released or never waiting: nothing to do.
			promote = b->status == core::Status::Waitlisted;
			policy.only_booking = *booking_id;
		}
		if (promote)
			promoted = store::promote(chain.root_id(), policy, now);
	}

	return pg::materialize(fcinfo, promoted.size(), [&promoted](std::size_t i) {
		return std::vector<pg::Param>{pg::int8_param(promoted[i].booking_id), pg::int4_param(promoted[i].spots)};
	});
}

}  // namespace booking
