// The one exception type of booking's C++ code, carrying a SQLSTATE.
//
// Pure C++: no PostgreSQL header may be included before or by this file, so
// the core logic that throws it can be unit-tested without a server. The
// boundary (src/pg/boundary.cpp) turns it into ereport(ERROR) with the same
// SQLSTATE, message, detail and hint.
#pragma once

#include <stdexcept>
#include <string>

namespace booking {

// SQLSTATEs of the contract (shared/spec/API.md), plus the few generic ones
// the extension raises itself.
enum class SqlState {
	InvalidParameterValue,	// 22023: bad value of an argument
	NullValueNotAllowed,	// 22004: NULL for a required argument
	NumericOutOfRange,		// 22003: arithmetic would overflow
	NotFound,				// PT404: unknown pool, show, seat, resource or booking
	Forbidden,				// PT403: holder does not match the booking's holder
	StateConflict,			// PT409: the booking's or pool's state forbids the change
	InsufficientPrivilege,	// 42501: a request without the claim that names its holder
	ObjectNotInPrerequisiteState,	// 55000: e.g. stats without shared_preload_libraries
	LockNotAvailable,		// 55P03: a row another open transaction holds, not waited for
	DataCorrupted,			// XX001: a row of the extension's tables it cannot have written
	Internal				// XX000: a bug; never raised for user input
};

// Five-character SQLSTATE code of a SqlState.
const char *
sqlstate_code(SqlState state) noexcept;

// A user-facing error: message names the object and value; detail and hint
// are full sentences or empty.
class Error : public std::runtime_error {
public:
	Error(SqlState state, std::string message, std::string detail = {}, std::string hint = {})
		: std::runtime_error(std::move(message)), state_(state), detail_(std::move(detail)), hint_(std::move(hint))
	{
	}

	SqlState
	state() const noexcept
	{
		return state_;
	}
	const std::string &
	detail() const noexcept
	{
		return detail_;
	}
	const std::string &
	hint() const noexcept
	{
		return hint_;
	}

private:
	SqlState state_;
	std::string detail_;
	std::string hint_;
};

}  // namespace booking
