// Statuses: the texts are the contract's (API.md, Statuses), and a row's
// status column reads back as the state it was written with.
#include "core/status.hpp"

#include <gtest/gtest.h>

#include <string>

namespace booking::core {
namespace {

TEST(Status, TextsAreTheContracts)
{
	EXPECT_STREQ(status_text(Status::Held), "held");
	EXPECT_STREQ(status_text(Status::Confirmed), "confirmed");
	EXPECT_STREQ(status_text(Status::Waitlisted), "waitlisted");
	EXPECT_STREQ(status_text(Status::Released), "released");
	EXPECT_STREQ(status_text(Status::Expired), "expired");
	EXPECT_STREQ(status_text(Status::SoldOut), "sold_out");
	EXPECT_STREQ(status_text(Status::Conflict), "conflict");
	EXPECT_STREQ(status_text(Status::LimitExceeded), "limit_exceeded");
}

TEST(Status, BookingStatesReadBack)
{
	for (Status s : {Status::Held, Status::Confirmed, Status::Waitlisted, Status::Released, Status::Expired})
		EXPECT_EQ(parse_booking_state(std::string(status_text(s))), s) << status_text(s);
}

// No row is written with an outcome-only status: reading one is a broken row.
TEST(Status, OtherTextsAreNoState)
{
	for (const char *text : {"sold_out", "conflict", "limit_exceeded", "", "Held", "held ", "lost"})
		EXPECT_FALSE(parse_booking_state(text).has_value()) << text;
}

}  // namespace
}  // namespace booking::core
