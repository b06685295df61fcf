#include "core/slots.hpp"

#include <algorithm>
#include <utility>

#include "core/assert_pure.hpp"

namespace booking::core {

int64_t
max_overlap(const std::vector<Range> &ranges, Range window)
{
	// Events clipped to the window: +1 where a range starts, -1 where it ends.
	std::vector<std::pair<int64_t, int>> events;
	events.reserve(ranges.size() * 2);
	for (const Range &r : ranges) {
		int64_t start = std::max(r.start, window.start);
		int64_t end = std::min(r.end, window.end);
		if (start >= end)
			continue;  // outside the window, or empty
		events.emplace_back(start, +1);
		events.emplace_back(end, -1);
	}
	// At one instant, ends come before starts: [a, t) and [t, b) never overlap.
	std::sort(events.begin(), events.end());
	int64_t open = 0, busiest = 0;
	for (const auto &e : events) {
		open += e.second;
		busiest = std::max(busiest, open);
	}
	return busiest;
}

bool
slot_free(const std::vector<Range> &ranges, Range window, int64_t capacity)
{
	return max_overlap(ranges, window) < capacity;
}

}  // namespace booking::core
