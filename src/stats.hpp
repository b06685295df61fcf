// Live statistics: counters per database in shared memory, updated at
// commit only. Counting is a no-op unless booking is in
// shared_preload_libraries.
#pragma once

#include "core/status.hpp"

#include <cstdint>

namespace booking::stats {

enum Counter {
	Confirmed,		 // calls answered confirmed, holds confirmed
	Held,			 // holds made
	Waitlisted,		 // registrations that joined a waitlist
	SoldOut,		 // calls answered sold_out
	Conflict,		 // calls answered conflict
	LimitExceeded,	 // calls answered limit_exceeded
	Promoted,		 // waitlisted groups promoted
	Released,		 // bookings released or cancelled
	Expired,		 // holds marked expired
	NumCounters
};

// Count n events in the current (sub)transaction: they reach the shared
// counters if it commits (a prepared transaction: when it is committed)
// and are forgotten if it aborts. Throws std::bad_alloc when a new nest
// level finds no memory.
void
count(Counter counter, int64_t n = 1);

// Count the status a call answered with (confirmed, held, sold_out, ...).
void
count_outcome(core::Status status);

// Set up shared memory hooks (when preloaded) and transaction callbacks.
void
init(bool preloaded);

}  // namespace booking::stats
