// Argument checks shared by every SQL entry point. Each raises booking::Error
// with the contract's SQLSTATE and a message that names the argument and value.
#pragma once


#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace booking::core {

// Longest holder, idempotency key or payment reference accepted, in bytes;
// they are indexed, and an index entry must fit a page.
constexpr std::size_t max_key_bytes = 256;
// Longest pool, show or resource name accepted, in bytes.
constexpr std::size_t max_name_bytes = 1024;

// Raise 22004 when a required argument is NULL.
void
require(bool present, const char *argument);

// Raise 22023 unless value >= 1 (quantity, spots, max_count, ...).
void
check_positive(int64_t value, const char *argument);

// Raise 22023 unless 0 <= capacity.
void
check_capacity(int64_t capacity);

// Most shards a pool may have.
constexpr int64_t max_shards = 256;

// Raise 22023 unless shards is a supported shard count.
void
check_shards(int64_t shards);

// Raise 22023 when a text argument is longer than limit bytes.
void
check_length(std::size_t bytes, std::size_t limit, const char *argument);

// The same for an optional holder, key or payment reference (max_key_bytes).
void
check_key(const std::optional<std::string> &value, const char *argument);

// Most seats one booking may name.
constexpr std::size_t max_seats_per_booking = 10000;

// Raise 22023 unless ids is a one-dimensional, non-empty list of at most
// max_seats_per_booking distinct, non-NULL ids.
void
check_id_list(const std::vector<int64_t> &ids, int ndims, bool has_null, const char *argument);

// Raise 22023 unless a hold of hold_for microseconds (already resolved
// against now) ends in the future.
void
check_hold_end(int64_t held_until_us, int64_t now_us, const char *argument);

}  // namespace booking::core
