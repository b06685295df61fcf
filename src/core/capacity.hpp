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
