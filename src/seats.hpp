// Seat bookings' state changes, called by bookings.cpp once it knows a
// booking's kind. Lock order: a booking's seats in ascending id order, then
// the booking row (the same order reserve_seats takes).
#pragma once

#include "store.hpp"

#include <optional>
#include <string>
#include <vector>

namespace booking::seats {

struct Reservation {
	std::optional<int64_t> booking_id;
	core::Status status;
	std::optional<TimestampTz> held_until;
	std::vector<int64_t> seat_ids;
	std::vector<int64_t> unavailable;
	bool repeat = false;  // an idempotent repeat: nothing happened
};

// Hold seat_ids (ascending, of show_id) for holder, all or none, as
// reserve_seats does without an idempotency key: held (bought: confirmed,
// when held_until is nullopt), or conflict with the seats someone else has.
// Inside an Spi scope.
Reservation
reserve(int64_t show_id, const std::vector<int64_t> &seat_ids, const std::string &holder,
		std::optional<TimestampTz> held_until,
		TimestampTz now);

// Hold quantity adjacent seats, as reserve_best_available does without an
// idempotency key: held, or sold_out. Inside an Spi scope.
Reservation
reserve_best(int64_t show_id, int32_t quantity, const std::string &holder, const std::optional<std::string> &section,
			 std::optional<TimestampTz> held_until, TimestampTz now);

// Lock seats in ascending id order (so overlapping lockers never
// deadlock), for a caller that goes on to change several bookings' seats.
void
lock_seats(std::vector<int64_t> seat_ids);

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
