// libFuzzer target: the best-available block search, core::rank_blocks.
//
// Generates seat maps the database can hold (unique seat ids, unique
// (section, row_label, number), any int4 numbers, aisles as gaps in the
// numbering, any mix of free and taken seats, rows given in any order) and
// arbitrary quantities, then checks against the contract of
// src/core/seatmap.hpp:
//   - every block has exactly quantity seats, all free, all distinct, all in
//     the block's section and row, with consecutive numbers starting at
//     first_number (so no block crosses an aisle), ids in number order;
//   - the blocks are exactly all such runs (none missed, none invented);
//   - leaves_orphan is true exactly when taking the block leaves one free
//     seat between two taken ones next to it (a row end or an aisle is no
//     taken seat), and distance is that of the block's centre from the
//     row's centre;
//   - order: rows in ascending (section, row_label), within a row blocks
//     without an orphan first, then nearest the centre, then lowest number;
//   - the answer does not depend on the order of the input seats.
#include <fuzzer/FuzzedDataProvider.h>

#include <algorithm>
#include <climits>
#include <cmath>
#include <map>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "core/seatmap.hpp"
#include "property.hpp"

namespace core = booking::core;

namespace {

using RowKey = std::pair<std::string, std::string>;	 // (section, row_label)

std::string
label(FuzzedDataProvider &in)
{
	static const char *names[] = {"", "A", "B", "AA", "a", "stalls", "balcony", "Z", "\xc3\xa9", "10", "9"};
	if (in.ConsumeIntegralInRange<int>(0, 5) == 0)
		return in.ConsumeRandomLengthString(6);	 // any bytes, NUL included
	return in.PickValueInArray(names);
}

int64_t
first_number(FuzzedDataProvider &in)
{
	switch (in.ConsumeIntegralInRange<int>(0, 7)) {
	case 0:
		return in.ConsumeIntegral<int32_t>();
	case 1:
		return int64_t(INT32_MAX) - in.ConsumeIntegralInRange<int64_t>(0, 50);
	case 2:
		return int64_t(INT32_MIN) + in.ConsumeIntegralInRange<int64_t>(0, 50);
	default:
		return in.ConsumeIntegralInRange<int64_t>(-3, 30);
	}
}

struct Expected {
	RowKey row;
	std::vector<int64_t> seat_ids;
	int32_t first_number;
	bool leaves_orphan;
	int64_t twice_distance;	 // |block centre - row centre| * 2, exact
};

std::string
describe(const core::Block &b)
{
	std::string s = "[" + b.section + "/" + b.row_label + " #" + std::to_string(b.first_number) + " ids";
	for (int64_t id : b.seat_ids)
		s += " " + std::to_string(id);
	s += b.leaves_orphan ? " orphan" : "";
	s += " d=" + std::to_string(b.distance) + "]";
	return s;
}

}  // namespace

