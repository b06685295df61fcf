// The overlap sweep: half-open ranges, capacity > 1, clipping to the window.
#include "core/slots.hpp"

#include <gtest/gtest.h>

namespace booking::core {
namespace {

TEST(Slots, EmptyResourceIsFree)
{
	EXPECT_EQ(max_overlap({}, {10, 20}), 0);
	EXPECT_TRUE(slot_free({}, {10, 20}, 1));
}

TEST(Slots, BackToBackRangesDoNotOverlap)
{
	EXPECT_EQ(max_overlap({{0, 10}, {20, 30}}, {10, 20}), 0);
	EXPECT_TRUE(slot_free({{0, 10}, {20, 30}}, {10, 20}, 1));
	EXPECT_EQ(max_overlap({{0, 10}, {10, 20}}, {0, 20}), 1);
}

TEST(Slots, OneMicrosecondOfOverlapIsAConflict)
{
	EXPECT_FALSE(slot_free({{0, 11}}, {10, 20}, 1));
	EXPECT_FALSE(slot_free({{19, 40}}, {10, 20}, 1));
	EXPECT_FALSE(slot_free({{12, 13}}, {10, 20}, 1));
	EXPECT_FALSE(slot_free({{0, 100}}, {10, 20}, 1));
}

TEST(Slots, CapacityCountsTheBusiestInstantNotTheTotal)
{
	// Two bookings in the window but never at the same time: a third fits at capacity 2.
	std::vector<Range> two_apart{{10, 14}, {16, 20}};
	EXPECT_EQ(max_overlap(two_apart, {10, 20}), 1);
	EXPECT_TRUE(slot_free(two_apart, {10, 20}, 2));
	// Two at once somewhere: full at capacity 2, free at 3.
	std::vector<Range> two_together{{10, 15}, {12, 20}};
	EXPECT_EQ(max_overlap(two_together, {10, 20}), 2);
	EXPECT_FALSE(slot_free(two_together, {10, 20}, 2));
	EXPECT_TRUE(slot_free(two_together, {10, 20}, 3));
}

TEST(Slots, OverlapOutsideTheWindowDoesNotCount)
{
	// Three overlap at 5, outside [10, 20); inside only one at a time.
	std::vector<Range> ranges{{0, 11}, {2, 8}, {4, 9}, {15, 25}};
	EXPECT_EQ(max_overlap(ranges, {10, 20}), 1);
	EXPECT_EQ(max_overlap(ranges, {0, 20}), 3);
}

TEST(Slots, ManyEqualRanges)
{
	std::vector<Range> ranges(50, Range{0, 60});
	EXPECT_EQ(max_overlap(ranges, {30, 31}), 50);
	EXPECT_TRUE(slot_free(ranges, {30, 31}, 51));
	EXPECT_FALSE(slot_free(ranges, {30, 31}, 50));
}

TEST(Slots, EmptyOrInvertedRangesAreIgnored)
{
	EXPECT_EQ(max_overlap({{15, 15}, {18, 12}}, {10, 20}), 0);
}

}  // namespace
}  // namespace booking::core
