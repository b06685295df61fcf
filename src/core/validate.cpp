#include "core/validate.hpp"

#include "core/error.hpp"

#include <algorithm>
#include <string>
#include "core/assert_pure.hpp"

namespace booking::core {

void
require(bool present, const char *argument)
{
	if (!present)
		throw Error(SqlState::NullValueNotAllowed, std::string("argument \"") + argument + "\" must not be NULL");
}

void
check_positive(int64_t value, const char *argument)
{
	if (value < 1)
		throw Error(SqlState::InvalidParameterValue,
					std::string(argument) + " must be at least 1, got " + std::to_string(value));
}

void
check_capacity(int64_t capacity)
{
	if (capacity < 0)
		throw Error(SqlState::InvalidParameterValue, "capacity must not be negative, got " + std::to_string(capacity));
}

void
check_shards(int64_t shards)
{
	if (shards < 1 || shards > max_shards)
		throw Error(SqlState::InvalidParameterValue, "shards " + std::to_string(shards) + " is out of range",
					"A pool has from 1 to " + std::to_string(max_shards) + " shards.");
}

void
check_length(std::size_t bytes, std::size_t limit, const char *argument)
{
	if (bytes > limit)
		throw Error(SqlState::InvalidParameterValue,
					std::string(argument) + " is " + std::to_string(bytes) + " bytes long, the limit is " +
						std::to_string(limit));
}

void
check_key(const std::optional<std::string> &value, const char *argument)
{
	if (value)
		check_length(value->size(), max_key_bytes, argument);
}

void
check_id_list(const std::vector<int64_t> &ids, int ndims, bool has_null, const char *argument)
{
	std::string name(argument);
	if (ndims > 1)
		throw Error(SqlState::InvalidParameterValue,
					name + " must be a one-dimensional array, got " + std::to_string(ndims) + " dimensions");
	if (ids.empty() && !has_null)
		throw Error(SqlState::InvalidParameterValue, name + " must not be empty");
	if (has_null)
		throw Error(SqlState::InvalidParameterValue, name + " must not contain NULL");
	if (ids.size() > max_seats_per_booking)
		throw Error(SqlState::InvalidParameterValue, name + " has " + std::to_string(ids.size()) +
														  " elements, the limit is " +
														  std::to_string(max_seats_per_booking));
	std::vector<int64_t> sorted(ids);
	std::sort(sorted.begin(), sorted.end());
	auto dup = std::adjacent_find(sorted.begin(), sorted.end());
	if (dup != sorted.end())
		throw Error(SqlState::InvalidParameterValue, name + " lists " + std::to_string(*dup) + " twice");
}

void
check_hold_end(int64_t held_until_us, int64_t now_us, const char *argument)
{
	if (held_until_us <= now_us)
		throw Error(SqlState::InvalidParameterValue, std::string(argument) + " must be a positive interval");
}

}  // namespace booking::core
