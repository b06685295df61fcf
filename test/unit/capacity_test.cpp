// Capacity arithmetic and the waitlist promotion plan.
#include "core/capacity.hpp"

#include <gtest/gtest.h>

#include <climits>

namespace booking::core {
namespace {

PoolCounts
pool(int64_t id, int64_t parent, int32_t capacity, int32_t confirmed = 0, int32_t held = 0, int32_t waitlisted = 0)
{
	PoolCounts p;
	p.pool_id = id;
	p.parent_id = parent;
	p.capacity = capacity;
	p.confirmed = confirmed;
	p.held = held;
	p.waitlisted = waitlisted;
	return p;
}

std::vector<int64_t>
ids(const std::vector<Waiter> &ws)
{
	std::vector<int64_t> out;
	for (const auto &w : ws)
		out.push_back(w.booking_id);
	return out;
}

TEST(Capacity, AvailableSubtractsConfirmedAndHeld)
{
	EXPECT_EQ(available(pool(1, 0, 10, 3, 2)), 5);
	EXPECT_EQ(available(pool(1, 0, 0)), 0);
}

TEST(Capacity, AvailableDoesNotOverflow)
{
	EXPECT_EQ(available(pool(1, 0, INT_MAX, 0, 0)), INT_MAX);
	EXPECT_TRUE(fits({pool(1, 0, INT_MAX)}, INT_MAX));
	EXPECT_FALSE(fits({pool(1, 0, INT_MAX, 1)}, INT_MAX));
}

TEST(Capacity, TakeMustFitEveryAncestor)
{
	std::vector<PoolCounts> chain{pool(1, 0, 100, 98), pool(2, 1, 50, 10)};
	EXPECT_TRUE(fits(chain, 2));
	EXPECT_FALSE(fits(chain, 3));  // the venue's total is the limit, not the VIP pool
	TakeRequest r;
	r.spots = 3;
	EXPECT_EQ(judge_take(chain, r), TakeVerdict::SoldOut);
	r.spots = 2;
	EXPECT_EQ(judge_take(chain, r), TakeVerdict::Take);
}

TEST(Capacity, LastSpotsExactly)
{
	TakeRequest r;
	r.spots = 4;
	EXPECT_EQ(judge_take({pool(1, 0, 10, 6)}, r), TakeVerdict::Take);
	EXPECT_EQ(judge_take({pool(1, 0, 10, 6, 1)}, r), TakeVerdict::SoldOut);
}

TEST(Capacity, NobodyOvertakesTheWaitlist)
{
	TakeRequest r;
	r.spots = 1;
	r.own_waiters = true;
	EXPECT_EQ(judge_take({pool(1, 0, 10, 0, 0, 4)}, r), TakeVerdict::SoldOut);
	// Waiters of a sub-pool count in the counter but do not own this pool's spots.
	r.own_waiters = false;
	EXPECT_EQ(judge_take({pool(1, 0, 10, 0, 0, 4)}, r), TakeVerdict::Take);
}

// The fast buy's row: anything to settle first sends it to the general path.
TEST(TakeRule, RowNeedingSettlingIsLeftToTheGeneralPath)
{
	PoolRow row;
	row.free = 10;
	EXPECT_EQ(judge_row(row, 10), RowVerdict::Take);
	EXPECT_EQ(judge_row(row, 11), RowVerdict::SoldOut);
	PoolRow child = row, capped = row, waiting = row, lapsed = row;
	child.root = false;
	capped.capped = true;
	waiting.waitlisted = 1;
	lapsed.lapsed = true;
	for (const PoolRow &r : {child, capped, waiting, lapsed}) {
		EXPECT_FALSE(settles_nothing(r));
		EXPECT_EQ(judge_row(r, 1), RowVerdict::Settle);
	}
	EXPECT_TRUE(room_for(INT_MAX, INT_MAX));
	EXPECT_FALSE(room_for(int64_t(INT_MAX) - 1, INT_MAX));
	EXPECT_FALSE(room_for(-1, 1));
}

// Every small row a root pool can have, with budgets out on shards: the
// fast buy takes only what judge_take would, and its sold_out is
// judge_take's when the shards are drained (or there are none).
TEST(TakeRule, FastBuyAndJudgeTakeAgree)
{
	for (int32_t capacity = 0; capacity <= 6; capacity++)
		for (int32_t confirmed = 0; confirmed <= capacity; confirmed++)
			for (int32_t held = 0; confirmed + held <= capacity; held++)
				for (int32_t sharded = 0; confirmed + held + sharded <= capacity; sharded++)
					for (int32_t shard_sold = 0; shard_sold <= sharded; shard_sold++)
						for (int64_t spots = 1; spots <= 7; spots++) {
							PoolRow row;
							row.free = int64_t(capacity) - confirmed - held - sharded;
							TakeRequest r;
							r.spots = spots;
							TakeVerdict general = judge_take({pool(1, 0, capacity, confirmed + shard_sold, held)}, r);
							RowVerdict fast = judge_row(row, spots);
							if (fast == RowVerdict::Take)
								EXPECT_EQ(general, TakeVerdict::Take);
							if (sharded == shard_sold)  // drained shards: the row knows every spot
								EXPECT_EQ(fast == RowVerdict::Take, general == TakeVerdict::Take);
						}
}

TEST(Register, ConfirmedWhenTheGroupFitsAndNobodyWaits)
{
	TakeRequest r;
	r.spots = 3;
	EXPECT_EQ(judge_register({pool(1, 0, 10, 7)}, r), RegisterVerdict::Confirm);
	EXPECT_EQ(judge_register({pool(1, 0, 10, 8)}, r), RegisterVerdict::Waitlist);
	r.own_waiters = true;
	EXPECT_EQ(judge_register({pool(1, 0, 10, 0, 0, 2)}, r), RegisterVerdict::Waitlist);
}

TEST(Register, AGroupLargerThanACapacityWaits)
{
	// Waitlisted, so demand stays visible and raising the capacity promotes it.
	TakeRequest r;
	r.spots = 11;
	EXPECT_EQ(judge_register({pool(1, 0, 10)}, r), RegisterVerdict::Waitlist);
	r.spots = 6;
	EXPECT_EQ(judge_register({pool(1, 0, 100), pool(2, 1, 5)}, r), RegisterVerdict::Waitlist);
	EXPECT_EQ(judge_register({pool(1, 0, 5), pool(2, 1, 100)}, r), RegisterVerdict::Waitlist);
	r.spots = 1;
	EXPECT_EQ(judge_register({pool(1, 0, 0)}, r), RegisterVerdict::Waitlist);
}

TEST(Register, AGroupThatWouldOverflowTheWaitlistCounterIsSoldOut)
{
	TakeRequest r;
	r.spots = 2;
	EXPECT_EQ(judge_register({pool(1, 0, INT_MAX, 0, 0, INT_MAX - 1)}, r), RegisterVerdict::SoldOut);
}

TEST(Register, GroupsLargerThanTheCapacityLeaveTheCounterRoomForTheOthers)
{
	// One huge group cannot make every later registration sold_out.
	TakeRequest r;
	r.spots = INT_MAX;
	EXPECT_EQ(judge_register({pool(1, 0, 10)}, r), RegisterVerdict::SoldOut);
	r.spots = oversized_waitlist_ceiling;
	EXPECT_EQ(judge_register({pool(1, 0, 10)}, r), RegisterVerdict::Waitlist);
	EXPECT_EQ(judge_register({pool(1, 0, 10, 0, 0, 1)}, r), RegisterVerdict::SoldOut);
	r.spots = 10;
	EXPECT_EQ(judge_register({pool(1, 0, 10, 10, 0, int32_t(oversized_waitlist_ceiling))}, r),
			  RegisterVerdict::Waitlist);
}

TEST(Capacity, LargestGroupIsTheLeastCapacityOfTheChain)
{
	EXPECT_EQ(largest_group({pool(1, 0, 100), pool(2, 1, 5), pool(3, 2, 50)}), 5);
	EXPECT_EQ(largest_group({pool(1, 0, 0)}), 0);
	EXPECT_EQ(largest_group({pool(1, 0, INT_MAX)}), INT_MAX);
}

TEST(Register, WaitlistedSpotsCountAgainstTheHolderLimit)
{
	TakeRequest r;
	r.spots = 2;
	r.max_per_holder = 4;
	r.holder_active = 3;  // e.g. 3 spots waiting
	EXPECT_EQ(judge_register({pool(1, 0, 10)}, r), RegisterVerdict::LimitExceeded);
}

TEST(Promotion, OnlyPoolRestrictsToOneList)
{
	std::vector<PoolCounts> tree{pool(1, 0, 10, 0, 0, 2), pool(2, 1, 5, 0, 0, 1)};
	std::vector<Waiter> waiters{{11, 2, 1}, {12, 1, 1}};
	PromotionPolicy policy;
	policy.only_pool = 1;
	EXPECT_EQ(ids(plan_promotions(tree, waiters, policy)), (std::vector<int64_t>{12}));
}

TEST(Capacity, HolderLimitComesFirst)
{
	TakeRequest r;
	r.spots = 2;
	r.max_per_holder = 4;
	r.holder_active = 3;
	EXPECT_EQ(judge_take({pool(1, 0, 10)}, r), TakeVerdict::LimitExceeded);
	EXPECT_EQ(judge_take({pool(1, 0, 0)}, r), TakeVerdict::LimitExceeded);
	r.holder_active = 2;
	EXPECT_EQ(judge_take({pool(1, 0, 10)}, r), TakeVerdict::Take);
	r.spots = 5;
	r.holder_active = 0;
	EXPECT_EQ(judge_take({pool(1, 0, 10)}, r), TakeVerdict::LimitExceeded);
}

TEST(Promotion, StrictFifoStopsAtFirstUnfitGroup)
{
	std::vector<PoolCounts> tree{pool(1, 0, 10, 7, 0, 6)};
	std::vector<Waiter> waiters{{11, 1, 4}, {12, 1, 1}, {13, 1, 1}};
	PromotionPolicy policy;
	EXPECT_TRUE(plan_promotions(tree, waiters, policy).empty());
	EXPECT_EQ(tree[0].confirmed, 7);
}

TEST(Promotion, SkipUnfitLetsSmallerGroupsPass)
{
	std::vector<PoolCounts> tree{pool(1, 0, 10, 7, 0, 6)};
	std::vector<Waiter> waiters{{11, 1, 4}, {12, 1, 1}, {13, 1, 1}};
	PromotionPolicy policy;
	policy.skip_unfit = true;
	EXPECT_EQ(ids(plan_promotions(tree, waiters, policy)), (std::vector<int64_t>{12, 13}));
	EXPECT_EQ(tree[0].confirmed, 9);
	EXPECT_EQ(tree[0].waitlisted, 4);
}

TEST(Promotion, GroupIsPromotedWholeOrNotAtAll)
{
	std::vector<PoolCounts> tree{pool(1, 0, 10, 5, 0, 6)};
	std::vector<Waiter> waiters{{11, 1, 6}};
	EXPECT_TRUE(plan_promotions(tree, waiters, {}).empty());
	tree[0].confirmed = 4;
	EXPECT_EQ(ids(plan_promotions(tree, waiters, {})), (std::vector<int64_t>{11}));
	EXPECT_EQ(tree[0].confirmed, 10);
	EXPECT_EQ(tree[0].waitlisted, 0);
}

TEST(Promotion, MaxCountLimits)
{
	std::vector<PoolCounts> tree{pool(1, 0, 10, 0, 0, 3)};
	std::vector<Waiter> waiters{{11, 1, 1}, {12, 1, 1}, {13, 1, 1}};
	PromotionPolicy policy;
	policy.max_count = 2;
	EXPECT_EQ(ids(plan_promotions(tree, waiters, policy)), (std::vector<int64_t>{11, 12}));
}

TEST(Promotion, ManualPromotionOfOneEntryChecksCapacity)
{
	std::vector<PoolCounts> tree{pool(1, 0, 10, 8, 0, 5)};
	std::vector<Waiter> waiters{{11, 1, 3}, {12, 1, 2}};
	PromotionPolicy policy;
	policy.only_booking = 12;
	EXPECT_EQ(ids(plan_promotions(tree, waiters, policy)), (std::vector<int64_t>{12}));
	policy.only_booking = 11;
	EXPECT_TRUE(plan_promotions(tree, waiters, policy).empty());
}

TEST(Promotion, AncestorRoomIsChecked)
{
	// Child pool 2 has room, its parent does not.
	std::vector<PoolCounts> tree{pool(1, 0, 10, 9, 0, 2), pool(2, 1, 5, 0, 0, 2)};
	std::vector<Waiter> waiters{{11, 2, 2}};
	EXPECT_TRUE(plan_promotions(tree, waiters, {}).empty());
	tree[0].confirmed = 8;
	EXPECT_EQ(ids(plan_promotions(tree, waiters, {})), (std::vector<int64_t>{11}));
	EXPECT_EQ(tree[0].confirmed, 10);
	EXPECT_EQ(tree[1].confirmed, 2);
	EXPECT_EQ(tree[0].waitlisted, 0);
	EXPECT_EQ(tree[1].waitlisted, 0);
}

TEST(Promotion, AutomaticSkipsPoolsWithoutAutoPromote)
{
	std::vector<PoolCounts> tree{pool(1, 0, 10, 0, 0, 1)};
	tree[0].auto_promote = false;
	std::vector<Waiter> waiters{{11, 1, 1}};
	PromotionPolicy policy;
	policy.automatic = true;
	EXPECT_TRUE(plan_promotions(tree, waiters, policy).empty());
	policy.automatic = false;
	EXPECT_EQ(ids(plan_promotions(tree, waiters, policy)), (std::vector<int64_t>{11}));
}

TEST(Promotion, BlockedPoolDoesNotBlockItsSibling)
{
	std::vector<PoolCounts> tree{pool(1, 0, 10, 5, 0, 4), pool(2, 1, 2, 2, 0, 3), pool(3, 1, 5, 0, 0, 1)};
	std::vector<Waiter> waiters{{11, 2, 3}, {12, 3, 1}};
	EXPECT_EQ(ids(plan_promotions(tree, waiters, {})), (std::vector<int64_t>{12}));
}

TEST(Promotion, AGroupLargerThanTheCapacityDoesNotBlockTheList)
{
	// A group of 4 waits in a pool of 3: the 1 behind it goes.
	std::vector<PoolCounts> tree{pool(1, 0, 3, 0, 0, 5)};
	std::vector<Waiter> waiters{{11, 1, 4}, {12, 1, 1}};
	EXPECT_EQ(ids(plan_promotions(tree, waiters, {})), (std::vector<int64_t>{12}));
	// Also when an ancestor is the smaller pool.
	std::vector<PoolCounts> nested{pool(1, 0, 3, 0, 0, 5), pool(2, 1, 10, 0, 0, 5)};
	EXPECT_EQ(ids(plan_promotions(nested, {{11, 2, 4}, {12, 2, 1}}, {})), (std::vector<int64_t>{12}));
}

TEST(Promotion, AGroupLargerThanTheCapacityIsPromotedWhenItIsRaised)
{
	std::vector<PoolCounts> tree{pool(1, 0, 3, 1, 0, 4)};
	std::vector<Waiter> waiters{{11, 1, 4}};
	EXPECT_TRUE(plan_promotions(tree, waiters, {}).empty());
	tree[0].capacity = 4;  // fits the capacity now, not the free spots: it heads the list
	std::vector<Waiter> behind{{11, 1, 4}, {13, 1, 1}};
	tree[0].waitlisted = 5;
	EXPECT_TRUE(plan_promotions(tree, behind, {}).empty());
	tree[0].capacity = 5;
	EXPECT_EQ(ids(plan_promotions(tree, behind, {})), (std::vector<int64_t>{11}));
	EXPECT_EQ(tree[0].confirmed, 5);
	EXPECT_EQ(tree[0].waitlisted, 1);
}

TEST(Promotion, WaiterOfUnknownPoolIsIgnored)
{
	std::vector<PoolCounts> tree{pool(1, 0, 10)};
	std::vector<Waiter> waiters{{11, 7, 1}};
	EXPECT_TRUE(plan_promotions(tree, waiters, {}).empty());
}

}  // namespace
}  // namespace booking::core
