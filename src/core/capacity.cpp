#include "core/capacity.hpp"

#include <algorithm>
#include <climits>
#include <unordered_map>
#include <unordered_set>
#include "core/assert_pure.hpp"

namespace booking::core {

int64_t
available(const PoolCounts &pool) noexcept
{
	return int64_t(pool.capacity) - pool.confirmed - pool.held;
}

bool
fits(const std::vector<PoolCounts> &chain, int64_t spots) noexcept
{
	return std::all_of(chain.begin(), chain.end(),
					   [spots](const PoolCounts &p) { return room_for(available(p), spots); });
}

int64_t
largest_group(const std::vector<PoolCounts> &chain) noexcept
{
	int64_t least = INT64_MAX;
	for (const PoolCounts &p : chain)
		least = std::min<int64_t>(least, p.capacity);
	return least;
}

TakeVerdict
judge_take(const std::vector<PoolCounts> &chain, const TakeRequest &request) noexcept
{
	if (request.max_per_holder && request.holder_active + request.spots > *request.max_per_holder)
		return TakeVerdict::LimitExceeded;
	// Free spots belong to the waitlist while anyone waits in the pool.
	if (chain.empty() || request.own_waiters)
		return TakeVerdict::SoldOut;
	return fits(chain, request.spots) ? TakeVerdict::Take : TakeVerdict::SoldOut;
}

RegisterVerdict
judge_register(const std::vector<PoolCounts> &chain, const TakeRequest &request) noexcept
{
	if (request.max_per_holder && request.holder_active + request.spots > *request.max_per_holder)
		return RegisterVerdict::LimitExceeded;
	if (chain.empty())
		return RegisterVerdict::SoldOut;
	// The waitlist counters are int4. A group larger than a capacity may use
	// only the lower half of their range, so that no such group (nor any
	// number of them) can leave the groups that could fit without room.
	int64_t ceiling = request.spots > largest_group(chain) ? oversized_waitlist_ceiling : INT32_MAX;
	for (const PoolCounts &p : chain)
		if (int64_t(p.waitlisted) + request.spots > ceiling)
			return RegisterVerdict::SoldOut;
	if (!request.own_waiters && fits(chain, request.spots))
		return RegisterVerdict::Confirm;
	return RegisterVerdict::Waitlist;
}

namespace {

// The chain of pool_id within tree, root first; empty when a pool is missing.
std::vector<PoolCounts *>
chain_of(std::unordered_map<int64_t, PoolCounts *> &by_id, int64_t pool_id)
{
	std::vector<PoolCounts *> chain;
	for (int64_t id = pool_id; id != 0;) {
		auto it = by_id.find(id);
		if (it == by_id.end() || chain.size() > by_id.size())
			return {};
		chain.push_back(it->second);
		id = it->second->parent_id;
	}
	std::reverse(chain.begin(), chain.end());
	return chain;
}

}  // namespace

std::vector<Waiter>
plan_promotions(std::vector<PoolCounts> &tree, const std::vector<Waiter> &waiters, const PromotionPolicy &policy)
{
	std::unordered_map<int64_t, PoolCounts *> by_id;
	for (auto &pool : tree)
		by_id.emplace(pool.pool_id, &pool);

	std::vector<Waiter> promoted;
	std::unordered_set<int64_t> blocked;  // pools whose queue stopped at a group that did not fit
	for (const Waiter &w : waiters) {
		if (policy.max_count && int64_t(promoted.size()) >= *policy.max_count)
			break;
		if (policy.only_booking && w.booking_id != *policy.only_booking)
			continue;
		if (policy.only_pool && w.pool_id != *policy.only_pool)
			continue;
		if (blocked.count(w.pool_id))
			continue;
		auto chain = chain_of(by_id, w.pool_id);
		if (chain.empty() || (policy.automatic && !chain.back()->auto_promote))
			continue;
		// A group larger than a pool of its chain cannot fit until a
		// capacity is raised: it waits, but must not stop the list behind it.
		bool oversized = std::any_of(chain.begin(), chain.end(), [&w](const PoolCounts *p) { return w.spots > p->capacity; });
		if (oversized)
			continue;
		bool room = std::all_of(chain.begin(), chain.end(),
								[&w](const PoolCounts *p) { return room_for(available(*p), w.spots); });
		if (!room) {
			if (!policy.skip_unfit)
				blocked.insert(w.pool_id);
			continue;
		}
		for (PoolCounts *p : chain) {
			p->confirmed += w.spots;
			p->waitlisted -= w.spots;
		}
		promoted.push_back(w);
	}
	return promoted;
}

}  // namespace booking::core
