// libFuzzer target: the capacity arithmetic and the waitlist promotion plan
// of src/core/capacity.hpp (available, fits, judge_take, judge_register,
// plan_promotions).
//
// Most inputs build a pool tree the database can hold: ids ascending from
// parent to child, counters that include descendants and stay within
// capacity (what booking.check() verifies), waiters in FIFO (booking id) order whose
// spots add up to the waitlisted counters, and any promotion policy. Checked:
//   - judge_take / judge_register give the documented verdict (holder limit
//     first, then the waitlist, then room in every pool of the chain; a
//     group larger than a capacity is waitlisted, one that would overflow a
//     waitlist counter, or larger than a capacity take one past half its
//     range, is sold_out), and a take or confirmation always fits;
//   - largest_group is the least capacity of the chain;
//   - plan_promotions returns waiters of the input, in FIFO order, each at
//     most once, within max_count, only_booking, only_pool and auto_promote;
//     never a group larger than a capacity of its chain, which never blocks
//     the groups behind it (they are checked as if it were not there);
//     never more than the
//     free capacity of any pool; the counters it leaves are exactly the old
//     ones plus the promoted groups (waitlisted -> confirmed) along each
//     chain; strict FIFO within each pool's own list unless skip_unfit; and
//     it stops only for a reason: every eligible waiter it left behind (the
//     first of each pool's list without skip_unfit) does not fit afterwards,
//     unless max_count cut the plan short.
// The rest are arbitrary trees (missing parents, cycles, duplicate ids,
// oversold counters), where it must still terminate, not crash, and keep
// the properties that do not depend on a well-formed tree.
#include <fuzzer/FuzzedDataProvider.h>

#include <algorithm>
#include <climits>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "core/capacity.hpp"
#include "property.hpp"

namespace core = booking::core;

