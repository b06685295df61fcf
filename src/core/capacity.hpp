// Capacity arithmetic of pools and their ancestors, and the waitlist
// promotion plan. Pure C++: the callers lock the rows, read the counters,
// ask these functions what to do, and write the answer back.
#pragma once


#include <cstdint>
#include <optional>
#include <vector>

namespace booking::core {

// Counters of one pool, in spots, including its descendant pools.
struct PoolCounts {
	int64_t pool_id = 0;
	int64_t parent_id = 0;	// 0: a root pool
	int32_t capacity = 0;
	int32_t confirmed = 0;
	int32_t held = 0;  // bookings whose row says held (lapsed ones are swept first)
	int32_t waitlisted = 0;
	bool auto_promote = true;
};

// Spots still free in one pool: capacity - confirmed - held.
int64_t
available(const PoolCounts &pool) noexcept;

// The take rule, written once. A take of spots fits in free spots when
// there are at least as many, counted in int64 so that no sum of int4
// counters overflows. judge_take applies it to every pool of a locked
// chain; the fast buy to the one row it takes from without locking the
// chain (judge_row for a pool row, room_for for a shard's free budget).
// The statements that stand in for the fast buy's direct writes
// (take_root_sql, take_shard_sql in src/fastbuy.cpp) say the same in their
// WHERE (test/sql/take_rule.sql compares them), and test/fuzz/fuzz_take.cpp
// checks that the fast buy and judge_take agree.
constexpr bool
room_for(int64_t free, int64_t spots) noexcept
{
	return free >= spots;
}

// A pool row as the fast buy reads or writes it, without its chain locked.
struct PoolRow {
	bool root = true;        // no parent: no ancestor the take must fit in too
	bool capped = false;     // max_per_holder is set: the holder's spots must be counted
	int64_t waitlisted = 0;  // spots waiting in the pool and below
	bool lapsed = false;     // next_expiry <= now: a hold of the tree may have lapsed
	// Spots the row itself can give: capacity - confirmed - held - the
	// budgets handed to shards (a sharded root's; theirs are the shards').
	int64_t free = 0;
};

// Whether a take from the row needs nothing settled first: a root, no cap,
// nobody waiting (free spots are the list's) and no hold lapsed (its spots
// come back first, and the list goes first). Only then may the fast buy
// decide alone: judge_take on the locked chain would not refuse what it
// takes, nor take what it answers sold out when the row knows every spot.
constexpr bool
settles_nothing(const PoolRow &row) noexcept
{
	return row.root && !row.capped && row.waitlisted == 0 && !row.lapsed;
}

// What the fast buy makes of a row: Settle when settles_nothing() is false
// (the general path locks, settles and asks judge_take), else Take when the
// spots fit the row's free spots, else SoldOut.
enum class RowVerdict { Take, SoldOut, Settle };

constexpr RowVerdict
judge_row(const PoolRow &row, int64_t spots) noexcept
{
	if (!settles_nothing(row))
		return RowVerdict::Settle;
	return room_for(row.free, spots) ? RowVerdict::Take : RowVerdict::SoldOut;
}

// True when spots fit in every pool of chain (a pool and its ancestors).
bool
fits(const std::vector<PoolCounts> &chain, int64_t spots) noexcept;

// The largest group that could ever fit in every pool of chain: the least
// capacity. A waiting group larger than that stays on the list (demand
// stays visible, and raising a capacity promotes it) but blocks nobody:
// strict FIFO holds among the groups that could fit.
int64_t
largest_group(const std::vector<PoolCounts> &chain) noexcept;

// What a take of spots from the last pool of chain comes to.
enum class TakeVerdict { Take, SoldOut, LimitExceeded };

struct TakeRequest {
	int64_t spots = 1;
	std::optional<int32_t> max_per_holder;	// the target pool's cap, if any
	int64_t holder_active = 0;				// the holder's active spots in the pool
	bool own_waiters = false;				// a group that could fit waits in the target pool's own list
};

// Decide a take: the holder's limit first, then the waitlist (nobody
// overtakes it), then room in every pool of the chain.
TakeVerdict
judge_take(const std::vector<PoolCounts> &chain, const TakeRequest &request) noexcept;

// What a registration comes to.
enum class RegisterVerdict { Confirm, Waitlist, LimitExceeded, SoldOut };

// A waitlist counter (int4) may reach this with groups larger than a
// capacity; the upper half of its range is kept for groups that could fit.
constexpr int64_t oversized_waitlist_ceiling = INT32_MAX / 2;

// Decide a registration: confirmed when the group fits and nobody who could
// fit waits in the pool, else waitlisted, also a group larger than the
// capacity of a pool of the chain (see largest_group). sold_out only for a
// group that would overflow a waitlist counter (or, larger than a capacity,
// take it past oversized_waitlist_ceiling).
RegisterVerdict
judge_register(const std::vector<PoolCounts> &chain, const TakeRequest &request) noexcept;

// A waitlisted group, as read from its row.
struct Waiter {
	int64_t booking_id = 0;
	int64_t pool_id = 0;
	int32_t spots = 0;
};

struct PromotionPolicy {
	std::optional<int64_t> max_count;		// at most this many promotions
	std::optional<int64_t> only_booking;	// promote just this entry, out of order
	std::optional<int64_t> only_pool;		// only this pool's own list
	bool skip_unfit = false;				// let smaller groups pass a group that does not fit
	bool automatic = false;					// only pools with auto_promote
};

// The promotion that runs by itself whenever spots come back: every pool
// with auto_promote, strict FIFO, no limit.
inline PromotionPolicy
automatic_promotion()
{
	PromotionPolicy policy;
	policy.automatic = true;
	return policy;
}

// Choose which waiters to confirm. tree holds every pool the waiters' chains
// touch; waiters are in FIFO order (ascending booking id). Within a pool
// nobody overtakes a group that does not fit unless policy.skip_unfit; a
// group larger than a capacity of its chain is passed over, never blocks. The
// chosen groups are applied to tree's counters (waitlisted -> confirmed) so
// the caller can write them back; the result lists them in promotion order.
std::vector<Waiter>
plan_promotions(std::vector<PoolCounts> &tree, const std::vector<Waiter> &waiters, const PromotionPolicy &policy);

}  // namespace booking::core
