// The overlap sweep of appointment slots. Pure C++: the caller locks the
// resource, reads the active bookings that overlap a requested range, and
// asks how many of them overlap at the busiest instant of it.
#pragma once

#include <cstdint>
#include <vector>

namespace booking::core {

// A half-open time range [start, end), in microseconds.
struct Range {
	int64_t start = 0;
	int64_t end = 0;
};

// The largest number of ranges that overlap at one instant of window
// (ranges are half-open: one ending at t and one starting at t do not overlap).
int64_t
max_overlap(const std::vector<Range> &ranges, Range window);

// Whether window can be booked on a resource of capacity: at every instant
// of it fewer than capacity of ranges overlap.
bool
slot_free(const std::vector<Range> &ranges, Range window, int64_t capacity);

}  // namespace booking::core