namespace {

struct Case {
	std::vector<core::PoolCounts> tree;
	std::vector<core::Waiter> waiters;
	bool well_formed = true;
};

// A tree as the database holds it.
Case
well_formed_tree(FuzzedDataProvider &in)
{
	Case c;
	static const int64_t scales[] = {3, 12, 1000, 1 << 24};
	int64_t scale = in.PickValueInArray(scales);
	int n = in.ConsumeIntegralInRange<int>(1, 8);
	std::vector<int> parent(std::size_t(n), -1);
	std::size_t count = std::size_t(n);
	std::vector<int64_t> own_confirmed(count, 0), own_held(count, 0), waiting(count, 0);
	int64_t id = in.ConsumeIntegralInRange<int64_t>(1, 1000);
	for (int k = 0; k < n; k++) {
		core::PoolCounts p;
		p.pool_id = id;
		id += in.ConsumeIntegralInRange<int64_t>(1, 4);
		if (k > 0)
			parent[std::size_t(k)] = in.ConsumeIntegralInRange<int>(0, k - 1);
		p.parent_id = k > 0 ? c.tree[std::size_t(parent[std::size_t(k)])].pool_id : 0;
		p.auto_promote = in.ConsumeIntegralInRange<int>(0, 4) != 0;
		own_confirmed[std::size_t(k)] = in.ConsumeIntegralInRange<int64_t>(0, scale);
		own_held[std::size_t(k)] = in.ConsumeBool() ? 0 : in.ConsumeIntegralInRange<int64_t>(0, scale);
		c.tree.push_back(p);
	}
	int64_t booking_id = in.ConsumeIntegralInRange<int64_t>(1, 100);
	int m = in.ConsumeIntegralInRange<int>(0, 24);
	for (int j = 0; j < m && in.remaining_bytes() > 0; j++) {
		core::Waiter w;
		w.booking_id = booking_id;
		booking_id += in.ConsumeIntegralInRange<int64_t>(1, 3);
		int k = in.ConsumeIntegralInRange<int>(0, n - 1);
		w.pool_id = c.tree[std::size_t(k)].pool_id;
		w.spots = int32_t(in.ConsumeBool() ? in.ConsumeIntegralInRange<int64_t>(1, 3)
										   : in.ConsumeIntegralInRange<int64_t>(1, scale));
		waiting[std::size_t(k)] += w.spots;
		c.waiters.push_back(w);
	}
	// Counters include descendants: add each pool's own numbers to its chain.
	std::vector<int64_t> confirmed(std::size_t(n), 0), held(std::size_t(n), 0), waitlisted(std::size_t(n), 0);
	for (int k = 0; k < n; k++)
		for (int a = k; a >= 0; a = parent[std::size_t(a)]) {
			confirmed[std::size_t(a)] += own_confirmed[std::size_t(k)];
			held[std::size_t(a)] += own_held[std::size_t(k)];
			waitlisted[std::size_t(a)] += waiting[std::size_t(k)];
		}
	for (int k = 0; k < n; k++) {
		core::PoolCounts &p = c.tree[std::size_t(k)];
		p.confirmed = int32_t(confirmed[std::size_t(k)]);
		p.held = int32_t(held[std::size_t(k)]);
		p.waitlisted = int32_t(waitlisted[std::size_t(k)]);
		int64_t slack;
		switch (in.ConsumeIntegralInRange<int>(0, 7)) {
		case 0:
			slack = 0;
			break;
		case 1:
			slack = INT32_MAX;
			break;
		default:
			slack = in.ConsumeIntegralInRange<int64_t>(0, 2 * scale);
			break;
		}
		p.capacity = int32_t(std::min<int64_t>(INT32_MAX, confirmed[std::size_t(k)] + held[std::size_t(k)] + slack));
	}
	// The database reads the tree in pool_id order; the plan must not care.
	if (in.ConsumeIntegralInRange<int>(0, 3) == 0)
		for (std::size_t i = c.tree.size(); i > 1; i--)
			std::swap(c.tree[i - 1], c.tree[in.ConsumeIntegralInRange<std::size_t>(0, i - 1)]);
	return c;
}

// Anything, within the value ranges of the columns.
Case
arbitrary_tree(FuzzedDataProvider &in)
{
	Case c;
	c.well_formed = false;
	int n = in.ConsumeIntegralInRange<int>(0, 8);
	for (int k = 0; k < n; k++) {
		core::PoolCounts p;
		p.pool_id = in.ConsumeIntegralInRange<int64_t>(0, 9);
		p.parent_id = in.ConsumeIntegralInRange<int64_t>(0, 10);
		p.capacity = in.ConsumeBool() ? in.ConsumeIntegralInRange<int32_t>(0, 20) : in.ConsumeIntegral<int32_t>();
		p.capacity = std::max(p.capacity, 0);
		p.confirmed = in.ConsumeIntegralInRange<int32_t>(0, in.ConsumeBool() ? 20 : INT32_MAX);
		p.held = in.ConsumeIntegralInRange<int32_t>(0, in.ConsumeBool() ? 20 : INT32_MAX);
		p.waitlisted = in.ConsumeIntegralInRange<int32_t>(0, in.ConsumeBool() ? 20 : INT32_MAX);
		p.auto_promote = in.ConsumeBool();
		c.tree.push_back(p);
	}
	int64_t booking_id = in.ConsumeIntegralInRange<int64_t>(1, 100);
	int m = in.ConsumeIntegralInRange<int>(0, 16);
	for (int j = 0; j < m && in.remaining_bytes() > 0; j++) {
		core::Waiter w;
		w.booking_id = booking_id++;
		w.pool_id = in.ConsumeIntegralInRange<int64_t>(0, 10);
		w.spots = in.ConsumeBool() ? in.ConsumeIntegralInRange<int32_t>(1, 20) : in.ConsumeIntegralInRange<int32_t>(1, INT32_MAX);
		c.waiters.push_back(w);
	}
	return c;
}

// The chain of pool_id in a well-formed tree, target last.
std::vector<const core::PoolCounts *>
chain_of(const std::vector<core::PoolCounts> &tree, int64_t pool_id)
{
	std::vector<const core::PoolCounts *> chain;
	for (int64_t id = pool_id; id != 0;) {
		auto it = std::find_if(tree.begin(), tree.end(), [id](const core::PoolCounts &p) { return p.pool_id == id; });
		PROPERTY(it != tree.end(), "generator: pool %lld missing", (long long) id);
		chain.push_back(&*it);
		id = it->parent_id;
	}
	std::reverse(chain.begin(), chain.end());
	return chain;
}

std::vector<core::PoolCounts>
copy_chain(const std::vector<const core::PoolCounts *> &chain)
{
	std::vector<core::PoolCounts> out;
	for (const core::PoolCounts *p : chain)
		out.push_back(*p);
	return out;
}

const char *
take_name(core::TakeVerdict v)
{
	switch (v) {
	case core::TakeVerdict::Take:
		return "take";
	case core::TakeVerdict::SoldOut:
		return "sold_out";
	case core::TakeVerdict::LimitExceeded:
		return "limit_exceeded";
	}
	return "?";
}

const char *
register_name(core::RegisterVerdict v)
{
	switch (v) {
	case core::RegisterVerdict::Confirm:
		return "confirm";
	case core::RegisterVerdict::Waitlist:
		return "waitlist";
	case core::RegisterVerdict::SoldOut:
		return "sold_out";
	case core::RegisterVerdict::LimitExceeded:
		return "limit_exceeded";
	}
	return "?";
}

// judge_take and judge_register on the chain of one pool of the tree.
void
check_judges(FuzzedDataProvider &in, const Case &c)
{
	std::vector<core::PoolCounts> chain;
	if (c.well_formed && !c.tree.empty() && in.ConsumeIntegralInRange<int>(0, 9) != 0) {
		const core::PoolCounts &target = c.tree[in.ConsumeIntegralInRange<std::size_t>(0, c.tree.size() - 1)];
		chain = copy_chain(chain_of(c.tree, target.pool_id));
	} else if (!c.well_formed) {
		chain = c.tree;
	}
	core::TakeRequest request;
	request.spots = in.ConsumeBool() ? in.ConsumeIntegralInRange<int64_t>(1, 30)
									 : in.ConsumeIntegralInRange<int64_t>(1, INT32_MAX);	// int4 quantity
	if (in.ConsumeBool())
		request.max_per_holder =
			in.ConsumeBool() ? in.ConsumeIntegralInRange<int32_t>(1, 30) : in.ConsumeIntegral<int32_t>();
	// The holder's active spots: a sum of int4 spots of bookings counted in
	// int4 counters (confirmed, held, waitlisted).
	request.holder_active = in.ConsumeBool() ? in.ConsumeIntegralInRange<int64_t>(0, 30)
											 : in.ConsumeIntegralInRange<int64_t>(0, 3 * int64_t(INT32_MAX));
	request.own_waiters = in.ConsumeBool();

	bool over_limit = request.max_per_holder && request.holder_active + request.spots > *request.max_per_holder;
	bool room = true, overflow = false;
	int64_t least = INT64_MAX;
	for (const core::PoolCounts &p : chain) {
		int64_t free = int64_t(p.capacity) - p.confirmed - p.held;
		PROPERTY(core::available(p) == free, "available(pool %lld) is %lld, not %lld", (long long) p.pool_id,
				 (long long) core::available(p), (long long) free);
		room = room && free >= request.spots;
		least = std::min<int64_t>(least, p.capacity);
	}
	// A group larger than a capacity may fill a waitlist counter only up to
	// oversized_waitlist_ceiling, the others up to INT32_MAX.
	int64_t ceiling = request.spots > least ? core::oversized_waitlist_ceiling : INT32_MAX;
	for (const core::PoolCounts &p : chain)
		overflow = overflow || int64_t(p.waitlisted) + request.spots > ceiling;
	PROPERTY(core::fits(chain, request.spots) == room, "fits(%lld) is %d", (long long) request.spots, !room);
	PROPERTY(core::largest_group(chain) == least, "largest_group is %lld, not %lld",
			 (long long) core::largest_group(chain), (long long) least);

	core::TakeVerdict take = core::judge_take(chain, request);
	core::TakeVerdict want_take = over_limit ? core::TakeVerdict::LimitExceeded
								  : chain.empty() || request.own_waiters || !room ? core::TakeVerdict::SoldOut
																				  : core::TakeVerdict::Take;
	PROPERTY(take == want_take, "judge_take(%lld spots, %zu pools, limit %s, active %lld, waiters %d) is %s, not %s",
			 (long long) request.spots, chain.size(), request.max_per_holder ? std::to_string(*request.max_per_holder).c_str() : "none",
			 (long long) request.holder_active, request.own_waiters, take_name(take), take_name(want_take));
	if (take == core::TakeVerdict::Take)
		for (const core::PoolCounts &p : chain)
			PROPERTY(int64_t(p.confirmed) + p.held + request.spots <= p.capacity, "a take oversells pool %lld",
					 (long long) p.pool_id);

	core::RegisterVerdict reg = core::judge_register(chain, request);
	core::RegisterVerdict want_reg = over_limit					  ? core::RegisterVerdict::LimitExceeded
									 : chain.empty() || overflow  ? core::RegisterVerdict::SoldOut
									 : !request.own_waiters && room ? core::RegisterVerdict::Confirm
																	: core::RegisterVerdict::Waitlist;
	PROPERTY(reg == want_reg, "judge_register(%lld spots, %zu pools, limit %s, active %lld, waiters %d) is %s, not %s",
			 (long long) request.spots, chain.size(), request.max_per_holder ? std::to_string(*request.max_per_holder).c_str() : "none",
			 (long long) request.holder_active, request.own_waiters, register_name(reg), register_name(want_reg));
	for (const core::PoolCounts &p : chain) {
		if (reg == core::RegisterVerdict::Confirm)
			PROPERTY(int64_t(p.confirmed) + p.held + request.spots <= p.capacity,
					 "a confirmed registration oversells pool %lld", (long long) p.pool_id);
		if (reg == core::RegisterVerdict::Waitlist)
			PROPERTY(int64_t(p.waitlisted) + request.spots <= (request.spots > p.capacity ? core::oversized_waitlist_ceiling : INT32_MAX),
					 "a group of %lld is waitlisted although pool %lld's waitlist counter (%d) would pass its ceiling",
					 (long long) request.spots, (long long) p.pool_id, p.waitlisted);
	}
}

core::PromotionPolicy
policy_of(FuzzedDataProvider &in, const Case &c)
{
	if (in.ConsumeIntegralInRange<int>(0, 3) == 0)
		return core::automatic_promotion();
	core::PromotionPolicy policy;
	switch (in.ConsumeIntegralInRange<int>(0, 5)) {
	case 0:
		policy.max_count = in.ConsumeIntegralInRange<int64_t>(-1, 4);
		break;
	case 1:
		policy.max_count = in.ConsumeIntegral<int64_t>();
		break;
	default:
		break;
	}
	if (in.ConsumeIntegralInRange<int>(0, 4) == 0)
		policy.only_booking = !c.waiters.empty() && in.ConsumeBool()
								  ? c.waiters[in.ConsumeIntegralInRange<std::size_t>(0, c.waiters.size() - 1)].booking_id
								  : in.ConsumeIntegralInRange<int64_t>(0, 200);
	if (in.ConsumeIntegralInRange<int>(0, 3) == 0)
		policy.only_pool = !c.tree.empty() && in.ConsumeBool()
							   ? c.tree[in.ConsumeIntegralInRange<std::size_t>(0, c.tree.size() - 1)].pool_id
							   : in.ConsumeIntegralInRange<int64_t>(0, 1100);
	policy.skip_unfit = in.ConsumeBool();
	policy.automatic = in.ConsumeIntegralInRange<int>(0, 3) == 0;
	return policy;
}

void
check_promotions(FuzzedDataProvider &in, const Case &c)
{
	core::PromotionPolicy policy = policy_of(in, c);
	std::vector<core::PoolCounts> before = c.tree, after = c.tree;
	std::vector<core::Waiter> promoted = core::plan_promotions(after, c.waiters, policy);

	// Waiters of the input, in FIFO order, each once.
	std::vector<bool> was_promoted(c.waiters.size(), false);
	std::size_t next = 0;
	for (const core::Waiter &w : promoted) {
		while (next < c.waiters.size() && c.waiters[next].booking_id != w.booking_id)
			next++;
		PROPERTY(next < c.waiters.size(), "promoted booking %lld is not a waiter, or out of FIFO order",
				 (long long) w.booking_id);
		const core::Waiter &v = c.waiters[next];
		PROPERTY(v.pool_id == w.pool_id && v.spots == w.spots, "promoted booking %lld changed pool or spots",
				 (long long) w.booking_id);
		was_promoted[next++] = true;
	}
	// The policy's filters.
	if (policy.max_count)
		PROPERTY(int64_t(promoted.size()) <= std::max<int64_t>(*policy.max_count, 0),
				 "%zu promotions with max_count %lld", promoted.size(), (long long) *policy.max_count);
	for (const core::Waiter &w : promoted) {
		if (policy.only_booking)
			PROPERTY(w.booking_id == *policy.only_booking, "promoted %lld, only_booking %lld",
					 (long long) w.booking_id, (long long) *policy.only_booking);
		if (policy.only_pool)
			PROPERTY(w.pool_id == *policy.only_pool, "promoted a waiter of pool %lld, only_pool %lld",
					 (long long) w.pool_id, (long long) *policy.only_pool);
	}
	if (!c.well_formed) {
		// Whatever the tree, a promotion went through pools that had room.
		for (std::size_t i = 0; i < after.size(); i++)
			if (after[i].confirmed != before[i].confirmed)
				PROPERTY(core::available(after[i]) >= 0, "pool %lld oversold by the plan: %lld available",
						 (long long) after[i].pool_id, (long long) core::available(after[i]));
		return;
	}

	// The counters left behind: the old ones plus each promoted group along its chain.
	std::map<int64_t, std::pair<int64_t, int64_t>> moved;	 // pool -> (confirmed +, waitlisted -)
	for (const core::Waiter &w : promoted)
		for (const core::PoolCounts *p : chain_of(before, w.pool_id)) {
			moved[p->pool_id].first += w.spots;
			moved[p->pool_id].second += w.spots;
		}
	for (std::size_t i = 0; i < after.size(); i++) {
		const core::PoolCounts &a = after[i], &b = before[i];
		auto it = moved.find(b.pool_id);
		int64_t plus = it == moved.end() ? 0 : it->second.first;
		PROPERTY(a.pool_id == b.pool_id && a.parent_id == b.parent_id && a.capacity == b.capacity &&
					 a.held == b.held && a.auto_promote == b.auto_promote,
				 "the plan changed more than confirmed and waitlisted of pool %lld", (long long) b.pool_id);
		PROPERTY(int64_t(a.confirmed) == b.confirmed + plus && int64_t(a.waitlisted) == b.waitlisted - plus,
				 "pool %lld: confirmed %d -> %d, waitlisted %d -> %d, but %lld spots were promoted through it",
				 (long long) b.pool_id, b.confirmed, a.confirmed, b.waitlisted, a.waitlisted, (long long) plus);
		// Never more than the free capacity.
		PROPERTY(core::available(a) >= 0 && a.waitlisted >= 0,
				 "pool %lld after the plan: capacity %d, confirmed %d, held %d, waitlisted %d", (long long) a.pool_id,
				 a.capacity, a.confirmed, a.held, a.waitlisted);
	}

	// Who was eligible: passes the policy's filters and fits the capacities of
	// its chain (a larger group waits, passed over, and blocks nobody).
	auto own_pool = [&before](int64_t pool_id) { return chain_of(before, pool_id).back(); };
	auto oversized = [&before](const core::Waiter &w) {
		for (const core::PoolCounts *p : chain_of(before, w.pool_id))
			if (w.spots > p->capacity)
				return true;
		return false;
	};
	auto fits_after = [&after](const core::Waiter &w) {
		for (const core::PoolCounts *p : chain_of(after, w.pool_id))
			if (core::available(*p) < w.spots)
				return false;
		return true;
	};
	auto eligible = [&](const core::Waiter &w) {
		return (!policy.only_booking || w.booking_id == *policy.only_booking) &&
			   (!policy.only_pool || w.pool_id == *policy.only_pool) &&
			   (!policy.automatic || own_pool(w.pool_id)->auto_promote) && !oversized(w);
	};
	for (std::size_t j = 0; j < c.waiters.size(); j++)
		if (was_promoted[j])
			PROPERTY(eligible(c.waiters[j]), "booking %lld was promoted but the policy or its size rules it out",
					 (long long) c.waiters[j].booking_id);

	// max_count ends the plan after its last promotion: waiters behind that
	// one were never looked at.
	std::size_t looked_at = c.waiters.size();
	if (policy.max_count && int64_t(promoted.size()) >= *policy.max_count) {
		looked_at = 0;
		for (std::size_t j = 0; j < c.waiters.size(); j++)
			if (was_promoted[j])
				looked_at = j + 1;
	}
	std::set<int64_t> stopped;	// pools whose list stopped at a group that did not fit
	for (std::size_t j = 0; j < looked_at; j++) {
		const core::Waiter &w = c.waiters[j];
		if (!eligible(w))
			continue;
		if (was_promoted[j]) {
			PROPERTY(policy.skip_unfit || !stopped.count(w.pool_id),
					 "booking %lld of pool %lld overtook a waiter of its pool that was not promoted (FIFO)",
					 (long long) w.booking_id, (long long) w.pool_id);
			continue;
		}
		if (policy.skip_unfit || !stopped.count(w.pool_id))
			PROPERTY(!fits_after(w), "booking %lld (%d spots, pool %lld) was left waiting although it fits",
					 (long long) w.booking_id, w.spots, (long long) w.pool_id);
		stopped.insert(w.pool_id);
	}
}

}  // namespace

extern "C" int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	FuzzedDataProvider in(data, size);
	Case c = in.ConsumeIntegralInRange<int>(0, 4) == 0 ? arbitrary_tree(in) : well_formed_tree(in);
	check_judges(in, c);
	check_promotions(in, c);
	return 0;
}
