// The extension's shared memory, set up once when booking is preloaded:
// each part (stats counters, sold-out generations) names its size and how
// to set itself up; the hooks that request and attach them live here.
#pragma once

#include "pg/postgres.hpp"

namespace booking::shmem {

struct Part {
	const char *name;
	Size size;
	void (*request)();					// extra requests (LWLock tranches), or null
	void (*attach)(void *memory, bool found);  // found: another process set it up
};

// Add a part; only from _PG_init while shared_preload_libraries loads.
void
add(const Part &part);

}  // namespace booking::shmem
