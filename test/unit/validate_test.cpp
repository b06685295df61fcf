// Argument validation: each bad value raises the contract's SQLSTATE with a
// message naming the argument and value.
#include "core/error.hpp"
#include "core/validate.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>

namespace booking::core {
namespace {

// The SQLSTATE and message of what f throws, or "" when it does not throw.
template <typename F>
std::string
raised(F f)
{
	try {
		f();
	} catch (const Error &e) {
		return std::string(sqlstate_code(e.state())) + ": " + e.what();
	}
	return "";
}

TEST(Validate, NullArgumentIs22004)
{
	EXPECT_EQ(raised([] { require(false, "pool_id"); }), "22004: argument \"pool_id\" must not be NULL");
	EXPECT_EQ(raised([] { require(true, "pool_id"); }), "");
}

TEST(Validate, QuantityMustBePositive)
{
	EXPECT_EQ(raised([] { check_positive(0, "quantity"); }), "22023: quantity must be at least 1, got 0");
	EXPECT_EQ(raised([] { check_positive(-1, "quantity"); }), "22023: quantity must be at least 1, got -1");
	EXPECT_EQ(raised([] { check_positive(INT32_MIN, "spots"); }),
			  "22023: spots must be at least 1, got -2147483648");
	EXPECT_EQ(raised([] { check_positive(1, "quantity"); }), "");
	EXPECT_EQ(raised([] { check_positive(INT32_MAX, "quantity"); }), "");
}

TEST(Validate, CapacityMayBeZeroButNotNegative)
{
	EXPECT_EQ(raised([] { check_capacity(0); }), "");
	EXPECT_EQ(raised([] { check_capacity(-5); }), "22023: capacity must not be negative, got -5");
}

TEST(Validate, ShardsOutOfRange)
{
	EXPECT_EQ(raised([] { check_shards(1); }), "");
	EXPECT_EQ(raised([] { check_shards(0); }), "22023: shards 0 is out of range");
	EXPECT_EQ(raised([] { check_shards(8); }), "");
	EXPECT_EQ(raised([] { check_shards(256); }), "");
	EXPECT_EQ(raised([] { check_shards(257); }), "22023: shards 257 is out of range");
	EXPECT_EQ(raised([] { check_shards(-1); }), "22023: shards -1 is out of range");
}

TEST(Validate, LongTextIsRefused)
{
	EXPECT_EQ(raised([] { check_length(max_key_bytes, max_key_bytes, "holder"); }), "");
	EXPECT_EQ(raised([] { check_length(1 << 20, max_key_bytes, "holder"); }),
			  "22023: holder is 1048576 bytes long, the limit is 256");
}

TEST(Validate, IdListsAreOneDimensionalDistinctAndNotNull)
{
	EXPECT_EQ(raised([] { check_id_list({3, 1, 2}, 1, false, "seat_ids"); }), "");
	EXPECT_EQ(raised([] { check_id_list({}, 0, false, "seat_ids"); }), "22023: seat_ids must not be empty");
	EXPECT_EQ(raised([] { check_id_list({1}, 1, true, "seat_ids"); }), "22023: seat_ids must not contain NULL");
	EXPECT_EQ(raised([] { check_id_list({}, 1, true, "seat_ids"); }), "22023: seat_ids must not contain NULL");
	EXPECT_EQ(raised([] { check_id_list({4, 7, 4}, 1, false, "seat_ids"); }), "22023: seat_ids lists 4 twice");
	EXPECT_EQ(raised([] { check_id_list({1, 2, 3, 4}, 2, false, "seat_ids"); }),
			  "22023: seat_ids must be a one-dimensional array, got 2 dimensions");
	std::vector<int64_t> many(max_seats_per_booking + 1);
	for (std::size_t i = 0; i < many.size(); i++)
		many[i] = int64_t(i);
	EXPECT_EQ(raised([&many] { check_id_list(many, 1, false, "seat_ids"); }),
			  "22023: seat_ids has 10001 elements, the limit is 10000");
}

TEST(Validate, HoldMustEndInTheFuture)
{
	EXPECT_EQ(raised([] { check_hold_end(101, 100, "hold_for"); }), "");
	EXPECT_EQ(raised([] { check_hold_end(100, 100, "hold_for"); }), "22023: hold_for must be a positive interval");
	EXPECT_EQ(raised([] { check_hold_end(50, 100, "hold_for"); }), "22023: hold_for must be a positive interval");
}

TEST(Validate, EveryStateHasItsCode)
{
	EXPECT_STREQ(sqlstate_code(SqlState::NotFound), "PT404");
	EXPECT_STREQ(sqlstate_code(SqlState::Forbidden), "PT403");
	EXPECT_STREQ(sqlstate_code(SqlState::StateConflict), "PT409");
	EXPECT_STREQ(sqlstate_code(SqlState::InsufficientPrivilege), "42501");
	EXPECT_STREQ(sqlstate_code(SqlState::ObjectNotInPrerequisiteState), "55000");
	EXPECT_STREQ(sqlstate_code(SqlState::LockNotAvailable), "55P03");
	EXPECT_STREQ(sqlstate_code(SqlState::Internal), "XX000");
}

TEST(Validate, ErrorKeepsDetailAndHint)
{
	Error e(SqlState::StateConflict, "m", "d.", "h.");
	EXPECT_EQ(e.detail(), "d.");
	EXPECT_EQ(e.hint(), "h.");
}

}  // namespace
}  // namespace booking::core
