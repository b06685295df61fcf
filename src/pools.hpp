// Capacity pools, for the other capabilities (orders).
#pragma once

#include "fastbuy.hpp"

#include <optional>
#include <string>

namespace booking::pools {

// Take quantity spots from pool_id, all or nothing, as decrement_ticket
// does without an idempotency key: held until held_until, or confirmed.
fastbuy::TicketOutcome
take(pg::LazySpi &spi, int64_t pool_id, int32_t quantity, const std::optional<std::string> &holder,
	 std::optional<TimestampTz> held_until, TimestampTz now);

}  // namespace booking::pools
