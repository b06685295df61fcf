#include "core/seatmap.hpp"

#include <algorithm>
#include <cmath>
#include <tuple>

#include "core/assert_pure.hpp"

namespace booking::core {

namespace {

// Whether a seat is free once block [from, to) of row is taken.
bool
free_after(const std::vector<Seat> &row, std::size_t i, std::size_t from, std::size_t to)
{
	return row[i].free && (i < from || i >= to);
}

// Whether taking [from, to) leaves a single free seat next to the block with
// a taken seat on both sides. A row end or an aisle (a gap in the numbering)
// is not a taken seat: the seat beside it can still be sold with its
// neighbour.
bool
leaves_orphan(const std::vector<Seat> &row, std::size_t from, std::size_t to)
{
	auto adjacent = [&row](std::size_t a, std::size_t b) { return row[b].number == row[a].number + 1; };
	auto orphan_at = [&](std::size_t i) {
		if (!free_after(row, i, from, to))
			return false;
		bool left_taken = i > 0 && adjacent(i - 1, i) && !free_after(row, i - 1, from, to);
		bool right_taken = i + 1 < row.size() && adjacent(i, i + 1) && !free_after(row, i + 1, from, to);
		return left_taken && right_taken;
	};
	return (from > 0 && orphan_at(from - 1)) || (to < row.size() && orphan_at(to));
}

// The ranked blocks of one row, sorted by seat number.
void
row_blocks(const std::vector<Seat> &row, int32_t quantity, std::vector<Block> &out)
{
	std::size_t n = std::size_t(quantity);
	if (row.size() < n)
		return;
	double centre = (double(row.front().number) + double(row.back().number)) / 2.0;
	std::vector<Block> blocks;
	for (std::size_t from = 0; from + n <= row.size(); from++) {
		bool ok = true;
		for (std::size_t i = from; i < from + n && ok; i++)
			ok = row[i].free && (i == from || row[i].number == row[i - 1].number + 1);
		if (!ok)
			continue;
		Block b;
		b.section = row[from].section;
		b.row_label = row[from].row_label;
		b.first_number = row[from].number;
		for (std::size_t i = from; i < from + n; i++)
			b.seat_ids.push_back(row[i].seat_id);
		b.leaves_orphan = leaves_orphan(row, from, from + n);
		double block_centre = (double(row[from].number) + double(row[from + n - 1].number)) / 2.0;
		b.distance = std::fabs(block_centre - centre);
		blocks.push_back(std::move(b));
	}
	std::stable_sort(blocks.begin(), blocks.end(), [](const Block &a, const Block &b) {
		return std::make_tuple(a.leaves_orphan, a.distance, a.first_number) <
			   std::make_tuple(b.leaves_orphan, b.distance, b.first_number);
	});
	for (auto &b : blocks)
		out.push_back(std::move(b));
}

}  // namespace

std::vector<Block>
rank_blocks(std::vector<Seat> seats, int32_t quantity)
{
	std::vector<Block> out;
	if (quantity < 1)
		return out;
	std::sort(seats.begin(), seats.end(), [](const Seat &a, const Seat &b) {
		return std::tie(a.section, a.row_label, a.number) < std::tie(b.section, b.row_label, b.number);
	});
	std::size_t start = 0;
	for (std::size_t i = 1; i <= seats.size(); i++) {
		if (i == seats.size() || seats[i].section != seats[start].section ||
			seats[i].row_label != seats[start].row_label) {
			std::vector<Seat> row(seats.begin() + long(start), seats.begin() + long(i));
			row_blocks(row, quantity, out);
			start = i;
		}
	}
	return out;
}

}  // namespace booking::core
