// Reading SQL arguments and building composite results for C++ bodies.
#pragma once

#include "pg/spi.hpp"

#include <optional>
#include <string>

namespace booking::pg {

std::optional<int64_t>
arg_int8(FunctionCallInfo fcinfo, int n);
std::optional<int32_t>
arg_int4(FunctionCallInfo fcinfo, int n);
std::optional<bool>
arg_bool(FunctionCallInfo fcinfo, int n);
std::optional<std::string>
arg_text(FunctionCallInfo fcinfo, int n);

// from + the interval argument n, or nullopt when the argument is NULL.
std::optional<TimestampTz>
arg_interval_end(FunctionCallInfo fcinfo, int n, TimestampTz from);

// The function's composite result type built from values, in the caller's
// memory context (call it after the SPI scope has ended).
Datum
composite(FunctionCallInfo fcinfo, std::initializer_list<Param> values);

// A bigint[] Datum.
Datum
int8_array(const std::vector<int64_t> &values);

// Transaction start time: the now() that hold expiry is checked against.
inline TimestampTz
transaction_now()
{
	return GetCurrentTransactionStartTimestamp();
}

}  // namespace booking::pg
