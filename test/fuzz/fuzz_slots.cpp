// libFuzzer target: the overlap sweep of appointment slots, core::max_overlap
// and core::slot_free.
//
// Arbitrary half-open ranges (empty, reversed, back to back, nested, at the
// ends of int64) and windows; checked against src/core/slots.hpp:
//   - max_overlap equals a brute-force count: the most ranges that contain
//     one instant t of the window (start <= t < end), trying every instant
//     where that count can change;
//   - it is between 0 and the number of ranges and does not depend on the
//     order of the ranges;
//   - slot_free(ranges, window, capacity) is exactly max_overlap < capacity.
#include <fuzzer/FuzzedDataProvider.h>

#include <algorithm>
#include <climits>
#include <vector>

#include "core/slots.hpp"
#include "property.hpp"

namespace core = booking::core;

namespace {

// A time in microseconds: small numbers (so ranges collide), times around
// real dates, or the ends of int64.
int64_t
instant(FuzzedDataProvider &in, int scale)
{
	static const int64_t anchors[] = {INT64_MIN, -1000000000000000, 0, 849916800000000 /* 2026-12-01 */,
									  1000000000000000, INT64_MAX};
	switch (scale) {
	case 0:
		return in.ConsumeIntegralInRange<int64_t>(-3, 40);
	case 1: {
		int64_t a = in.PickValueInArray(anchors);
		int64_t d = in.ConsumeIntegralInRange<int64_t>(-20, 20);
		if ((d > 0 && a > INT64_MAX - d) || (d < 0 && a < INT64_MIN - d))
			return a;
		return a + d;
	}
	default:
		return in.ConsumeIntegral<int64_t>();
	}
}

// Brute force: the most ranges containing one instant of window.
int64_t
brute_force(const std::vector<core::Range> &ranges, core::Range window)
{
	if (window.start >= window.end)
		return 0;
	// The count only rises at a range's start, so the busiest instant is the
	// window's start or a start inside the window.
	std::vector<int64_t> instants{window.start};
	for (const core::Range &r : ranges)
		if (r.start > window.start && r.start < window.end)
			instants.push_back(r.start);
	int64_t best = 0;
	for (int64_t t : instants) {
		int64_t n = 0;
		for (const core::Range &r : ranges)
			n += r.start <= t && t < r.end;
		best = std::max(best, n);
	}
	return best;
}

}  // namespace

extern "C" int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	FuzzedDataProvider in(data, size);
	int scale = in.ConsumeIntegralInRange<int>(0, 3) == 3 ? in.ConsumeIntegralInRange<int>(1, 2) : 0;

	core::Range window{instant(in, scale), 0};
	window.end = in.ConsumeIntegralInRange<int>(0, 9) == 0 ? instant(in, scale)
					 : window.start > INT64_MAX - 30 ? INT64_MAX
													 : window.start + in.ConsumeIntegralInRange<int64_t>(1, 30);

	std::vector<core::Range> ranges;
	std::size_t n = in.ConsumeIntegralInRange<std::size_t>(0, 80);
	for (std::size_t i = 0; i < n && in.remaining_bytes() > 0; i++) {
		core::Range r;
		r.start = instant(in, scale);
		switch (in.ConsumeIntegralInRange<int>(0, 9)) {
		case 0:
			r.end = instant(in, scale);	 // anything, also empty or reversed
			break;
		case 1:
			r.end = ranges.empty() ? r.start : ranges.back().start;	 // back to back with the previous one
			std::swap(r.start, r.end);
			break;
		default:
			r.end = r.start > INT64_MAX - 20 ? INT64_MAX : r.start + in.ConsumeIntegralInRange<int64_t>(1, 20);
			break;
		}
		ranges.push_back(r);
	}

	int64_t got = core::max_overlap(ranges, window);
	int64_t want = brute_force(ranges, window);
	PROPERTY(got == want, "max_overlap of %zu ranges in [%lld, %lld) is %lld, brute force says %lld", ranges.size(),
			 (long long) window.start, (long long) window.end, (long long) got, (long long) want);
	PROPERTY(got >= 0 && got <= int64_t(ranges.size()), "max_overlap %lld of %zu ranges", (long long) got,
			 ranges.size());

	std::vector<core::Range> reversed(ranges.rbegin(), ranges.rend());
	int64_t again = core::max_overlap(reversed, window);
	PROPERTY(again == got, "max_overlap of the reversed ranges is %lld, not %lld", (long long) again,
			 (long long) got);

	int64_t capacities[] = {in.ConsumeIntegral<int64_t>(), want - 1, want, want + 1, 0, 1, INT64_MAX};
	for (int64_t capacity : capacities) {
		bool free = core::slot_free(ranges, window, capacity);
		PROPERTY(free == (want < capacity), "slot_free(capacity %lld) is %d with %lld overlapping",
				 (long long) capacity, free, (long long) want);
	}
	return 0;
}