extern "C" int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	FuzzedDataProvider in(data, size);

	int32_t quantity;
	switch (in.ConsumeIntegralInRange<int>(0, 9)) {
	case 0:
		quantity = in.ConsumeIntegral<int32_t>();
		break;
	case 1:
		quantity = in.ConsumeIntegralInRange<int32_t>(-1, 60);
		break;
	default:
		quantity = in.ConsumeIntegralInRange<int32_t>(1, 6);
		break;
	}

	// The seat map, as the database could hold it.
	std::vector<core::Seat> seats;
	std::map<RowKey, std::map<int32_t, const core::Seat *>> rows;  // filled after seats is final
	std::set<std::tuple<std::string, std::string, int32_t>> keys;
	std::set<int64_t> ids;
	int64_t next_id = in.ConsumeIntegralInRange<int64_t>(1, 1000);
	int nrows = in.ConsumeIntegralInRange<int>(0, 6);
	for (int r = 0; r < nrows && in.remaining_bytes() > 0; r++) {
		std::string section = label(in), row_label = label(in);
		int64_t number = first_number(in);
		int n = in.ConsumeIntegralInRange<int>(0, 40);
		int free_percent = in.ConsumeIntegralInRange<int>(0, 100);
		for (int k = 0; k < n && number <= INT32_MAX && in.remaining_bytes() > 0; k++) {
			core::Seat s;
			s.section = section;
			s.row_label = row_label;
			s.number = int32_t(number);
			s.free = in.ConsumeIntegralInRange<int>(1, 100) <= free_percent;
			s.seat_id = in.ConsumeIntegralInRange<int>(0, 9) == 0 ? in.ConsumeIntegral<int64_t>() : next_id++;
			if (keys.insert({section, row_label, s.number}).second && ids.insert(s.seat_id).second)
				seats.push_back(s);
			// Next seat: usually the neighbour, sometimes across an aisle.
			int step = in.ConsumeIntegralInRange<int>(0, 9);
			number += step < 8 ? 1 : step == 8 ? 2 : in.ConsumeIntegralInRange<int64_t>(3, 1000);
		}
	}
	// Rows arrive in any order.
	for (std::size_t i = seats.size(); i > 1 && in.remaining_bytes() > 0; i--)
		std::swap(seats[i - 1], seats[in.ConsumeIntegralInRange<std::size_t>(0, i - 1)]);

	for (const core::Seat &s : seats)
		rows[{s.section, s.row_label}][s.number] = &s;

	// The oracle: every run of quantity free seats with consecutive numbers.
	std::vector<Expected> expected;
	if (quantity >= 1) {
		for (const auto &entry : rows) {
			const RowKey &key = entry.first;
			const std::map<int32_t, const core::Seat *> &row = entry.second;
			int64_t row_min = row.begin()->first, row_max = row.rbegin()->first;
			auto is_free = [&row](int64_t number) {
				auto it = number >= INT32_MIN && number <= INT32_MAX ? row.find(int32_t(number)) : row.end();
				return it != row.end() && it->second->free;
			};
			auto is_taken = [&row](int64_t number) {
				auto it = number >= INT32_MIN && number <= INT32_MAX ? row.find(int32_t(number)) : row.end();
				return it != row.end() && !it->second->free;
			};
			std::vector<Expected> in_row;
			for (const auto &[number, seat] : row) {
				int64_t first = number, last = int64_t(number) + quantity - 1;
				bool ok = true;
				std::vector<int64_t> block;
				for (int64_t k = first; k <= last && ok; k++) {
					ok = is_free(k);
					if (ok)
						block.push_back(row.at(int32_t(k))->seat_id);
				}
				if (!ok)
					continue;
				// A free neighbour of the block stranded against a taken seat.
				bool orphan = (is_free(first - 1) && is_taken(first - 2)) || (is_free(last + 1) && is_taken(last + 2));
				int64_t twice = first + last - (row_min + row_max);
				in_row.push_back({key, block, number, orphan, twice < 0 ? -twice : twice});
			}
			std::sort(in_row.begin(), in_row.end(), [](const Expected &a, const Expected &b) {
				return std::make_tuple(a.leaves_orphan, a.twice_distance, a.first_number) <
					   std::make_tuple(b.leaves_orphan, b.twice_distance, b.first_number);
			});
			expected.insert(expected.end(), in_row.begin(), in_row.end());
		}
	}

	std::vector<core::Block> blocks = core::rank_blocks(seats, quantity);

	// Properties of each block on its own, checked against the seat map.
	std::map<int64_t, const core::Seat *> by_id;
	for (const core::Seat &s : seats)
		by_id[s.seat_id] = &s;
	for (const core::Block &b : blocks) {
		PROPERTY(quantity >= 1 && b.seat_ids.size() == std::size_t(quantity), "block %s for quantity %d",
				 describe(b).c_str(), quantity);
		std::set<int64_t> distinct(b.seat_ids.begin(), b.seat_ids.end());
		PROPERTY(distinct.size() == b.seat_ids.size(), "block %s names a seat twice", describe(b).c_str());
		for (std::size_t k = 0; k < b.seat_ids.size(); k++) {
			auto it = by_id.find(b.seat_ids[k]);
			PROPERTY(it != by_id.end(), "block %s names seat %lld, which is not in the map", describe(b).c_str(),
					 (long long) b.seat_ids[k]);
			const core::Seat &s = *it->second;
			PROPERTY(s.free, "block %s includes taken seat %lld", describe(b).c_str(), (long long) s.seat_id);
			PROPERTY(s.section == b.section && s.row_label == b.row_label, "block %s includes seat %lld of %s/%s",
					 describe(b).c_str(), (long long) s.seat_id, s.section.c_str(), s.row_label.c_str());
			PROPERTY(int64_t(s.number) == int64_t(b.first_number) + int64_t(k),
					 "block %s: seat %zu has number %d (not contiguous, or across an aisle)", describe(b).c_str(), k,
					 s.number);
		}
	}
	// Rows in ascending (section, row_label).
	for (std::size_t i = 1; i < blocks.size(); i++)
		PROPERTY(std::tie(blocks[i - 1].section, blocks[i - 1].row_label) <=
					 std::tie(blocks[i].section, blocks[i].row_label),
				 "block %s ranked before %s", describe(blocks[i - 1]).c_str(), describe(blocks[i]).c_str());

	// Exactly the oracle's blocks, in the oracle's order.
	PROPERTY(blocks.size() == expected.size(), "%zu blocks of %d seats, expected %zu (%zu seats in %zu rows)",
			 blocks.size(), quantity, expected.size(), seats.size(), rows.size());
	for (std::size_t i = 0; i < blocks.size(); i++) {
		const core::Block &b = blocks[i];
		const Expected &e = expected[i];
		PROPERTY(b.section == e.row.first && b.row_label == e.row.second && b.first_number == e.first_number &&
					 b.seat_ids == e.seat_ids,
				 "block %zu is %s, expected the one at %s/%s #%d", i, describe(b).c_str(), e.row.first.c_str(),
				 e.row.second.c_str(), e.first_number);
		PROPERTY(b.leaves_orphan == e.leaves_orphan, "block %s: leaves_orphan should be %d", describe(b).c_str(),
				 e.leaves_orphan);
		PROPERTY(b.distance == double(e.twice_distance) / 2.0, "block %s: distance should be %.1f",
				 describe(b).c_str(), double(e.twice_distance) / 2.0);
	}

	// The input order does not matter.
	std::vector<core::Seat> reversed(seats.rbegin(), seats.rend());
	std::vector<core::Block> again = core::rank_blocks(reversed, quantity);
	PROPERTY(again.size() == blocks.size(), "reversed input: %zu blocks instead of %zu", again.size(), blocks.size());
	for (std::size_t i = 0; i < again.size(); i++)
		PROPERTY(again[i].seat_ids == blocks[i].seat_ids && again[i].leaves_orphan == blocks[i].leaves_orphan,
				 "reversed input: block %zu is %s instead of %s", i, describe(again[i]).c_str(),
				 describe(blocks[i]).c_str());
	return 0;
}
