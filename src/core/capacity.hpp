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

// What a take of spots from the last pool of chain comes to.
enum class TakeVerdict { Take, SoldOut, LimitExceeded };

struct TakeRequest {
	int64_t spots = 1;
	std::optional<int32_t> max_per_holder;	// the target pool's cap, if any
	int64_t holder_active = 0;				// the holder's active spots in the pool
	bool own_waiters = false;				// someone waits in the target pool's own list
};

// Decide a take: the holder's limit first, then the waitlist (nobody
// overtakes it), then room in every pool of the chain.
TakeVerdict
judge_take(const std::vector<PoolCounts> &chain, const TakeRequest &request) noexcept;

// What a registration comes to.
enum class RegisterVerdict { Confirm, Waitlist, LimitExceeded, SoldOut };

// Decide a registration: confirmed when the group fits and nobody waits in
// the pool, else waitlisted. A group larger than the capacity of a pool of
// the chain could never be promoted and would block the list behind it
// forever, so it is sold_out instead; so is a group that would overflow a
// waitlist counter.
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
// nobody overtakes a group that does not fit unless policy.skip_unfit. The
// chosen groups are applied to tree's counters (waitlisted -> confirmed) so
// the caller can write them back; the result lists them in promotion order.
std::vector<Waiter>
plan_promotions(std::vector<PoolCounts> &tree, const std::vector<Waiter> &waiters, const PromotionPolicy &policy);

}  // namespace booking::core
