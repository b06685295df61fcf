// State changes of one booking of any kind, for the calls that change
// several at once (orders). Each locks as its single-booking call does:
// a ticket booking's pool chain, a seat booking's seats, a slot booking's
// resource, then the booking row. Inside an Spi scope.
#pragma once

#include "store.hpp"

#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace booking::bookings {

struct ReleaseOutcome {
	core::Status status;
	int32_t released = 0;
	std::vector<int64_t> promoted;
};

// A booking as last committed; PT404 when unknown.
store::Booking
find(int64_t booking_id);

// release without a holder check: spots, seats or range back once, waiters
// promoted; a lapsed hold is marked expired instead.
ReleaseOutcome
release(const store::Booking &b);

// confirm without a holder check (a late payment confirms if still free).
core::Status
confirm(const store::Booking &b, TimestampTz now);

// extend_hold, as holder (PT403 unless it is the booking's).
std::pair<core::Status, std::optional<TimestampTz>>
extend_any(const store::Booking &found, const std::optional<std::string> &holder, TimestampTz held_until,
		   TimestampTz now);

}  // namespace booking::bookings
