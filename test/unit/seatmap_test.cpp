// Best-available block search: centre preference, orphan avoidance,
// fragmented rows, sold-out rows, row order.
#include "core/seatmap.hpp"

#include <gtest/gtest.h>

#include <string>

namespace booking::core {
namespace {

// A row from a picture: '.' free, 'x' taken, ' ' a gap in the numbering
// (an aisle). Seat ids are 100 * row index + number.
std::vector<Seat>
row(const std::string &section, const std::string &label, const std::string &picture, int64_t base = 0)
{
	std::vector<Seat> seats;
	for (std::size_t i = 0; i < picture.size(); i++) {
		if (picture[i] == ' ')
			continue;
		Seat s;
		s.seat_id = base + int64_t(i) + 1;
		s.section = section;
		s.row_label = label;
		s.number = int32_t(i) + 1;
		s.free = picture[i] == '.';
		seats.push_back(s);
	}
	return seats;
}

// The seat numbers of the best block, as "first-last", or "none".
std::string
best(const std::vector<Seat> &seats, int32_t quantity)
{
	auto blocks = rank_blocks(seats, quantity);
	if (blocks.empty())
		return "none";
	const Block &b = blocks.front();
	return b.row_label + std::to_string(b.first_number) + "-" + std::to_string(b.first_number + quantity - 1);
}

TEST(SeatMap, NearestTheCentreOfAnEmptyRow)
{
	EXPECT_EQ(best(row("stalls", "A", ".........."), 2), "A5-6");
	EXPECT_EQ(best(row("stalls", "A", ".........."), 4), "A4-7");
	EXPECT_EQ(best(row("stalls", "A", "........."), 3), "A4-6");
}

TEST(SeatMap, TiesGoToLowerNumbers)
{
	// Centre 5.5; blocks 4-5 and 6-7 are equally far: the lower first.
	EXPECT_EQ(best(row("stalls", "A", "....xx...."), 2), "A3-4");
	auto blocks = rank_blocks(row("stalls", "A", ".........."), 3);
	ASSERT_GE(blocks.size(), 2u);
	EXPECT_EQ(blocks[0].first_number, 4);
	EXPECT_EQ(blocks[1].first_number, 5);
}

TEST(SeatMap, NeverLeavesASingleOrphanWhenAnotherBlockAvoidsIt)
{
	// Taking 5-6 would leave seat 4 alone between 3 and 5: take 4-5.
	EXPECT_EQ(best(row("stalls", "A", "..x.....x."), 2), "A4-5");
	auto blocks = rank_blocks(row("stalls", "A", "..x.....x."), 2);
	for (const auto &b : blocks) {
		if (b.first_number == 5) {
			EXPECT_TRUE(b.leaves_orphan);
		}
	}
}

TEST(SeatMap, AnOrphanIsAcceptedWhenEveryBlockLeavesOne)
{
	// Free run of 3 between taken seats; a pair always strands one seat, so
	// the centre decides.
	EXPECT_EQ(best(row("stalls", "A", "xx...xxxxx"), 2), "A4-5");
	EXPECT_TRUE(rank_blocks(row("stalls", "A", "xx...xxxxx"), 2).front().leaves_orphan);
}

TEST(SeatMap, RowEdgesAreNotOrphans)
{
	// Taking 3-4 leaves seat 5 free at the wall and seat 1 free at the other
	// wall: neither is between two taken seats. Taking 4-5 strands seat 3.
	auto blocks = rank_blocks(row("stalls", "A", ".x..."), 2);
	ASSERT_EQ(blocks.size(), 2u);
	EXPECT_EQ(blocks[0].first_number, 3);
	EXPECT_FALSE(blocks[0].leaves_orphan);
	EXPECT_EQ(blocks[1].first_number, 4);
	EXPECT_TRUE(blocks[1].leaves_orphan);
}

TEST(SeatMap, FragmentedRowUsesTheOnlyFittingGap)
{
	EXPECT_EQ(best(row("stalls", "A", ".x.x..x.x...x"), 3), "A10-12");
	EXPECT_EQ(best(row("stalls", "A", ".x.x..x.x..x."), 3), "none");
}

TEST(SeatMap, BlocksDoNotSpanAnAisle)
{
	// Seats 1-3 and 5-7: the gap in numbering splits them.
	EXPECT_EQ(best(row("stalls", "A", "... ..."), 4), "none");
	EXPECT_EQ(best(row("stalls", "A", "... ..."), 3), "A1-3");
}

TEST(SeatMap, SoldOutRowIsSkippedForTheNextRow)
{
	std::vector<Seat> seats = row("stalls", "A", "xxxxxxxx", 0);
	auto b = row("stalls", "B", "xx....xx", 100);
	seats.insert(seats.end(), b.begin(), b.end());
	EXPECT_EQ(best(seats, 4), "B3-6");
	EXPECT_EQ(best(seats, 5), "none");
}

TEST(SeatMap, RowsInSectionAndLabelOrderWhateverTheInputOrder)
{
	auto seats = row("stalls", "B", "......", 100);
	auto a = row("stalls", "A", "x....x", 0);
	auto c = row("balcony", "Z", "......", 200);
	seats.insert(seats.end(), a.begin(), a.end());
	seats.insert(seats.end(), c.begin(), c.end());
	auto blocks = rank_blocks(seats, 4);
	ASSERT_FALSE(blocks.empty());
	EXPECT_EQ(blocks.front().section, "balcony");
	EXPECT_EQ(blocks.front().row_label, "Z");
	// Every block of balcony comes before any of stalls A, and A before B.
	std::string last;
	for (const auto &blk : blocks) {
		std::string key = blk.section + "/" + blk.row_label;
		EXPECT_LE(last, key);
		last = key;
	}
}

TEST(SeatMap, SeatIdsComeInNumberOrder)
{
	auto blocks = rank_blocks(row("stalls", "A", "......", 500), 3);
	ASSERT_FALSE(blocks.empty());
	EXPECT_EQ(blocks.front().seat_ids, (std::vector<int64_t>{502, 503, 504}));
}

TEST(SeatMap, NothingForBadQuantities)
{
	EXPECT_TRUE(rank_blocks(row("stalls", "A", "...."), 0).empty());
	EXPECT_TRUE(rank_blocks(row("stalls", "A", "...."), 5).empty());
	EXPECT_TRUE(rank_blocks({}, 1).empty());
}

}  // namespace
}  // namespace booking::core
