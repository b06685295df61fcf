// Slot bookings' state changes, called by bookings.cpp once it knows a
// booking's kind. Lock order: the resource row, then the booking row (the
// same order reserve_slot takes).
#pragma once

#include "seats.hpp"
#include "store.hpp"

#include <optional>
#include <string>

namespace booking::slots {

struct SlotOutcome {
	std::optional<int64_t> booking_id;
	core::Status status;
	std::optional<TimestampTz> held_until;
	bool repeat = false;  // an idempotent repeat: nothing happened
};

// Hold [starts, ends) on a resource for holder, as reserve_slot does
// without a payment reference or idempotency key: held (bought: confirmed,
// when held_until is nullopt), or conflict.
// Inside an Spi scope.
SlotOutcome
reserve(int64_t resource_id, TimestampTz starts, TimestampTz ends, const std::string &holder,
		std::optional<TimestampTz> held_until,
		TimestampTz now);

// confirm for a slot booking (check_holder false for a payment webhook).
core::Status
confirm(const store::Booking &found, const std::optional<std::string> &holder, bool check_holder,
		const std::optional<std::string> &payment_ref, TimestampTz now);

// release (check_holder) or cancel for a slot booking.
seats::Released
release(const store::Booking &found, const std::optional<std::string> &holder, bool check_holder, TimestampTz now);

// extend_hold for a slot booking.
seats::Extended
extend(const store::Booking &found, const std::optional<std::string> &holder, TimestampTz held_until,
	   TimestampTz now);

// Mark at most limit lapsed slot holds expired; with skip_locked, a hold
// whose resource another transaction locks is skipped.
int64_t
expire_lapsed(TimestampTz now, int64_t limit, bool skip_locked);

}  // namespace booking::slots
