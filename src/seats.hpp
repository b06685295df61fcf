// Seat bookings' state changes, called by bookings.cpp once it knows a
// booking's kind. Lock order: a booking's seats in ascending id order, then
// the booking row (the same order reserve_seats takes).
#pragma once

#include "store.hpp"

#include <optional>
#include <string>

namespace booking::seats {

// confirm for a seat booking: its status after the call.
core::Status
confirm(const store::Booking &found, const std::optional<std::string> &holder,
		const std::optional<std::string> &payment_ref, TimestampTz now);

struct Released {
	core::Status status;
	int32_t released = 0;  // seats given back
};

// release (check_holder) or cancel for a seat booking.
Released
release(const store::Booking &found, const std::optional<std::string> &holder, bool check_holder, TimestampTz now);

struct Extended {
	core::Status status;
	std::optional<TimestampTz> held_until;
};

// extend_hold for a seat booking.
Extended
extend(const store::Booking &found, const std::optional<std::string> &holder, TimestampTz held_until,
	   TimestampTz now);

// Mark at most limit lapsed seat holds expired and free their seats;
// with skip_locked, a hold whose seats another transaction locks is skipped.
int64_t
expire_lapsed(TimestampTz now, int64_t limit, bool skip_locked);

}  // namespace booking::seats
