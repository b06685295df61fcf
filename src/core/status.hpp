// The statuses of the contract (API.md, Statuses): what a booking row's
// status column holds, and what a call answers. The C++ code compares and
// passes Status; the texts appear only where a row is read or written and
// where a result goes back to SQL, so they stay exactly the contract's.
#pragma once

#include <optional>
#include <string_view>

namespace booking::core {

enum class Status {
	// A booking's state: its row's status column.
	Held,
	Confirmed,
	Waitlisted,
	Released,
	Expired,
	// Outcomes of a call that recorded no booking (booking_id NULL).
	SoldOut,
	Conflict,
	LimitExceeded
};

// The contract's text of a status ("held", "sold_out", ...): a string
// literal, so the fast buy passes it on without building anything.
constexpr const char *
status_text(Status status) noexcept
{
	switch (status) {
	case Status::Held:
		return "held";
	case Status::Confirmed:
		return "confirmed";
	case Status::Waitlisted:
		return "waitlisted";
	case Status::Released:
		return "released";
	case Status::Expired:
		return "expired";
	case Status::SoldOut:
		return "sold_out";
	case Status::Conflict:
		return "conflict";
	case Status::LimitExceeded:
		break;
	}
	return "limit_exceeded";
}

// The booking state a row's status column names; nullopt for any other
// text, an outcome-only status included (no row is written with one).
std::optional<Status>
parse_booking_state(std::string_view text) noexcept;

}  // namespace booking::core
