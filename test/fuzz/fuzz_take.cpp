// libFuzzer target: the take rule of src/core/capacity.hpp, as the fast buy
// applies it to one row without a lock (judge_row, and room_for on a
// shard's free budget) against judge_take on the chain the general path
// locks and settles. A row is a root pool's, or one that needs settling
// (a parent, a cap, a waiting group, a lapsed hold), with 1 to 8 shards
// whose budgets came out of its free capacity. Checked:
//   - judge_row says Settle exactly when the row needs settling;
//   - the fast buy never takes what the general path would refuse: a Take
//     from the row, or from a shard with room, is judge_take's Take on the
//     locked chain (the shards' unused budgets taken back);
//   - its sold_out is exact where the row knows every spot (no shards, or
//     drained ones), and so is the sum over the shards (count_shards);
//   - room_for is a plain comparison at every int4 edge.
#include <fuzzer/FuzzedDataProvider.h>

#include <climits>
#include <cstdint>
#include <vector>

#include "core/capacity.hpp"
#include "property.hpp"

namespace core = booking::core;

namespace {

const char *
row_name(core::RowVerdict v)
{
	switch (v) {
	case core::RowVerdict::Take:
		return "take";
	case core::RowVerdict::SoldOut:
		return "sold_out";
	case core::RowVerdict::Settle:
		return "settle";
	}
	return "?";
}

struct Shard {
	int64_t budget = 0;
	int64_t sold = 0;  // confirmed + held, at most the budget
};

}  // namespace

extern "C" int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	FuzzedDataProvider in(data, size);
	static const int64_t scales[] = {4, 40, 100000, INT32_MAX};
	int64_t scale = in.PickValueInArray(scales);

	// The row's own counters (int4 in the table), sold within capacity.
	int64_t capacity = in.ConsumeIntegralInRange<int64_t>(0, scale);
	int64_t confirmed = in.ConsumeIntegralInRange<int64_t>(0, capacity);
	int64_t held = in.ConsumeIntegralInRange<int64_t>(0, capacity - confirmed);
	// Shards: budgets handed out of the free capacity, each partly sold.
	std::vector<Shard> shards;
	int n = in.ConsumeBool() ? 1 : in.ConsumeIntegralInRange<int>(2, 8);
	bool drained = n > 1 && in.ConsumeBool();
	int64_t left = capacity - confirmed - held, sharded = 0, shard_sold = 0;
	for (int i = 0; n > 1 && i < n; i++) {
		Shard s;
		s.budget = in.ConsumeIntegralInRange<int64_t>(0, left);
		s.sold = drained ? s.budget : in.ConsumeIntegralInRange<int64_t>(0, s.budget);
		left -= s.budget;
		sharded += s.budget;
		shard_sold += s.sold;
		shards.push_back(s);
	}

	core::PoolRow row;
	row.root = in.ConsumeIntegralInRange<int>(0, 3) != 0;
	row.capped = in.ConsumeIntegralInRange<int>(0, 3) == 0;
	row.waitlisted = in.ConsumeIntegralInRange<int>(0, 3) == 0 ? in.ConsumeIntegralInRange<int64_t>(1, scale) : 0;
	row.lapsed = in.ConsumeIntegralInRange<int>(0, 3) == 0;
	row.free = capacity - confirmed - held - sharded;
	int64_t spots = in.ConsumeBool() ? in.ConsumeIntegralInRange<int64_t>(1, 8)
									 : in.ConsumeIntegralInRange<int64_t>(1, INT32_MAX);  // int4 quantity

	bool needs_settling = !row.root || row.capped || row.waitlisted != 0 || row.lapsed;
	core::RowVerdict fast = core::judge_row(row, spots);
	PROPERTY(core::settles_nothing(row) == !needs_settling,
			 "settles_nothing is %d for root %d, capped %d, waitlisted %lld, lapsed %d", core::settles_nothing(row),
			 row.root, row.capped, (long long)row.waitlisted, row.lapsed);
	PROPERTY((fast == core::RowVerdict::Settle) == needs_settling,
			 "judge_row is %s for root %d, capped %d, waitlisted %lld, lapsed %d", row_name(fast), row.root, row.capped,
			 (long long)row.waitlisted, row.lapsed);
	PROPERTY(core::room_for(row.free, spots) == (row.free >= spots), "room_for(%lld, %lld)", (long long)row.free,
			 (long long)spots);
	if (needs_settling)
		return 0;

	// The chain the general path judges: the root alone, locked and settled
	// (nothing lapsed, nobody waits, no cap), the shards' sold spots counted
	// into the row and their unused budgets taken back.
	core::PoolCounts pool;
	pool.pool_id = 1;
	pool.capacity = int32_t(capacity);
	pool.confirmed = int32_t(confirmed + shard_sold);
	pool.held = int32_t(held);
	core::TakeRequest request;
	request.spots = spots;
	core::TakeVerdict general = core::judge_take({pool}, request);
	PROPERTY(general != core::TakeVerdict::LimitExceeded, "judge_take says limit_exceeded without a cap");

	if (fast == core::RowVerdict::Take)
		PROPERTY(general == core::TakeVerdict::Take,
				 "the fast buy takes %lld spots from a row with %lld free, but judge_take says sold_out "
				 "(capacity %lld, confirmed %lld, held %lld, %d shards with %lld budget, %lld sold)",
				 (long long)spots, (long long)row.free, (long long)capacity, (long long)confirmed, (long long)held, n,
				 (long long)sharded, (long long)shard_sold);
	if (fast == core::RowVerdict::SoldOut && (n == 1 || drained))
		PROPERTY(general == core::TakeVerdict::SoldOut,
				 "the fast buy answers sold_out for %lld spots, but judge_take takes them (capacity %lld, "
				 "confirmed %lld, held %lld, %d shards, drained %d)",
				 (long long)spots, (long long)capacity, (long long)confirmed, (long long)held, n, drained);
	// A schema before 1.2 (or a read-only transaction) sums the shards.
	bool room_in_sum = core::room_for(core::available(pool), spots);
	PROPERTY(room_in_sum == (general == core::TakeVerdict::Take), "the shards' sum says %d, judge_take %d", room_in_sum,
			 general == core::TakeVerdict::Take);
	// A take on a shard needs its free budget alone.
	for (const Shard &s : shards)
		if (core::room_for(s.budget - s.sold, spots))
			PROPERTY(general == core::TakeVerdict::Take,
					 "a shard with %lld free takes %lld spots, but judge_take says sold_out",
					 (long long)(s.budget - s.sold), (long long)spots);
	return 0;
}
