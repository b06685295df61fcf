// The fast buy (src/fastbuy.cpp): decrement_ticket's take from a pool whose
// row alone can answer, without locking the pool's chain.
#pragma once

#include "core/status.hpp"
#include "pg/spi.hpp"
#include "store.hpp"

#include <optional>
#include <string>

namespace booking::fastbuy {

// What a take of tickets answers (booking.ticket_result).
struct TicketOutcome {
	std::optional<int64_t> booking_id;
	core::Status status;  // for an idempotent repeat, the booking's current status
	int32_t remaining;
	std::optional<TimestampTz> held_until;
	bool repeat = false;  // an idempotent repeat: nothing happened
};

// The status of a take that went through.
inline core::Status
taken_status(const std::optional<TimestampTz> &held_until)
{
	return held_until ? core::Status::Held : core::Status::Confirmed;
}

// Take quantity spots from pool_id, all or nothing, where the pool row
// needs nothing settled (store::needs_no_settling): answer sold out from
// the row (or from this backend's memory of it), or take in one write of
// the row or of a shard. nullopt when only the general path can answer
// (keyed: a buy with an idempotency key always goes there); peek then holds
// the row as read. spi is connected only when a statement runs.
std::optional<TicketOutcome>
buy(pg::LazySpi &spi, int64_t pool_id, int32_t quantity, const std::optional<std::string> &holder,
	std::optional<TimestampTz> held_until, bool keyed, TimestampTz now, store::Peek &peek);

}  // namespace booking::fastbuy
