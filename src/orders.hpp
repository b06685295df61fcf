// Orders (1.6), for confirm_payment: see orders.cpp.
#pragma once

#include "core/status.hpp"
#include "pg/postgres.hpp"

#include <optional>
#include <string>
#include <utility>

namespace booking::orders {

// confirm_payment of an order: the order carrying payment_ref confirmed as
// one (a late payment only if every item is still free, else expired), as
// (order id, status); nullopt when no order carries it. Inside an Spi scope.
std::optional<std::pair<int64_t, core::Status>>
confirm_by_payment_ref(const std::string &payment_ref, TimestampTz now);

}  // namespace booking::orders
