// The best-available block search over a show's seat map. Pure C++: the
// caller reads the seats of the candidate rows, this ranks the blocks, and the
// caller tries to lock them in that order (SKIP LOCKED, so concurrent buyers
// move on to the next block instead of queueing).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace booking::core {

// One seat as a buyer would see it.
struct Seat {
	int64_t seat_id = 0;
	std::string section;
	std::string row_label;
	int32_t number = 0;
	bool free = false;
};

// A block of adjacent seats: same section and row, consecutive numbers.
struct Block {
	std::vector<int64_t> seat_ids;	// in seat-number order
	std::string section;
	std::string row_label;
	int32_t first_number = 0;
	bool leaves_orphan = false;	 // taking it leaves one free seat between taken ones
	double distance = 0;		 // of the block's centre from the row's centre
};

// Every block of quantity free adjacent seats, best first: rows in ascending
// (section, row_label); within a row, blocks that leave no single orphan
// seat before those that do, then nearest the row's centre, then lowest
// numbers. seats may come in any order.
std::vector<Block>
rank_blocks(std::vector<Seat> seats, int32_t quantity);

}  // namespace booking::core
